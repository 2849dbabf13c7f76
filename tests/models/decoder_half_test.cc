// 16-bit checkpoints kept in their precision (DecoderLM::Load with keep_precision): the fixtures
// rewritten as bf16 and as fp16 run the same as the float32 load of the same file (whose values are
// the 16-bit ones, exactly) — logits within float rounding, identical greedy ids, identical packed
// weights, gradients after the automatic float32 copy — while holding 2 bytes per linear weight.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "t81/base/file.h"
#include "t81/io/safetensors.h"
#include "t81/models/decoder.h"

namespace t81::models {
namespace {

namespace fs = std::filesystem;

std::string Fixture(const std::string& name) { return std::string(T81_TEST_DATA) + "/fixtures/" + name; }

// The fixture rewritten with every tensor in dtype (F16 or BF16), in a temp folder.
std::string Rewrite(const std::string& name, io::DType dtype) {
  const fs::path dir = fs::temp_directory_path() /
                       ("t81_half_" + std::to_string(getpid()) + "_" + name + "_" + io::DTypeName(dtype));
  fs::create_directories(dir);
  auto src = io::SafeTensorsFile::Open(Fixture(name) + "/model.safetensors").value();
  std::vector<io::SafeTensorsStreamWriter::Entry> entries;
  for (const auto& t : src->tensors()) entries.push_back({t.name, dtype, t.shape, uint64_t(t.numel()) * 2});
  io::SafeTensorsStreamWriter w;
  EXPECT_TRUE(w.Begin((dir / "model.safetensors").string(), entries, {{"format", "pt"}}).ok());
  for (const auto& t : src->tensors()) {
    const std::vector<float> v = src->ReadFloat(t.name).value();
    const std::vector<uint8_t> b = io::EncodeFloats(v.data(), v.size(), dtype);
    EXPECT_TRUE(w.Append(b.data(), b.size()).ok());
  }
  EXPECT_TRUE(w.Finish().ok());
  fs::copy_file(Fixture(name) + "/config.json", dir / "config.json", fs::copy_options::overwrite_existing);
  return dir.string();
}

class DecoderHalf : public ::testing::TestWithParam<std::tuple<std::string, io::DType>> {};

TEST_P(DecoderHalf, RunsLikeItsFloat32Load) {
  const auto [name, dtype] = GetParam();
  const std::string dir = Rewrite(name, dtype);
  auto golden = io::SafeTensorsFile::Open(Fixture(name) + "/golden.safetensors").value();
  const auto ids = golden->ReadInt("input.input_ids").value();
  const auto labels = golden->ReadInt("input.labels").value();
  const int64_t B = golden->Find("input.input_ids")->shape[0], T = golden->Find("input.input_ids")->shape[1];

  auto f32 = DecoderLM::Load(dir, false).value();
  auto half = DecoderLM::Load(dir, true).value();
  // 2 bytes a linear weight instead of 4.
  EXPECT_EQ(2 * half->LinearBytes(), f32->LinearBytes());
  const double lf = f32->Forward(ids.data(), labels.data(), B, T).value();
  const double lh = half->Forward(ids.data(), labels.data(), B, T).value();
  EXPECT_NEAR(lh, lf, 1e-5 * std::fabs(lf));
  const int64_t n = B * T * f32->config().V;
  double max_err = 0, range = 0;
  for (int64_t i = 0; i < n; ++i) {
    max_err = std::max(max_err, double(std::fabs(half->logits()[i] - f32->logits()[i])));
    range = std::max(range, double(std::fabs(f32->logits()[i])));
  }
  EXPECT_LE(max_err, 1e-5 * range + 1e-6);
  // HF tensors read back the 16-bit values exactly.
  const auto pf = f32->HfParams(), ph = half->HfParams();
  ASSERT_EQ(pf.size(), ph.size());
  for (size_t i = 0; i < pf.size(); ++i) EXPECT_EQ(pf[i].values, ph[i].values) << pf[i].name;
  // Greedy decoding picks the same tokens.
  const std::vector<int64_t> prompt = golden->ReadInt("greedy_prompt").value();
  EXPECT_EQ(half->Generate(prompt, 6).value(), f32->Generate(prompt, 6).value());
  // Packing from the 16-bit weights gives the same packed linears as from float32 (the head stays
  // 16-bit: the same values, summed by another kernel).
  auto pk_f = DecoderLM::Load(dir, false).value();
  auto pk_h = DecoderLM::Load(dir, true).value();
  ASSERT_TRUE(pk_f->SetLinearMode(nn::LinearMode::kPacked).ok());
  ASSERT_TRUE(pk_h->SetLinearMode(nn::LinearMode::kPacked).ok());
  ASSERT_TRUE(pk_f->Forward(ids.data(), nullptr, B, T).ok());
  ASSERT_TRUE(pk_h->Forward(ids.data(), nullptr, B, T).ok());
  EXPECT_EQ(pk_h->LinearBytes(), pk_f->LinearBytes());
  double pk_err = 0;
  for (int64_t i = 0; i < n; ++i) pk_err = std::max(pk_err, double(std::fabs(pk_h->logits()[i] - pk_f->logits()[i])));
  EXPECT_LE(pk_err, 1e-5 * range + 1e-6);
  // Training makes the float32 copies itself; gradients match the float32 load's.
  f32->ZeroGrad();
  ASSERT_TRUE(f32->Backward().ok());
  half->ZeroGrad();
  ASSERT_TRUE(half->Backward().ok());
  const auto gf = f32->HfGrads(), gh = half->HfGrads();
  for (size_t i = 0; i < gf.size(); ++i) {
    double diff = 0, norm = 0;
    for (size_t k = 0; k < gf[i].values.size(); ++k) {
      diff += double(gh[i].values[k] - gf[i].values[k]) * (gh[i].values[k] - gf[i].values[k]);
      norm += double(gf[i].values[k]) * gf[i].values[k];
    }
    EXPECT_LE(std::sqrt(diff), 1e-4 * std::sqrt(norm) + 1e-9) << gf[i].name;
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecoderHalf,
                         ::testing::Combine(::testing::Values("gpt2-tiny", "llama-tiny", "phi3-tiny"),
                                            ::testing::Values(io::DType::kBF16, io::DType::kF16)),
                         [](const auto& info) {
                           std::string s = std::get<0>(info.param) + "_" + io::DTypeName(std::get<1>(info.param));
                           for (char& ch : s)
                             if (ch == '-') ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace t81::models
