// A model's parameters in one arena, with their gradients and AdamW moments beside it. Gradients
// and moments are allocated only when training asks for them; the arena's untouched pages cost
// no memory (base::ZeroedFloats), so inference holds the parameters alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "t81/base/aligned.h"

namespace t81::models {

// Offsets of consecutive tensors in an arena, handed out in order.
class ArenaLayout {
 public:
  size_t Take(int64_t n) {
    const size_t at = size_;
    size_ += size_t(n);
    return at;
  }
  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

class ParamArena {
 public:
  void Resize(size_t n);  // n zero parameters; drops gradients, moments and the step count
  size_t size() const { return p_.size(); }
  float* params() { return p_.data(); }
  const float* params() const { return p_.data(); }
  // d loss / d param (allocated, zero, on first use).
  float* grads();
  bool has_grads() const { return g_.size() == p_.size(); }
  const float* grads_if_any() const { return has_grads() ? g_.data() : nullptr; }
  void ZeroGrad();
  // One torch.optim.AdamW step over every parameter (step counter kept here); weight decay
  // skips the ranges given to SetNoDecay.
  void AdamWStep(double lr, double beta1, double beta2, double eps, double weight_decay);
  // [begin, end) ranges of parameters without weight decay (norms, biases), sorted, disjoint.
  void SetNoDecay(std::vector<std::pair<size_t, size_t>> ranges);
  // Scales the gradients so their global L2 norm is at most max_norm (> 0); returns the norm
  // before scaling (torch.nn.utils.clip_grad_norm_). Needs gradients.
  double ClipGradNorm(double max_norm);

  // AdamW state, for training checkpoints: the moments (allocated, zero, on first use) and the
  // step count.
  float* moment1();
  float* moment2();
  int adam_step() const { return step_; }
  void set_adam_step(int s) { step_ = s; }

  // Exponential moving average of the parameters (Polyak averaging, a training aid): EnableEma
  // starts it as a copy of the parameters; UpdateEma(d) then sets ema = d·ema + (1 − d)·params
  // after each optimizer step; SwapEma exchanges the two in place (the blocks keep their
  // pointers into params), so a caller evaluates or saves the average and swaps back.
  void EnableEma();
  bool has_ema() const { return e_.size() == p_.size() && !p_.empty(); }
  float* ema() { return e_.data(); }
  void UpdateEma(double decay);
  void SwapEma();

 private:
  void EnsureMoments();
  base::ZeroedFloats p_, g_, m_, v_, e_;
  std::vector<std::pair<size_t, size_t>> no_decay_;
  int step_ = 0;
};

}  // namespace t81::models
