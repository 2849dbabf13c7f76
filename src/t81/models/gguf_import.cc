// DecoderLM::LoadGguf: a GGUF file written for llama.cpp (by t81 gguf or anyone) back into the
// engine — the inverse of gguf_export.cc, through the same HF tensor map (hf_tensors.h).
#include <cstring>

#include "t81/io/gguf.h"
#include "t81/io/json_fields.h"
#include "t81/models/decoder.h"
#include "t81/models/gguf_names.h"
#include "t81/quant/q8_0.h"

namespace t81::models {
namespace {

// The hyperparameters llama.cpp keeps under "<arch>.*".
Result<DecoderConfig> GgufConfig(const io::GgufFile& f) {
  const std::string& path = f.path();
  const io::GgufValue* av = f.Find("general.architecture");
  if (!av || av->type != io::GgufType::kString) return Error(path + ": missing general.architecture");
  DecoderConfig c;
  auto arch = ParseArch(av->s);
  if (!arch.ok()) return Error(path + ": " + arch.status().message());
  c.arch = arch.value();
  const std::string& a = av->s;
  auto get_u = [&](const std::string& key, int64_t* out, bool required) -> Status {
    const io::GgufValue* v = f.Find(key);
    if (!v) return required ? Error(path + ": missing key " + key) : OkStatus();
    if (v->type != io::GgufType::kU32 && v->type != io::GgufType::kI32 && v->type != io::GgufType::kU64)
      return Error(path + ": key " + key + " is not an integer");
    if (v->i <= 0) return Error(path + ": key " + key + " must be positive");
    if (v->i > io::JsonFields::kMaxSize) return Error(path + ": key " + key + " is absurdly large");
    *out = v->i;
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(get_u(a + ".context_length", &c.max_t, true));
  T81_RETURN_IF_ERROR(get_u(a + ".embedding_length", &c.C, true));
  T81_RETURN_IF_ERROR(get_u(a + ".block_count", &c.L, true));
  if (c.L > kMaxLayers) return Error(path + ": " + std::to_string(c.L) + " blocks, more than t81's limit of " + std::to_string(kMaxLayers));
  T81_RETURN_IF_ERROR(get_u(a + ".feed_forward_length", &c.FF, true));
  T81_RETURN_IF_ERROR(get_u(a + ".attention.head_count", &c.NH, true));
  c.NKV = c.NH;
  T81_RETURN_IF_ERROR(get_u(a + ".attention.head_count_kv", &c.NKV, false));
  if (c.C % c.NH || c.NH % c.NKV) return Error(path + ": head counts do not divide the embedding");
  c.HD = c.C / c.NH;
  const io::GgufTensor* emb = f.FindTensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2 || emb->ne[0] != c.C) return Error(path + ": missing or malformed token_embd.weight");
  c.V = emb->ne[1];
  c.tied = f.FindTensor("output.weight") == nullptr;
  const std::string eps_key =
      c.arch == Arch::kGpt2 ? a + ".attention.layer_norm_epsilon" : a + ".attention.layer_norm_rms_epsilon";
  const io::GgufValue* eps = f.Find(eps_key);
  if (!eps || eps->type != io::GgufType::kF32) return Error(path + ": missing key " + eps_key);
  c.eps = float(eps->f);
  if (const io::GgufValue* fb = f.Find(a + ".rope.freq_base")) c.rope_theta = fb->f;
  if (const io::GgufValue* rd = f.Find(a + ".rope.dimension_count"); rd && rd->i != c.HD)
    return Error(path + ": rope.dimension_count " + std::to_string(rd->i) + " != head size (partial RoPE is not supported)");
  c.attn_bias = c.mlp_bias = c.arch == Arch::kGpt2;
  return c;
}

bool IsTernary(uint32_t type) { return type == quant::kGgmlTq1_0 || type == quant::kGgmlTq2_0; }

}  // namespace

Result<std::unique_ptr<DecoderLM>> DecoderLM::LoadGguf(const std::string& path) {
  T81_ASSIGN_OR_RETURN(auto f, io::GgufFile::Open(path));
  T81_ASSIGN_OR_RETURN(const DecoderConfig c, GgufConfig(*f));
  std::unique_ptr<DecoderLM> m(new DecoderLM(c));
  m->config_json_ = DecoderConfigJson(c);
  m->Layout();
  // The block linears run packed when the file stores every one of them ternary; then the token
  // embedding and the head stay in file precision too (Q8_0 / F16 repacked for the 8- and 16-bit
  // kernels, F32 read in place from the mapped file) and their float copies are never written.
  bool any_ternary = false, all_ternary = true;
  for (const HfTensor& h : m->hf_) {
    const io::GgufTensor* g = f->FindTensor(h.gguf);
    if (!g) return Error(path + ": missing tensor '" + h.gguf + "'");
    if (h.linear && IsTernary(g->type)) any_ternary = true;
    if (h.linear && !IsTernary(g->type)) all_ternary = false;
  }
  const bool packed = any_ternary && all_ternary;
  auto keepable = [&](const io::GgufTensor* t) {
    return packed && t &&
           ((t->type == quant::kGgmlQ8_0 && c.C % quant::kQ8Block == 0) || t->type == quant::kGgmlF16 ||
            (t->type == quant::kGgmlF32 && reinterpret_cast<uintptr_t>(f->data(*t)) % alignof(float) == 0));
  };
  const io::GgufTensor* embd = f->FindTensor("token_embd.weight");
  const io::GgufTensor* head = c.tied ? embd : f->FindTensor("output.weight");
  const bool keep_embd = keepable(embd), keep_head = keepable(head);
  // Ternary block linears are assembled straight from the file's TQ blocks into the packed
  // weights (their float copies are never written, so those pages never become resident);
  // everything else is dequantized into the float arena.
  nn::FileTernary tern(m->block_, c.L);
  std::vector<std::pair<const HfTensor*, const io::GgufTensor*>> deferred;  // TQ tensors, if mixed
  for (const HfTensor& h : m->hf_) {
    const io::GgufTensor* g = f->FindTensor(h.gguf);
    const int64_t rows = h.nrows, cols = h.cols;  // GGUF holds (out, in) = the internal layout
    const std::vector<int64_t> want = h.shape.size() == 1 ? std::vector<int64_t>{h.shape[0]} : std::vector<int64_t>{cols, rows};
    if (g->ne != want)
      return Error(path + ": tensor '" + h.gguf + "' has a shape that does not match the model's hyperparameters");
    if (h.linear && IsTernary(g->type)) {
      if (!packed) {  // a mixed file: every linear runs in float
        deferred.push_back({&h, g});
        continue;
      }
      const quant::TqFormat fmt = g->type == quant::kGgmlTq1_0 ? quant::TqFormat::kTq1_0 : quant::TqFormat::kTq2_0;
      uint8_t* dst = tern.Part(h.layer, *h.linear, fmt, h.row0);
      if (!dst) return Error(path + ": tensor '" + h.gguf + "' mixes TQ1_0 and TQ2_0 within one fused matrix");
      const size_t row_bytes = size_t(tern.RowBytes(*h.linear, fmt));
      const uint8_t* src = f->data(*g);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t dst_r = h.rope_heads ? RopeHfRow(r, rows / h.rope_heads) : r;
        std::memcpy(dst + size_t(dst_r) * row_bytes, src + size_t(r) * row_bytes, row_bytes);
      }
      f->Release(*g);
      continue;
    }
    if ((g == embd && keep_embd) || (g == head && keep_head)) continue;  // kept as stored, below
    float* dst = m->P(h.first());
    if (h.rope_heads) {
      T81_ASSIGN_OR_RETURN(std::vector<float> v, f->Dequantize(*g));
      v = UnpermuteRope(v, rows, cols, h.rope_heads);
      std::memcpy(dst, v.data(), v.size() * 4);
    } else {
      T81_RETURN_IF_ERROR(f->DequantizeInto(*g, dst));  // straight into the arena: no second copy
    }
    f->Release(*g);
  }
  for (const auto& [h, g] : deferred) {
    T81_ASSIGN_OR_RETURN(std::vector<float> v, f->Dequantize(*g));
    if (h->rope_heads) v = UnpermuteRope(v, h->nrows, h->cols, h->rope_heads);
    std::memcpy(m->P(h->first()), v.data(), v.size() * 4);
    f->Release(*g);
  }
  if (packed) m->lin_.UseFileTernary(tern.Take());  // first: frees the assembled TQ copies
  // Q8_0 / F16 heads and embeddings are repacked with their file pages dropped every 1024 rows,
  // so the load never holds both copies whole; F32 ones stay in the mapped file.
  auto dropping = [&f, V = c.V](const io::GgufTensor* t) -> kernels::RowsDoneFn {
    const uint64_t row_bytes = t->bytes / uint64_t(V);
    return [&f, t, row_bytes](int64_t r0, int64_t r1) { f->Release(*t, uint64_t(r0) * row_bytes, uint64_t(r1) * row_bytes); };
  };
  bool keep_file = false;
  auto keep = [&](const io::GgufTensor* t, FileMatrix* out) {
    if (t->type == quant::kGgmlQ8_0) {
      out->q8 = std::make_unique<kernels::Q8Weights>(kernels::RepackQ8_0(f->data(*t), c.V, c.C, dropping(t)));
    } else if (t->type == quant::kGgmlF16) {
      out->half = std::make_unique<kernels::HalfWeights>(
          kernels::RepackHalf(reinterpret_cast<const uint16_t*>(f->data(*t)), c.V, c.C, kernels::HalfType::kF16, dropping(t)));
    } else {
      out->f32 = reinterpret_cast<const float*>(f->data(*t));  // float-aligned (keepable)
      keep_file = true;
    }
  };
  if (keep_head) {
    keep(head, &m->head_file_);
    if (!c.tied) m->head_src_ = &m->head_file_;
  }
  if (keep_embd) {
    if (!c.tied) keep(embd, &m->embd_file_);
    m->wte_src_ = c.tied ? &m->head_file_ : &m->embd_file_;
  }
  if (keep_file) m->gguf_ = std::move(f);
  return m;
}

}  // namespace t81::models
