// Evaluate(): accuracy and mean cross-entropy of any classifier form over a data set.
#pragma once

#include <algorithm>
#include <vector>

#include "t81/nn/layers.h"

namespace t81::models {

template <typename Model>
EvalResult Evaluate(Model& model, const float* x, const int32_t* y, int64_t n, int64_t dim,
                    int64_t classes, int64_t batch) {
  std::vector<float> logits(size_t(batch * classes)), probs(logits.size());
  double loss = 0;
  int64_t correct = 0;
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t B = std::min(batch, n - i);
    model.Forward(logits.data(), x + i * dim, B);
    loss += nn::SoftmaxCrossEntropyForward(probs.data(), logits.data(), y + i, B, classes) * double(B);
    for (int64_t b = 0; b < B; ++b) {
      const float* l = logits.data() + b * classes;
      correct += (std::max_element(l, l + classes) - l) == y[i + b];
    }
  }
  return {double(correct) / double(n), loss / double(n)};
}

}  // namespace t81::models
