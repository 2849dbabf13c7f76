// Readers of the JSON files the benchmark commands write (bench lm, bench gguf, bench gemm) and
// of the seed's ViT keys. Every field goes through io::JsonFields (no throwing on bad input); a
// field of the wrong type makes the whole file malformed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "t81/io/json_fields.h"
#include "t81/report/readers.h"

namespace t81::report::internal {

namespace {

using Json = nlohmann::json;

// The run fields every benchmark JSON carries (older files lack git_revision and cpu_model).
Result<RunMeta> Meta(const io::JsonFields& f) {
  RunMeta m;
  m.source = f.path();
  T81_ASSIGN_OR_RETURN(m.timestamp, f.String("timestamp", ""));
  T81_ASSIGN_OR_RETURN(m.git_revision, f.String("git_revision", ""));
  T81_ASSIGN_OR_RETURN(m.cpu_model, f.String("cpu_model", ""));
  T81_ASSIGN_OR_RETURN(m.isa, f.String("isa", ""));
  T81_ASSIGN_OR_RETURN(const double threads, f.Number("threads", 0));
  m.threads = int(threads);
  return m;
}

// A nested object as fields (nullptr when absent or null).
Result<const Json*> Sub(const io::JsonFields& f, const char* key) { return f.Object(key); }

// An array of numbers (empty when absent); an error when present and not all numbers.
Result<std::vector<double>> Numbers(const Json& j, const char* key, const std::string& path) {
  std::vector<double> v;
  if (!j.contains(key) || j[key].is_null()) return v;
  if (!j[key].is_array()) return Error(path + ": field '" + key + "' must be an array of numbers");
  for (const Json& x : j[key]) {
    if (!x.is_number()) return Error(path + ": field '" + key + "' must be an array of numbers");
    v.push_back(x.get<double>());
  }
  return v;
}

// [lo, hi] from a two-number array field (NAN when absent).
Status Range(const Json& j, const char* key, const std::string& path, double* lo, double* hi) {
  T81_ASSIGN_OR_RETURN(const std::vector<double> v, Numbers(j, key, path));
  if (v.empty()) return OkStatus();
  if (v.size() != 2) return Error(path + ": field '" + key + "' must be [low, high]");
  *lo = v[0];
  *hi = v[1];
  return OkStatus();
}

std::string Stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

// One engine of bench gguf: tok/s = 1000 / (ms per token); the range from the per-run times.
Result<EngineSpeed> Engine(const Json& j, const std::string& path, const char* which) {
  if (!j.is_object()) return Error(path + ": field '" + which + "' must be an object");
  io::JsonFields f(j, path + " (" + which + ")");
  EngineSpeed e;
  T81_ASSIGN_OR_RETURN(const double eval_ms, f.Number("eval_ms_per_token", NAN));
  if (!(eval_ms > 0)) return Error(path + ": " + which + ".eval_ms_per_token must be a positive number");
  T81_ASSIGN_OR_RETURN(const double prompt_ms, f.Number("prompt_ms_per_token", NAN));
  T81_ASSIGN_OR_RETURN(e.peak_rss_mib, f.Number("peak_rss_mib", NAN));
  e.decode_tok_s = 1000.0 / eval_ms;
  if (prompt_ms > 0) e.prompt_tok_s = 1000.0 / prompt_ms;
  auto range = [&](const char* key, double* lo, double* hi) -> Status {
    T81_ASSIGN_OR_RETURN(const std::vector<double> runs, Numbers(j, key, path));
    if (runs.empty()) return OkStatus();
    const auto [fast, slow] = std::minmax_element(runs.begin(), runs.end());
    if (*fast > 0) *lo = 1000.0 / *slow, *hi = 1000.0 / *fast;
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(range("eval_ms_per_token_runs", &e.decode_lo, &e.decode_hi));
  T81_RETURN_IF_ERROR(range("prompt_ms_per_token_runs", &e.prompt_lo, &e.prompt_hi));
  return e;
}

}  // namespace

Result<RunMeta> ReadRunMeta(const std::string& path) {
  T81_ASSIGN_OR_RETURN(const Json j, io::ReadJsonObject(path));
  return Meta(io::JsonFields(j, path));
}

Status ReadLmJson(const std::string& path, BenchData* d) {
  T81_ASSIGN_OR_RETURN(const Json j, io::ReadJsonObject(path));
  io::JsonFields f(j, path);
  LmRun run;
  run.name = Stem(path);
  T81_ASSIGN_OR_RETURN(run.meta, Meta(f));
  T81_ASSIGN_OR_RETURN(run.model_id, f.String("model_id", ""));
  T81_ASSIGN_OR_RETURN(run.dataset, f.String("dataset", ""));
  T81_ASSIGN_OR_RETURN(const Json* stages, Sub(f, "stages"));
  for (const char* name : {"baseline", "ptq", "qat"}) {
    T81_ASSIGN_OR_RETURN(const Json* s, Sub(f, name));
    if (!s) continue;  // qat: null when not run
    io::JsonFields sf(*s, path + " (" + name + ")");
    LmStage st;
    st.name = name;
    T81_ASSIGN_OR_RETURN(const double gib, sf.Number("size_gib", NAN));
    T81_ASSIGN_OR_RETURN(st.ppl, sf.Number("ppl", NAN));
    T81_ASSIGN_OR_RETURN(st.tok_s, sf.Number("tok_s", NAN));
    st.size_bytes = gib * double(1ull << 30);
    if (stages && stages->contains(name) && (*stages)[name].is_object()) {  // t81's additions
      io::JsonFields ef((*stages)[name], path + " (stages." + name + ")");
      T81_ASSIGN_OR_RETURN(st.size_bytes, ef.Number("size_bytes", st.size_bytes));
      T81_ASSIGN_OR_RETURN(st.prompt_tok_s, ef.Number("prompt_tok_s", NAN));
      T81_ASSIGN_OR_RETURN(st.decode_tok_s, ef.Number("decode_tok_s", NAN));
    }
    run.stages.push_back(st);
  }
  if (run.stages.empty()) return Error(path + ": no baseline, ptq or qat results");
  T81_ASSIGN_OR_RETURN(const std::vector<double> losses, Numbers(j, "qat_losses", path));
  if (!losses.empty()) {
    LossCurve c;
    c.name = run.name + " QAT (bench lm)";
    c.meta = run.meta;
    for (size_t i = 0; i < losses.size(); ++i) {
      c.step.push_back(double(i + 1));
      c.train_loss.push_back(losses[i]);
      c.val_loss.push_back(NAN);
    }
    d->curves.push_back(c);
  }
  d->lm.push_back(run);
  return OkStatus();
}

Status ReadVitJson(const std::string& path, BenchData* d) {
  T81_ASSIGN_OR_RETURN(const Json j, io::ReadJsonObject(path));
  io::JsonFields f(j, path);
  VitRun run;
  run.name = Stem(path);
  T81_ASSIGN_OR_RETURN(run.meta, Meta(f));
  T81_ASSIGN_OR_RETURN(run.model_id, f.String("model_id", ""));
  T81_ASSIGN_OR_RETURN(run.dataset, f.String("dataset", ""));
  for (const char* name : {"baseline", "ptq", "qat"}) {
    T81_ASSIGN_OR_RETURN(const Json* s, Sub(f, name));
    if (!s) continue;
    io::JsonFields sf(*s, path + " (" + name + ")");
    VitStage st;
    st.name = name;
    T81_ASSIGN_OR_RETURN(st.size_gib, sf.Number("size_gib", NAN));
    T81_ASSIGN_OR_RETURN(st.accuracy, sf.Number("accuracy", NAN));
    T81_ASSIGN_OR_RETURN(st.loss, sf.Number("loss", NAN));
    for (const char* k : {"images_per_s", "images_s", "img_s", "throughput"}) {
      T81_ASSIGN_OR_RETURN(const double v, sf.Number(k, NAN));
      if (std::isfinite(v)) {
        st.images_s = v;
        break;
      }
    }
    run.stages.push_back(st);
  }
  if (run.stages.empty()) return Error(path + ": no baseline, ptq or qat results");
  d->vit.push_back(run);
  return OkStatus();
}

Status ReadGgufJson(const std::string& path, BenchData* d) {
  T81_ASSIGN_OR_RETURN(const Json j, io::ReadJsonObject(path));
  io::JsonFields f(j, path);
  GgufRun run;
  T81_ASSIGN_OR_RETURN(run.meta, Meta(f));
  T81_ASSIGN_OR_RETURN(const std::string gguf, f.String("gguf", ""));
  run.name = gguf.empty() ? Stem(path) : Stem(gguf);
  T81_ASSIGN_OR_RETURN(run.arch, f.String("arch", ""));
  T81_ASSIGN_OR_RETURN(run.size_mib, f.Number("size_mib", NAN));
  T81_ASSIGN_OR_RETURN(run.speedup, f.Number("eval_speedup", NAN));
  T81_RETURN_IF_ERROR(Range(j, "eval_speedup_range", path, &run.speedup_lo, &run.speedup_hi));
  if (!j.contains("t81") || !j.contains("llama")) return Error(path + ": no t81 and llama results");
  T81_ASSIGN_OR_RETURN(run.t81, Engine(j["t81"], path, "t81"));
  T81_ASSIGN_OR_RETURN(run.llama, Engine(j["llama"], path, "llama"));
  d->gguf.push_back(run);
  return OkStatus();
}

Status ReadGemmJson(const std::string& path, BenchData* d) {
  T81_ASSIGN_OR_RETURN(const Json j, io::ReadJsonObject(path));
  io::JsonFields f(j, path);
  GemmRun run;
  T81_ASSIGN_OR_RETURN(run.meta, Meta(f));
  for (const char* which : {"gemm", "gemv"}) {
    T81_ASSIGN_OR_RETURN(const Json* s, Sub(f, which));
    if (!s) continue;
    io::JsonFields sf(*s, path + " (" + which + ")");
    T81_ASSIGN_OR_RETURN(const double m, sf.Number("m", NAN));
    T81_ASSIGN_OR_RETURN(const double n, sf.Number("n", NAN));
    T81_ASSIGN_OR_RETURN(const double k, sf.Number("k", NAN));
    GemmShape shape;
    char name[96];
    std::snprintf(name, sizeof name, "%s %.0fx%.0fx%.0f", which == std::string("gemm") ? "GEMM" : "GEMV", m, n, k);
    shape.name = name;
    if (!s->contains("rows") || !(*s)["rows"].is_array()) return Error(path + ": " + which + ".rows must be an array");
    for (const Json& r : (*s)["rows"]) {
      if (!r.is_object()) return Error(path + ": " + which + ".rows must hold objects");
      io::JsonFields rf(r, path + " (" + which + ".rows)");
      KernelSpeed ks;
      T81_ASSIGN_OR_RETURN(ks.kernel, rf.String("kernel"));
      T81_ASSIGN_OR_RETURN(ks.gflops, rf.Number("gflops", NAN));
      T81_ASSIGN_OR_RETURN(ks.median_s, rf.Number("median_s", NAN));
      T81_RETURN_IF_ERROR(Range(r, "gflops_range", path, &ks.lo, &ks.hi));
      T81_ASSIGN_OR_RETURN(const std::vector<double> rounds, Numbers(r, "round_s", path));
      if (!std::isfinite(ks.lo) && !rounds.empty() && m > 0 && n > 0 && k > 0) {
        const auto [fast, slow] = std::minmax_element(rounds.begin(), rounds.end());
        if (*fast > 0) ks.lo = 2 * m * n * k / *slow * 1e-9, ks.hi = 2 * m * n * k / *fast * 1e-9;
      }
      shape.kernels.push_back(ks);
    }
    const std::string key = std::string(which) + (which == std::string("gemm") ? "_speedup_vs_sgemm" : "_speedup_vs_sgemv");
    T81_ASSIGN_OR_RETURN(shape.speedup, f.Number(key.c_str(), NAN));
    T81_RETURN_IF_ERROR(Range(j, (std::string(which) + "_speedup_range").c_str(), path, &shape.speedup_lo, &shape.speedup_hi));
    run.shapes.push_back(shape);
  }
  if (run.shapes.empty()) return Error(path + ": no gemm or gemv results");
  d->gemm.push_back(run);
  return OkStatus();
}

}  // namespace t81::report::internal
