#include "t81/models/hf_tensors.h"

#include <algorithm>

namespace t81::models {

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

void HfToRows(const HfTensor& h, const float* hf, float* rows) {
  if (!h.transpose) {
    std::copy(hf, hf + h.numel(), rows);
    return;
  }
  for (int64_t r = 0; r < h.nrows; ++r)
    for (int64_t c = 0; c < h.cols; ++c) rows[r * h.cols + c] = hf[c * h.nrows + r];
}

void RowsToHf(const HfTensor& h, const float* rows, float* hf) {
  if (!h.transpose) {
    std::copy(rows, rows + h.numel(), hf);
    return;
  }
  for (int64_t r = 0; r < h.nrows; ++r)
    for (int64_t c = 0; c < h.cols; ++c) hf[c * h.nrows + r] = rows[r * h.cols + c];
}

std::vector<NamedTensor> ExportHf(const std::vector<HfTensor>& map, const float* arena, bool grad_names) {
  std::vector<NamedTensor> out;
  out.reserve(map.size());
  for (const HfTensor& h : map) {
    NamedTensor n{grad_names && !h.grad_name.empty() ? h.grad_name : h.name, h.shape,
                  std::vector<float>(size_t(h.numel()))};
    if (arena) RowsToHf(h, arena + h.first(), n.values.data());
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace t81::models
