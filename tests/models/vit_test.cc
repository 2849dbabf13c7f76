// ViT against PyTorch + transformers golden outputs (tests/data/fixtures/vit-tiny).
#include "t81/models/vit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "t81/io/safetensors.h"

namespace t81::models {
namespace {

const std::string kDir = std::string(T81_TEST_DATA) + "/fixtures/vit-tiny";

struct Golden {
  std::unique_ptr<io::SafeTensorsFile> f;
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  int64_t B = 0;
};

Golden LoadGolden() {
  Golden g;
  g.f = io::SafeTensorsFile::Open(kDir + "/golden.safetensors").value();
  g.pixels = g.f->ReadFloat("input.pixel_values").value();
  g.labels = g.f->ReadInt("input.labels").value();
  g.B = int64_t(g.labels.size());
  return g;
}

TEST(VitGolden, LogitsLossAndEveryGradient) {
  Golden g = LoadGolden();
  auto m = Vit::Load(kDir);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto loss = (*m)->Forward(g.pixels.data(), g.labels.data(), g.B);
  ASSERT_TRUE(loss.ok());
  const std::vector<float> ref = g.f->ReadFloat("logits").value();
  double max_err = 0;
  for (size_t i = 0; i < ref.size(); ++i) max_err = std::max(max_err, double(std::fabs((*m)->logits()[i] - ref[i])));
  EXPECT_LE(max_err, 1e-4);
  const double ref_loss = g.f->ReadFloat("loss").value()[0];
  EXPECT_NEAR(loss.value(), ref_loss, 1e-5 * std::fabs(ref_loss));
  (*m)->ZeroGrad();
  (*m)->Backward();
  int checked = 0;
  for (const auto& gr : (*m)->HfGrads()) {
    auto r = g.f->ReadFloat("grad." + gr.name);
    ASSERT_TRUE(r.ok()) << r.status().message();
    double diff = 0, norm = 0;
    for (size_t i = 0; i < r->size(); ++i) {
      diff += double(gr.values[i] - (*r)[i]) * (gr.values[i] - (*r)[i]);
      norm += double((*r)[i]) * (*r)[i];
    }
    // Relative by norm; the floor covers gradients that are zero in exact arithmetic (the key
    // bias: softmax ignores a shift shared by all keys), where both sides hold float noise.
    EXPECT_LE(std::sqrt(diff), 1e-3 * std::sqrt(norm) + 1e-7 * std::sqrt(double(r->size()))) << gr.name;
    ++checked;
  }
  int golden = 0;
  for (const auto& t : g.f->tensors()) golden += t.name.rfind("grad.", 0) == 0;
  EXPECT_EQ(checked, golden);
}

TEST(VitGolden, FiveAdamWSteps) {
  Golden g = LoadGolden();
  auto m = Vit::Load(kDir);
  ASSERT_TRUE(m.ok());
  const std::vector<float> ref = g.f->ReadFloat("train_losses").value();
  for (size_t s = 0; s < ref.size(); ++s) {
    auto loss = (*m)->Forward(g.pixels.data(), g.labels.data(), g.B);
    ASSERT_TRUE(loss.ok());
    EXPECT_NEAR(loss.value(), ref[s], 1e-4) << s;
    (*m)->ZeroGrad();
    (*m)->Backward();
    (*m)->AdamWStep(1e-3f);
  }
}

TEST(VitGolden, SaveThenLoadIsIdentical) {
  auto m = Vit::Load(kDir);
  ASSERT_TRUE(m.ok());
  const std::string dir = ::testing::TempDir() + "/t81_vit_save";
  std::filesystem::create_directories(dir);
  ASSERT_TRUE((*m)->Save(dir).ok());
  auto m2 = Vit::Load(dir);
  ASSERT_TRUE(m2.ok()) << m2.status().message();
  const auto a = (*m)->HfParams(), b = (*m2)->HfParams();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].values, b[i].values) << a[i].name;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t81::models

namespace t81::models {
namespace {

TEST(VitPacked, MatchesFakeQuantForward) {
  Golden g = LoadGolden();
  auto qat = Vit::Load(kDir).value();
  qat->SetLinearMode(nn::LinearMode::kQat, {0.45f, quant::Granularity::kRow});
  ASSERT_TRUE(qat->Forward(g.pixels.data(), nullptr, g.B).ok());
  const int64_t n = g.B * qat->config().labels;
  const std::vector<float> ref(qat->logits(), qat->logits() + n);
  float range = 0;
  for (float v : ref) range = std::max(range, std::fabs(v));
  for (nn::ActPath act : {nn::ActPath::kF32, nn::ActPath::kI8}) {
    auto m = Vit::Load(kDir).value();
    m->SetLinearMode(nn::LinearMode::kPacked, {0.45f, quant::Granularity::kRow}, act);
    ASSERT_TRUE(m->Forward(g.pixels.data(), nullptr, g.B).ok());
    double max_err = 0;
    for (int64_t i = 0; i < n; ++i) max_err = std::max(max_err, double(std::fabs(m->logits()[i] - ref[i])));
    EXPECT_LE(max_err, act == nn::ActPath::kF32 ? 1e-4 * range + 1e-5 : 0.03 * range);
  }
}

}  // namespace
}  // namespace t81::models
