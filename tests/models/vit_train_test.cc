// The ViT trainer: random init written = created, a fresh head keeps the body, training lowers
// the loss, a resumed run equals a straight one bit for bit, thread count does not change t81's
// own numbers (at this size OpenBLAS runs its 1-thread path; docs/DESIGN.md: Determinism), QAT
// runs, head fitting learns a separable set, evaluation counts correctly.
#include "t81/models/vit_train.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "t81/base/rng.h"
#include "t81/base/threads.h"
#include "t81/io/safetensors.h"
#include "t81/models/train_state.h"
#include "../test_util.h"

namespace t81::models {
namespace {

using t81::testing::TempDir;

VitConfig Tiny() {
  VitConfig c;
  c.C = 32;
  c.L = 2;
  c.NH = 4;
  c.FF = 64;
  c.image = 8;
  c.patch = 4;
  c.channels = 1;
  c.labels = 4;
  return c;
}

// n grey 8×8 images of 4 classes: class k lights quadrant k (plus noise), so it is learnable.
data::ImageSet Quadrants(int64_t n, uint64_t seed) {
  data::ImageSet s;
  s.name = "quadrants";
  s.n = n;
  s.channels = 1;
  s.height = s.width = 8;
  s.classes = 4;
  base::Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t k = int32_t(rng.Below(4));
    s.labels.push_back(k);
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x) {
        const bool lit = (y / 4) * 2 + (x / 4) == k;
        s.pixels.push_back(uint8_t(std::min<uint64_t>(255, (lit ? 160 : 20) + rng.Below(60))));
      }
  }
  return s;
}

data::ImageProcessor NoResize() {
  data::ImageProcessor p;
  p.do_resize = false;
  p.height = p.width = 8;
  p.mean = {0.3f};
  p.std = {0.3f};
  return p;
}

std::vector<float> Params(Vit& m) {
  return std::vector<float>(m.arena().params(), m.arena().params() + m.arena().size());
}

TEST(VitTrain, CreateEqualsTheCheckpointWrittenTensorByTensor) {
  TempDir dir("vit_init");
  ASSERT_TRUE(WriteVitInitCheckpoint(Tiny(), 7, io::DType::kF32, dir.path().string()).ok());
  auto loaded = Vit::Load(dir.path().string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto made = Vit::Create(Tiny(), 7);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(Params(*loaded.value()), Params(*made.value()));
  auto other = Vit::Create(Tiny(), 8);
  EXPECT_NE(Params(*other.value()), Params(*made.value()));
}

// The inference pass keeps one block's buffers but computes the same logits, loss and [CLS]
// features as the training pass; Backward after it is refused, and training works after it again.
TEST(VitTrain, InferencePassEqualsTrainingPassAndRefusesBackward) {
  auto made = Vit::Create(Tiny(), 3);
  ASSERT_TRUE(made.ok());
  Vit& m = *made.value();
  const int64_t B = 5;
  std::vector<float> pixels(size_t(B * 64));
  base::Rng rng(11);
  for (float& v : pixels) v = float(rng.Uniform()) * 2 - 1;
  const std::vector<int64_t> labels = {0, 1, 2, 3, 1};
  auto train = m.Forward(pixels.data(), labels.data(), B, Vit::Pass::kTrain);
  ASSERT_TRUE(train.ok());
  const std::vector<float> logits(m.logits(), m.logits() + B * 4), cls(m.cls_features(), m.cls_features() + B * 32);
  auto infer = m.Forward(pixels.data(), labels.data(), B, Vit::Pass::kInfer);
  ASSERT_TRUE(infer.ok());
  EXPECT_EQ(infer.value(), train.value());
  EXPECT_EQ(std::vector<float>(m.logits(), m.logits() + B * 4), logits);
  EXPECT_EQ(std::vector<float>(m.cls_features(), m.cls_features() + B * 32), cls);
  const Status refused = m.Backward();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("training Forward"), std::string::npos) << refused.message();
  ASSERT_TRUE(m.Forward(pixels.data(), labels.data(), B).ok());
  EXPECT_TRUE(m.Backward().ok());
}

TEST(VitTrain, ConfigsThatCannotWorkAreRefused) {
  VitConfig c = Tiny();
  c.patch = 3;  // 8 is not divisible by 3
  auto m = Vit::Create(c, 0);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("not divisible by the patch size"), std::string::npos);
  c = Tiny();
  c.NH = 5;
  EXPECT_FALSE(Vit::Create(c, 0).ok());
}

TEST(VitTrain, ResetHeadKeepsTheBodyAndRenamesTheLabels) {
  auto m = Vit::Create(Tiny(), 1).value();
  const std::vector<float> before = Params(*m);
  const size_t head = size_t(m->head_weight() - m->arena().params());
  ASSERT_TRUE(m->ResetHead(3, 5, {"a", "b", "c"}).ok());
  EXPECT_EQ(m->config().labels, 3);
  const std::vector<float> after = Params(*m);
  ASSERT_EQ(after.size(), before.size() - size_t(32 + 1));  // one row of weight and one bias fewer
  EXPECT_TRUE(std::equal(after.begin(), after.begin() + long(head), before.begin()));
  TempDir dir("vit_head");
  ASSERT_TRUE(m->Save(dir.path().string()).ok());
  const auto cfg = nlohmann::json::parse(t81::testing::ReadText(dir.path() / "config.json"));
  EXPECT_EQ(cfg["num_labels"], 3);
  EXPECT_EQ(cfg["id2label"]["2"], "c");
  auto back = Vit::Load(dir.path().string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(Params(*back.value()), after);
}

VitTrainOptions Short() {
  VitTrainOptions o;
  o.epochs = 3;
  o.batch = 16;
  o.lr = 3e-3;
  o.warmup = 4;
  o.seed = 3;
  return o;
}

TEST(VitTrain, TrainingLowersTheLossAndLearnsTheSet) {
  const data::ImageSet train = Quadrants(256, 1), test = Quadrants(128, 2);
  auto m = Vit::Create(Tiny(), 0).value();
  VitTrainOptions o = Short();
  o.epochs = 6;
  o.flip = false;  // a flip moves the lit quadrant: another class here
  o.shift = 0;
  auto tr = VitTrainer::Create(m.get(), o, &train, NoResize());
  ASSERT_TRUE(tr.ok()) << tr.status().message();
  auto before = tr.value().Evaluate(test, 0);
  ASSERT_TRUE(before.ok());
  while (tr.value().step() < tr.value().total_steps()) ASSERT_TRUE(tr.value().Step().ok());
  EXPECT_EQ(tr.value().total_steps(), 6 * (256 / 16));
  EXPECT_EQ(tr.value().images(), 6 * 256);
  auto after = tr.value().Evaluate(test, 0);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(after.value().loss, 0.5 * before.value().loss);
  EXPECT_GT(after.value().accuracy, 0.9);
  EXPECT_EQ(after.value().images, 128);
}

// Runs `steps` of o on a fresh model of seed 0; with a state file, stops at `stop_at`, saves,
// and continues in a new trainer on a new model.
std::vector<float> Train(const VitTrainOptions& o, const data::ImageSet& train, int64_t stop_at, const std::string& state) {
  auto m = Vit::Create(Tiny(), 0).value();
  auto tr = VitTrainer::Create(m.get(), o, &train, NoResize()).value();
  while (tr.step() < tr.total_steps()) {
    EXPECT_TRUE(tr.Step().ok());
    if (tr.step() == stop_at && !state.empty()) {
      EXPECT_TRUE(tr.SaveState(state).ok());
      auto m2 = Vit::Create(Tiny(), 99).value();  // other weights: all must come from the state
      auto tr2 = VitTrainer::Create(m2.get(), o, &train, NoResize()).value();
      const Status st = tr2.LoadState(state);
      EXPECT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(tr2.step(), stop_at);
      while (tr2.step() < tr2.total_steps()) EXPECT_TRUE(tr2.Step().ok());
      return Params(*m2);
    }
  }
  return Params(*m);
}

TEST(VitTrain, AResumedRunEqualsAStraightOne) {
  const data::ImageSet train = Quadrants(96, 4);
  TempDir dir("vit_resume");
  const std::string state = dir / "state.safetensors";
  for (bool qat : {false, true}) {
    VitTrainOptions o = Short();
    o.qat = qat;
    o.lambda_warmup = qat ? 5 : 0;
    const std::vector<float> straight = Train(o, train, -1, "");
    const std::vector<float> resumed = Train(o, train, 7, state);  // mid-epoch (6 steps an epoch)
    EXPECT_EQ(straight, resumed) << (qat ? "qat" : "float");
  }
}

TEST(VitTrain, AStateOfOtherSettingsIsRefused) {
  const data::ImageSet train = Quadrants(64, 4);
  TempDir dir("vit_state");
  auto m = Vit::Create(Tiny(), 0).value();
  auto tr = VitTrainer::Create(m.get(), Short(), &train, NoResize()).value();
  ASSERT_TRUE(tr.Step().ok());
  ASSERT_TRUE(tr.SaveState(dir / "s.safetensors").ok());
  VitTrainOptions o = Short();
  o.lr = 1e-3;
  auto tr2 = VitTrainer::Create(m.get(), o, &train, NoResize()).value();
  const Status st = tr2.LoadState(dir / "s.safetensors");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("lr"), std::string::npos) << st.message();
}

TEST(VitTrain, ThreadCountDoesNotChangeTheNumbers) {
  const data::ImageSet train = Quadrants(64, 5);
  VitTrainOptions o = Short();
  o.epochs = 1;
  const int threads = base::NumThreads();
  base::SetNumThreads(1);
  const std::vector<float> one = Train(o, train, -1, "");
  base::SetNumThreads(2);
  const std::vector<float> two = Train(o, train, -1, "");
  base::SetNumThreads(threads);
  EXPECT_EQ(one, two);
}

TEST(VitTrain, BadOptionsAndMismatchedDataAreRefused) {
  const data::ImageSet train = Quadrants(32, 6);
  auto m = Vit::Create(Tiny(), 0).value();
  VitTrainOptions o = Short();
  o.batch = 64;  // more than the 32 images
  EXPECT_FALSE(VitTrainer::Create(m.get(), o, &train, NoResize()).ok());
  data::ImageProcessor p = NoResize();
  p.do_resize = true;
  p.height = p.width = 16;  // the model takes 8×8
  auto r = VitTrainer::Create(m.get(), Short(), &train, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("16x16"), std::string::npos) << r.status().message();
  data::ImageSet many = train;
  many.classes = 10;  // more classes than the head's 4 labels
  EXPECT_FALSE(VitTrainer::Create(m.get(), Short(), &many, NoResize()).ok());
}

TEST(VitTrain, HeadFittingLearnsOnFrozenFeatures) {
  const data::ImageSet train = Quadrants(256, 7);
  auto m = Vit::Create(Tiny(), 0).value();
  ASSERT_TRUE(m->ResetHead(4, 1).ok());
  const std::vector<float> before = Params(*m);
  const size_t head = size_t(m->head_weight() - m->arena().params());
  auto first = EvaluateVit(m.get(), train, NoResize(), 64, 0).value();
  auto loss = FitVitHead(m.get(), train, NoResize(), {.steps = 150, .batch = 32, .max_train = 0, .lr = 1e-2, .seed = 2});
  ASSERT_TRUE(loss.ok()) << loss.status().message();
  auto fitted = EvaluateVit(m.get(), train, NoResize(), 64, 0).value();
  EXPECT_LT(fitted.loss, first.loss);
  EXPECT_GT(fitted.accuracy, first.accuracy);
  const std::vector<float> after = Params(*m);
  EXPECT_TRUE(std::equal(after.begin(), after.begin() + long(head), before.begin()));  // body frozen
}

TEST(VitTrain, EvaluationCountsArgmaxHits) {
  const data::ImageSet set = Quadrants(50, 8);
  auto m = Vit::Create(Tiny(), 3).value();
  auto e = EvaluateVit(m.get(), set, NoResize(), 16, 40);  // 40 images in batches of 16, 16, 8
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value().images, 40);
  std::vector<float> px;
  std::vector<int64_t> labels;
  ASSERT_TRUE(VitInputs(&px, &labels, *m, set, NoResize(), 0, 40).ok());
  ASSERT_TRUE(m->Forward(px.data(), labels.data(), 40).ok());
  int hits = 0;
  for (int r = 0; r < 40; ++r) {
    const float* row = m->logits() + r * 4;
    hits += int(std::max_element(row, row + 4) - row) == labels[size_t(r)];
  }
  EXPECT_DOUBLE_EQ(e.value().accuracy, hits / 40.0);
}

TEST(VitTrain, PackedModeEvaluatesWithTheStoredSize) {
  const data::ImageSet set = Quadrants(32, 9);
  auto m = Vit::Create(Tiny(), 3).value();
  EXPECT_EQ(m->LinearBytes(), 4 * 2 * (96 * 32 + 32 * 32 + 64 * 32 + 32 * 64));  // float: 4 bytes a weight
  quant::TernaryOptions t;
  ASSERT_TRUE(m->SetLinearMode(nn::LinearMode::kPacked, t).ok());
  // TQ2_0: each row in 66-byte blocks of 256 weights (rows of 32 or 64 pad to one block).
  EXPECT_EQ(m->LinearBytes(), 2 * (96 + 32 + 64 + 32) * 66);
  auto e = EvaluateVit(m.get(), set, NoResize(), 16, 0);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(std::isfinite(e.value().loss));
}

}  // namespace
}  // namespace t81::models
