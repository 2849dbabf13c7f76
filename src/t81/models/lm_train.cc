#include "t81/models/lm_train.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "t81/base/rng.h"
#include "t81/base/timer.h"
#include "t81/models/train_state.h"

namespace t81::models {

double LmLearningRate(const LmTrainOptions& o, int64_t step) {
  if (step < o.warmup) return o.lr * double(step + 1) / double(o.warmup);
  const int64_t span = std::max<int64_t>(1, o.steps - 1 - o.warmup);
  const double t = std::min(1.0, double(step - o.warmup) / double(span));
  return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + std::cos(3.141592653589793 * t));
}

float LmQatLambda(const LmTrainOptions& o, int64_t step) {
  if (!o.qat || o.lambda_warmup <= 0) return 1.0f;
  return float(std::min(1.0, double(step + 1) / double(o.lambda_warmup)));
}

namespace {

Status CheckTokens(const std::vector<int32_t>& ids, int64_t V, const char* what) {
  for (int32_t id : ids)
    if (id < 0 || id >= V)
      return Error(std::string(what) + " token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                   std::to_string(V));
  return OkStatus();
}

uint64_t Fnv1a(const std::vector<int32_t>& ids) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t id : ids) {
    h ^= uint64_t(uint32_t(id));
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

Result<LmTrainer> LmTrainer::Create(DecoderLM* m, const LmTrainOptions& o, std::vector<int32_t> train,
                                    std::vector<int32_t> val) {
  const DecoderConfig& c = m->config();
  if (o.steps <= 0 || o.batch <= 0 || o.seq < 2) return Error("--steps and --batch must be positive and --seq at least 2");
  if (o.warmup < 0 || o.lambda_warmup < 0) return Error("--warmup and --lambda-warmup must not be negative");
  if (!(o.lr > 0) || !(o.min_lr >= 0) || o.min_lr > o.lr) return Error("--lr must be positive and --min-lr in [0, lr]");
  if (!(o.weight_decay >= 0) || !(o.grad_clip >= 0)) return Error("--weight-decay and --grad-clip must not be negative");
  if (o.seq > c.max_t)
    return Error("--seq " + std::to_string(o.seq) + " is longer than the model's context of " + std::to_string(c.max_t));
  if (int64_t(train.size()) <= o.seq)
    return Error("the training text has " + std::to_string(train.size()) + " tokens; --seq " + std::to_string(o.seq) +
                 " needs more");
  if (!val.empty() && int64_t(val.size()) < o.seq)
    return Error("the validation text has " + std::to_string(val.size()) + " tokens, fewer than --seq " +
                 std::to_string(o.seq));
  T81_RETURN_IF_ERROR(CheckTokens(train, c.V, "training"));
  T81_RETURN_IF_ERROR(CheckTokens(val, c.V, "validation"));
  if (o.qat) T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(o.ternary));
  T81_RETURN_IF_ERROR(m->SetLinearMode(o.qat ? nn::LinearMode::kQat : nn::LinearMode::kFloat, o.ternary));
  m->DecayMatricesOnly();
  return LmTrainer(m, o, std::move(train), std::move(val));
}

Result<double> LmTrainer::Step() {
  const double t0 = base::NowSeconds();
  const int64_t B = o_.batch, T = o_.seq;
  // The batch depends on (seed, step) only: random window starts in the training stream.
  base::Rng rng(o_.seed * 0x9e3779b97f4a7c15ull + uint64_t(step_) + 1);
  ids_.resize(size_t(B * T));
  const uint64_t starts = uint64_t(train_.size()) - uint64_t(T) + 1;
  for (int64_t b = 0; b < B; ++b) {
    const size_t s = size_t(rng.Below(starts));
    for (int64_t t = 0; t < T; ++t) ids_[size_t(b * T + t)] = train_[s + size_t(t)];
  }
  m_->SetQatLambda(LmQatLambda(o_, step_));
  T81_ASSIGN_OR_RETURN(const double loss, m_->Forward(ids_.data(), ids_.data(), B, T));
  if (!std::isfinite(loss)) return Error("training diverged at step " + std::to_string(step_ + 1) + " (loss " + std::to_string(loss) + "); lower --lr");
  m_->ZeroGrad();
  T81_RETURN_IF_ERROR(m_->Backward());
  if (o_.grad_clip > 0) m_->ClipGradNorm(o_.grad_clip);
  T81_RETURN_IF_ERROR(m_->AdamWStep(LmLearningRate(o_, step_), o_.beta1, o_.beta2, o_.eps, o_.weight_decay));
  ++step_;
  tokens_ += B * T;
  elapsed_ += base::NowSeconds() - t0;
  return loss;
}

Result<double> LmTrainer::Evaluate() {
  if (val_.empty()) return Error("no validation text");
  const double t0 = base::NowSeconds();
  const int64_t T = o_.seq;
  const int64_t windows = std::max<int64_t>(1, std::min(o_.eval_tokens, int64_t(val_.size())) / T);
  m_->SetQatLambda(LmQatLambda(o_, std::max<int64_t>(0, step_ - 1)));
  double sum = 0;
  int64_t count = 0;
  std::vector<int64_t> ids;
  for (int64_t w0 = 0; w0 < windows; w0 += o_.batch) {
    const int64_t nb = std::min(o_.batch, windows - w0);
    ids.assign(val_.begin() + w0 * T, val_.begin() + (w0 + nb) * T);
    T81_ASSIGN_OR_RETURN(const double loss, m_->Forward(ids.data(), ids.data(), nb, T));
    sum += loss * double(nb * (T - 1));
    count += nb * (T - 1);
  }
  elapsed_ += base::NowSeconds() - t0;
  return sum / double(count);
}

std::string LmTrainer::Fingerprint() const {
  const DecoderConfig& c = m_->config();
  nlohmann::json j = {{"arch", ArchName(c.arch)}, {"params", m_->num_params()}, {"steps", o_.steps},
                      {"batch", o_.batch}, {"seq", o_.seq}, {"warmup", o_.warmup}, {"lr", o_.lr},
                      {"min_lr", o_.min_lr}, {"weight_decay", o_.weight_decay}, {"grad_clip", o_.grad_clip},
                      {"beta1", o_.beta1}, {"beta2", o_.beta2}, {"eps", o_.eps}, {"seed", o_.seed},
                      {"qat", o_.qat}, {"train_tokens", train_.size()}, {"train_hash", Fnv1a(train_)},
                      {"val_tokens", val_.size()}, {"val_hash", Fnv1a(val_)}};
  if (o_.qat) {
    j["threshold"] = o_.ternary.threshold;
    j["granularity"] = quant::GranularityName(o_.ternary.granularity);
    j["lambda_warmup"] = o_.lambda_warmup;
  }
  return j.dump();
}

Status LmTrainer::SaveState(const std::string& path) const {
  return SaveTrainState(path, m_->arena(), Fingerprint(), {step_, tokens_, elapsed_});
}

Status LmTrainer::LoadState(const std::string& path) {
  TrainCounters c;
  T81_RETURN_IF_ERROR(LoadTrainState(path, m_->arena(), Fingerprint(), o_.steps, &c));
  step_ = c.step;
  tokens_ = c.items;
  elapsed_ = c.elapsed_s;
  return OkStatus();
}

}  // namespace t81::models
