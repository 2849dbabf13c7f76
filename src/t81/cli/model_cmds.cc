// t81 info and t81 forward: inspect a checkpoint, and run one forward/backward/AdamW pass on the
// fixture-format inputs, writing outputs under the same names as the PyTorch golden files.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "t81/io/hf_cache.h"
#include "t81/base/file.h"
#include "t81/cli/commands.h"
#include "t81/io/gguf.h"
#include "t81/io/safetensors.h"
#include "t81/models/decoder.h"
#include "t81/models/convert.h"
#include "t81/models/model.h"
#include "t81/models/vit.h"
#include "t81/data/images.h"

namespace t81::cli {
namespace {

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
    const char* tn = quant::GgmlTypeOf(t.type)->name;
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
  // Folders: config.json and the tensor headers only (mmap; no weight is read).
  if (std::filesystem::is_directory(f.path, ec) && std::filesystem::exists(f.path + "/" + models::kT81CheckpointFile, ec)) {
    T81_ASSIGN_OR_RETURN(const models::ModelLayout lay, models::ReadModelLayout(f.path));
    T81_ASSIGN_OR_RETURN(auto st, io::SafeTensorsFile::Open(f.path + "/" + models::kT81CheckpointFile));
    T81_ASSIGN_OR_RETURN(const models::T81Meta meta, models::ReadT81Meta(*st));
    auto is_q8 = [&](const std::string& n) { return meta.IsQ8(n); };
    auto shown = [](const std::string& s) { return s.empty() ? std::string("not recorded") : s; };
    int64_t tern = 0, flt = 0;
    for (const auto& t : st->tensors()) (t.dtype == io::DType::kU8 && !is_q8(t.name) ? tern : flt) += int64_t(t.end - t.begin);
    std::printf("%s: t81 checkpoint, %s, %lld parameters, ternary %s (%s scales, threshold %s)\n", f.path.c_str(),
                lay.arch.c_str(), (long long)lay.num_params(), quant::TqFormatName(meta.format),
                shown(meta.granularity).c_str(), shown(meta.threshold).c_str());
    std::printf("ternary block linears %.2f MiB, float tensors %.2f MiB\n", tern / 1048576.0, flt / 1048576.0);
    for (const models::HfTensor& h : lay.tensors) {
      const io::TensorInfo* t = st->Find(h.name);
      if (!t) return Error(st->path() + ": missing tensor '" + h.name + "'");
      std::printf("%-60s %-4s %-20s %12llu\n", t->name.c_str(),
                  is_q8(t->name) ? "Q8_0" : t->dtype == io::DType::kU8 ? "TQ" : io::DTypeName(t->dtype),
                  models::ShapeString(t->shape).c_str(), (unsigned long long)(t->end - t->begin));
    }
    return OkStatus();
  }
  if (std::filesystem::is_directory(f.path, ec)) {
    T81_ASSIGN_OR_RETURN(const models::ModelLayout lay, models::ReadModelLayout(f.path));
    T81_ASSIGN_OR_RETURN(const io::Checkpoint ckpt, io::OpenCheckpoint(f.path));
    T81_RETURN_IF_ERROR(models::CheckHfTensors(lay.tensors, ckpt, f.path));
    int64_t total = 0;
    std::printf("%s: architecture %s, %lld parameters (%.2f M), %zu checkpoint file(s)\n", f.path.c_str(),
                lay.arch.c_str(), (long long)lay.num_params(), double(lay.num_params()) / 1e6, ckpt.files.size());
    std::printf("%-60s %-6s %-20s %12s\n", "tensor", "dtype", "shape", "bytes");
    for (const models::HfTensor& h : lay.tensors) {
      const io::TensorInfo* t = ckpt.FileOf(h.name)->Find(h.name);
      std::printf("%-60s %-6s %-20s %12llu\n", h.name.c_str(), io::DTypeName(t->dtype), models::ShapeString(h.shape).c_str(),
                  (unsigned long long)(t->end - t->begin));
      total += int64_t(t->end - t->begin);
    }
    std::printf("%zu tensors, %lld bytes (%.2f MiB)\n", lay.tensors.size(), (long long)total, double(total) / 1048576.0);
    return OkStatus();
  }
  if (f.path.size() > 12 && f.path.substr(f.path.size() - 12) == ".safetensors") {
    T81_ASSIGN_OR_RETURN(auto st, io::SafeTensorsFile::Open(f.path));
    int64_t total = 0;
    std::printf("%s: safetensors, %zu tensors\n", f.path.c_str(), st->tensors().size());
    for (const auto& t : st->tensors()) {
      std::printf("%-60s %-6s %-20s %12llu\n", t.name.c_str(), io::DTypeName(t.dtype), models::ShapeString(t.shape).c_str(),
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
  quant::TernaryOptions qopt;
  T81_ASSIGN_OR_RETURN(qopt.granularity, quant::ParseGranularity(f.granularity));
  qopt.threshold = f.threshold;
  // Inference only (no gradients, no steps): a 16-bit checkpoint stays 16-bit in memory.
  const bool inference = !f.grads && f.adamw_steps == 0 && !f.qat;
  T81_ASSIGN_OR_RETURN(std::unique_ptr<models::Model> m, models::LoadModel(f.model_dir, inference));
  T81_RETURN_IF_ERROR(m->SetLinearMode(f.qat ? nn::LinearMode::kQat : nn::LinearMode::kFloat, qopt));
  T81_ASSIGN_OR_RETURN(auto in, io::SafeTensorsFile::Open(f.inputs));
  const bool has_labels = in->Find("input.labels") != nullptr;
  if ((f.grads || f.adamw_steps > 0) && !has_labels)
    return Error(f.inputs + ": --grads and --adamw-steps need 'input.labels'");
  T81_ASSIGN_OR_RETURN(const models::Batch batch, m->ReadBatch(*in, has_labels));
  io::SafeTensorsWriter w;
  T81_ASSIGN_OR_RETURN(double loss, m->Forward(batch));
  w.AddF32("logits", m->logits_shape(), m->logits());
  if (has_labels) {
    const float l = float(loss);
    w.AddF32("loss", {1}, &l);
  }
  if (f.grads) {
    m->ZeroGrad();
    T81_RETURN_IF_ERROR(m->Backward());
    for (const auto& g2 : m->HfGrads()) w.AddF32("grad." + g2.name, g2.shape, g2.values.data());
  }
  if (f.adamw_steps > 0) {
    std::vector<float> losses;
    for (int s = 0; s < f.adamw_steps; ++s) {
      T81_ASSIGN_OR_RETURN(double ls, m->Forward(batch));
      losses.push_back(float(ls));
      m->ZeroGrad();
      T81_RETURN_IF_ERROR(m->Backward());
      T81_RETURN_IF_ERROR(m->AdamWStep(f.lr));
    }
    w.AddF32("train_losses", {int64_t(losses.size())}, losses.data());
  }
  T81_RETURN_IF_ERROR(w.Write(f.out));
  if (!f.save_dir.empty()) T81_RETURN_IF_ERROR(m->Save(f.save_dir));
  std::printf("%s: %s%s, wrote %s\n", f.model_dir.c_str(), m->arch(), has_labels ? (", loss " + std::to_string(loss)).c_str() : "",
              f.out.c_str());
  return OkStatus();
}

struct InitFlags {
  std::string out, arch = "llama", dtype = "f32";
  int64_t vocab = 256, n_embd = 256, n_layer = 2, n_head = 4, n_kv_head = 0, n_ff = 512, ctx = 256;
  int64_t image_size = 224, patch = 16, channels = 3, labels = 1000;  // --arch vit
  uint64_t seed = 0;
};

// A ViTForImageClassification folder: config.json, model.safetensors, and the default
// preprocessor_config.json of google/vit-base-patch16-224 at this image size.
Status RunInitVit(const InitFlags& f) {
  for (auto [v, n] : {std::pair{f.image_size, "--image-size"}, {f.patch, "--patch"}, {f.channels, "--channels"},
                      {f.labels, "--labels"}})
    if (v <= 0) return Error(std::string(n) + " must be positive");
  models::VitConfig c;
  c.C = f.n_embd;
  c.L = f.n_layer;
  c.NH = f.n_head;
  c.FF = f.n_ff;
  c.image = f.image_size;
  c.patch = f.patch;
  c.channels = f.channels;
  c.labels = f.labels;
  T81_ASSIGN_OR_RETURN(const io::DType dtype, io::ParseFloatDType(f.dtype));
  T81_RETURN_IF_ERROR(models::WriteVitInitCheckpoint(c, f.seed, dtype, f.out));
  data::ImageProcessor p;  // ViTImageProcessor's defaults: mean and std 0.5 per channel
  p.height = p.width = c.image;
  p.mean.assign(size_t(c.channels), 0.5f);
  p.std.assign(size_t(c.channels), 0.5f);
  T81_RETURN_IF_ERROR(base::WriteFileAtomic(f.out + "/preprocessor_config.json", data::ImageProcessorJson(p)));
  int64_t params = 0;
  for (const models::HfTensor& h : models::Vit::HfTensorList(c)) params += h.numel();
  std::printf("wrote %s: vit %lldx%lld patch %lld, %lld parameters (%s)\n", f.out.c_str(), (long long)c.image,
              (long long)c.image, (long long)c.patch, (long long)params, f.dtype.c_str());
  return OkStatus();
}

Status RunInit(const InitFlags& f) {
  for (auto [v, n] : {std::pair{f.vocab, "--vocab"}, {f.n_embd, "--n-embd"}, {f.n_layer, "--n-layer"}, {f.n_head, "--n-head"},
                      {f.n_ff, "--n-ff"}, {f.ctx, "--ctx"}})
    if (v <= 0) return Error(std::string(n) + " must be positive");
  if (f.n_embd % f.n_head) return Error("--n-embd must be a multiple of --n-head");
  if (f.arch == "vit") return RunInitVit(f);
  models::DecoderConfig c;
  auto arch = models::ParseArch(f.arch);
  if (!arch.ok()) return Error("--arch: " + arch.status().message());
  c.arch = arch.value();
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
  T81_ASSIGN_OR_RETURN(const io::DType dtype, io::ParseFloatDType(f.dtype));
  T81_RETURN_IF_ERROR(models::WriteInitCheckpoint(c, f.seed, dtype, f.out));
  int64_t params = 0;
  for (const models::HfTensor& h : models::DecoderLM::HfTensorList(c)) params += h.numel();
  std::printf("wrote %s: %s, %lld parameters (%s)\n", f.out.c_str(), f.arch.c_str(), (long long)params, f.dtype.c_str());
  return OkStatus();
}

}  // namespace

void AddInit(CLI::App& app, Runner* run) {
  auto f = std::make_shared<InitFlags>();
  CLI::App* c = app.add_subcommand("init", "write a freshly initialized checkpoint (HF layout), tensor by tensor");
  c->add_option("out", f->out, "output folder")->required();
  c->add_option("--arch", f->arch, "gpt2 | llama | phi3 | vit")->capture_default_str();
  c->add_option("--vocab", f->vocab, "vocabulary size")->capture_default_str();
  c->add_option("--n-embd", f->n_embd, "model width (hidden size)")->capture_default_str();
  c->add_option("--n-layer", f->n_layer, "transformer blocks")->capture_default_str();
  c->add_option("--n-head", f->n_head, "attention heads")->capture_default_str();
  c->add_option("--n-kv-head", f->n_kv_head, "default: --n-head");
  c->add_option("--n-ff", f->n_ff, "MLP width (intermediate size)")->capture_default_str();
  c->add_option("--ctx", f->ctx, "positions")->capture_default_str();
  c->add_option("--seed", f->seed, "seed for the initial weights")->capture_default_str();
  c->add_option("--dtype", f->dtype, "f32 | bf16 | f16 (real checkpoints are bf16)")->capture_default_str();
  c->add_option("--image-size", f->image_size, "vit: input image size")->capture_default_str();
  c->add_option("--patch", f->patch, "vit: patch size")->capture_default_str();
  c->add_option("--channels", f->channels, "vit: image channels")->capture_default_str();
  c->add_option("--labels", f->labels, "vit: classifier outputs")->capture_default_str();
  c->callback([f, run] { *run = [f] { return RunInit(*f); }; });
}

void AddInfo(CLI::App& app, Runner* run) {
  auto f = std::make_shared<InfoFlags>();
  CLI::App* c = app.add_subcommand("info", "describe a model folder or a .safetensors file");
  c->add_option("path", f->path, "model folder or file")->required();
  c->callback([f, run] { *run = [f]() -> Status {
      T81_ASSIGN_OR_RETURN(f->path, io::ResolveModelPath(f->path));
      return RunInfo(*f);
    }; });
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
  c->callback([f, run] { *run = [f]() -> Status {
      T81_ASSIGN_OR_RETURN(f->model_dir, io::ResolveModelPath(f->model_dir));
      return RunForward(*f);
    }; });
}

}  // namespace t81::cli
