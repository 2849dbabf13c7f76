#include "t81/models/param_arena.h"

#include "t81/nn/transformer.h"

namespace t81::models {

void ParamArena::Resize(size_t n) {
  p_.clear();
  p_.resize(n);  // zero, and not resident until written
  g_.clear();
  m_.clear();
  v_.clear();
  step_ = 0;
}

float* ParamArena::grads() {
  if (!has_grads()) g_.assign(p_.size(), 0.0f);
  return g_.data();
}

void ParamArena::ZeroGrad() { g_.assign(p_.size(), 0.0f); }

void ParamArena::AdamWStep(double lr, double beta1, double beta2, double eps, double weight_decay) {
  if (m_.size() != p_.size()) {
    m_.assign(p_.size(), 0.0f);
    v_.assign(p_.size(), 0.0f);
  }
  grads();
  ++step_;
  nn::AdamWUpdate(p_.data(), g_.data(), m_.data(), v_.data(), int64_t(p_.size()), lr, beta1, beta2, eps, weight_decay,
                  step_);
}

}  // namespace t81::models
