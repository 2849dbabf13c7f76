// The ViT trainer: random init written = created, a fresh head keeps the body, training lowers
// the loss, a resumed run equals a straight one bit for bit, thread count does not change t81's
// own numbers (at this size OpenBLAS runs its 1-thread path; docs/DESIGN.md: Determinism), QAT
// runs, head fitting learns a separable set, evaluation counts correctly, the weight average follows
// its formula and swaps back exactly, random erasing sets one rectangle of valid pixels.
#include "t81/models/vit_train.h"

#include <gtest/gtest.h>

#include <cstring>
#include <tuple>
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

// The parameters, then their average when the run keeps one.
std::vector<float> ParamsAndAverage(Vit& m) {
  std::vector<float> v = Params(m);
  if (m.arena().has_ema()) v.insert(v.end(), m.arena().ema(), m.arena().ema() + m.arena().size());
  return v;
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
      return ParamsAndAverage(*m2);
    }
  }
  return ParamsAndAverage(*m);
}

TEST(VitTrain, AResumedRunEqualsAStraightOne) {
  const data::ImageSet train = Quadrants(96, 4);
  TempDir dir("vit_resume");
  const std::string state = dir / "state.safetensors";
  for (int run = 0; run < 3; ++run) {
    VitTrainOptions o = Short();
    o.qat = run == 1;
    o.lambda_warmup = o.qat ? 5 : 0;
    if (run == 2) {  // the weight average, random erasing, stochastic depth and CutMix resume too
      o.ema = 0.9;
      o.erase = 0.5;
      o.drop_path = 0.3;
      o.cutmix = 0.5;
    }
    const std::vector<float> straight = Train(o, train, -1, "");
    const std::vector<float> resumed = Train(o, train, 7, state);  // mid-epoch (6 steps an epoch)
    EXPECT_EQ(straight.size(), (run == 2 ? 2 : 1) * Params(*Vit::Create(Tiny(), 0).value()).size());
    EXPECT_EQ(straight, resumed) << "run " << run;
  }
}

// --ema: after each step the average moves toward the weights by 1 − d, d = min(ema, (1+t)/(10+t));
// SwapAverage puts it into the model and back exactly.
TEST(VitTrain, TheWeightAverageFollowsItsFormulaAndSwapsBack) {
  const data::ImageSet train = Quadrants(64, 8), test = Quadrants(32, 9);
  auto m = Vit::Create(Tiny(), 0).value();
  VitTrainOptions o = Short();
  o.ema = 0.5;
  auto tr = VitTrainer::Create(m.get(), o, &train, NoResize()).value();
  ASSERT_TRUE(m->arena().has_ema());
  const std::vector<float> init = Params(*m);
  std::vector<double> avg(init.begin(), init.end());
  for (int t = 0; t < 12; ++t) {
    ASSERT_TRUE(tr.Step().ok());
    const double d = std::min(0.5, double(t + 1) / double(t + 10));
    const std::vector<float> p = Params(*m);
    for (size_t i = 0; i < p.size(); ++i) avg[i] = d * avg[i] + (1 - d) * p[i];
  }
  const std::vector<float> trained = Params(*m);
  const float* ema = m->arena().ema();
  double worst = 0;
  for (size_t i = 0; i < avg.size(); ++i) worst = std::max(worst, std::abs(double(ema[i]) - avg[i]));
  EXPECT_LT(worst, 1e-5);
  EXPECT_NE(std::vector<float>(ema, ema + trained.size()), trained);
  const double loss_trained = tr.Evaluate(test, 0).value().loss;
  tr.SwapAverage();
  const std::vector<float> swapped = Params(*m);
  for (size_t i = 0; i < avg.size(); ++i) ASSERT_NEAR(swapped[i], avg[i], 1e-5) << i;
  EXPECT_NE(tr.Evaluate(test, 0).value().loss, loss_trained);
  tr.SwapAverage();
  EXPECT_EQ(Params(*m), trained);
  // Without --ema there is no average and SwapAverage changes nothing.
  auto m2 = Vit::Create(Tiny(), 0).value();
  auto tr2 = VitTrainer::Create(m2.get(), Short(), &train, NoResize()).value();
  EXPECT_FALSE(m2->arena().has_ema());
  const std::vector<float> before = Params(*m2);
  tr2.SwapAverage();
  EXPECT_EQ(Params(*m2), before);
}

// Random erasing changes one rectangle of 2–25 % of the image, the same in every channel, to
// values a real pixel can take after rescale and normalize; the rest stays.
TEST(VitTrain, RandomErasingSetsOneRectangleOfValidPixels) {
  data::ImageProcessor p = NoResize();
  p.mean = {0.5f, 0.4f, 0.3f};
  p.std = {0.2f, 0.25f, 0.3f};
  constexpr int64_t S = 28, CH = 3;
  base::Rng rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> img(size_t(CH * S * S), 1000.0f);
    RandomErase(img.data(), CH, S, p, &rng);
    int64_t y0 = S, y1 = -1, x0 = S, x1 = -1, changed = 0;
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x)
        if (img[size_t(y * S + x)] != 1000.0f) {
          ++changed;
          y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, x), x1 = std::max(x1, x);
        }
    ASSERT_GT(changed, 0) << trial;
    EXPECT_EQ(changed, (y1 - y0 + 1) * (x1 - x0 + 1)) << "not one rectangle, trial " << trial;
    EXPECT_GE(double(changed), 0.02 * S * S - 2 * S) << trial;
    EXPECT_LE(double(changed), 0.25 * S * S + 2 * S) << trial;
    for (int64_t ch = 0; ch < CH; ++ch)
      for (int64_t y = 0; y < S; ++y)
        for (int64_t x = 0; x < S; ++x) {
          const float v = img[size_t((ch * S + y) * S + x)];
          const bool inside = y >= y0 && y <= y1 && x >= x0 && x <= x1;
          if (!inside) {
            ASSERT_EQ(v, 1000.0f);
            continue;
          }
          const float lo = (0.0f - p.mean[size_t(ch)]) / p.std[size_t(ch)], hi = (1.0f - p.mean[size_t(ch)]) / p.std[size_t(ch)];
          ASSERT_GE(v, lo - 1e-5f);
          ASSERT_LT(v, hi + 1e-5f);
          // The same pixel value in every channel.
          const float v0 = img[size_t(y * S + x)] * p.std[0] + p.mean[0];
          ASSERT_NEAR(v * p.std[size_t(ch)] + p.mean[size_t(ch)], v0, 1e-5f);
        }
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
  for (auto [erase, ema, drop] : {std::tuple{-0.1, 0.0, 0.0}, {1.5, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, -0.5, 0.0},
                                    {0.0, 0.0, 1.0}, {0.0, 0.0, -0.1}}) {
    VitTrainOptions bad = Short();
    bad.erase = erase;
    bad.ema = ema;
    bad.drop_path = drop;
    EXPECT_FALSE(VitTrainer::Create(m.get(), bad, &train, NoResize()).ok()) << erase << " " << ema << " " << drop;
  }
  for (double cutmix : {-0.5, 1.5}) {
    VitTrainOptions bad = Short();
    bad.cutmix = cutmix;
    EXPECT_FALSE(VitTrainer::Create(m.get(), bad, &train, NoResize()).ok()) << cutmix;
  }
}

// CutMix 0 is the run without it; CutMix 1 changes the run (boxes and mixed targets) and keeps
// the weights finite.
TEST(VitTrain, CutMixZeroIsNoneAndCutMixChangesTheRun) {
  const data::ImageSet train = Quadrants(96, 4);
  VitTrainOptions o = Short();
  const std::vector<float> plain = Train(o, train, -1, "");
  o.cutmix = 0.0;
  EXPECT_EQ(Train(o, train, -1, ""), plain);
  o.cutmix = 1.0;
  const std::vector<float> mixed = Train(o, train, -1, "");
  EXPECT_NE(mixed, plain);
  for (float v : mixed) ASSERT_TRUE(std::isfinite(v));
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
