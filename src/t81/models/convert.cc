#include "t81/models/convert.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "t81/base/json_limits.h"
#include "t81/base/file.h"
#include "t81/base/fp16.h"
#include "t81/base/timer.h"
#include "t81/models/decoder.h"
#include "t81/quant/q8_0.h"

namespace t81::models {

Result<FloatType> ParseFloatType(std::string_view s) {
  if (s == "f32") return FloatType::kF32;
  if (s == "f16") return FloatType::kF16;
  if (s == "q8_0") return FloatType::kQ8_0;
  return Error("--float-type must be f32, f16 or q8_0 (got '" + std::string(s) + "')");
}

Result<T81Meta> ReadT81Meta(const io::SafeTensorsFile& f) {
  const auto& md = f.metadata();
  auto get = [&md](const char* key) {
    auto it = md.find(key);
    return it == md.end() ? std::string() : it->second;
  };
  if (get("format") != "t81") return Error(f.path() + ": not a t81 checkpoint (metadata format != t81)");
  T81Meta m;
  if (const std::string fmt = get("t81.tq_format"); !fmt.empty()) {
    auto r = quant::ParseTqFormat(fmt);
    if (!r.ok()) return Error(f.path() + ": metadata t81.tq_format: " + r.status().message());
    m.format = r.value();
  }
  m.granularity = get("t81.granularity");
  m.threshold = get("t81.threshold");
  const std::string q8 = get("t81.q8_0");  // comma-separated tensor names
  for (size_t pos = 0; pos < q8.size();) {
    size_t end = q8.find(',', pos);
    if (end == std::string::npos) end = q8.size();
    if (end > pos) m.q8_0.insert(q8.substr(pos, end - pos));
    pos = end + 1;
  }
  return m;
}

Result<std::vector<float>> ReadT81Rows(const HfTensor& h, const io::SafeTensorsFile& f, const T81Meta& meta) {
  const std::string& path = f.path();
  const io::TensorInfo* t = f.Find(h.name);
  if (!t) return Error(path + ": missing tensor '" + h.name + "'");
  if (t->dtype != io::DType::kU8) {  // float, in HF layout
    if (t->numel() != h.numel()) return Error(path + ": tensor '" + h.name + "' has the wrong size");
    T81_ASSIGN_OR_RETURN(std::vector<float> vals, f.ReadFloat(h.name));
    f.Release(h.name);
    if (!h.transpose) return vals;
    std::vector<float> rows(vals.size());
    HfToRows(h, vals.data(), rows.data());
    return rows;
  }
  std::vector<float> rows(size_t(h.numel()));
  if (meta.IsQ8(h.name)) {
    if (h.transpose || h.cols % quant::kQ8Block ||
        t->end - t->begin != uint64_t(h.numel() / quant::kQ8Block * quant::kQ8BlockBytes))
      return Error(path + ": Q8_0 tensor '" + h.name + "' has the wrong byte size");
    quant::DequantizeQ8_0(f.data(*t), h.numel(), rows.data());
  } else {
    if (!h.linear) return Error(path + ": tensor '" + h.name + "' is stored ternary but is not a block linear");
    quant::TernaryMatrix m{meta.format, h.nrows, h.cols, {}};
    if (t->shape != std::vector<int64_t>{h.nrows, m.blocks_per_row() * quant::TqBlockBytes(meta.format)})
      return Error(path + ": ternary tensor '" + h.name + "' has the wrong byte shape");
    m.data.assign(f.data(*t), f.data(*t) + (t->end - t->begin));
    quant::Dequantize(m, rows.data());
  }
  f.Release(h.name);
  return rows;
}

Result<ConvertReport> ConvertCheckpoint(const std::string& dir, const std::string& out_dir, const ConvertOptions& opt) {
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(opt.ternary));
  T81_ASSIGN_OR_RETURN(DecoderConfig cfg, LoadDecoderConfig(dir + "/config.json"));
  T81_ASSIGN_OR_RETURN(io::Checkpoint ckpt, io::OpenCheckpoint(dir));
  std::error_code ec;

  // Pass 1: names, dtypes, shapes and sizes of everything that goes out.
  struct Plan {
    HfTensor h;
    const io::SafeTensorsFile* file;
    bool q8;
  };
  std::vector<Plan> plan;
  std::vector<io::SafeTensorsStreamWriter::Entry> entries;
  ConvertReport rep;
  std::string q8_names;
  const int64_t bb = quant::TqBlockBytes(opt.ternary.format);
  for (HfTensor& h : DecoderLM::HfTensorList(cfg)) {
    const io::SafeTensorsFile* file = ckpt.FileOf(h.name);
    if (!file) return Error(dir + ": missing tensor '" + h.name + "'");
    const io::TensorInfo* t = file->Find(h.name);
    if (t->shape != h.shape)
      return Error(file->path() + ": tensor '" + h.name + "' has a shape that disagrees with config.json");
    Plan p{std::move(h), file, false};
    const std::vector<int64_t>& shape = p.h.shape;
    const int64_t numel = t->numel();
    rep.source_bytes += int64_t(t->end - t->begin);
    rep.largest_tensor_bytes = std::max<int64_t>(rep.largest_tensor_bytes, numel * 4);
    if (p.h.linear) {  // (out, in) rows of TQ blocks
      const int64_t row_bytes = quant::BlocksPerRow(p.h.cols) * bb;
      entries.push_back({p.h.name, io::DType::kU8, {p.h.nrows, row_bytes}, uint64_t(p.h.nrows * row_bytes)});
      rep.ternary_source_bytes += int64_t(t->end - t->begin);
      rep.ternary_out_bytes += p.h.nrows * row_bytes;
      ++rep.ternary_tensors;
    } else if (opt.float_type == FloatType::kQ8_0 && shape.size() == 2 && shape[1] % quant::kQ8Block == 0) {
      p.q8 = true;
      const int64_t row_bytes = shape[1] / quant::kQ8Block * quant::kQ8BlockBytes;
      entries.push_back({p.h.name, io::DType::kU8, {shape[0], row_bytes}, uint64_t(shape[0] * row_bytes)});
      q8_names += (q8_names.empty() ? "" : ",") + p.h.name;
      ++rep.float_tensors;
    } else {
      const bool f16 = opt.float_type == FloatType::kF16;
      entries.push_back({p.h.name, f16 ? io::DType::kF16 : io::DType::kF32, shape, uint64_t(numel * (f16 ? 2 : 4))});
      ++rep.float_tensors;
    }
    rep.out_bytes += int64_t(entries.back().bytes);
    plan.push_back(std::move(p));
  }
  std::map<std::string, std::string> meta = {
      {"format", "t81"},
      {"t81.version", "1"},
      {"t81.tq_format", quant::TqFormatName(opt.ternary.format)},
      {"t81.granularity", quant::GranularityName(opt.ternary.granularity)},
      {"t81.threshold", std::to_string(opt.ternary.threshold)},
      {"t81.layout", "ternary tensors: U8 [out, blocks_per_row * block_bytes] TQ blocks of the (out, in) matrix"}};
  if (!q8_names.empty()) meta["t81.q8_0"] = q8_names;  // U8 [rows, cols / 32 * 34] Q8_0 blocks
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Error(out_dir + ": cannot create (" + ec.message() + ")");
  io::SafeTensorsStreamWriter w;
  T81_RETURN_IF_ERROR(w.Begin(out_dir + "/" + kT81CheckpointFile, entries, meta));
  // Pass 2: one tensor in memory at a time, with progress on stderr.
  const bool tty = isatty(2);
  const double t0 = base::NowSeconds();
  size_t done = 0;
  for (const Plan& p : plan) {
    ++done;
    if (opt.progress && (tty || done == plan.size() || done % std::max<size_t>(1, plan.size() / 10) == 0)) {
      const double el = base::NowSeconds() - t0, frac = double(done) / double(plan.size());
      std::fprintf(stderr, "%s[convert] %zu/%zu tensors, %.1fs elapsed, ETA %.1fs   %s", tty ? "\r" : "", done, plan.size(),
                   el, el / frac - el, done == plan.size() || !tty ? "\n" : "");
    }
    T81_ASSIGN_OR_RETURN(std::vector<float> v, p.file->ReadFloat(p.h.name));
    p.file->Release(p.h.name);
    if (p.h.linear) {
      std::vector<float> rows(v.size());
      HfToRows(p.h, v.data(), rows.data());
      const quant::TernaryMatrix tm = quant::QuantizeMatrix(rows.data(), p.h.nrows, p.h.cols, opt.ternary);
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
  T81_ASSIGN_OR_RETURN(std::string cfg_text, base::ReadFile(dir + "/config.json", base::kMaxJsonBytes));
  T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/config.json", cfg_text));
  // The tokenizer files beside the model go along, so the checkpoint folder is self-contained
  // (t81 gguf --from-t81 and t81 tokenize read them there).
  for (const char* name : kTokenizerFiles) {
    const std::string src = dir + "/" + name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(src, ec)) continue;
    T81_ASSIGN_OR_RETURN(std::string text, base::ReadFile(src));
    T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/" + name, text));
  }
  return rep;
}

}  // namespace t81::models
