// QAT in the decoder: the fake-quantized forward equals a float model whose block weights were
// ternarized by the same quantizer, and the straight-through gradient of each latent weight equals
// that float model's weight gradient.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "t81/base/file.h"
#include "t81/io/safetensors.h"
#include "t81/models/decoder.h"
#include "t81/quant/ternary.h"

namespace t81::models {
namespace {

const std::string kDir = std::string(T81_TEST_DATA) + "/fixtures/llama-tiny";

bool IsBlockLinear(const std::string& name) {
  for (const char* s : {"q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight", "gate_proj.weight",
                        "up_proj.weight", "down_proj.weight"})
    if (name.size() > std::strlen(s) && name.compare(name.size() - std::strlen(s), std::strlen(s), s) == 0) return true;
  return false;
}

TEST(DecoderQat, ForwardAndStraightThroughGradient) {
  auto golden = io::SafeTensorsFile::Open(kDir + "/golden.safetensors").value();
  const auto ids = golden->ReadInt("input.input_ids").value();
  const auto labels = golden->ReadInt("input.labels").value();
  const int64_t B = golden->Find("input.input_ids")->shape[0], T = golden->Find("input.input_ids")->shape[1];

  auto qat = DecoderLM::Load(kDir).value();
  qat->SetLinearMode(nn::LinearMode::kQat, {0.45f, quant::Granularity::kRow});

  // The reference: the same checkpoint with every block linear replaced by FakeQuantize (per row;
  // Llama stores linears (out, in), so an HF row is a quantizer row).
  io::SafeTensorsWriter w;
  int quantized = 0;
  for (auto& p : qat->HfParams()) {
    if (IsBlockLinear(p.name)) {
      quant::FakeQuantize(p.values.data(), p.shape[0], p.shape[1], quant::Granularity::kRow, 0.45f, p.values.data());
      ++quantized;
    }
    w.AddF32(p.name, p.shape, p.values.data());
  }
  EXPECT_EQ(quantized, 2 * 7);
  const std::string dir = ::testing::TempDir() + "/t81_qat_ref";
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(w.Write(dir + "/model.safetensors").ok());
  ASSERT_TRUE(base::WriteFileAtomic(dir + "/config.json", base::ReadFile(kDir + "/config.json").value()).ok());
  auto ref = DecoderLM::Load(dir).value();

  const double lq = qat->Forward(ids.data(), labels.data(), B, T).value();
  const double lr = ref->Forward(ids.data(), labels.data(), B, T).value();
  EXPECT_NEAR(lq, lr, 1e-6 * std::fabs(lr));
  const int64_t n = B * T * qat->config().V;
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(qat->logits()[i], ref->logits()[i], 1e-5) << i;
  // The float model's loss differs from the unquantized one: quantization did something.
  auto plain = DecoderLM::Load(kDir).value();
  EXPECT_GT(std::fabs(plain->Forward(ids.data(), labels.data(), B, T).value() - lq), 1e-4);

  qat->ZeroGrad();
  qat->Backward();
  ref->ZeroGrad();
  ref->Backward();
  const auto gq = qat->HfGrads(), gr = ref->HfGrads();
  ASSERT_EQ(gq.size(), gr.size());
  for (size_t i = 0; i < gq.size(); ++i) {
    double diff = 0, norm = 0;
    for (size_t k = 0; k < gq[i].values.size(); ++k) {
      diff += double(gq[i].values[k] - gr[i].values[k]) * (gq[i].values[k] - gr[i].values[k]);
      norm += double(gr[i].values[k]) * gr[i].values[k];
    }
    EXPECT_LE(std::sqrt(diff), 1e-4 * std::sqrt(norm) + 1e-9) << gq[i].name;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t81::models

namespace t81::models {
namespace {

// Packed inference (kernel table) runs the same ternary weights as QAT's fake-quant forward:
// with float activations the logits agree to float rounding; with int8 activations within the
// activation-quantization error. Greedy decoding runs through the packed kernels too.
TEST(DecoderPacked, MatchesFakeQuantForward) {
  for (const char* name : {"gpt2-tiny", "llama-tiny", "phi3-tiny"}) {
    const std::string dir = std::string(T81_TEST_DATA) + "/fixtures/" + name;
    auto golden = io::SafeTensorsFile::Open(dir + "/golden.safetensors").value();
    const auto ids = golden->ReadInt("input.input_ids").value();
    const int64_t B = golden->Find("input.input_ids")->shape[0], T = golden->Find("input.input_ids")->shape[1];
    auto qat = DecoderLM::Load(dir).value();
    qat->SetLinearMode(nn::LinearMode::kQat, {0.45f, quant::Granularity::kBlock});
    ASSERT_TRUE(qat->Forward(ids.data(), nullptr, B, T).ok());
    const int64_t n = B * T * qat->config().V;
    const std::vector<float> ref(qat->logits(), qat->logits() + n);
    float range = 0;
    for (float v : ref) range = std::max(range, std::fabs(v));
    for (nn::ActPath act : {nn::ActPath::kF32, nn::ActPath::kI8}) {
      auto m = DecoderLM::Load(dir).value();
      m->SetLinearMode(nn::LinearMode::kPacked, {0.45f, quant::Granularity::kBlock}, act);
      // TQ2_0: 66 bytes per started 256-block of every row of the four block linears.
      const auto& c = m->config();
      auto tq = [](int64_t rows, int64_t cols) { return rows * ((cols + 255) / 256) * 66; };
      EXPECT_EQ(m->LinearBytes(), c.L * (tq(c.qkv_dim(), c.C) + tq(c.C, c.NH * c.HD) + tq(c.fc_dim(), c.C) +
                                         tq(c.C, c.FF)))
          << name;
      ASSERT_TRUE(m->Forward(ids.data(), nullptr, B, T).ok());
      double max_err = 0;
      for (int64_t i = 0; i < n; ++i) max_err = std::max(max_err, double(std::fabs(m->logits()[i] - ref[i])));
      if (act == nn::ActPath::kF32) EXPECT_LE(max_err, 1e-4 * range + 1e-5) << name;
      else EXPECT_LE(max_err, 0.03 * range) << name;
      auto gen = m->Generate({1, 2, 3, 4}, 6);
      ASSERT_TRUE(gen.ok());
      EXPECT_EQ(gen->size(), 10u);
    }
  }
}

// Generate runs the prompt in chunks of up to 64 rows and new tokens one at a time. With packed
// weights every row is bit-identical however it is batched, so feeding the model its own output
// as a longer prompt (74 tokens: chunks of 64 + 10, where the first run saw 64 + 6, then 1 + 1 +
// ...) must continue with exactly the same logits. Both architectures' attention paths (GQA +
// RoPE, learned positions) and both activation paths.
TEST(DecoderGenerate, ChunkedPromptContinuesExactly) {
  for (Arch arch : {Arch::kLlama, Arch::kGpt2})
    for (nn::ActPath act : {nn::ActPath::kF32, nn::ActPath::kI8}) {
      DecoderConfig c;
      c.arch = arch;
      c.V = 97;
      c.C = 64;
      c.L = 2;
      c.NH = 4;
      c.NKV = arch == Arch::kLlama ? 2 : 4;
      c.HD = 16;
      c.FF = 96;
      c.max_t = 96;
      auto m = DecoderLM::Create(c, 7);
      m->SetLinearMode(nn::LinearMode::kPacked, {0.45f, quant::Granularity::kBlock}, act);
      std::vector<int64_t> prompt;
      for (int i = 0; i < 70; ++i) prompt.push_back((i * 37 + 11) % c.V);
      std::vector<float> la, lb;
      auto full = m->Generate(prompt, 12, nullptr, &la);
      ASSERT_TRUE(full.ok()) << full.status().message();
      ASSERT_EQ(full->size(), 82u);
      ASSERT_EQ(la.size(), size_t(12 * c.V));
      std::vector<int64_t> longer(full->begin(), full->begin() + 74);
      auto cont = m->Generate(longer, 8, nullptr, &lb);
      ASSERT_TRUE(cont.ok());
      EXPECT_EQ(*cont, *full) << ArchName(arch) << " " << nn::ActPathName(act);
      // new tokens 74..81: rows 4..11 of the first run, rows 0..7 of the second
      EXPECT_TRUE(std::equal(lb.begin(), lb.end(), la.begin() + 4 * c.V)) << ArchName(arch) << " " << nn::ActPathName(act);
    }
}

}  // namespace
}  // namespace t81::models
