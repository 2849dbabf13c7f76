// The language-model trainer: learning-rate and λ schedules, weight decay skipping the no-decay
// ranges, gradient clipping, QAT's λ (0: the float forward, 1: the plain fake-quant forward), a
// run that learns, and a resumed run that continues bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "t81/base/rng.h"
#include "t81/models/lm_train.h"

namespace t81::models {
namespace {

DecoderConfig TinyGpt2() {
  DecoderConfig c;
  c.arch = Arch::kGpt2;
  c.V = 24;
  c.C = 32;
  c.L = 2;
  c.NH = c.NKV = 2;
  c.HD = 16;
  c.FF = 64;
  c.max_t = 16;
  c.attn_bias = c.mlp_bias = true;
  return c;
}

// A learnable stream: a fixed random sequence of 40 tokens repeated.
std::vector<int32_t> Stream(int64_t n, uint64_t seed, int64_t V) {
  base::Rng rng(seed);
  std::vector<int32_t> motif(40);
  for (int32_t& t : motif) t = int32_t(rng.Below(uint64_t(V)));
  std::vector<int32_t> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) s[size_t(i)] = motif[size_t(i % 40)];
  return s;
}

TEST(LmTrain, Schedules) {
  LmTrainOptions o;
  o.steps = 110;
  o.warmup = 10;
  o.lr = 1e-3;
  o.min_lr = 1e-4;
  EXPECT_DOUBLE_EQ(LmLearningRate(o, 0), 1e-4);
  EXPECT_DOUBLE_EQ(LmLearningRate(o, 9), 1e-3);
  EXPECT_NEAR(LmLearningRate(o, 10), 1e-3, 1e-12);
  EXPECT_NEAR(LmLearningRate(o, 109), 1e-4, 1e-12);
  EXPECT_NEAR(LmLearningRate(o, 10 + 99 / 2), 0.5 * (1e-3 + 1e-4), 2e-5);
  for (int64_t s = 11; s < 110; ++s) EXPECT_LE(LmLearningRate(o, s), LmLearningRate(o, s - 1)) << s;
  EXPECT_EQ(LmQatLambda(o, 0), 1.0f);  // not QAT
  o.qat = true;
  o.lambda_warmup = 4;
  EXPECT_FLOAT_EQ(LmQatLambda(o, 0), 0.25f);
  EXPECT_FLOAT_EQ(LmQatLambda(o, 1), 0.5f);
  EXPECT_FLOAT_EQ(LmQatLambda(o, 3), 1.0f);
  EXPECT_FLOAT_EQ(LmQatLambda(o, 50), 1.0f);
}

TEST(LmTrain, NoDecayRangesAndClipping) {
  ParamArena a;
  a.Resize(6);
  for (int i = 0; i < 6; ++i) a.params()[i] = 1.0f;
  a.grads();  // zero gradients: only the decay moves a parameter
  a.SetNoDecay({{1, 3}});
  a.AdamWStep(0.1, 0.9, 0.999, 1e-8, 0.5);
  const std::vector<float> want = {0.95f, 1, 1, 0.95f, 0.95f, 0.95f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(a.params()[i], want[size_t(i)]) << i;
  for (int i = 0; i < 6; ++i) a.grads()[i] = i < 2 ? 3.0f : 0.0f;  // norm sqrt(18)
  EXPECT_NEAR(a.ClipGradNorm(1.0), std::sqrt(18.0), 1e-9);
  EXPECT_NEAR(a.grads()[0], 3.0 / std::sqrt(18.0), 1e-6);
  EXPECT_NEAR(a.ClipGradNorm(5.0), 1.0, 1e-5);  // below the limit: unchanged
  EXPECT_NEAR(a.grads()[0], 3.0 / std::sqrt(18.0), 1e-6);
}

TEST(LmTrain, QatLambdaBlendsFloatAndQuantized) {
  const DecoderConfig c = TinyGpt2();
  std::vector<int64_t> ids(16);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i * 7 % 24);
  auto m = DecoderLM::Create(c, 5);
  const double fl = m->Forward(ids.data(), ids.data(), 1, 16).value();
  ASSERT_TRUE(m->SetLinearMode(nn::LinearMode::kQat, {}).ok());
  const double q1 = m->Forward(ids.data(), ids.data(), 1, 16).value();
  m->SetQatLambda(0.0f);
  EXPECT_EQ(m->Forward(ids.data(), ids.data(), 1, 16).value(), fl);
  m->SetQatLambda(0.5f);
  const double half = m->Forward(ids.data(), ids.data(), 1, 16).value();
  m->SetQatLambda(1.0f);
  EXPECT_EQ(m->Forward(ids.data(), ids.data(), 1, 16).value(), q1);
  EXPECT_NE(q1, fl);
  EXPECT_NE(half, fl);
  EXPECT_NE(half, q1);
}

LmTrainOptions Opts(bool qat) {
  LmTrainOptions o;
  o.steps = 12;
  o.batch = 3;
  o.seq = 16;
  o.warmup = 3;
  o.lr = 3e-3;
  o.min_lr = 3e-4;
  o.seed = 9;
  o.eval_tokens = 64;
  o.qat = qat;
  o.lambda_warmup = qat ? 6 : 0;
  return o;
}

TEST(LmTrain, LearnsAndValidates) {
  const DecoderConfig c = TinyGpt2();
  auto m = DecoderLM::Create(c, 1);
  LmTrainOptions o = Opts(false);
  o.steps = 150;
  o.lr = 1e-2;
  o.min_lr = 1e-3;
  auto tr = LmTrainer::Create(m.get(), o, Stream(2000, 3, c.V), Stream(200, 3, c.V));
  ASSERT_TRUE(tr.ok()) << tr.status().message();
  const double before = tr->Evaluate().value();
  for (int s = 0; s < 150; ++s) ASSERT_TRUE(tr->Step().ok());
  const double after = tr->Evaluate().value();
  EXPECT_NEAR(before, std::log(24.0), 0.3);  // an untrained model is near uniform
  EXPECT_LT(after, 0.25 * before) << before << " -> " << after;
  EXPECT_EQ(tr->step(), 150);
  EXPECT_EQ(tr->tokens(), 150 * 3 * 16);
}

class LmTrainResume : public ::testing::TestWithParam<bool> {};

TEST_P(LmTrainResume, ContinuesBitForBit) {
  const bool qat = GetParam();
  const DecoderConfig c = TinyGpt2();
  const std::vector<int32_t> train = Stream(1000, 4, c.V), val = Stream(100, 4, c.V);
  const std::string path = ::testing::TempDir() + "/t81_lm_state_" + (qat ? "qat" : "float") + ".safetensors";
  // Straight through.
  auto a = DecoderLM::Create(c, 2);
  auto ta = LmTrainer::Create(a.get(), Opts(qat), train, val).value();
  for (int s = 0; s < 12; ++s) ASSERT_TRUE(ta.Step().ok());
  // Half, saved; a fresh model and trainer restore it and finish.
  auto b = DecoderLM::Create(c, 2);
  auto tb = LmTrainer::Create(b.get(), Opts(qat), train, val).value();
  for (int s = 0; s < 5; ++s) ASSERT_TRUE(tb.Step().ok());
  ASSERT_TRUE(tb.SaveState(path).ok());
  auto r = DecoderLM::Create(c, 77);  // other initial values: all must come from the state
  auto tr = LmTrainer::Create(r.get(), Opts(qat), train, val).value();
  ASSERT_TRUE(tr.LoadState(path).ok());
  EXPECT_EQ(tr.step(), 5);
  for (int s = 5; s < 12; ++s) ASSERT_TRUE(tr.Step().ok());
  ASSERT_EQ(a->num_params(), r->num_params());
  for (int64_t i = 0; i < a->num_params(); ++i) ASSERT_EQ(a->arena().params()[i], r->arena().params()[i]) << i;
  EXPECT_EQ(ta.Evaluate().value(), tr.Evaluate().value());
  // Other settings or data are refused, naming what changed.
  LmTrainOptions other = Opts(qat);
  other.lr = 1e-2;
  auto mx = DecoderLM::Create(c, 2);
  auto tx = LmTrainer::Create(mx.get(), other, train, val);
  ASSERT_TRUE(tx.ok());
  const Status st = tx->LoadState(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("lr"), std::string::npos) << st.message();
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(FloatAndQat, LmTrainResume, ::testing::Bool());

TEST(LmTrain, BadInput) {
  const DecoderConfig c = TinyGpt2();
  auto m = DecoderLM::Create(c, 1);
  const std::vector<int32_t> s = Stream(100, 1, c.V);
  LmTrainOptions o = Opts(false);
  o.seq = 32;  // beyond the context of 16
  EXPECT_NE(LmTrainer::Create(m.get(), o, s, s).status().message().find("context"), std::string::npos);
  o = Opts(false);
  EXPECT_FALSE(LmTrainer::Create(m.get(), o, Stream(10, 1, c.V), s).ok());  // too short to train
  std::vector<int32_t> bad = s;
  bad[3] = 24;
  EXPECT_NE(LmTrainer::Create(m.get(), o, bad, s).status().message().find("vocabulary"), std::string::npos);
  o.lr = -1;
  EXPECT_FALSE(LmTrainer::Create(m.get(), o, s, s).ok());
  o = Opts(false);
  auto tr = LmTrainer::Create(m.get(), o, s, {});
  ASSERT_TRUE(tr.ok());
  EXPECT_FALSE(tr->Evaluate().ok());  // no validation text
  EXPECT_FALSE(tr->LoadState("/nonexistent/state.safetensors").ok());
}

}  // namespace
}  // namespace t81::models
