#include "t81/models/convert.h"

#include <cstdio>
#include <cstring>

#include <unistd.h>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"
#include "t81/base/fp16.h"
#include "t81/base/timer.h"
#include "t81/io/safetensors.h"
#include "t81/models/decoder.h"
#include "t81/quant/q8_0.h"

namespace t81::models {
namespace {

bool EndsWith(const std::string& s, const char* suf) {
  const size_t n = std::strlen(suf);
  return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
}

// Block linears (the tensors that go ternary), and whether HF stores them (in, out).
bool IsBlockLinear(const std::string& name, Arch arch, bool* transposed) {
  *transposed = false;
  if (arch == Arch::kGpt2) {
    for (const char* s : {".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"})
      if (EndsWith(name, s)) return *transposed = true;
    return false;
  }
  for (const char* s : {"q_proj.weight", "k_proj.weight", "v_proj.weight", "qkv_proj.weight", "o_proj.weight",
                        "gate_proj.weight", "up_proj.weight", "gate_up_proj.weight", "down_proj.weight"})
    if (EndsWith(name, s) && name.rfind("model.layers.", 0) == 0) return true;
  return false;
}

}  // namespace

Result<ConvertReport> ConvertCheckpoint(const std::string& dir, const std::string& out_dir, const ConvertOptions& opt) {
  T81_ASSIGN_OR_RETURN(DecoderConfig cfg, LoadDecoderConfig(dir + "/config.json"));
  T81_ASSIGN_OR_RETURN(io::Checkpoint ckpt, io::OpenCheckpoint(dir));
  std::error_code ec;

  // Pass 1: names, dtypes, shapes and sizes of everything that goes out.
  struct Plan {
    std::string name;
    const io::SafeTensorsFile* file;
    bool ternary, transposed, q8;
    int64_t rows, cols;  // ternary: (out, in)
  };
  std::vector<Plan> plan;
  std::vector<io::SafeTensorsStreamWriter::Entry> entries;
  ConvertReport rep;
  std::string q8_names;
  const int64_t bb = quant::TqBlockBytes(opt.format);
  for (const auto& [name, shape] : DecoderLM::HfTensorList(cfg)) {
    const io::SafeTensorsFile* file = ckpt.FileOf(name);
    if (!file) return Error(dir + ": missing tensor '" + name + "'");
    const io::TensorInfo* t = file->Find(name);
    if (t->shape != shape) return Error(file->path() + ": tensor '" + name + "' has a shape that disagrees with config.json");
    Plan p{name, file, false, false, false, 0, 0};
    p.ternary = shape.size() == 2 && IsBlockLinear(name, cfg.arch, &p.transposed);
    const int64_t numel = t->numel();
    rep.source_bytes += int64_t(t->end - t->begin);
    rep.largest_tensor_bytes = std::max<int64_t>(rep.largest_tensor_bytes, numel * 4);
    if (p.ternary) {
      p.rows = p.transposed ? shape[1] : shape[0];
      p.cols = p.transposed ? shape[0] : shape[1];
      const int64_t row_bytes = quant::BlocksPerRow(p.cols) * bb;
      entries.push_back({name, io::DType::kU8, {p.rows, row_bytes}, uint64_t(p.rows * row_bytes)});
      rep.ternary_source_bytes += int64_t(t->end - t->begin);
      rep.ternary_out_bytes += p.rows * row_bytes;
      ++rep.ternary_tensors;
    } else if (opt.float_type == FloatType::kQ8_0 && shape.size() == 2 && shape[1] % quant::kQ8Block == 0) {
      p.q8 = true;
      const int64_t row_bytes = shape[1] / quant::kQ8Block * quant::kQ8BlockBytes;
      entries.push_back({name, io::DType::kU8, {shape[0], row_bytes}, uint64_t(shape[0] * row_bytes)});
      q8_names += (q8_names.empty() ? "" : ",") + name;
      ++rep.float_tensors;
    } else {
      const bool f16 = opt.float_type == FloatType::kF16;
      entries.push_back({name, f16 ? io::DType::kF16 : io::DType::kF32, shape, uint64_t(numel * (f16 ? 2 : 4))});
      ++rep.float_tensors;
    }
    rep.out_bytes += int64_t(entries.back().bytes);
    plan.push_back(p);
  }
  std::map<std::string, std::string> meta = {
      {"format", "t81"},
      {"t81.version", "1"},
      {"t81.tq_format", quant::TqFormatName(opt.format)},
      {"t81.granularity", quant::GranularityName(opt.granularity)},
      {"t81.threshold", std::to_string(opt.threshold)},
      {"t81.layout", "ternary tensors: U8 [out, blocks_per_row * block_bytes] TQ blocks of the (out, in) matrix"}};
  if (!q8_names.empty()) meta["t81.q8_0"] = q8_names;  // U8 [rows, cols / 32 * 34] Q8_0 blocks
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Error(out_dir + ": cannot create (" + ec.message() + ")");
  io::SafeTensorsStreamWriter w;
  T81_RETURN_IF_ERROR(w.Begin(out_dir + "/model.t81.safetensors", entries, meta));
  // Pass 2: one tensor in memory at a time, with progress on stderr.
  const bool tty = isatty(2);
  const double t0 = base::NowSeconds();
  size_t done = 0;
  for (const Plan& p : plan) {
    ++done;
    if (tty || done == plan.size() || done % std::max<size_t>(1, plan.size() / 10) == 0) {
      const double el = base::NowSeconds() - t0, frac = double(done) / double(plan.size());
      std::fprintf(stderr, "%s[convert] %zu/%zu tensors, %.1fs elapsed, ETA %.1fs   %s", tty ? "\r" : "", done, plan.size(),
                   el, el / frac - el, done == plan.size() || !tty ? "\n" : "");
    }
    T81_ASSIGN_OR_RETURN(std::vector<float> v, p.file->ReadFloat(p.name));
    p.file->Release(p.name);
    if (p.ternary) {
      if (p.transposed) {
        std::vector<float> tr(v.size());
        for (int64_t i = 0; i < p.cols; ++i)
          for (int64_t o = 0; o < p.rows; ++o) tr[size_t(o * p.cols + i)] = v[size_t(i * p.rows + o)];
        v.swap(tr);
      }
      const quant::TernaryMatrix tm = quant::QuantizeMatrix(v.data(), p.rows, p.cols, opt.granularity, opt.threshold, opt.format);
      T81_RETURN_IF_ERROR(w.Append(tm.data.data(), tm.data.size()));
    } else if (p.q8) {
      std::vector<uint8_t> q(v.size() / quant::kQ8Block * quant::kQ8BlockBytes);
      quant::QuantizeQ8_0(v.data(), int64_t(v.size()), q.data());
      T81_RETURN_IF_ERROR(w.Append(q.data(), q.size()));
    } else if (opt.float_type == FloatType::kF16) {
      std::vector<uint16_t> h(v.size());
      for (size_t i = 0; i < v.size(); ++i) h[i] = base::Fp32ToFp16(v[i]);
      T81_RETURN_IF_ERROR(w.Append(h.data(), h.size() * 2));
    } else {
      T81_RETURN_IF_ERROR(w.Append(v.data(), v.size() * 4));
    }
  }
  T81_RETURN_IF_ERROR(w.Finish());
  T81_ASSIGN_OR_RETURN(std::string cfg_text, base::ReadFile(dir + "/config.json"));
  T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/config.json", cfg_text));
  return rep;
}

}  // namespace t81::models
