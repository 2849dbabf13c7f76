// t81 convert: ternarize a Hugging Face decoder checkpoint into a t81 checkpoint, streaming
// tensor by tensor (models/convert.h).
#include <algorithm>
#include <cstdio>

#include "t81/io/hf_cache.h"
#include "t81/cli/commands.h"
#include "t81/models/convert.h"

namespace t81::cli {
namespace {

struct ConvertFlags {
  std::string model_dir, out_dir, granularity = "row", format = "tq2_0", float_type = "f32";
  float threshold = quant::kDefaultThreshold;
  bool force_cpu = false;
};

Status RunConvert(const ConvertFlags& f) {
  models::ConvertOptions opt;
  opt.ternary.threshold = f.threshold;
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(opt.ternary));
  T81_ASSIGN_OR_RETURN(opt.ternary.granularity, quant::ParseGranularity(f.granularity));
  T81_ASSIGN_OR_RETURN(opt.ternary.format, quant::ParseTqFormat(f.format));
  T81_ASSIGN_OR_RETURN(opt.float_type, models::ParseFloatType(f.float_type));
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
  c->callback([f, run] { *run = [f]() -> Status {
      T81_ASSIGN_OR_RETURN(f->model_dir, io::ResolveModelPath(f->model_dir));
      return RunConvert(*f);
    }; });
}

}  // namespace t81::cli
