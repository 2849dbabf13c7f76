// Training a causal language model (DecoderLM) on token streams, as `t81 train lm` and the QAT
// stage of `t81 bench lm` do: AdamW (decay on matrices and embeddings only), linear warm-up then
// cosine decay to min_lr, global-norm gradient clipping, batches of random windows drawn from
// (seed, step) alone — so a run resumed from a state file at step s continues bit for bit — and
// QAT with the λ warm-up of "fine-tuning LLMs to 1.58 bit": the block linears run
// w + λ·(q(w) − w), λ rising linearly from 0 to 1 over lambda_warmup steps, with the
// straight-through gradient to the float weight w.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/models/decoder.h"
#include "t81/quant/ternary.h"

namespace t81::models {

struct LmTrainOptions {
  int64_t steps = 1000, batch = 8, seq = 128;
  int64_t warmup = 100;  // steps of linear learning-rate warm-up
  double lr = 1e-3, min_lr = 1e-4;
  double weight_decay = 0.1, grad_clip = 1.0;  // grad_clip 0: no clipping
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  uint64_t seed = 0;
  int64_t eval_tokens = 32768;  // validation tokens per evaluation (whole windows of seq)
  bool qat = false;
  quant::TernaryOptions ternary;
  int64_t lambda_warmup = 0;  // 0: λ = 1 from the first step
};

// The learning rate of step s (0-based): lr · (s + 1) / warmup during warm-up, then cosine from
// lr to min_lr at the last step.
double LmLearningRate(const LmTrainOptions& o, int64_t step);
// QAT's λ at step s: min(1, (s + 1) / lambda_warmup), 1 without warm-up or QAT.
float LmQatLambda(const LmTrainOptions& o, int64_t step);

class LmTrainer {
 public:
  // m: a float model (created, or loaded for training); train / val: token ids below the model's
  // vocabulary. train must hold more than seq tokens; val at least seq (or be empty: no
  // evaluation). Sets the model's mode (float, or QAT with o.ternary) and weight-decay ranges.
  static Result<LmTrainer> Create(DecoderLM* m, const LmTrainOptions& o, std::vector<int32_t> train,
                                  std::vector<int32_t> val);

  int64_t step() const { return step_; }      // optimizer steps done
  int64_t tokens() const { return tokens_; }  // training tokens seen
  double elapsed_s() const { return elapsed_; }  // time spent in Step and Evaluate, resumed runs included
  const LmTrainOptions& options() const { return o_; }

  // One optimizer step on a fresh batch; returns its loss (before the update).
  Result<double> Step();
  // Mean loss over the first eval_tokens tokens of val (windows of seq, batches of batch), with
  // the weights the model trains with (QAT: at the current λ).
  Result<double> Evaluate();

  // The training state (parameters, AdamW moments and step, trainer step, tokens, elapsed time,
  // the options and a fingerprint of the data) as one safetensors file, written atomically.
  Status SaveState(const std::string& path) const;
  // Restores a state saved by a run with the same model shape, options and data; refuses others.
  Status LoadState(const std::string& path);

 private:
  LmTrainer(DecoderLM* m, const LmTrainOptions& o, std::vector<int32_t> train, std::vector<int32_t> val)
      : m_(m), o_(o), train_(std::move(train)), val_(std::move(val)) {}
  std::string Fingerprint() const;  // options + data identity, as JSON

  DecoderLM* m_;
  LmTrainOptions o_;
  std::vector<int32_t> train_, val_;
  std::vector<int64_t> ids_;  // (batch, seq) scratch
  int64_t step_ = 0, tokens_ = 0;
  double elapsed_ = 0;
};

}  // namespace t81::models
