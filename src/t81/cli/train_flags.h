// The flags `train lm` and `train vit` share (optimizer, seed, threads, QAT, resume), registered
// once for both flag structs: F has o (LmTrainOptions or VitTrainOptions), threshold, granularity,
// threads, init_from and resume.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "t81/base/status.h"
#include "t81/base/threads.h"
#include "t81/quant/ternary.h"

namespace t81::cli {

struct SharedTrainHelp {
  std::string weight_decay, seed, init_from;  // what differs between the two commands
};

template <typename F>
void AddSharedTrainFlags(CLI::App* c, F* f, const SharedTrainHelp& h) {
  c->add_option("--lr", f->o.lr, "peak learning rate")->capture_default_str();
  c->add_option("--min-lr", f->o.min_lr, "learning rate at the end of the cosine")->capture_default_str();
  c->add_option("--warmup", f->o.warmup, "steps of linear learning-rate warm-up")->capture_default_str();
  c->add_option("--weight-decay", f->o.weight_decay, h.weight_decay)->capture_default_str();
  c->add_option("--grad-clip", f->o.grad_clip, "global gradient-norm clip (0: none)")->capture_default_str();
  c->add_option("--seed", f->o.seed, h.seed)->capture_default_str();
  c->add_option("--threads", f->threads, "threads (default: all cores)");
  c->add_option("--init-from", f->init_from, h.init_from);
  c->add_flag("--qat", f->o.qat, "train the block linears ternary (fake-quant, straight-through)");
  c->add_option("--threshold", f->threshold, "QAT: the quantizer's threshold")->capture_default_str();
  c->add_option("--granularity", f->granularity, "QAT: scale group: tensor, row or block")->capture_default_str();
  c->add_option("--lambda-warmup", f->o.lambda_warmup, "QAT: steps over which the quantized weight enters (λ 0 -> 1)")
      ->capture_default_str();
  c->add_flag("--resume", f->resume, "continue the run saved in --out");
}

// The checks every training run starts with: threads; --out holding a run's state file (path)
// needs --resume, --resume needs one; QAT's quantizer options from --threshold / --granularity.
template <typename F>
Status StartTrainRun(F& f, const std::string& state, const std::string& state_name) {
  if (f.threads > 0) base::SetNumThreads(f.threads);
  std::error_code ec;
  const bool exists = std::filesystem::exists(state, ec);
  if (exists && !f.resume)
    return Error(f.out + ": holds a training run (" + state_name + "); --resume continues it, or choose another --out");
  if (f.resume && !exists) return Error(f.out + ": nothing to resume (no " + state_name + ")");
  if (f.o.qat) {
    T81_ASSIGN_OR_RETURN(f.o.ternary.granularity, quant::ParseGranularity(f.granularity));
    f.o.ternary.threshold = f.threshold;
  }
  return OkStatus();
}

}  // namespace t81::cli
