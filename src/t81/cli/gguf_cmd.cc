// t81 gguf: export a Hugging Face decoder checkpoint (GPT-2, Llama, Phi-3) to GGUF for llama.cpp,
// ternary block linears in TQ1_0 / TQ2_0; --validate re-reads and checks every key and tensor.
#include <cstdio>

#include "t81/cli/commands.h"
#include "t81/models/convert.h"
#include "t81/models/gguf_export.h"

namespace t81::cli {
namespace {

struct GgufFlags {
  std::string out, from_hf, from_t81, quant = "TQ2_0", granularity = "row", embd_type = "f32";
  float threshold = quant::kDefaultThreshold;
  bool validate = false;
};

Status RunGguf(const GgufFlags& f) {
  if (f.from_hf.empty() == f.from_t81.empty()) return Error("give the source with --from-hf MODEL_DIR or --from-t81 DIR");
  if (!(f.threshold > 0)) return Error("--threshold must be positive");
  models::GgufExportOptions opt;
  T81_ASSIGN_OR_RETURN(opt.quant, models::ParseGgufQuant(f.quant));
  T81_ASSIGN_OR_RETURN(opt.granularity, quant::ParseGranularity(f.granularity));
  if (f.embd_type == "f32") opt.embd_type = io::kGgmlF32;
  else if (f.embd_type == "f16") opt.embd_type = io::kGgmlF16;
  else if (f.embd_type == "q8_0") opt.embd_type = io::kGgmlQ8_0;
  else return Error("--embd-type must be f32, f16 or q8_0");
  opt.threshold = f.threshold;
  opt.tokenizer_dir = f.from_hf.empty() ? f.from_t81 : f.from_hf;
  std::unique_ptr<models::DecoderLM> model;
  if (!f.from_t81.empty()) {
    // The checkpoint's trits and scales go out unchanged: re-ternarizing d·t with per-block
    // scales gives back exactly t and d.
    T81_ASSIGN_OR_RETURN(model, models::DecoderLM::LoadT81(f.from_t81));
    opt.granularity = quant::Granularity::kBlock;
  } else {
    T81_ASSIGN_OR_RETURN(model, models::DecoderLM::Load(f.from_hf));
  }
  T81_ASSIGN_OR_RETURN(models::GgufExportReport rep, models::ExportGguf(*model, opt, f.out));
  for (const std::string& w : rep.warnings) std::fprintf(stderr, "t81: warning: %s\n", w.c_str());
  std::printf("wrote %s: %s, %lld tensors, %s\n", f.out.c_str(), models::ArchName(model->config().arch),
              (long long)rep.tensors, f.quant.c_str());
  if (f.validate) T81_RETURN_IF_ERROR(models::ValidateGguf(*model, opt, f.out));
  return OkStatus();
}

}  // namespace

void AddGguf(CLI::App& app, Runner* run) {
  auto f = std::make_shared<GgufFlags>();
  CLI::App* c = app.add_subcommand("gguf", "export a checkpoint to GGUF (llama.cpp) with ternary TQ1_0/TQ2_0 weights");
  c->add_option("out", f->out, "output .gguf")->required();
  c->add_option("--from-hf", f->from_hf, "Hugging Face model folder (config.json + model.safetensors)");
  c->add_option("--from-t81", f->from_t81, "t81 checkpoint folder written by t81 convert");
  c->add_option("--quant", f->quant, "TQ1_0 | TQ2_0 | F16 | F32 for the block linears")->capture_default_str();
  c->add_option("--threshold", f->threshold, "ternary threshold")->capture_default_str();
  c->add_option("--granularity", f->granularity, "tensor | row | block scales")->capture_default_str();
  c->add_option("--embd-type", f->embd_type, "f32 | f16 | q8_0 for embeddings and head")->capture_default_str();
  c->add_flag("--validate", f->validate, "re-open the file and check every key and tensor against the source");
  c->callback([f, run] { *run = [f] { return RunGguf(*f); }; });
}

}  // namespace t81::cli

namespace t81::cli {
namespace {

struct ConvertFlags {
  std::string model_dir, out_dir, granularity = "row", format = "tq2_0", float_type = "f32";
  float threshold = quant::kDefaultThreshold;
  bool force_cpu = false;
};

Status RunConvert(const ConvertFlags& f) {
  if (!(f.threshold > 0)) return Error("--threshold must be positive");
  models::ConvertOptions opt;
  T81_ASSIGN_OR_RETURN(opt.granularity, quant::ParseGranularity(f.granularity));
  T81_ASSIGN_OR_RETURN(opt.format, quant::ParseTqFormat(f.format));
  if (f.float_type == "f32") opt.float_type = models::FloatType::kF32;
  else if (f.float_type == "f16") opt.float_type = models::FloatType::kF16;
  else if (f.float_type == "q8_0") opt.float_type = models::FloatType::kQ8_0;
  else return Error("--float-type must be f32, f16 or q8_0");
  opt.threshold = f.threshold;
  T81_ASSIGN_OR_RETURN(models::ConvertReport r, models::ConvertCheckpoint(f.model_dir, f.out_dir, opt));
  std::printf("converted %s -> %s: %lld ternary tensors (%s), %lld float tensors (%s)\n", f.model_dir.c_str(),
              f.out_dir.c_str(), (long long)r.ternary_tensors, f.format.c_str(), (long long)r.float_tensors,
              f.float_type.c_str());
  std::printf("block linears: %.2f MiB -> %.2f MiB (%.1fx); whole checkpoint: %.2f MiB -> %.2f MiB (%.1fx)\n",
              r.ternary_source_bytes / 1048576.0, r.ternary_out_bytes / 1048576.0,
              double(r.ternary_source_bytes) / double(std::max<int64_t>(1, r.ternary_out_bytes)), r.source_bytes / 1048576.0,
              r.out_bytes / 1048576.0, double(r.source_bytes) / double(std::max<int64_t>(1, r.out_bytes)));
  std::printf("largest tensor in memory at once: %.2f MiB (as float)\n", r.largest_tensor_bytes / 1048576.0);
  return OkStatus();
}

}  // namespace

void AddConvert(CLI::App& app, Runner* run) {
  auto f = std::make_shared<ConvertFlags>();
  CLI::App* c = app.add_subcommand("convert", "ternarize a Hugging Face decoder checkpoint into a t81 checkpoint");
  c->add_option("model_dir", f->model_dir, "HF model folder")->required();
  c->add_option("out_dir", f->out_dir, "output folder (config.json + model.t81.safetensors)")->required();
  c->add_option("--threshold", f->threshold, "ternary threshold")->capture_default_str();
  c->add_option("--granularity", f->granularity, "tensor | row | block scales")->capture_default_str();
  c->add_option("--format", f->format, "tq2_0 | tq1_0 block format")->capture_default_str();
  c->add_option("--float-type", f->float_type, "f32 | f16 | q8_0 for embeddings and head (norms and biases stay f32 with q8_0)")->capture_default_str();
  c->add_flag("--force-cpu-device-map", f->force_cpu, "accepted for compatibility with the original tool (no effect)");
  c->callback([f, run] { *run = [f] { return RunConvert(*f); }; });
}

}  // namespace t81::cli
