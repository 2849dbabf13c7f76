#include "t81/models/param_arena.h"

#include <cmath>
#include <utility>

#include "t81/base/check.h"

#include "t81/nn/layers.h"
#include "t81/nn/transformer.h"

namespace t81::models {

void ParamArena::Resize(size_t n) {
  p_.clear();
  p_.resize(n);  // zero, and not resident until written
  g_.clear();
  m_.clear();
  v_.clear();
  e_.clear();
  step_ = 0;
}

void ParamArena::EnableEma() { e_.assign(p_.begin(), p_.end()); }

void ParamArena::UpdateEma(double decay) {
  T81_CHECK(has_ema());
  const float d = float(decay), w = float(1.0 - decay);
  float* e = e_.data();
  const float* p = p_.data();
  const int64_t n = int64_t(p_.size());
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) e[i] = d * e[i] + w * p[i];
}

void ParamArena::SwapEma() {
  T81_CHECK(has_ema());
  float *e = e_.data(), *p = p_.data();
  const int64_t n = int64_t(p_.size());
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) std::swap(e[i], p[i]);
}

float* ParamArena::grads() {
  if (!has_grads()) g_.assign(p_.size(), 0.0f);
  return g_.data();
}

void ParamArena::ZeroGrad() { nn::ZeroFill(&g_, int64_t(p_.size())); }

void ParamArena::EnsureMoments() {
  if (m_.size() == p_.size()) return;
  m_.assign(p_.size(), 0.0f);
  v_.assign(p_.size(), 0.0f);
}

float* ParamArena::moment1() {
  EnsureMoments();
  return m_.data();
}

float* ParamArena::moment2() {
  EnsureMoments();
  return v_.data();
}

void ParamArena::SetNoDecay(std::vector<std::pair<size_t, size_t>> ranges) { no_decay_ = std::move(ranges); }

void ParamArena::AdamWStep(double lr, double beta1, double beta2, double eps, double weight_decay) {
  EnsureMoments();
  grads();
  ++step_;
  // Segments alternate: decayed [at, r.first), then the no-decay range r.
  auto update = [&](size_t b, size_t e, double wd) {
    if (e > b)
      nn::AdamWUpdate(p_.data() + b, g_.data() + b, m_.data() + b, v_.data() + b, int64_t(e - b), lr, beta1, beta2, eps,
                      wd, step_);
  };
  size_t at = 0;
  for (const auto& r : no_decay_) {
    update(at, r.first, weight_decay);
    update(r.first, r.second, 0.0);
    at = r.second;
  }
  update(at, p_.size(), weight_decay);
}

double ParamArena::ClipGradNorm(double max_norm) {
  const float* g = grads();
  const int64_t n = int64_t(p_.size());
  // Fixed-order partial sums (64 blocks), so the norm does not depend on the thread count.
  constexpr int64_t kParts = 64;
  double part[kParts] = {};
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < kParts; ++b) {
    // 8 interleaved sums (independent chains the compiler may vectorize), then a fixed tree.
    double s[8] = {};
    const int64_t lo = n * b / kParts, hi = n * (b + 1) / kParts;
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8)
      for (int l = 0; l < 8; ++l) s[l] += double(g[i + l]) * double(g[i + l]);
    for (; i < hi; ++i) s[0] += double(g[i]) * double(g[i]);
    part[b] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  }
  double sum = 0;
  for (double s : part) sum += s;
  const double norm = std::sqrt(sum);
  if (norm > max_norm) {
    const float scale = float(max_norm / (norm + 1e-6));
    float* gw = g_.data();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) gw[i] *= scale;
  }
  return norm;
}

}  // namespace t81::models
