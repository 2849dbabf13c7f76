// The decoder engine against PyTorch + transformers golden outputs (tests/data/fixtures, copied
// from the shared fixtures: logits, loss, every gradient, 5 AdamW losses, greedy ids).
#include "t81/models/decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "t81/io/safetensors.h"

namespace t81::models {
namespace {

std::string Fixture(const std::string& name) { return std::string(T81_TEST_DATA) + "/fixtures/" + name; }

class DecoderGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto g = io::SafeTensorsFile::Open(Fixture(GetParam()) + "/golden.safetensors");
    ASSERT_TRUE(g.ok()) << g.status().message();
    golden_ = std::move(g).value();
    ids_ = golden_->ReadInt("input.input_ids").value();
    labels_ = golden_->ReadInt("input.labels").value();
    const auto* t = golden_->Find("input.input_ids");
    B_ = t->shape[0];
    T_ = t->shape[1];
  }
  std::unique_ptr<DecoderLM> Load() {
    auto m = DecoderLM::Load(Fixture(GetParam()));
    EXPECT_TRUE(m.ok()) << m.status().message();
    return m.ok() ? std::move(m).value() : nullptr;
  }
  std::unique_ptr<io::SafeTensorsFile> golden_;
  std::vector<int64_t> ids_, labels_;
  int64_t B_ = 0, T_ = 0;
};

TEST_P(DecoderGolden, LogitsAndLoss) {
  auto m = Load();
  ASSERT_TRUE(m);
  auto loss = m->Forward(ids_.data(), labels_.data(), B_, T_);
  ASSERT_TRUE(loss.ok()) << loss.status().message();
  const std::vector<float> ref = golden_->ReadFloat("logits").value();
  double max_err = 0;
  for (size_t i = 0; i < ref.size(); ++i) max_err = std::max(max_err, double(std::fabs(m->logits()[i] - ref[i])));
  EXPECT_LE(max_err, 1e-4);
  const double ref_loss = golden_->ReadFloat("loss").value()[0];
  EXPECT_NEAR(loss.value(), ref_loss, 1e-5 * std::fabs(ref_loss));
}

TEST_P(DecoderGolden, EveryGradient) {
  auto m = Load();
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->Forward(ids_.data(), labels_.data(), B_, T_).ok());
  m->ZeroGrad();
  m->Backward();
  int checked = 0;
  for (const auto& g : m->HfGrads()) {
    auto ref = golden_->ReadFloat("grad." + g.name);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    ASSERT_EQ(ref->size(), g.values.size()) << g.name;
    double diff = 0, norm = 0;
    for (size_t i = 0; i < g.values.size(); ++i) {
      diff += (g.values[i] - (*ref)[i]) * double(g.values[i] - (*ref)[i]);
      norm += double((*ref)[i]) * (*ref)[i];
    }
    EXPECT_LE(std::sqrt(diff), 1e-3 * std::sqrt(norm) + 1e-12) << g.name;
    ++checked;
  }
  // every golden gradient has a counterpart
  int golden_grads = 0;
  for (const auto& t : golden_->tensors()) golden_grads += t.name.rfind("grad.", 0) == 0;
  EXPECT_EQ(checked, golden_grads);
}

TEST_P(DecoderGolden, FiveAdamWSteps) {
  auto m = Load();
  ASSERT_TRUE(m);
  const std::vector<float> ref = golden_->ReadFloat("train_losses").value();
  for (size_t s = 0; s < ref.size(); ++s) {
    auto loss = m->Forward(ids_.data(), labels_.data(), B_, T_);
    ASSERT_TRUE(loss.ok());
    EXPECT_NEAR(loss.value(), ref[s], 1e-4) << "step " << s;
    m->ZeroGrad();
    m->Backward();
    m->AdamWStep(1e-3f);
  }
}

TEST_P(DecoderGolden, GreedyWithKvCacheMatchesFullRecompute) {
  auto m = Load();
  ASSERT_TRUE(m);
  const std::vector<int64_t> prompt = golden_->ReadInt("greedy_prompt").value();
  const std::vector<int64_t> ref = golden_->ReadInt("greedy_ids").value();
  auto out = m->Generate(prompt, int64_t(ref.size() - prompt.size()));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value(), ref);
}

TEST_P(DecoderGolden, SaveThenLoadIsIdentical) {
  auto m = Load();
  ASSERT_TRUE(m);
  const std::string dir = ::testing::TempDir() + "/t81_decoder_" + GetParam();
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(m->Save(dir).ok());
  auto m2 = DecoderLM::Load(dir);
  ASSERT_TRUE(m2.ok()) << m2.status().message();
  const auto a = m->HfParams(), b = (*m2)->HfParams();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].values, b[i].values) << a[i].name;
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecoderGolden,
                         ::testing::Values("gpt2-tiny", "llama-tiny", "phi3-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s)
                             if (ch == '-') ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace t81::models
