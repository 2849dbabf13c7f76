// Classifier training (FP32 and QAT) on a synthetic separable problem, the packed
// TernaryClassifier against a float forward of the fake-quantized weights, byte counts,
// determinism, and (when installed) a short real Fashion-MNIST run.
#include "t81/models/classifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <vector>

#include "t81/base/rng.h"
#include "t81/data/idx.h"
#include "t81/kernels/kernels.h"
#include "t81/nn/layers.h"
#include "t81/quant/ternary.h"

namespace t81::models {
namespace {

constexpr int64_t kClasses = 10;

struct Set {
  int64_t n = 0, dim = 0;
  std::vector<float> x;
  std::vector<int32_t> y;
};

// Gaussian blobs: class c has mean mu_c (N(0, sep²) per feature), noise N(0, 1).
struct Blobs {
  int64_t dim;
  std::vector<float> means;  // (classes, dim)
  Blobs(int64_t d, double sep, uint64_t seed) : dim(d), means(size_t(kClasses * d)) {
    base::Rng rng(seed);
    for (float& m : means) m = float(rng.Normal() * sep);
  }
  Set Sample(int64_t n, uint64_t seed) const {
    base::Rng rng(seed);
    Set s;
    s.n = n;
    s.dim = dim;
    s.x.resize(size_t(n * dim));
    s.y.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
      const int32_t c = int32_t(i % kClasses);
      s.y[size_t(i)] = c;
      for (int64_t k = 0; k < dim; ++k)
        s.x[size_t(i * dim + k)] = means[size_t(c * dim + k)] + float(rng.Normal());
    }
    return s;
  }
};

// Plain minibatch SGD over the set in a seeded shuffled order.
void Train(Classifier& m, const Set& s, int epochs, int64_t batch, const SgdConfig& opt,
           const quant::TernaryOptions* qat, uint64_t seed, double* first_loss = nullptr,
           double* last_loss = nullptr) {
  base::Rng rng(seed);
  std::vector<int64_t> order(size_t(s.n));
  std::vector<float> xb(size_t(batch * s.dim));
  std::vector<int32_t> yb(static_cast<size_t>(batch));
  for (int e = 0; e < epochs; ++e) {
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = s.n - 1; i > 0; --i) std::swap(order[size_t(i)], order[rng.Below(uint64_t(i + 1))]);
    double sum = 0;
    int64_t seen = 0;
    for (int64_t i = 0; i < s.n; i += batch) {
      const int64_t B = std::min(batch, s.n - i);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t idx = order[size_t(i + b)];
        std::copy_n(s.x.data() + idx * s.dim, s.dim, xb.data() + b * s.dim);
        yb[size_t(b)] = s.y[size_t(idx)];
      }
      const double loss = m.TrainStep(xb.data(), yb.data(), B, opt, qat);
      EXPECT_TRUE(std::isfinite(loss));
      sum += loss * double(B);
      seen += B;
    }
    if (e == 0 && first_loss) *first_loss = sum / double(seen);
    if (e == epochs - 1 && last_loss) *last_loss = sum / double(seen);
  }
}

template <typename M>
EvalResult Eval(M& m, const Set& s) {
  return Evaluate(m, s.x.data(), s.y.data(), s.n, s.dim, kClasses, 64);
}

// The float model with every weight replaced by its fake-quantized value.
Classifier FakeQuantCopy(const Classifier& c, const quant::TernaryOptions& q) {
  Classifier f = c;
  for (int l = 0; l < c.layers(); ++l)
    quant::FakeQuantize(c.weight[size_t(l)].data(), c.out(l), c.in(l), q.granularity, q.threshold,
                        f.weight[size_t(l)].data());
  return f;
}

// Reference forward with nn::LinearForward (and ReLU between layers) over given weights.
std::vector<float> RefForward(const Classifier& c, const std::vector<std::vector<float>>& w,
                              const float* x, int64_t B) {
  std::vector<float> inp(x, x + B * c.in(0)), out;
  for (int l = 0; l < c.layers(); ++l) {
    out.assign(size_t(B * c.out(l)), 0.0f);
    nn::LinearForward(out.data(), inp.data(), w[size_t(l)].data(), c.bias[size_t(l)].data(), B,
                      c.in(l), c.out(l));
    if (l < c.layers() - 1) nn::ReluForward(out.data(), out.data(), int64_t(out.size()));
    inp = out;
  }
  return out;
}

std::vector<std::vector<float>> FakeQuantWeights(const Classifier& c, const quant::TernaryOptions& q) {
  std::vector<std::vector<float>> w(size_t(c.layers()));
  for (int l = 0; l < c.layers(); ++l) {
    w[size_t(l)].resize(c.weight[size_t(l)].size());
    quant::FakeQuantize(c.weight[size_t(l)].data(), c.out(l), c.in(l), q.granularity, q.threshold,
                        w[size_t(l)].data());
  }
  return w;
}

const SgdConfig kOpt{0.05f, 0.9f};

class SyntheticTraining : public ::testing::TestWithParam<std::vector<int64_t>> {};

TEST_P(SyntheticTraining, Fp32QatAndTernaryBeatChance) {
  const std::vector<int64_t> widths = GetParam();
  const Blobs blobs(widths[0], 0.35, 11);
  const Set train = blobs.Sample(600, 12), test = blobs.Sample(500, 13);

  Classifier fp(ClassifierConfig{widths}, 7);
  const double acc0 = Eval(fp, test).accuracy;
  double first = 0, last = 0;
  Train(fp, train, 5, 32, kOpt, nullptr, 21, &first, &last);
  EXPECT_LT(last, first);
  const EvalResult ev_fp = Eval(fp, test);
  EXPECT_GT(ev_fp.accuracy, 0.5) << "fp32 (untrained " << acc0 << ")";
  EXPECT_TRUE(std::isfinite(ev_fp.loss));

  const quant::TernaryOptions qc;  // row scales, threshold 0.45, TQ2_0
  Classifier qat(ClassifierConfig{widths}, 7);
  Train(qat, train, 5, 32, kOpt, &qc, 21, &first, &last);
  EXPECT_LT(last, first);
  Classifier fq = FakeQuantCopy(qat, qc);
  const EvalResult ev_fq = Eval(fq, test);
  EXPECT_GT(ev_fq.accuracy, 0.5) << "QAT model, fake-quantized weights";

  const kernels::KernelTable& kt = kernels::Active();
  TernaryClassifier t32(qat, qc, nn::ActPath::kF32, kt);
  const EvalResult ev_t32 = Eval(t32, test);
  EXPECT_GT(ev_t32.accuracy, 0.5);
  EXPECT_NEAR(ev_t32.accuracy, ev_fq.accuracy, 0.01) << "packed f32 path vs fake-quant float";
  EXPECT_NEAR(ev_t32.loss, ev_fq.loss, 1e-3 * (1 + ev_fq.loss));

  TernaryClassifier t8(qat, qc, nn::ActPath::kI8, kt);
  const EvalResult ev_t8 = Eval(t8, test);
  EXPECT_GT(ev_t8.accuracy, 0.5);
  EXPECT_NEAR(ev_t8.accuracy, ev_fq.accuracy, 0.04) << "packed int8 path vs fake-quant float";

  // PTQ of the fp32 model still beats chance on this easy problem.
  TernaryClassifier ptq(fp, qc, nn::ActPath::kI8, kt);
  EXPECT_GT(Eval(ptq, test).accuracy, 0.3);
}

INSTANTIATE_TEST_SUITE_P(Widths, SyntheticTraining,
                         ::testing::Values(std::vector<int64_t>{64, 10},
                                           std::vector<int64_t>{64, 32, 10}));

struct LogitCase {
  std::vector<int64_t> widths;
  quant::Granularity g;
  quant::TqFormat fmt;
};

TEST(TernaryClassifier, F32LogitsMatchFakeQuantReference) {
  const kernels::KernelTable& kt = kernels::Active();
  const std::vector<LogitCase> cases = {
      {{64, 10}, quant::Granularity::kRow, quant::TqFormat::kTq2_0},
      {{64, 32, 10}, quant::Granularity::kRow, quant::TqFormat::kTq2_0},
      {{300, 40, 10}, quant::Granularity::kBlock, quant::TqFormat::kTq2_0},  // 2 blocks, the last short
      {{300, 40, 10}, quant::Granularity::kTensor, quant::TqFormat::kTq1_0},
      {{784, 33, 17, 10}, quant::Granularity::kBlock, quant::TqFormat::kTq1_0},
      {{520, 10}, quant::Granularity::kRow, quant::TqFormat::kTq2_0}};
  for (const LogitCase& lc : cases) {
    SCOPED_TRACE(::testing::Message() << "widths " << ::testing::PrintToString(lc.widths) << " "
                                      << quant::GranularityName(lc.g) << " "
                                      << quant::TqFormatName(lc.fmt));
    Classifier c(ClassifierConfig{lc.widths}, 99);
    // Perturb the biases so they are not tiny relative to the products.
    for (auto& b : c.bias)
      for (float& v : b) v *= 3.0f;
    quant::TernaryOptions q;
    q.granularity = lc.g;
    q.format = lc.fmt;
    const int64_t B = 13;
    base::Rng rng(5);
    std::vector<float> x(size_t(B * lc.widths[0]));
    for (float& v : x) v = float(rng.Normal());

    const std::vector<float> ref = RefForward(c, FakeQuantWeights(c, q), x.data(), B);
    float scale = 0;
    for (float v : ref) scale = std::max(scale, std::fabs(v));
    ASSERT_GT(scale, 0.0f);

    TernaryClassifier t32(c, q, nn::ActPath::kF32, kt);
    std::vector<float> got(ref.size(), std::nanf(""));
    t32.Forward(got.data(), x.data(), B);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-4f * std::max(std::fabs(ref[i]), 0.1f * scale)) << "logit " << i;

    // int8 activations: close, within the activation quantization error.
    TernaryClassifier t8(c, q, nn::ActPath::kI8, kt);
    std::vector<float> got8(ref.size(), std::nanf(""));
    t8.Forward(got8.data(), x.data(), B);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got8[i], ref[i], 0.03f * scale) << "int8 logit " << i;

    // A second call with a smaller batch gives the same rows.
    std::vector<float> again(size_t(2 * lc.widths.back()));
    t32.Forward(again.data(), x.data(), 2);
    for (size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i], got[i]) << i;
  }
}

TEST(Classifier, ForwardMatchesReference) {
  Classifier c(ClassifierConfig{{40, 16, 10}}, 3);
  const int64_t B = 5;
  base::Rng rng(8);
  std::vector<float> x(size_t(B * 40));
  for (float& v : x) v = float(rng.Normal());
  std::vector<float> got(size_t(B * 10));
  c.Forward(got.data(), x.data(), B);
  const std::vector<float> ref = RefForward(c, c.weight, x.data(), B);
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_FLOAT_EQ(got[i], ref[i]) << i;
}

TEST(Classifier, InitBoundsAndShapes) {
  Classifier c(ClassifierConfig{{100, 20, 10}}, 4);
  ASSERT_EQ(c.layers(), 2);
  EXPECT_EQ(c.in(0), 100);
  EXPECT_EQ(c.out(0), 20);
  EXPECT_EQ(c.in(1), 20);
  EXPECT_EQ(c.out(1), 10);
  ASSERT_EQ(c.weight[0].size(), 2000u);
  ASSERT_EQ(c.bias[1].size(), 10u);
  for (int l = 0; l < 2; ++l) {
    const float bound = 1.0f / std::sqrt(float(c.in(l)));
    for (float w : c.weight[size_t(l)]) ASSERT_LE(std::fabs(w), bound);
    for (float b : c.bias[size_t(l)]) ASSERT_LE(std::fabs(b), bound);
  }
}

// One QAT step with momentum 0: the latent weights move by -lr times the gradient computed with the
// fake-quantized weights in the forward and backward (straight-through estimator).
TEST(Classifier, QatStepIsStraightThrough) {
  const ClassifierConfig cfg{{24, 12, 10}};
  Classifier c(cfg, 17);
  const Classifier before = c;
  quant::TernaryOptions q;
  const int64_t B = 6;
  base::Rng rng(9);
  std::vector<float> x(size_t(B * 24));
  for (float& v : x) v = float(rng.Normal());
  std::vector<int32_t> y = {0, 3, 9, 3, 1, 7};
  const float lr = 0.1f;
  c.TrainStep(x.data(), y.data(), B, SgdConfig{lr, 0.0f}, &q);

  // Reference gradient.
  const auto qw = FakeQuantWeights(before, q);
  std::vector<float> h(size_t(B * 12)), logits(size_t(B * 10)), probs(logits.size());
  nn::LinearForward(h.data(), x.data(), qw[0].data(), before.bias[0].data(), B, 24, 12);
  nn::ReluForward(h.data(), h.data(), B * 12);
  nn::LinearForward(logits.data(), h.data(), qw[1].data(), before.bias[1].data(), B, 12, 10);
  nn::SoftmaxCrossEntropyForward(probs.data(), logits.data(), y.data(), B, 10);
  std::vector<float> dl(logits.size(), 0.0f), dh(h.size(), 0.0f), dhp(h.size(), 0.0f);
  std::vector<float> dw0(qw[0].size(), 0.0f), db0(12, 0.0f), dw1(qw[1].size(), 0.0f), db1(10, 0.0f);
  nn::SoftmaxCrossEntropyBackward(dl.data(), probs.data(), y.data(), B, 10, 1.0f / float(B));
  nn::LinearBackward(dh.data(), dw1.data(), db1.data(), dl.data(), h.data(), qw[1].data(), B, 12, 10);
  nn::ReluBackward(dhp.data(), dh.data(), h.data(), B * 12);
  nn::LinearBackward(nullptr, dw0.data(), db0.data(), dhp.data(), x.data(), qw[0].data(), B, 24, 12);

  auto check = [&](const std::vector<float>& now, const std::vector<float>& was,
                   const std::vector<float>& g, const char* what) {
    double gmax = 0;
    for (float v : g) gmax = std::max(gmax, double(std::fabs(v)));
    ASSERT_GT(gmax, 1e-4) << what;
    for (size_t i = 0; i < now.size(); ++i)
      EXPECT_NEAR(now[i], was[i] - lr * g[i], 1e-6 + 1e-5 * std::fabs(was[i])) << what << "[" << i << "]";
  };
  check(c.weight[0], before.weight[0], dw0, "weight0");
  check(c.bias[0], before.bias[0], db0, "bias0");
  check(c.weight[1], before.weight[1], dw1, "weight1");
  check(c.bias[1], before.bias[1], db1, "bias1");
  // The latent weights stay float (not snapped to the ternary grid).
  EXPECT_NE(c.weight[0], qw[0]);
}

TEST(Classifier, SameSeedSameWeights) {
  const Blobs blobs(64, 0.35, 31);
  const Set train = blobs.Sample(200, 32);
  const quant::TernaryOptions qc;
  auto run = [&](uint64_t seed) {
    Classifier m(ClassifierConfig{{64, 32, 10}}, seed);
    Train(m, train, 2, 32, kOpt, nullptr, seed + 1);
    Train(m, train, 1, 32, kOpt, &qc, seed + 2);
    return m;
  };
  const Classifier a = run(1), b = run(1), c = run(2);
  for (int l = 0; l < a.layers(); ++l) {
    EXPECT_EQ(a.weight[size_t(l)], b.weight[size_t(l)]) << "layer " << l;
    EXPECT_EQ(a.bias[size_t(l)], b.bias[size_t(l)]) << "layer " << l;
  }
  EXPECT_NE(a.weight[0], c.weight[0]);
}

TEST(TernaryClassifier, BytesAndFp32Bytes) {
  const kernels::KernelTable& kt = kernels::Active();
  for (const auto& widths : {std::vector<int64_t>{300, 20, 10}, std::vector<int64_t>{784, 10},
                             std::vector<int64_t>{64, 32, 10}, std::vector<int64_t>{784, 512, 256, 10}}) {
    Classifier c(ClassifierConfig{widths}, 1);
    int64_t params = 0, tq2 = 0, tq1 = 0;
    for (size_t l = 0; l + 1 < widths.size(); ++l) {
      const int64_t rows = widths[l + 1], cols = widths[l], kb = (cols + 255) / 256;
      params += rows * cols + rows;
      tq2 += rows * kb * 66 + 4 * rows;
      tq1 += rows * kb * 54 + 4 * rows;
    }
    EXPECT_EQ(c.Fp32Bytes(), 4 * params);
    for (auto g : {quant::Granularity::kTensor, quant::Granularity::kRow, quant::Granularity::kBlock}) {
      quant::TernaryOptions q;
      q.granularity = g;
      q.format = quant::TqFormat::kTq2_0;
      EXPECT_EQ(TernaryClassifier(c, q, nn::ActPath::kF32, kt).Bytes(), tq2);
      q.format = quant::TqFormat::kTq1_0;
      EXPECT_EQ(TernaryClassifier(c, q, nn::ActPath::kI8, kt).Bytes(), tq1);
    }
  }
  // Hand-computed: 300 -> 20 -> 10 in TQ2_0: 20·2·66 + 80 + 10·1·66 + 40.
  Classifier c(ClassifierConfig{{300, 20, 10}}, 1);
  EXPECT_EQ(TernaryClassifier(c, quant::TernaryOptions{}, nn::ActPath::kF32, kt).Bytes(), 3420);
  EXPECT_EQ(c.Fp32Bytes(), 24920);
}

TEST(Presets, Names) {
  auto lin = ClassifierPreset("linear", 784, 10);
  ASSERT_TRUE(lin.ok());
  EXPECT_EQ(lin->widths, (std::vector<int64_t>{784, 10}));
  auto mlp = ClassifierPreset("mlp", 784, 10);
  ASSERT_TRUE(mlp.ok());
  EXPECT_EQ(mlp->widths, (std::vector<int64_t>{784, 512, 256, 10}));
  EXPECT_FALSE(ClassifierPreset("foo", 784, 10).ok());
  EXPECT_FALSE(nn::ParseActPath("i8").ok());
  ASSERT_TRUE(nn::ParseActPath("int8").ok());
  EXPECT_EQ(nn::ParseActPath("int8").value(), nn::ActPath::kI8);
  EXPECT_EQ(nn::ParseActPath("f32").value(), nn::ActPath::kF32);
}

TEST(FashionMnist, SmallTrainingRunBeatsChanceClearly) {
  if (!std::filesystem::is_directory(data::kFashionMnistDir))
    GTEST_SKIP() << data::kFashionMnistDir << " not installed";
  auto train = data::LoadFashionMnist(data::kFashionMnistDir, "train");
  ASSERT_TRUE(train.ok()) << train.status().message();
  auto test = data::LoadFashionMnist(data::kFashionMnistDir, "t10k");
  ASSERT_TRUE(test.ok()) << test.status().message();
  Set tr;
  tr.n = 500;
  tr.dim = train->dim;
  tr.x.assign(train->x.begin(), train->x.begin() + tr.n * tr.dim);
  tr.y.assign(train->y.begin(), train->y.begin() + tr.n);
  Set te;
  te.n = 1000;
  te.dim = test->dim;
  te.x.assign(test->x.begin(), test->x.begin() + te.n * te.dim);
  te.y.assign(test->y.begin(), test->y.begin() + te.n);

  Classifier m(ClassifierConfig{{784, 10}}, 0);
  Train(m, tr, 3, 32, SgdConfig{0.01f, 0.9f}, nullptr, 1);
  const EvalResult ev = Eval(m, te);
  EXPECT_GT(ev.accuracy, 0.6) << "loss " << ev.loss;
  TernaryClassifier t(m, quant::TernaryOptions{}, nn::ActPath::kI8, kernels::Active());
  EXPECT_GT(Eval(t, te).accuracy, 0.3);
}

}  // namespace
}  // namespace t81::models
