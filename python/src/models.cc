// _t81lib's language models: t81lib.load (an HF folder, a t81 checkpoint or a GGUF file of GPT-2,
// Llama or Phi-3, run by t81's DecoderLM as `t81 perplexity` / `t81 generate` load them) and
// convert_checkpoint (t81 convert's ConvertCheckpoint: HF folder -> t81 checkpoint).
//
// A Model owns its DecoderLM until close(); every call takes the model's mutex (waiting for it
// with the GIL released) and runs t81 without the GIL, so Python threads may share one model; a
// closed model raises ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "models.h"
#include "t81/models/convert.h"
#include "t81/models/decoder.h"
#include "t81/models/perplexity.h"
#include "t81/quant/ternary.h"
#include "t81/text/tokenizer.h"

namespace t81::python {
namespace {

struct Model {
  std::string path;
  std::unique_ptr<models::DecoderLM> lm;
  std::optional<text::Tokenizer> tok;  // loaded on first use by text input
  std::mutex mu;

  models::DecoderLM& Open() {
    if (!lm) ValueError("the model " + path + " is closed");
    return *lm;
  }
};
using ModelPtr = std::shared_ptr<Model>;

// The model's lock, taken with the GIL released: a thread never waits for it while holding the
// GIL, which the holder may need back (no deadlock between two Python threads on one model).
std::unique_lock<std::mutex> Lock(Model& m) {
  std::unique_lock<std::mutex> lock(m.mu, std::defer_lock);
  py::gil_scoped_release nogil;
  lock.lock();
  return lock;
}

// Token ids: a numpy integer array or a sequence of ints (never floats or bools), as int64 with
// its shape; ndim 1 or 2 when `allow_batch`, else 1.
py::array_t<int64_t> ToIds(py::handle o, bool allow_batch) {
  py::array_t<int64_t> a;
  if (py::isinstance<py::array>(o)) {
    const py::array arr = py::reinterpret_borrow<py::array>(o);
    const char kind = arr.dtype().kind();
    if (kind != 'i' && kind != 'u') TypeError("ids must be an integer array (got " + std::string(py::str(arr.dtype())) + ")");
    a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
  } else if (py::isinstance<py::list>(o) || py::isinstance<py::tuple>(o)) {
    const py::sequence s = py::reinterpret_borrow<py::sequence>(o);
    a = py::array_t<int64_t>(py::ssize_t(s.size()));
    int64_t* p = a.mutable_data();
    for (size_t i = 0; i < s.size(); ++i) p[i] = ToInt(s[i], "ids[" + std::to_string(i) + "]");
  } else {
    TypeError("ids must be a numpy integer array or a list of ints (got " + TypeName(o) + ")");
  }
  if (a.ndim() < 1 || a.ndim() > (allow_batch ? 2 : 1))
    ValueError(std::string("ids must be ") + (allow_batch ? "1-D (T,) or 2-D (B, T)" : "1-D") + " (got shape " +
               ShapeText(Shape(a)) + ")");
  if (a.size() == 0) ValueError("ids must not be empty");
  return a;
}

ModelPtr Load(py::handle path_obj) {
  const std::string path = ToStr(py::str(py::module_::import("os").attr("fspath")(path_obj)), "path");
  auto m = std::make_shared<Model>();
  m->path = path;
  std::error_code ec;
  py::gil_scoped_release nogil;
  Result<std::unique_ptr<models::DecoderLM>> r = Error("unreachable");
  if (path.size() > 5 && path.substr(path.size() - 5) == ".gguf") r = models::DecoderLM::LoadGguf(path);
  else if (!std::filesystem::is_directory(path, ec)) r = Error(path + ": not a model folder or a .gguf file");
  else if (std::filesystem::exists(path + "/" + models::kT81CheckpointFile, ec)) r = models::DecoderLM::LoadT81(path);
  else r = models::DecoderLM::Load(path, /*keep_precision=*/true);
  py::gil_scoped_acquire gil;
  m->lm = ValueOr(std::move(r));
  return m;
}

// logits (T, V) of ids (T,) or (B, T, V) of ids (B, T), float32.
py::array_t<float> Forward(Model& m, py::handle ids_obj) {
  const py::array_t<int64_t> ids = ToIds(ids_obj, true);
  const int64_t B = ids.ndim() == 2 ? ids.shape(0) : 1, T = ids.shape(ids.ndim() - 1);
  std::vector<int64_t> shape = Shape(ids);
  const auto lock = Lock(m);
  models::DecoderLM& lm = m.Open();
  shape.push_back(lm.config().V);
  py::array_t<float> out(shape);
  const int64_t* ip = ids.data();
  float* op = out.mutable_data();
  Status s = OkStatus();
  {
    py::gil_scoped_release nogil;
    s = lm.Forward(ip, nullptr, B, T).status();
    if (s.ok()) std::copy(lm.logits(), lm.logits() + B * T * lm.config().V, op);
  }
  RaiseIf(s);
  return out;
}

std::vector<int64_t> Encode(Model& m, const std::string& text, bool add_special) {
  if (!m.tok) m.tok = ValueOr(text::Tokenizer::Load(m.path));
  const std::vector<int32_t> v = ValueOr(m.tok->Encode(text, add_special));
  return std::vector<int64_t>(v.begin(), v.end());
}

// Perplexity of ids (or of a text, tokenized with the model's own tokenizer) in windows of ctx
// tokens every stride (perplexity.h); returns (ppl, mean nll, tokens scored).
py::tuple Perplexity(Model& m, py::handle data, py::handle ctx_obj, py::handle stride_obj) {
  const int64_t ctx = ToInt(ctx_obj, "ctx"), stride = ToInt(stride_obj, "stride");
  if (ctx < 0 || stride < 0) ValueError("ctx and stride must not be negative");
  const auto lock = Lock(m);
  models::DecoderLM& lm = m.Open();
  models::PerplexityOptions opt;
  opt.ctx = ctx;
  opt.stride = stride;
  std::vector<int64_t> ids;
  if (PyUnicode_Check(data.ptr())) {
    ids = Encode(m, data.cast<std::string>(), false);
    opt.prefix.assign(m.tok->prefix_ids().begin(), m.tok->prefix_ids().end());
  } else {
    const py::array_t<int64_t> a = ToIds(data, false);
    ids.assign(a.data(), a.data() + a.size());
  }
  if (ids.size() < 2) ValueError("perplexity needs at least 2 tokens (got " + std::to_string(ids.size()) + ")");
  Result<models::PerplexityResult> r = Error("unreachable");
  {
    py::gil_scoped_release nogil;
    r = models::Perplexity(lm, ids, opt);
  }
  const models::PerplexityResult p = ValueOr(std::move(r));
  return py::make_tuple(p.ppl, p.nll, p.n_tokens);
}

// prompt + up to max_new_tokens new ids (int64); greedy unless temperature > 0; stops after eos_id.
py::array_t<int64_t> Generate(Model& m, py::handle ids_obj, py::handle n_obj, py::handle temperature, py::handle top_k,
                              py::handle top_p, py::handle seed, py::handle eos_id) {
  const int64_t n_new = ToInt(n_obj, "max_new_tokens");
  if (n_new < 0) ValueError("max_new_tokens must not be negative (got " + std::to_string(n_new) + ")");
  models::DecoderLM::Sampling sp;
  sp.temperature = ToFiniteFloat(temperature, "temperature");
  sp.top_p = ToFiniteFloat(top_p, "top_p");
  sp.top_k = ToInt(top_k, "top_k");
  const int64_t s = ToInt(seed, "seed");
  if (s < 0) ValueError("seed must not be negative");
  sp.seed = uint64_t(s);
  sp.stop_id = eos_id.is_none() ? -1 : ToInt(eos_id, "eos_id");
  const auto lock = Lock(m);
  models::DecoderLM& lm = m.Open();
  std::vector<int64_t> prompt;
  if (PyUnicode_Check(ids_obj.ptr())) {
    prompt = Encode(m, ids_obj.cast<std::string>(), true);
  } else {
    const py::array_t<int64_t> a = ToIds(ids_obj, false);
    prompt.assign(a.data(), a.data() + a.size());
  }
  Result<std::vector<int64_t>> r = Error("unreachable");
  {
    py::gil_scoped_release nogil;
    r = lm.GenerateStream(prompt, n_new, sp, [](int64_t) { return true; });
  }
  const std::vector<int64_t> fresh = ValueOr(std::move(r));
  py::array_t<int64_t> out(py::ssize_t(prompt.size() + fresh.size()));
  std::copy(prompt.begin(), prompt.end(), out.mutable_data());
  std::copy(fresh.begin(), fresh.end(), out.mutable_data() + prompt.size());
  return out;
}

py::dict Config(Model& m) {
  const auto lock = Lock(m);
  const models::DecoderConfig& c = m.Open().config();
  py::dict d;
  d["arch"] = models::ArchName(c.arch);
  d["vocab_size"] = c.V;
  d["hidden_size"] = c.C;
  d["num_layers"] = c.L;
  d["num_heads"] = c.NH;
  d["num_kv_heads"] = c.NKV;
  d["max_positions"] = c.max_t;
  d["linear_mode"] = m.lm->linear_mode() == nn::LinearMode::kPacked ? "packed" : "float";
  return d;
}

// ConvertCheckpoint with t81 convert's options; returns its report as a dict.
py::dict ConvertCheckpoint(py::handle hf_dir, py::handle out_dir, py::handle threshold, py::handle granularity,
                           py::handle format, py::handle float_type) {
  models::ConvertOptions opt;
  opt.progress = false;  // a library call: no progress lines on stderr
  opt.ternary.threshold = ToThreshold(threshold);
  opt.ternary.granularity = ValueOr(quant::ParseGranularity(ToStr(granularity, "granularity")));
  opt.ternary.format = ValueOr(quant::ParseTqFormat(ToStr(format, "format")));
  opt.float_type = ValueOr(models::ParseFloatType(ToStr(float_type, "float_type")));
  const std::string src = ToStr(hf_dir, "hf_dir"), dst = ToStr(out_dir, "out_dir");
  Result<models::ConvertReport> r = Error("unreachable");
  {
    py::gil_scoped_release nogil;
    r = models::ConvertCheckpoint(src, dst, opt);
  }
  const models::ConvertReport rep = ValueOr(std::move(r));
  py::dict d;
  d["ternary_tensors"] = rep.ternary_tensors;
  d["float_tensors"] = rep.float_tensors;
  d["source_bytes"] = rep.source_bytes;
  d["out_bytes"] = rep.out_bytes;
  return d;
}

}  // namespace

void BindModels(py::module_& mod) {
  py::class_<Model, ModelPtr>(mod, "Model", "A GPT-2 / Llama / Phi-3 language model run by t81's engine (t81lib.load).")
      .def("forward", &Forward, py::arg("ids"),
           "Logits (float32) of ids (T,) -> (T, V) or (B, T) -> (B, T, V): every position, causal.")
      .def("perplexity", &Perplexity, py::arg("ids"), py::kw_only(), py::arg("ctx") = 0, py::arg("stride") = 0,
           "(ppl, mean nll, tokens scored) of ids or of a text (the model's tokenizer) in sliding windows.")
      .def("generate", &Generate, py::arg("ids"), py::arg("max_new_tokens"), py::kw_only(), py::arg("temperature") = 0.0,
           py::arg("top_k") = 0, py::arg("top_p") = 1.0, py::arg("seed") = 0, py::arg("eos_id") = py::none(),
           "prompt + new ids (int64); greedy at temperature 0 (a KV cache, as t81 generate).")
      .def_property_readonly("config", &Config)
      .def_property_readonly("path", [](const Model& m) { return m.path; })
      .def_property_readonly("closed", [](Model& m) {
        const auto lock = Lock(m);
        return !m.lm;
      })
      .def("close", [](Model& m) {
        std::unique_ptr<models::DecoderLM> old;  // freed after the lock is released
        const auto lock = Lock(m);
        old.swap(m.lm);
        m.tok.reset();
      }, "Frees the model; later calls raise ValueError.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Model& m, py::args) {
        const auto lock = Lock(m);
        m.lm.reset();
      })
      .def("__repr__", [](Model& m) {
        const auto lock = Lock(m);
        if (!m.lm) return "Model('" + m.path + "', closed)";
        return "Model('" + m.path + "', arch='" + models::ArchName(m.lm->config().arch) + "')";
      });
  mod.def("load", &Load, py::arg("path"),
          "A language model from an HF folder (config.json + safetensors), a t81 checkpoint or a .gguf file.");
  mod.def("convert_checkpoint", &ConvertCheckpoint, py::arg("hf_dir"), py::arg("out_dir"),
          py::arg("threshold") = double(quant::kDefaultThreshold), py::kw_only(), py::arg("granularity") = "row",
          py::arg("format") = "tq2_0", py::arg("float_type") = "f32",
          "t81 convert: an HF decoder folder -> a t81 checkpoint (block linears ternarized by t81's quantizer).");
}

}  // namespace t81::python
