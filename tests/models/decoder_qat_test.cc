// QAT in the decoder: the fake-quantized forward equals a float model whose block weights were
// ternarized by the same quantizer, and the straight-through gradient of each latent weight equals
// that float model's weight gradient.
#include <gtest/gtest.h>

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
  qat->SetLinearMode(LinearMode::kQat, quant::Granularity::kRow, 0.45f);

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
