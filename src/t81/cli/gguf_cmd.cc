// t81 gguf: export a Hugging Face decoder checkpoint (GPT-2, Llama, Phi-3) to GGUF for llama.cpp,
// ternary block linears in TQ1_0 / TQ2_0; --validate re-reads and checks every key and tensor.
#include <cstdio>

#include "t81/io/hf_cache.h"
#include "t81/cli/commands.h"
#include "t81/models/convert.h"
#include "t81/models/decoder.h"
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
  models::GgufExportOptions opt;
  T81_ASSIGN_OR_RETURN(opt.quant, models::ParseGgufQuant(f.quant));
  T81_ASSIGN_OR_RETURN(opt.ternary.granularity, quant::ParseGranularity(f.granularity));
  if (f.embd_type == "f32") opt.embd_type = quant::kGgmlF32;
  else if (f.embd_type == "f16") opt.embd_type = quant::kGgmlF16;
  else if (f.embd_type == "q8_0") opt.embd_type = quant::kGgmlQ8_0;
  else return Error("--embd-type must be f32, f16 or q8_0");
  opt.ternary.threshold = f.threshold;
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(opt.ternary));
  opt.tokenizer_dir = f.from_hf.empty() ? f.from_t81 : f.from_hf;
  // Both sources stream: the model is never in memory, one tensor at a time is.
  const std::string& dir = f.from_hf.empty() ? f.from_t81 : f.from_hf;
  T81_ASSIGN_OR_RETURN(const models::DecoderConfig cfg, models::LoadDecoderConfig(dir + "/config.json"));
  const std::vector<models::HfTensor> map = models::DecoderLM::HfTensorList(cfg);
  models::TensorRowsFn rows;
  io::Checkpoint ckpt;
  std::unique_ptr<io::SafeTensorsFile> t81_file;
  models::T81Meta meta;
  if (!f.from_t81.empty()) {
    // The checkpoint's trits and scales go out unchanged: re-ternarizing d·t with per-block
    // scales gives back exactly t and d.
    T81_ASSIGN_OR_RETURN(t81_file, io::SafeTensorsFile::Open(dir + "/" + models::kT81CheckpointFile));
    T81_ASSIGN_OR_RETURN(meta, models::ReadT81Meta(*t81_file));
    for (const models::HfTensor& h : map)
      if (!t81_file->Find(h.name)) return Error(t81_file->path() + ": missing tensor '" + h.name + "'");
    opt.ternary.granularity = quant::Granularity::kBlock;
    rows = [&](const models::HfTensor& h) { return models::ReadT81Rows(h, *t81_file, meta); };
  } else {
    T81_ASSIGN_OR_RETURN(ckpt, io::OpenCheckpoint(dir));
    T81_RETURN_IF_ERROR(models::CheckHfTensors(map, ckpt, dir));
    rows = [&](const models::HfTensor& h) { return models::ReadHfRows(h, ckpt, dir); };
  }
  T81_ASSIGN_OR_RETURN(models::GgufExportReport rep, models::ExportGguf(cfg, map, rows, opt, f.out));
  for (const std::string& w : rep.warnings) std::fprintf(stderr, "t81: warning: %s\n", w.c_str());
  std::printf("wrote %s: %s, %lld tensors, %s\n", f.out.c_str(), models::ArchName(cfg.arch), (long long)rep.tensors,
              f.quant.c_str());
  if (f.validate) T81_RETURN_IF_ERROR(models::ValidateGguf(cfg, map, rows, opt, f.out));
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
  c->callback([f, run] { *run = [f]() -> Status {
      if (!f->from_hf.empty()) {
        T81_ASSIGN_OR_RETURN(f->from_hf, io::ResolveModelPath(f->from_hf));
      }
      return RunGguf(*f);
    }; });
}

}  // namespace t81::cli
