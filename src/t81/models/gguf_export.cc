#include "t81/models/gguf_export.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "t81/base/file.h"
#include "t81/base/fp16.h"
#include "t81/base/timer.h"
#include "t81/models/gguf_names.h"
#include "t81/quant/q8_0.h"
#include "t81/quant/tq.h"
#include "t81/text/tokenizer.h"

namespace t81::models {

Result<GgufQuant> ParseGgufQuant(std::string_view s) {
  if (s == "TQ1_0" || s == "tq1_0") return GgufQuant::kTq1_0;
  if (s == "TQ2_0" || s == "tq2_0") return GgufQuant::kTq2_0;
  if (s == "F16" || s == "f16") return GgufQuant::kF16;
  if (s == "F32" || s == "f32") return GgufQuant::kF32;
  return Error("unknown --quant '" + std::string(s) + "' (expected TQ1_0, TQ2_0, F16 or F32)");
}

namespace {

struct OutTensor {
  const HfTensor* h;
  std::string name;      // GGUF name
  int64_t rows, cols;    // data (rows, cols) row-major; ne = [cols, rows] (1-D: rows = 1)
  bool one_d;
  bool block_linear;     // quantized per opt.quant
  bool embedding;        // token/position embedding or head
  std::vector<int64_t> ne() const { return one_d ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows}; }
};

// Every exported tensor of the map, in map order, in llama.cpp's orientation (out, in): the
// internal one.
std::vector<OutTensor> Plan(const std::vector<HfTensor>& map) {
  std::vector<OutTensor> out;
  for (const HfTensor& h : map) {
    if (h.gguf.empty()) continue;
    OutTensor t;
    t.h = &h;
    t.name = h.gguf;
    t.one_d = h.shape.size() == 1;
    t.rows = t.one_d ? 1 : h.nrows;
    t.cols = t.one_d ? h.numel() : h.cols;
    t.block_linear = h.linear.has_value();
    t.embedding = !t.one_d && !t.block_linear;
    out.push_back(std::move(t));
  }
  return out;
}

// A tensor's values as llama.cpp stores them: Llama's q/k rows permuted to ggml's interleaved
// RoPE pairs.
Result<std::vector<float>> Values(const OutTensor& t, const TensorRowsFn& rows) {
  T81_ASSIGN_OR_RETURN(std::vector<float> v, rows(*t.h));
  if (int64_t(v.size()) != t.rows * t.cols) return Error("tensor '" + t.h->name + "': wrong number of values");
  if (t.h->rope_heads) v = PermuteRope(v, t.rows, t.cols, t.h->rope_heads);
  return v;
}

quant::TqFormat TqFormatOf(uint32_t type) {
  return type == quant::kGgmlTq1_0 ? quant::TqFormat::kTq1_0 : quant::TqFormat::kTq2_0;
}

// The GGUF type a tensor goes out as, and its values as llama.cpp will see them.
uint32_t TypeFor(const OutTensor& t, const GgufExportOptions& opt, std::string* warning) {
  if (t.one_d) return quant::kGgmlF32;
  if (t.embedding) {
    if (opt.embd_type == quant::kGgmlQ8_0 && t.cols % quant::kQ8Block) {
      *warning = "tensor '" + t.name + "' has rows of " + std::to_string(t.cols) + " elements (not a multiple of 32): stored as F16, not Q8_0";
      return quant::kGgmlF16;
    }
    return opt.embd_type;
  }
  switch (opt.quant) {
    case GgufQuant::kF32: return quant::kGgmlF32;
    case GgufQuant::kF16: return quant::kGgmlF16;
    default:
      if (t.cols % quant::kBlock) {
        *warning = "tensor '" + t.name + "' has rows of " + std::to_string(t.cols) +
                   " elements (not a multiple of 256): stored as F16, not ternary";
        return quant::kGgmlF16;
      }
      return opt.quant == GgufQuant::kTq1_0 ? quant::kGgmlTq1_0 : quant::kGgmlTq2_0;
  }
}

std::vector<uint8_t> Encode(const OutTensor& t, const std::vector<float>& values, uint32_t type,
                            const GgufExportOptions& opt) {
  std::vector<uint8_t> bytes;
  const size_t n = values.size();
  if (type == quant::kGgmlF32) {
    bytes.resize(n * 4);
    std::memcpy(bytes.data(), values.data(), n * 4);
  } else if (type == quant::kGgmlF16) {
    bytes.resize(n * 2);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = base::Fp32ToFp16(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  } else if (type == quant::kGgmlQ8_0) {
    bytes.resize(n / quant::kQ8Block * quant::kQ8BlockBytes);
    quant::QuantizeQ8_0(values.data(), int64_t(n), bytes.data());
  } else {
    quant::TernaryOptions o = opt.ternary;
    o.format = TqFormatOf(type);
    bytes = quant::QuantizeMatrix(values.data(), t.rows, t.cols, o).data;
  }
  return bytes;
}

// GPT-2's byte -> printable unicode map (the vocabulary's spelling of raw bytes).
std::string ByteToken(int b) {
  int cp = b;
  if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
    int n = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) s.push_back(char(cp));
  else {
    s.push_back(char(0xC0 | (cp >> 6)));
    s.push_back(char(0x80 | (cp & 0x3F)));
  }
  return s;
}

// The folder's tokenizer (text::Tokenizer::Load) when it has tokenizer files; nullopt for none.
Result<std::optional<text::Tokenizer>> FolderTokenizer(const std::string& dir) {
  if (dir.empty()) return std::optional<text::Tokenizer>();
  std::error_code ec;
  bool any = false;
  for (const char* name : {"tokenizer.json", "vocab.json", "merges.txt", "encoder.json", "vocab.bpe"})
    any = any || std::filesystem::exists(dir + "/" + name, ec);
  if (!any) return std::optional<text::Tokenizer>();
  T81_ASSIGN_OR_RETURN(text::Tokenizer t, text::Tokenizer::Load(dir));
  return std::optional<text::Tokenizer>(std::move(t));
}

// Placeholder: 256 byte tokens (id = byte value), then control tokens to fill the vocabulary.
void WritePlaceholderVocab(const DecoderConfig& c, io::GgufWriter* w) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (int64_t i = 0; i < c.V; ++i) {
    if (i < 256) {
      tokens.push_back(ByteToken(int(i)));
      types.push_back(1);
    } else {
      tokens.push_back("<|t81_" + std::to_string(i) + "|>");
      types.push_back(3);
    }
  }
  w->SetString("tokenizer.ggml.model", "gpt2");
  w->SetString("tokenizer.ggml.pre", "gpt-2");
  w->SetStringArray("tokenizer.ggml.tokens", tokens);
  w->SetI32Array("tokenizer.ggml.token_type", types);
  w->SetStringArray("tokenizer.ggml.merges", {});
}

}  // namespace

Result<GgufExportReport> ExportGguf(const DecoderConfig& c, const std::vector<HfTensor>& map, const TensorRowsFn& rows,
                                    const GgufExportOptions& opt, const std::string& out_path) {
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(opt.ternary));
  GgufExportReport rep;
  io::GgufWriter w;
  const std::string a = ArchName(c.arch);
  w.SetString("general.architecture", a);
  w.SetString("general.name", opt.name);
  w.SetU32("general.quantization_version", 2);
  w.SetU32("general.alignment", 32);
  const uint32_t ftype = opt.quant == GgufQuant::kTq1_0 ? 36 : opt.quant == GgufQuant::kTq2_0 ? 37 : opt.quant == GgufQuant::kF16 ? 1 : 0;
  w.SetU32("general.file_type", ftype);
  w.SetU32(a + ".context_length", uint32_t(c.max_t));
  w.SetU32(a + ".embedding_length", uint32_t(c.C));
  w.SetU32(a + ".block_count", uint32_t(c.L));
  w.SetU32(a + ".feed_forward_length", uint32_t(c.FF));
  w.SetU32(a + ".attention.head_count", uint32_t(c.NH));
  if (c.arch == Arch::kGpt2) {
    w.SetF32(a + ".attention.layer_norm_epsilon", c.eps);
  } else {
    w.SetU32(a + ".attention.head_count_kv", uint32_t(c.NKV));
    w.SetF32(a + ".attention.layer_norm_rms_epsilon", c.eps);
    w.SetU32(a + ".rope.dimension_count", uint32_t(c.HD));
    w.SetF32(a + ".rope.freq_base", float(c.rope_theta));
    w.SetU32(a + ".vocab_size", uint32_t(c.V));
  }
  T81_ASSIGN_OR_RETURN(const std::optional<text::Tokenizer> tok, FolderTokenizer(opt.tokenizer_dir));
  if (tok) {
    T81_RETURN_IF_ERROR(text::WriteGgufTokenizer(*tok, c.V, &w));
  } else {
    rep.warnings.push_back("no tokenizer files (tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe) next to "
                           "the model: writing a placeholder byte vocabulary (token id = byte value; ids >= 256 are "
                           "control tokens)");
    WritePlaceholderVocab(c, &w);
  }
  const std::vector<OutTensor> plan = Plan(map);
  std::vector<uint32_t> types;
  for (const OutTensor& t : plan) {
    std::string warning;
    types.push_back(TypeFor(t, opt, &warning));
    if (!warning.empty()) rep.warnings.push_back(warning);
    T81_RETURN_IF_ERROR(w.AddTensorInfo(t.name, t.ne(), types.back()));
  }
  // One tensor in memory at a time: read, encode, write.
  const bool tty = isatty(2);
  const double t0 = base::NowSeconds();
  auto produce = [&](size_t i) -> Result<std::vector<uint8_t>> {
    if (tty || i + 1 == plan.size() || (i + 1) % std::max<size_t>(1, plan.size() / 10) == 0) {
      const double el = base::NowSeconds() - t0, frac = double(i + 1) / double(plan.size());
      std::fprintf(stderr, "%s[gguf] %zu/%zu tensors, %.1fs elapsed, ETA %.1fs   %s", tty ? "\r" : "", i + 1,
                   plan.size(), el, el / frac - el, i + 1 == plan.size() || !tty ? "\n" : "");
    }
    T81_ASSIGN_OR_RETURN(std::vector<float> v, Values(plan[i], rows));
    return Encode(plan[i], v, types[i], opt);
  };
  rep.tensors = w.tensor_count();
  T81_RETURN_IF_ERROR(w.WriteStreaming(out_path, produce));
  return rep;
}

Result<GgufExportReport> ExportGguf(const DecoderLM& m, const GgufExportOptions& opt, const std::string& out_path) {
  return ExportGguf(m.config(), m.hf_tensors(), [&m](const HfTensor& h) -> Result<std::vector<float>> { return m.TensorRows(h); },
                    opt, out_path);
}

Status ValidateGguf(const DecoderConfig& c, const std::vector<HfTensor>& map, const TensorRowsFn& rows,
                    const GgufExportOptions& opt, const std::string& path) {
  T81_ASSIGN_OR_RETURN(auto f, io::GgufFile::Open(path));
  const std::string a = ArchName(c.arch);
  auto need_u = [&](const std::string& key, uint64_t want) -> Status {
    const io::GgufValue* v = f->Find(key);
    if (!v) return Error(path + ": missing key " + key);
    if (v->type != io::GgufType::kU32 || v->u != want)
      return Error(path + ": key " + key + " is " + std::to_string(v->u) + ", expected " + std::to_string(want));
    return OkStatus();
  };
  const io::GgufValue* arch = f->Find("general.architecture");
  if (!arch || arch->s != a) return Error(path + ": general.architecture is not '" + a + "'");
  T81_RETURN_IF_ERROR(need_u(a + ".context_length", uint64_t(c.max_t)));
  T81_RETURN_IF_ERROR(need_u(a + ".embedding_length", uint64_t(c.C)));
  T81_RETURN_IF_ERROR(need_u(a + ".block_count", uint64_t(c.L)));
  T81_RETURN_IF_ERROR(need_u(a + ".feed_forward_length", uint64_t(c.FF)));
  T81_RETURN_IF_ERROR(need_u(a + ".attention.head_count", uint64_t(c.NH)));
  const std::string eps_key = c.arch == Arch::kGpt2 ? a + ".attention.layer_norm_epsilon" : a + ".attention.layer_norm_rms_epsilon";
  const io::GgufValue* eps = f->Find(eps_key);
  if (!eps || eps->type != io::GgufType::kF32 || float(eps->f) != c.eps) return Error(path + ": bad or missing " + eps_key);
  const io::GgufValue* toks = f->Find("tokenizer.ggml.tokens");
  if (!f->Find("tokenizer.ggml.model") || !toks || toks->array_size() != size_t(c.V))
    return Error(path + ": tokenizer.ggml.tokens must hold " + std::to_string(c.V) + " tokens");
  T81_ASSIGN_OR_RETURN(const std::optional<text::Tokenizer> tok, FolderTokenizer(opt.tokenizer_dir));
  if (tok) T81_RETURN_IF_ERROR(text::CheckGgufTokenizer(*tok, c.V, *f));
  const std::vector<OutTensor> src = Plan(map);
  if (f->tensors().size() != src.size())
    return Error(path + ": " + std::to_string(f->tensors().size()) + " tensors, expected " + std::to_string(src.size()));
  for (const OutTensor& t : src) {  // one tensor at a time, its file pages released after
    const io::GgufTensor* g = f->FindTensor(t.name);
    if (!g) return Error(path + ": missing tensor '" + t.name + "'");
    std::string warning;
    const uint32_t type = TypeFor(t, opt, &warning);
    if (g->ne != t.ne() || g->type != type) return Error(path + ": tensor '" + t.name + "' has the wrong shape or type");
    // What llama.cpp must read: the source itself (F32, F16 after rounding) or the source through
    // t81's quantizer / the Q8_0 round trip — computed in place, one tensor in memory.
    T81_ASSIGN_OR_RETURN(std::vector<float> want, Values(t, rows));
    if (type == quant::kGgmlTq1_0 || type == quant::kGgmlTq2_0)
      quant::FakeQuantize(want.data(), t.rows, t.cols, opt.ternary.granularity, opt.ternary.threshold, want.data());
    if (type == quant::kGgmlQ8_0) {
      std::vector<uint8_t> q(want.size() / quant::kQ8Block * quant::kQ8BlockBytes);
      quant::QuantizeQ8_0(want.data(), int64_t(want.size()), q.data());
      quant::DequantizeQ8_0(q.data(), int64_t(want.size()), want.data());
    }
    const int64_t nrows = f->rows(*g), cols = g->ne[0];
    if (nrows * cols != int64_t(want.size())) return Error(path + ": tensor '" + t.name + "' has the wrong number of values");
    // The file's values in chunks of rows (~16 MiB as float), each chunk's pages dropped after.
    const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(1, cols));
    std::vector<float> got(size_t(std::min(nrows, chunk) * cols));
    const uint64_t row_bytes = nrows ? g->bytes / uint64_t(nrows) : 0;
    for (int64_t r0 = 0; r0 < nrows; r0 += chunk) {
      const int64_t r1 = std::min(nrows, r0 + chunk);
      T81_RETURN_IF_ERROR(f->DequantizeRows(*g, r0, r1, got.data()));
      f->Release(*g, uint64_t(r0) * row_bytes, uint64_t(r1) * row_bytes);
      const float* w = want.data() + r0 * cols;
      for (int64_t i = 0; i < (r1 - r0) * cols; ++i) {
        const float x = got[size_t(i)];
        const bool ok = type == quant::kGgmlF16 ? x == base::RoundToFp16(w[i]) : x == w[i];
        if (!ok)
          return Error(path + ": tensor '" + t.name + "' element " + std::to_string(r0 * cols + i) + " reads back as " +
                       std::to_string(x) + ", expected " + std::to_string(w[i]));
      }
    }
  }
  std::printf("validation OK: %zu tensors, %llu bytes\n", src.size(), (unsigned long long)f->file_size());
  return OkStatus();
}

Status ValidateGguf(const DecoderLM& m, const GgufExportOptions& opt, const std::string& path) {
  return ValidateGguf(m.config(), m.hf_tensors(),
                      [&m](const HfTensor& h) -> Result<std::vector<float>> { return m.TensorRows(h); }, opt, path);
}

}  // namespace t81::models
