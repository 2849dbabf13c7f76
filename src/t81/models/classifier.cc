#include "t81/models/classifier.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "t81/base/rng.h"
#include "t81/base/timer.h"
#include "t81/nn/layers.h"
#include "t81/quant/ternary.h"

namespace t81::models {

Result<ClassifierConfig> ClassifierPreset(const std::string& name, int64_t input, int64_t classes) {
  if (name == "linear") return ClassifierConfig{{input, classes}};
  if (name == "mlp") return ClassifierConfig{{input, 512, 256, classes}};
  return Error("unknown model '" + name + "' (expected linear or mlp)");
}

Classifier::Classifier(ClassifierConfig cfg, uint64_t seed) : cfg_(std::move(cfg)) {
  base::Rng rng(seed);
  const int L = layers();
  weight.resize(size_t(L));
  bias.resize(size_t(L));
  for (int l = 0; l < L; ++l) {
    const float bound = 1.0f / std::sqrt(float(in(l)));
    weight[size_t(l)].resize(size_t(out(l) * in(l)));
    for (float& w : weight[size_t(l)]) w = rng.Uniform(-bound, bound);
    bias[size_t(l)].resize(size_t(out(l)));
    for (float& b : bias[size_t(l)]) b = rng.Uniform(-bound, bound);
  }
  for (auto* v : {&dweight_, &mweight_, &qweight_}) {
    v->resize(size_t(L));
    for (int l = 0; l < L; ++l) (*v)[size_t(l)].assign(weight[size_t(l)].size(), 0.0f);
  }
  for (auto* v : {&dbias_, &mbias_}) {
    v->resize(size_t(L));
    for (int l = 0; l < L; ++l) (*v)[size_t(l)].assign(bias[size_t(l)].size(), 0.0f);
  }
}

void Classifier::Reserve(int64_t B) {
  if (B <= cap_) return;
  cap_ = B;
  act_.resize(cfg_.widths.size());
  dact_.resize(cfg_.widths.size());
  for (size_t l = 1; l < cfg_.widths.size(); ++l) {
    act_[l].resize(size_t(B * cfg_.widths[l]));
    dact_[l].resize(size_t(B * cfg_.widths[l]));
  }
  probs_.resize(size_t(B * cfg_.widths.back()));
}

int64_t Classifier::Fp32Bytes() const {
  int64_t n = 0;
  for (int l = 0; l < layers(); ++l) n += int64_t(weight[size_t(l)].size() + bias[size_t(l)].size());
  return 4 * n;
}

void Classifier::Forward(float* logits, const float* x, int64_t B) {
  Reserve(B);
  const float* inp = x;
  for (int l = 0; l < layers(); ++l) {
    const bool last = l == layers() - 1;
    float* o = last ? logits : act_[size_t(l) + 1].data();
    nn::LinearForward(o, inp, weight[size_t(l)].data(), bias[size_t(l)].data(), B, in(l), out(l));
    if (!last) nn::ReluForward(o, o, B * out(l));
    inp = o;
  }
}

double Classifier::TrainStep(const float* x, const int32_t* y, int64_t B, const SgdConfig& opt,
                             const quant::TernaryOptions* qat) {
  Reserve(B);
  const int L = layers();
  // Forward; act_[l+1] holds layer l's output (post-ReLU for hidden layers).
  const float* inp = x;
  for (int l = 0; l < L; ++l) {
    const float* w = weight[size_t(l)].data();
    if (qat) {
      quant::FakeQuantize(w, out(l), in(l), qat->granularity, qat->threshold,
                          qweight_[size_t(l)].data());
      w = qweight_[size_t(l)].data();
    }
    float* o = act_[size_t(l) + 1].data();
    nn::LinearForward(o, inp, w, bias[size_t(l)].data(), B, in(l), out(l));
    if (l < L - 1) nn::ReluForward(o, o, B * out(l));
    inp = o;
  }
  const int64_t V = out(L - 1);
  const double loss =
      nn::SoftmaxCrossEntropyForward(probs_.data(), act_[size_t(L)].data(), y, B, V);
  // Backward. With QAT the weight used in forward is the fake-quantized one; the straight-through
  // estimator hands its gradient to the latent float weight unchanged.
  for (int l = 0; l < L; ++l) {
    std::fill(dweight_[size_t(l)].begin(), dweight_[size_t(l)].end(), 0.0f);
    std::fill(dbias_[size_t(l)].begin(), dbias_[size_t(l)].end(), 0.0f);
    std::fill(dact_[size_t(l) + 1].begin(), dact_[size_t(l) + 1].begin() + B * out(l), 0.0f);
  }
  nn::SoftmaxCrossEntropyBackward(dact_[size_t(L)].data(), probs_.data(), y, B, V,
                                  1.0f / float(B));
  for (int l = L - 1; l >= 0; --l) {
    const float* w = qat ? qweight_[size_t(l)].data() : weight[size_t(l)].data();
    const float* linp = l == 0 ? x : act_[size_t(l)].data();
    float* dinp = l == 0 ? nullptr : dact_[size_t(l)].data();
    nn::LinearBackward(dinp, dweight_[size_t(l)].data(), dbias_[size_t(l)].data(),
                       dact_[size_t(l) + 1].data(), linp, w, B, in(l), out(l));
    if (l > 0) {  // through the ReLU of layer l-1: zero where its output was zero
      float* d = dact_[size_t(l)].data();
      const float* a = act_[size_t(l)].data();
      for (int64_t i = 0; i < B * in(l); ++i)
        if (!(a[i] > 0.0f)) d[i] = 0.0f;
    }
  }
  // SGD with momentum (PyTorch semantics: m = μ·m + g; p -= lr·m).
  auto step = [&](std::vector<float>& p, std::vector<float>& m, const std::vector<float>& g) {
    for (size_t i = 0; i < p.size(); ++i) {
      m[i] = opt.momentum * m[i] + g[i];
      p[i] -= opt.lr * m[i];
    }
  };
  for (int l = 0; l < L; ++l) {
    step(weight[size_t(l)], mweight_[size_t(l)], dweight_[size_t(l)]);
    step(bias[size_t(l)], mbias_[size_t(l)], dbias_[size_t(l)]);
  }
  return loss;
}

double TrainClassifier(Classifier& model, const float* x, const int32_t* y, int64_t n, int64_t dim, int64_t batch,
                       int epochs, const SgdConfig& opt, const quant::TernaryOptions* qat, base::Rng& rng,
                       const ProgressFn& progress) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::vector<float> xb(static_cast<size_t>(batch * dim));
  std::vector<int32_t> yb(static_cast<size_t>(batch));
  const int64_t steps = (n + batch - 1) / batch;
  const double t_start = base::NowSeconds();
  for (int e = 0; e < epochs; ++e) {
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[rng.Below(uint64_t(i + 1))]);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t B = std::min(batch, n - s * batch);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t idx = order[size_t(s * batch + b)];
        std::copy_n(x + idx * dim, dim, xb.data() + b * dim);
        yb[size_t(b)] = y[idx];
      }
      SgdConfig step_opt = opt;  // cosine learning-rate decay over the whole run
      const double at = double(e * steps + s) / double(epochs * steps);
      step_opt.lr = float(opt.lr * 0.5 * (1.0 + std::cos(3.141592653589793 * at)));
      loss_sum += model.TrainStep(xb.data(), yb.data(), B, step_opt, qat) * double(B);
      seen += B;
      if (progress) {
        const double el = base::NowSeconds() - t_start;
        const double done = double(e * steps + s + 1) / double(epochs * steps);
        progress({e + 1, epochs, s + 1, steps, loss_sum / double(seen), el, el / done - el});
      }
    }
  }
  return base::NowSeconds() - t_start;
}

TernaryClassifier::TernaryClassifier(const Classifier& c, const quant::TernaryOptions& q, nn::ActPath act,
                                     const kernels::KernelTable& kt)
    : cfg_(c.config()), act_(act), kt_(kt) {
  for (int l = 0; l < c.layers(); ++l) {
    stored_.push_back(quant::QuantizeMatrix(c.weight[size_t(l)].data(), c.out(l), c.in(l),
                                            q.granularity, q.threshold, q.format));
    packed_.push_back(kernels::Repack(stored_.back()));
    bias_.push_back(c.bias[size_t(l)]);
  }
  act_buf_.resize(cfg_.widths.size());
}

int64_t TernaryClassifier::Bytes() const {
  int64_t n = 0;
  for (size_t l = 0; l < stored_.size(); ++l) n += stored_[l].bytes() + 4 * int64_t(bias_[l].size());
  return n;
}

void TernaryClassifier::Forward(float* logits, const float* x, int64_t B) {
  const int L = int(stored_.size());
  const float* inp = x;
  for (int l = 0; l < L; ++l) {
    const int64_t C = cfg_.widths[size_t(l)], OC = cfg_.widths[size_t(l) + 1];
    const bool last = l == L - 1;
    float* o = logits;
    if (!last) {
      act_buf_[size_t(l) + 1].resize(size_t(B * OC));
      o = act_buf_[size_t(l) + 1].data();
    }
    nn::PackedLinear(kt_, packed_[size_t(l)], act_, inp, B, C, bias_[size_t(l)].data(), o, &qa_);
    if (!last) nn::ReluForward(o, o, B * OC);
    inp = o;
  }
}

}  // namespace t81::models
