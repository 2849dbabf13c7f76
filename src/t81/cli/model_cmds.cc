// t81 info and t81 forward: inspect a checkpoint, and run one forward/backward/AdamW pass on the
// fixture-format inputs, writing outputs under the same names as the PyTorch golden files.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"
#include "t81/cli/commands.h"
#include "t81/io/gguf.h"
#include "t81/io/safetensors.h"
#include "t81/models/decoder.h"
#include "t81/models/vit.h"

namespace t81::cli {
namespace {

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

Result<std::string> ModelType(const std::string& dir) {
  T81_ASSIGN_OR_RETURN(std::string text, base::ReadFile(dir + "/config.json"));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("model_type") || !j["model_type"].is_string())
    return Error(dir + "/config.json: no model_type");
  return j["model_type"].get<std::string>();
}

// The operations forward needs, over either model class.
struct AnyModel {
  std::function<Result<double>(const io::SafeTensorsFile&, bool)> forward;  // (inputs, with labels)
  std::function<std::vector<float>()> logits;
  std::function<std::vector<int64_t>()> logits_shape;
  std::function<void()> zero_grad, backward;
  std::function<void(double)> adamw;
  std::function<std::vector<models::DecoderLM::Named>()> params, grads;
  std::function<Status(const std::string&)> save;
  std::string arch;
  int64_t num_params = 0;
};

// The operations both model classes spell the same way.
template <typename Model>
void BindTraining(const std::shared_ptr<Model>& m, AnyModel* a) {
  a->zero_grad = [m] { m->ZeroGrad(); };
  a->backward = [m] { m->Backward(); };
  a->adamw = [m](double lr) { m->AdamWStep(lr); };
  a->params = [m] { return m->HfParams(); };
  a->grads = [m] { return m->HfGrads(); };
  a->save = [m](const std::string& d) { return m->Save(d); };
  a->num_params = m->num_params();
}

Result<AnyModel> LoadAny(const std::string& dir, bool qat, quant::Granularity g, float thr) {
  T81_ASSIGN_OR_RETURN(std::string type, ModelType(dir));
  AnyModel a;
  a.arch = type;
  const models::LinearMode mode = qat ? models::LinearMode::kQat : models::LinearMode::kFloat;
  if (type == "vit") {
    T81_ASSIGN_OR_RETURN(std::shared_ptr<models::Vit> m, models::Vit::Load(dir));
    m->SetLinearMode(mode, g, thr);
    auto B = std::make_shared<int64_t>(0);
    a.forward = [m, B](const io::SafeTensorsFile& in, bool with_labels) -> Result<double> {
      const io::TensorInfo* t = in.Find("input.pixel_values");
      if (!t) return Error(in.path() + ": missing tensor 'input.pixel_values' (a ViT needs images)");
      const auto& c = m->config();
      if (t->shape.size() != 4 || t->shape[1] != c.channels || t->shape[2] != c.image || t->shape[3] != c.image)
        return Error(in.path() + ": input.pixel_values has shape " + ShapeStr(t->shape) + ", expected [B, " +
                     std::to_string(c.channels) + ", " + std::to_string(c.image) + ", " + std::to_string(c.image) + "]");
      *B = t->shape[0];
      T81_ASSIGN_OR_RETURN(std::vector<float> px, in.ReadFloat("input.pixel_values"));
      std::vector<int64_t> labels;
      if (with_labels) {
        T81_ASSIGN_OR_RETURN(labels, in.ReadInt("input.labels"));
        if (int64_t(labels.size()) != *B) return Error(in.path() + ": input.labels must have one label per image");
      }
      return m->Forward(px.data(), with_labels ? labels.data() : nullptr, *B);
    };
    a.logits = [m, B] { return std::vector<float>(m->logits(), m->logits() + *B * m->config().labels); };
    a.logits_shape = [m, B] { return std::vector<int64_t>{*B, m->config().labels}; };
    BindTraining(m, &a);
    return a;
  }
  T81_ASSIGN_OR_RETURN(std::shared_ptr<models::DecoderLM> m, models::DecoderLM::Load(dir));
  m->SetLinearMode(mode, g, thr);
  auto BT = std::make_shared<std::pair<int64_t, int64_t>>(0, 0);
  a.forward = [m, BT](const io::SafeTensorsFile& in, bool with_labels) -> Result<double> {
    const io::TensorInfo* t = in.Find("input.input_ids");
    if (!t) return Error(in.path() + ": missing tensor 'input.input_ids' (a causal LM needs token ids)");
    if (t->shape.size() != 2) return Error(in.path() + ": input.input_ids must be [B, T], got " + ShapeStr(t->shape));
    *BT = {t->shape[0], t->shape[1]};
    T81_ASSIGN_OR_RETURN(std::vector<int64_t> ids, in.ReadInt("input.input_ids"));
    std::vector<int64_t> labels;
    if (with_labels) {
      const io::TensorInfo* l = in.Find("input.labels");
      if (l->shape != t->shape) return Error(in.path() + ": input.labels must have the shape of input.input_ids");
      T81_ASSIGN_OR_RETURN(labels, in.ReadInt("input.labels"));
    }
    return m->Forward(ids.data(), with_labels ? labels.data() : nullptr, BT->first, BT->second);
  };
  a.logits = [m, BT] { return std::vector<float>(m->logits(), m->logits() + BT->first * BT->second * m->config().V); };
  a.logits_shape = [m, BT] { return std::vector<int64_t>{BT->first, BT->second, m->config().V}; };
  BindTraining(m, &a);
  a.arch = models::ArchName(m->config().arch);
  return a;
}

struct InfoFlags {
  std::string path;
};

Status InfoGguf(const std::string& path) {
  T81_ASSIGN_OR_RETURN(auto g, io::GgufFile::Open(path));
  std::printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, %.2f MiB\n", path.c_str(), g->version(), g->kv().size(),
              g->tensors().size(), double(g->file_size()) / 1048576.0);
  for (const auto& [k, v] : g->kv()) {
    std::string val;
    if (v.type == io::GgufType::kString) val = "\"" + v.s + "\"";
    else if (v.type == io::GgufType::kArray) val = "[" + std::to_string(v.array_size()) + " elements]";
    else if (v.type == io::GgufType::kF32 || v.type == io::GgufType::kF64) val = std::to_string(v.f);
    else val = std::to_string(v.i);
    std::printf("  %-45s %s\n", k.c_str(), val.c_str());
  }
  std::map<std::string, int64_t> by_type;
  for (const auto& t : g->tensors()) {
    std::string shape = "[";
    for (size_t i = 0; i < t.ne.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.ne[i]);
    shape += "]";
    const char* tn = io::GgmlType(t.type)->name;
    std::printf("%-40s %-6s %-18s %12llu\n", t.name.c_str(), tn, shape.c_str(), (unsigned long long)t.bytes);
    by_type[tn] += int64_t(t.bytes);
  }
  for (const auto& [t, b] : by_type) std::printf("%s: %.2f MiB\n", t.c_str(), double(b) / 1048576.0);
  return OkStatus();
}

Status RunInfo(const InfoFlags& f) {
  std::error_code ec;
  const bool gguf = f.path.size() > 5 && f.path.substr(f.path.size() - 5) == ".gguf";
  if (gguf) return InfoGguf(f.path);
  if (std::filesystem::is_directory(f.path, ec) && std::filesystem::exists(f.path + "/model.t81.safetensors", ec)) {
    T81_ASSIGN_OR_RETURN(auto m, models::DecoderLM::LoadT81(f.path));
    T81_ASSIGN_OR_RETURN(auto st, io::SafeTensorsFile::Open(f.path + "/model.t81.safetensors"));
    const auto q8 = st->metadata().find("t81.q8_0");
    const std::string q8_list = q8 == st->metadata().end() ? "" : "," + q8->second + ",";
    auto is_q8 = [&](const std::string& n) { return q8_list.find("," + n + ",") != std::string::npos; };
    int64_t tern = 0, flt = 0;
    for (const auto& t : st->tensors()) (t.dtype == io::DType::kU8 && !is_q8(t.name) ? tern : flt) += int64_t(t.end - t.begin);
    std::printf("%s: t81 checkpoint, %s, %lld parameters, ternary %s (%s scales, threshold %s)\n", f.path.c_str(),
                models::ArchName(m->config().arch), (long long)m->num_params(), st->metadata().at("t81.tq_format").c_str(),
                st->metadata().at("t81.granularity").c_str(), st->metadata().at("t81.threshold").c_str());
    std::printf("ternary block linears %.2f MiB, float tensors %.2f MiB\n", tern / 1048576.0, flt / 1048576.0);
    for (const auto& t : st->tensors())
      std::printf("%-60s %-4s %-20s %12llu\n", t.name.c_str(),
                  is_q8(t.name) ? "Q8_0" : t.dtype == io::DType::kU8 ? "TQ" : io::DTypeName(t.dtype),
                  ShapeStr(t.shape).c_str(), (unsigned long long)(t.end - t.begin));
    return OkStatus();
  }
  if (std::filesystem::is_directory(f.path, ec)) {
    T81_ASSIGN_OR_RETURN(AnyModel m, LoadAny(f.path, false, quant::Granularity::kRow, 0.45f));
    const auto params = m.params();
    int64_t total = 0;
    std::printf("%s: architecture %s, %lld parameters (%.2f M)\n", f.path.c_str(), m.arch.c_str(),
                (long long)m.num_params, double(m.num_params) / 1e6);
    std::printf("%-60s %-20s %12s\n", "tensor", "shape", "bytes (f32)");
    for (const auto& p : params) {
      std::printf("%-60s %-20s %12lld\n", p.name.c_str(), ShapeStr(p.shape).c_str(), (long long)(p.values.size() * 4));
      total += int64_t(p.values.size() * 4);
    }
    std::printf("%zu tensors, %lld bytes as float32 (%.2f MiB)\n", params.size(), (long long)total, double(total) / 1048576.0);
    return OkStatus();
  }
  if (f.path.size() > 12 && f.path.substr(f.path.size() - 12) == ".safetensors") {
    T81_ASSIGN_OR_RETURN(auto st, io::SafeTensorsFile::Open(f.path));
    int64_t total = 0;
    std::printf("%s: safetensors, %zu tensors\n", f.path.c_str(), st->tensors().size());
    for (const auto& t : st->tensors()) {
      std::printf("%-60s %-6s %-20s %12llu\n", t.name.c_str(), io::DTypeName(t.dtype), ShapeStr(t.shape).c_str(),
                  (unsigned long long)(t.end - t.begin));
      total += int64_t(t.end - t.begin);
    }
    std::printf("data: %lld bytes\n", (long long)total);
    return OkStatus();
  }
  return Error(f.path + ": not a model folder, a t81 checkpoint, a .gguf or a .safetensors file");
}

struct ForwardFlags {
  std::string model_dir, inputs, out;
  bool grads = false, qat = false;
  int adamw_steps = 0;
  double lr = 1e-3;
  float threshold = quant::kDefaultThreshold;
  std::string granularity = "row";
  std::string save_dir;
};

Status RunForward(const ForwardFlags& f) {
  if (f.adamw_steps < 0) return Error("--adamw-steps must be >= 0");
  if (!(f.lr > 0)) return Error("--lr must be positive");
  if (!(f.threshold > 0)) return Error("--threshold must be positive");
  T81_ASSIGN_OR_RETURN(quant::Granularity g, quant::ParseGranularity(f.granularity));
  T81_ASSIGN_OR_RETURN(AnyModel m, LoadAny(f.model_dir, f.qat, g, f.threshold));
  T81_ASSIGN_OR_RETURN(auto in, io::SafeTensorsFile::Open(f.inputs));
  const bool has_labels = in->Find("input.labels") != nullptr;
  if ((f.grads || f.adamw_steps > 0) && !has_labels)
    return Error(f.inputs + ": --grads and --adamw-steps need 'input.labels'");
  io::SafeTensorsWriter w;
  T81_ASSIGN_OR_RETURN(double loss, m.forward(*in, has_labels));
  const std::vector<float> logits = m.logits();
  w.AddF32("logits", m.logits_shape(), logits.data());
  if (has_labels) {
    const float l = float(loss);
    w.AddF32("loss", {1}, &l);
  }
  if (f.grads) {
    m.zero_grad();
    m.backward();
    for (const auto& g2 : m.grads()) w.AddF32("grad." + g2.name, g2.shape, g2.values.data());
  }
  if (f.adamw_steps > 0) {
    std::vector<float> losses;
    for (int s = 0; s < f.adamw_steps; ++s) {
      T81_ASSIGN_OR_RETURN(double ls, m.forward(*in, true));
      losses.push_back(float(ls));
      m.zero_grad();
      m.backward();
      m.adamw(f.lr);
    }
    w.AddF32("train_losses", {int64_t(losses.size())}, losses.data());
  }
  T81_RETURN_IF_ERROR(w.Write(f.out));
  if (!f.save_dir.empty()) T81_RETURN_IF_ERROR(m.save(f.save_dir));
  std::printf("%s: %s%s, wrote %s\n", f.model_dir.c_str(), m.arch.c_str(), has_labels ? (", loss " + std::to_string(loss)).c_str() : "",
              f.out.c_str());
  return OkStatus();
}

struct InitFlags {
  std::string out, arch = "llama";
  int64_t vocab = 256, n_embd = 256, n_layer = 2, n_head = 4, n_kv_head = 0, n_ff = 512, ctx = 256;
  uint64_t seed = 0;
};

Status RunInit(const InitFlags& f) {
  for (auto [v, n] : {std::pair{f.vocab, "--vocab"}, {f.n_embd, "--n-embd"}, {f.n_layer, "--n-layer"}, {f.n_head, "--n-head"},
                      {f.n_ff, "--n-ff"}, {f.ctx, "--ctx"}})
    if (v <= 0) return Error(std::string(n) + " must be positive");
  if (f.n_embd % f.n_head) return Error("--n-embd must be a multiple of --n-head");
  models::DecoderConfig c;
  if (f.arch == "gpt2") c.arch = models::Arch::kGpt2;
  else if (f.arch == "llama") c.arch = models::Arch::kLlama;
  else if (f.arch == "phi3") c.arch = models::Arch::kPhi3;
  else return Error("--arch must be gpt2, llama or phi3");
  c.V = f.vocab;
  c.C = f.n_embd;
  c.L = f.n_layer;
  c.NH = f.n_head;
  c.NKV = f.n_kv_head > 0 ? f.n_kv_head : f.n_head;
  if (c.NH % c.NKV) return Error("--n-head must be a multiple of --n-kv-head");
  c.HD = c.C / c.NH;
  c.FF = f.n_ff;
  c.max_t = f.ctx;
  c.eps = c.arch == models::Arch::kGpt2 ? 1e-5f : 1e-6f;
  c.tied = c.arch == models::Arch::kGpt2;
  c.attn_bias = c.mlp_bias = c.arch == models::Arch::kGpt2;
  auto m = models::DecoderLM::Create(c, f.seed);
  T81_RETURN_IF_ERROR(m->Save(f.out));
  std::printf("wrote %s: %s, %lld parameters\n", f.out.c_str(), f.arch.c_str(), (long long)m->num_params());
  return OkStatus();
}

}  // namespace

void AddInit(CLI::App& app, Runner* run) {
  auto f = std::make_shared<InitFlags>();
  CLI::App* c = app.add_subcommand("init", "write a freshly initialized decoder checkpoint (HF layout)");
  c->add_option("out", f->out, "output folder")->required();
  c->add_option("--arch", f->arch, "gpt2 | llama | phi3")->capture_default_str();
  c->add_option("--vocab", f->vocab)->capture_default_str();
  c->add_option("--n-embd", f->n_embd)->capture_default_str();
  c->add_option("--n-layer", f->n_layer)->capture_default_str();
  c->add_option("--n-head", f->n_head)->capture_default_str();
  c->add_option("--n-kv-head", f->n_kv_head, "default: --n-head");
  c->add_option("--n-ff", f->n_ff)->capture_default_str();
  c->add_option("--ctx", f->ctx, "positions")->capture_default_str();
  c->add_option("--seed", f->seed)->capture_default_str();
  c->callback([f, run] { *run = [f] { return RunInit(*f); }; });
}

void AddInfo(CLI::App& app, Runner* run) {
  auto f = std::make_shared<InfoFlags>();
  CLI::App* c = app.add_subcommand("info", "describe a model folder or a .safetensors file");
  c->add_option("path", f->path, "model folder or file")->required();
  c->callback([f, run] { *run = [f] { return RunInfo(*f); }; });
}

void AddForward(CLI::App& app, Runner* run) {
  auto f = std::make_shared<ForwardFlags>();
  CLI::App* c = app.add_subcommand("forward", "forward (+ gradients, + AdamW steps) on fixture-format inputs");
  c->add_option("model_dir", f->model_dir, "HF model folder (config.json + model.safetensors)")->required();
  c->add_option("--inputs", f->inputs, "safetensors with input.input_ids or input.pixel_values [+ input.labels]")->required();
  c->add_option("--out", f->out, "output safetensors (logits, loss, grad.*, train_losses)")->required();
  c->add_flag("--grads", f->grads, "write d loss / d parameter as grad.<name>");
  c->add_option("--adamw-steps", f->adamw_steps, "AdamW steps (betas 0.9/0.999, eps 1e-8, no weight decay)");
  c->add_option("--lr", f->lr, "AdamW learning rate")->capture_default_str();
  c->add_flag("--qat", f->qat, "run the block linears fake-quantized (straight-through gradients)");
  c->add_option("--save", f->save_dir, "after the AdamW steps, save the model (HF layout) to this folder");
  c->add_option("--threshold", f->threshold, "ternary threshold for --qat")->capture_default_str();
  c->add_option("--granularity", f->granularity, "tensor | row | block, for --qat")->capture_default_str();
  c->callback([f, run] { *run = [f] { return RunForward(*f); }; });
}

}  // namespace t81::cli
