// The C++ side of t81lib's tests: quantizes a raw float32 matrix exactly as the GGUF exporter
// does (quant::QuantizeMatrix, whose .data is the tensor's bytes) and writes what Python must match.
//
//   tq_reference IN.f32 ROWS COLS THRESHOLD GRANULARITY FORMAT OUT_PREFIX
//   -> OUT_PREFIX.tq (TQ blocks), OUT_PREFIX.trits (int8 rows x cols), OUT_PREFIX.scales
//      (float32 rows x blocks)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "t81/quant/tq.h"

namespace {
bool Write(const std::string& path, const void* p, size_t n) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(p, 1, n, f) == n;
  return std::fclose(f) == 0 && ok;
}
int Fail(const std::string& msg) {
  std::fprintf(stderr, "tq_reference: %s\n", msg.c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace t81;
  if (argc != 8) return Fail("usage: IN.f32 ROWS COLS THRESHOLD GRANULARITY FORMAT OUT_PREFIX");
  const int64_t rows = std::atoll(argv[2]), cols = std::atoll(argv[3]);
  const float threshold = std::strtof(argv[4], nullptr);
  const Result<quant::Granularity> g = quant::ParseGranularity(argv[5]);
  const Result<quant::TqFormat> f = quant::ParseTqFormat(argv[6]);
  if (!g.ok()) return Fail(g.status().message());
  if (!f.ok()) return Fail(f.status().message());
  if (rows <= 0 || cols <= 0 || !(threshold > 0)) return Fail("bad ROWS, COLS or THRESHOLD");
  std::vector<float> w(size_t(rows * cols));
  FILE* in = std::fopen(argv[1], "rb");
  if (!in || std::fread(w.data(), sizeof(float), w.size(), in) != w.size()) return Fail(std::string("cannot read ") + argv[1]);
  std::fclose(in);
  const std::string out = argv[7];
  const quant::TernaryMatrix tm = quant::QuantizeMatrix(w.data(), rows, cols, g.value(), threshold, f.value());
  std::vector<int8_t> trits(w.size());
  std::vector<float> scales(size_t(rows * quant::BlocksPerRow(cols)));
  quant::Ternarize(w.data(), rows, cols, g.value(), threshold, trits.data(), scales.data());
  if (!Write(out + ".tq", tm.data.data(), tm.data.size()) || !Write(out + ".trits", trits.data(), trits.size()) ||
      !Write(out + ".scales", scales.data(), scales.size() * sizeof(float)))
    return Fail("cannot write " + out + ".*");
  return 0;
}
