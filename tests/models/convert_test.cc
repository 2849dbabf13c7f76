// t81 convert -> t81 checkpoint -> engine and GGUF: the converted model runs exactly the ternary
// weights t81's quantizer gives the source, and exports to the same GGUF values as a direct export.
#include "t81/models/convert.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <cmath>
#include <filesystem>

#include "t81/io/gguf.h"
#include "t81/io/safetensors.h"
#include "t81/models/decoder.h"
#include "t81/models/gguf_export.h"

namespace t81::models {
namespace {

const std::string kFix = std::string(T81_TEST_DATA) + "/fixtures/";

class ConvertFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvertFixture, ConvertedModelRunsTheQuantizersWeights) {
  const std::string src = kFix + GetParam(), out = ::testing::TempDir() + "/t81_conv_" + GetParam();
  std::filesystem::remove_all(out);
  for (auto fmt : {quant::TqFormat::kTq2_0, quant::TqFormat::kTq1_0}) {
    ConvertOptions opt;
    opt.ternary.granularity = quant::Granularity::kRow;
    opt.ternary.format = fmt;
    auto rep = ConvertCheckpoint(src, out, opt);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_GT(rep->ternary_tensors, 0);
    EXPECT_LT(rep->ternary_out_bytes * 4, rep->ternary_source_bytes);  // 2-bit vs 32-bit, padding incl.
    auto t81 = DecoderLM::LoadT81(out);
    ASSERT_TRUE(t81.ok()) << t81.status().message();
    auto ref = DecoderLM::Load(src).value();
    ref->SetLinearMode(nn::LinearMode::kQat, {opt.ternary.threshold, quant::Granularity::kRow});
    (*t81)->SetLinearMode(nn::LinearMode::kPacked, {opt.ternary.threshold, quant::Granularity::kBlock}, nn::ActPath::kF32);
    std::vector<int64_t> ids;
    for (int i = 0; i < 10; ++i) ids.push_back((i * 31 + 5) % ref->config().V);
    ASSERT_TRUE(ref->Forward(ids.data(), nullptr, 1, 10).ok());
    ASSERT_TRUE((*t81)->Forward(ids.data(), nullptr, 1, 10).ok());
    double err = 0, range = 0;
    for (int64_t i = 0; i < 10 * ref->config().V; ++i) {
      err = std::max(err, double(std::fabs((*t81)->logits()[i] - ref->logits()[i])));
      range = std::max(range, double(std::fabs(ref->logits()[i])));
    }
    EXPECT_LE(err, 1e-4 * range + 1e-6) << GetParam();
    // Float tensors are the source's; the checkpoint says what it is.
    auto st = io::SafeTensorsFile::Open(out + "/model.t81.safetensors").value();
    EXPECT_EQ(st->metadata().at("format"), "t81");
    EXPECT_EQ(st->metadata().at("t81.tq_format"), quant::TqFormatName(fmt));
  }
  std::filesystem::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ConvertFixture, ::testing::Values("gpt2-tiny", "llama-tiny", "phi3-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s)
                             if (ch == '-') ch = '_';
                           return s;
                         });

TEST(Convert, GgufFromT81EqualsGgufFromHf) {
  const std::string src = kFix + "gpt2-blocks256", dir = ::testing::TempDir() + "/t81_conv_gguf";
  std::filesystem::remove_all(dir);
  ConvertOptions copt;  // row scales
  ASSERT_TRUE(ConvertCheckpoint(src, dir + "/ckpt", copt).ok());
  auto from_t81 = DecoderLM::LoadT81(dir + "/ckpt").value();
  GgufExportOptions g1;
  g1.ternary.granularity = quant::Granularity::kBlock;  // what t81 gguf --from-t81 uses
  ASSERT_TRUE(ExportGguf(*from_t81, g1, dir + "/a.gguf").ok());
  ASSERT_TRUE(ValidateGguf(*from_t81, g1, dir + "/a.gguf").ok());
  auto hf = DecoderLM::Load(src).value();
  GgufExportOptions g2;
  g2.ternary.granularity = quant::Granularity::kRow;
  ASSERT_TRUE(ExportGguf(*hf, g2, dir + "/b.gguf").ok());
  auto a = io::GgufFile::Open(dir + "/a.gguf").value(), b = io::GgufFile::Open(dir + "/b.gguf").value();
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (const auto& t : a->tensors()) {
    const io::GgufTensor* u = b->FindTensor(t.name);
    ASSERT_TRUE(u);
    EXPECT_EQ(t.type, u->type) << t.name;
    EXPECT_EQ(a->Dequantize(t).value(), b->Dequantize(*u).value()) << t.name;
  }
  std::filesystem::remove_all(dir);
}

TEST(Convert, BadInputIsAnError) {
  const std::string dir = ::testing::TempDir() + "/t81_conv_bad";
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(ConvertCheckpoint("/nonexistent", dir, {}).ok());
  // a checkpoint folder without its model file
  std::filesystem::create_directories(dir + "/src");
  std::filesystem::copy_file(kFix + "gpt2-tiny/config.json", dir + "/src/config.json");
  auto r = ConvertCheckpoint(dir + "/src", dir + "/out", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("model.safetensors"), std::string::npos);
  // LoadT81 on something that is not a t81 checkpoint
  auto l = DecoderLM::LoadT81(kFix + "gpt2-tiny");
  ASSERT_FALSE(l.ok());
  std::filesystem::remove_all(dir);
}

// The tokenizer files beside the model are copied byte for byte; absent ones are not created.
TEST(Convert, CopiesTokenizerFiles) {
  const std::string dir = ::testing::TempDir() + "/t81_conv_tok";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/src");
  for (const char* f : {"config.json", "model.safetensors"})
    std::filesystem::copy_file(kFix + "gpt2-tiny/" + f, dir + "/src/" + f);
  const std::string tok = "{\"model\": {\"type\": \"BPE\"}, \"x\": \"\xC3\xA9\\n\"}\n";
  std::ofstream(dir + "/src/tokenizer.json", std::ios::binary) << tok;
  std::ofstream(dir + "/src/generation_config.json", std::ios::binary) << "{}";
  auto r = ConvertCheckpoint(dir + "/src", dir + "/out", {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::ifstream in(dir + "/out/tokenizer.json", std::ios::binary);
  const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, tok);
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/generation_config.json"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/vocab.json"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/merges.txt"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t81::models

namespace t81::models {
namespace {

// Q8_0 embeddings/head (t81 convert --float-type q8_0, t81 gguf --embd-type q8_0): the checkpoint
// and the GGUF hold ggml's Q8_0 bytes; the model still runs close to the float-embedding one.
TEST(Convert, Q8_0EmbeddingsInCheckpointAndGguf) {
  const std::string src = kFix + "gpt2-blocks256", dir = ::testing::TempDir() + "/t81_conv_q8";
  std::filesystem::remove_all(dir);
  ConvertOptions opt;
  opt.float_type = FloatType::kQ8_0;
  ASSERT_TRUE(ConvertCheckpoint(src, dir + "/ckpt", opt).ok());
  auto st = io::SafeTensorsFile::Open(dir + "/ckpt/model.t81.safetensors").value();
  ASSERT_TRUE(st->metadata().count("t81.q8_0"));
  EXPECT_NE(st->metadata().at("t81.q8_0").find("transformer.wte.weight"), std::string::npos);
  auto q8 = DecoderLM::LoadT81(dir + "/ckpt");
  ASSERT_TRUE(q8.ok()) << q8.status().message();
  auto ref = DecoderLM::Load(src).value();
  ref->SetLinearMode(nn::LinearMode::kQat, {opt.ternary.threshold, quant::Granularity::kRow});
  (*q8)->SetLinearMode(nn::LinearMode::kPacked, {opt.ternary.threshold, quant::Granularity::kBlock}, nn::ActPath::kF32);
  std::vector<int64_t> ids = {1, 5, 9, 200, 3, 77};
  ASSERT_TRUE(ref->Forward(ids.data(), nullptr, 1, 6).ok());
  ASSERT_TRUE((*q8)->Forward(ids.data(), nullptr, 1, 6).ok());
  double err = 0, range = 0;
  for (int64_t i = 0; i < 6 * ref->config().V; ++i) {
    err = std::max(err, double(std::fabs((*q8)->logits()[i] - ref->logits()[i])));
    range = std::max(range, double(std::fabs(ref->logits()[i])));
  }
  EXPECT_GT(err, 0.0);            // the embeddings really are 8-bit now
  EXPECT_LT(err, 0.05 * range);   // and close
  GgufExportOptions g;
  g.embd_type = quant::kGgmlQ8_0;
  ASSERT_TRUE(ExportGguf(*ref, g, dir + "/m.gguf").ok());
  ASSERT_TRUE(ValidateGguf(*ref, g, dir + "/m.gguf").ok());
  auto gf = io::GgufFile::Open(dir + "/m.gguf").value();
  EXPECT_EQ(gf->FindTensor("token_embd.weight")->type, quant::kGgmlQ8_0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t81::models
