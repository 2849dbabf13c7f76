// GGUF export -> t81's own GGUF loader: the engine runs the exported file with exactly the
// ternary weights it wrote (packed kernels), for GPT-2 (Conv1D transposes), Llama (q/k RoPE
// permutation, GQA) and Phi-3 (fused qkv and gate_up); F32 exports round-trip the float model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "t81/models/decoder.h"
#include "t81/models/gguf_export.h"

namespace t81::models {
namespace {

std::unique_ptr<DecoderLM> MakeModel(Arch arch) {
  DecoderConfig c;
  c.arch = arch;
  c.V = 300;
  c.C = 256;
  c.L = 2;
  c.NH = 4;
  c.NKV = arch == Arch::kLlama ? 2 : 4;
  c.HD = 64;
  c.FF = 512;
  c.max_t = 32;
  c.eps = arch == Arch::kGpt2 ? 1e-5f : 1e-6f;
  c.tied = arch == Arch::kGpt2;
  c.attn_bias = c.mlp_bias = arch == Arch::kGpt2;
  return DecoderLM::Create(c, 11);
}

class GgufRoundTrip : public ::testing::TestWithParam<Arch> {};

TEST_P(GgufRoundTrip, LoaderRunsTheExportedWeights) {
  auto m = MakeModel(GetParam());
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back((i * 53 + 7) % 300);
  const int64_t n = int64_t(ids.size()) * m->config().V;
  const std::string dir = ::testing::TempDir() + "/t81_gguf_rt_" + ArchName(GetParam());
  std::filesystem::create_directories(dir);
  for (GgufQuant q : {GgufQuant::kTq2_0, GgufQuant::kTq1_0, GgufQuant::kF32}) {
    GgufExportOptions opt;
    opt.quant = q;
    opt.ternary.granularity = quant::Granularity::kRow;
    const std::string path = dir + "/m.gguf";
    auto rep = ExportGguf(*m, opt, path);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    ASSERT_TRUE(ValidateGguf(*m, opt, path).ok());
    // Reference: the source with fake-quantized (ternary) or float block linears.
    m->SetLinearMode(q == GgufQuant::kF32 ? nn::LinearMode::kFloat : nn::LinearMode::kQat, {0.45f, quant::Granularity::kRow});
    ASSERT_TRUE(m->Forward(ids.data(), nullptr, 1, int64_t(ids.size())).ok());
    const std::vector<float> ref(m->logits(), m->logits() + n);
    auto g = DecoderLM::LoadGguf(path);
    ASSERT_TRUE(g.ok()) << g.status().message();
    (*g)->SetLinearMode(q == GgufQuant::kF32 ? nn::LinearMode::kFloat : nn::LinearMode::kPacked, {0.45f, quant::Granularity::kBlock}, nn::ActPath::kF32);
    ASSERT_TRUE((*g)->Forward(ids.data(), nullptr, 1, int64_t(ids.size())).ok());
    double max_err = 0, range = 0;
    for (int64_t i = 0; i < n; ++i) {
      max_err = std::max(max_err, double(std::fabs((*g)->logits()[i] - ref[size_t(i)])));
      range = std::max(range, double(std::fabs(ref[size_t(i)])));
    }
    EXPECT_LE(max_err, 1e-4 * range + 1e-6) << ArchName(GetParam()) << " quant " << int(q);
    // The loaded model exports the same file again (the weights are exactly the file's).
    const std::string again = dir + "/again.gguf";
    opt.ternary.granularity = quant::Granularity::kBlock;
    (*g)->SetLinearMode(nn::LinearMode::kFloat);
    ASSERT_TRUE(ExportGguf(**g, opt, again).ok());
    auto a = io::GgufFile::Open(path).value();
    auto b = io::GgufFile::Open(again).value();
    ASSERT_EQ(a->tensors().size(), b->tensors().size());
    for (const auto& t : a->tensors()) {
      const io::GgufTensor* u = b->FindTensor(t.name);
      ASSERT_TRUE(u) << t.name;
      EXPECT_EQ(a->Dequantize(t).value(), b->Dequantize(*u).value()) << t.name;
    }
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Archs, GgufRoundTrip, ::testing::Values(Arch::kGpt2, Arch::kLlama, Arch::kPhi3),
                         [](const auto& info) { return std::string(ArchName(info.param)); });

// A Q8_0 head (--embd-type q8_0) runs as 8-bit weights with packed linears: close to the float
// head of an F32 export of the same model (weights and activations each lose < 1/254 per block),
// not equal to the float head over the same Q8_0 values (so the 8-bit path really ran), and the
// float mode of the same file still uses the float head.
TEST_P(GgufRoundTrip, Q8AndF16HeadsRunInFilePrecision) {
  auto m = MakeModel(GetParam());
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back((i * 53 + 7) % 300);
  const int64_t n = int64_t(ids.size()) * m->config().V;
  const std::string dir = ::testing::TempDir() + "/t81_gguf_q8_" + ArchName(GetParam());
  std::filesystem::create_directories(dir);
  auto logits = [&](uint32_t embd_type, nn::LinearMode mode) {
    GgufExportOptions opt;
    opt.embd_type = embd_type;
    const std::string path = dir + "/m.gguf";
    EXPECT_TRUE(ExportGguf(*m, opt, path).ok());
    auto g = DecoderLM::LoadGguf(path).value();
    if (mode == nn::LinearMode::kFloat) g->SetLinearMode(nn::LinearMode::kFloat);
    else g->SetLinearMode(nn::LinearMode::kPacked, {0.45f, quant::Granularity::kBlock}, nn::ActPath::kF32);
    EXPECT_TRUE(g->Forward(ids.data(), nullptr, 1, int64_t(ids.size())).ok());
    return std::vector<float>(g->logits(), g->logits() + n);
  };
  const std::vector<float> f32 = logits(quant::kGgmlF32, nn::LinearMode::kPacked);
  const std::vector<float> q8 = logits(quant::kGgmlQ8_0, nn::LinearMode::kPacked);
  const std::vector<float> q8_float_head = logits(quant::kGgmlQ8_0, nn::LinearMode::kFloat);
  double range = 0, err = 0, err_same_weights = 0;
  for (int64_t i = 0; i < n; ++i) {
    range = std::max(range, double(std::fabs(f32[size_t(i)])));
    err = std::max(err, double(std::fabs(q8[size_t(i)] - f32[size_t(i)])));
    err_same_weights = std::max(err_same_weights, double(std::fabs(q8[size_t(i)] - q8_float_head[size_t(i)])));
  }
  EXPECT_LE(err, 0.02 * range) << ArchName(GetParam());
  // The embedding a packed model reads (for a tied GPT-2 only from the Q8_0 / F16 copy) and the
  // float parameters it shows are exactly the file's token_embd; an F16 head is within fp16
  // rounding of the F32 export.
  for (uint32_t type : {quant::kGgmlQ8_0, quant::kGgmlF16}) {
    const std::string path = dir + "/e.gguf";
    GgufExportOptions opt;
    opt.embd_type = type;
    ASSERT_TRUE(ExportGguf(*m, opt, path).ok());
    auto file = io::GgufFile::Open(path).value();
    const std::vector<float> want = file->Dequantize(*file->FindTensor("token_embd.weight")).value();
    auto g = DecoderLM::LoadGguf(path).value();
    g->SetLinearMode(nn::LinearMode::kPacked, {0.45f, quant::Granularity::kBlock}, nn::ActPath::kF32);
    ASSERT_TRUE(g->Forward(ids.data(), nullptr, 1, int64_t(ids.size())).ok());  // packed, before materializing
    const std::vector<float> packed_logits(g->logits(), g->logits() + n);
    if (type == quant::kGgmlQ8_0) {
      EXPECT_EQ(packed_logits, q8) << "same file, same path: same logits";
    } else {
      double e16 = 0;
      for (int64_t i = 0; i < n; ++i) e16 = std::max(e16, double(std::fabs(packed_logits[size_t(i)] - f32[size_t(i)])));
      EXPECT_LE(e16, 2e-3 * range) << ArchName(GetParam()) << " F16 head";
    }
    bool found = false;
    for (const auto& p : g->HfParams())
      if (p.name == "transformer.wte.weight" || p.name == "model.embed_tokens.weight") {
        found = true;
        EXPECT_EQ(p.values, want) << p.name << " type " << type;
      }
    EXPECT_TRUE(found);
  }
  EXPECT_GT(err_same_weights, 1e-4 * range) << "the 8-bit head did not run";  // float rounding alone: ~1e-6
  std::printf("%s: range %.4f, q8 vs f32 export %.5f, 8-bit vs float head on the same weights %.6f\n", ArchName(GetParam()), range, err, err_same_weights);
  std::filesystem::remove_all(dir);
}

TEST(GgufExport, RowsNotMultipleOf256GoOutAsF16WithWarning) {
  auto m = DecoderLM::Load(std::string(T81_TEST_DATA) + "/fixtures/llama-tiny").value();
  GgufExportOptions opt;
  const std::string path = ::testing::TempDir() + "/t81_tiny.gguf";
  auto rep = ExportGguf(*m, opt, path);
  ASSERT_TRUE(rep.ok());
  int f16_warnings = 0;
  for (const auto& w : rep->warnings) f16_warnings += w.find("stored as F16") != std::string::npos;
  EXPECT_EQ(f16_warnings, 2 * 7);
  auto f = io::GgufFile::Open(path).value();
  EXPECT_EQ(f->FindTensor("blk.0.attn_q.weight")->type, quant::kGgmlF16);
  EXPECT_TRUE(ValidateGguf(*m, opt, path).ok());
  std::filesystem::remove(path);
}


// Validation re-reads the file in chunks of rows: a changed byte in the last rows of a ternary
// tensor or of a float tensor is found and named. DequantizeRows of any row range equals those
// rows of the whole tensor.
TEST(GgufExport, ValidationFindsAChangedByteAndRowRangesMatch) {
  auto m = MakeModel(Arch::kLlama);
  GgufExportOptions opt;
  opt.quant = GgufQuant::kTq2_0;
  const std::string path = ::testing::TempDir() + "/t81_validate_flip.gguf";
  ASSERT_TRUE(ExportGguf(*m, opt, path).ok());
  ASSERT_TRUE(ValidateGguf(*m, opt, path).ok());
  uint64_t tq_pos = 0, f32_pos = 0;
  {
    auto f = io::GgufFile::Open(path).value();
    for (const io::GgufTensor& t : f->tensors()) {
      const int64_t rows = f->rows(t), cols = t.ne[0];
      const std::vector<float> all = f->Dequantize(t).value();
      for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, rows}, {rows / 3, rows / 3 + 1}, {rows - 1, rows}, {std::min<int64_t>(2, rows), std::min<int64_t>(2, rows)}}) {
        std::vector<float> part(size_t((r1 - r0) * cols));
        ASSERT_TRUE(f->DequantizeRows(t, r0, r1, part.data()).ok());
        for (size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i], all[size_t(r0 * cols) + i]) << t.name;
      }
    }
    const io::GgufTensor* tq = f->FindTensor("blk.1.ffn_down.weight");
    const io::GgufTensor* fl = f->FindTensor("output_norm.weight");
    ASSERT_TRUE(tq && fl);
    ASSERT_EQ(tq->type, quant::kGgmlTq2_0);
    tq_pos = f->data_offset() + tq->offset + tq->bytes - 40;  // a code byte of the last row's block
    f32_pos = f->data_offset() + fl->offset + fl->bytes - 1;  // the last float's top byte
  }
  for (const auto& [pos, name] : {std::pair<uint64_t, std::string>{tq_pos, "blk.1.ffn_down.weight"},
                                  {f32_pos, "output_norm.weight"}}) {
    const std::string bad = ::testing::TempDir() + "/t81_validate_flip_bad.gguf";
    std::filesystem::copy_file(path, bad, std::filesystem::copy_options::overwrite_existing);
    {
      std::FILE* fp = std::fopen(bad.c_str(), "r+b");
      ASSERT_TRUE(fp);
      std::fseek(fp, long(pos), SEEK_SET);
      const int c = std::fgetc(fp);
      std::fseek(fp, long(pos), SEEK_SET);
      std::fputc(c ^ 0x41, fp);
      std::fclose(fp);
    }
    const Status st = ValidateGguf(*m, opt, bad);
    ASSERT_FALSE(st.ok()) << name;
    EXPECT_NE(st.message().find("'" + name + "'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("reads back as"), std::string::npos) << st.message();
    std::filesystem::remove(bad);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace t81::models
