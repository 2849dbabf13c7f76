#include "t81/models/vit_train.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "t81/base/rng.h"
#include "t81/base/timer.h"
#include "t81/models/train_state.h"
#include "t81/nn/layers.h"

namespace t81::models {

double VitLearningRate(const VitTrainOptions& o, int64_t step, int64_t total) {
  if (step < o.warmup) return o.lr * double(step + 1) / double(o.warmup);
  const int64_t span = std::max<int64_t>(1, total - 1 - o.warmup);
  const double t = std::min(1.0, double(step - o.warmup) / double(span));
  return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + std::cos(3.141592653589793 * t));
}

void RandomErase(float* image, int64_t channels, int64_t S, const data::ImageProcessor& p, base::Rng* rng) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = (0.02 + 0.23 * rng->Uniform()) * double(S * S);
    const double aspect = std::exp(std::log(0.3) + (std::log(3.3) - std::log(0.3)) * rng->Uniform());
    const int64_t h = std::lround(std::sqrt(area * aspect)), w = std::lround(std::sqrt(area / aspect));
    if (h < 1 || w < 1 || h > S || w > S) continue;
    const int64_t y0 = int64_t(rng->Below(uint64_t(S - h + 1))), x0 = int64_t(rng->Below(uint64_t(S - w + 1)));
    for (int64_t y = y0; y < y0 + h; ++y)
      for (int64_t x = x0; x < x0 + w; ++x) {
        const double v = rng->Uniform() * (p.do_rescale ? p.rescale_factor * 255.0 : 1.0);
        for (int64_t ch = 0; ch < channels; ++ch) {
          const size_t mc = p.mean.size() == 1 ? 0 : size_t(ch % int64_t(p.mean.size()));
          image[(ch * S + y) * S + x] = p.do_normalize ? float((v - p.mean[mc]) / p.std[mc]) : float(v);
        }
      }
    return;
  }
}

namespace {
Status CheckInputs(const Vit& m, const data::ImageSet& set, const data::ImageProcessor& p) {
  const VitConfig& c = m.config();
  const int64_t h = p.do_resize ? p.height : set.height, w = p.do_resize ? p.width : set.width;
  if (h != c.image || w != c.image)
    return Error(set.name + " images become " + std::to_string(h) + "x" + std::to_string(w) + " but the model takes " +
                 std::to_string(c.image) + "x" + std::to_string(c.image) + " (preprocessor_config.json size)");
  if (set.classes > c.labels)
    return Error(set.name + " has " + std::to_string(set.classes) + " classes but the model's head has " +
                 std::to_string(c.labels) + " labels");
  if (set.channels != c.channels && !(set.channels == 1 && c.channels == 3))
    return Error(set.name + " images have " + std::to_string(set.channels) + " channels; the model takes " +
                 std::to_string(c.channels));
  return OkStatus();
}
}  // namespace

Status VitInputs(std::vector<float>* pixels, std::vector<int64_t>* labels, const Vit& m, const data::ImageSet& set,
                 const data::ImageProcessor& p, int64_t first, int64_t count) {
  T81_RETURN_IF_ERROR(CheckInputs(m, set, p));
  if (first < 0 || count <= 0 || first + count > set.n) return Error("image range outside the set");
  const VitConfig& c = m.config();
  std::vector<int64_t> idx(static_cast<size_t>(count));
  std::iota(idx.begin(), idx.end(), first);
  pixels->resize(size_t(count * c.channels * c.image * c.image));
  T81_RETURN_IF_ERROR(data::Preprocess(pixels->data(), set, idx.data(), count, p, c.channels));
  labels->assign(set.labels.begin() + first, set.labels.begin() + first + count);
  return OkStatus();
}

Result<VitEval> EvaluateVit(Vit* m, const data::ImageSet& set, const data::ImageProcessor& p, int64_t batch,
                            int64_t max_images) {
  if (batch <= 0) return Error("the batch size must be positive");
  const int64_t n = max_images > 0 ? std::min(max_images, set.n) : set.n;
  if (n <= 0) return Error(set.name + ": no images to evaluate");
  const double t0 = base::NowSeconds();
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  VitEval e;
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t L = m->config().labels;
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t b = std::min(batch, n - i);
    T81_RETURN_IF_ERROR(VitInputs(&pixels, &labels, *m, set, p, i, b));
    T81_ASSIGN_OR_RETURN(const double loss, m->Forward(pixels.data(), labels.data(), b, Vit::Pass::kInfer));
    loss_sum += loss * double(b);
    const float* logits = m->logits();
    for (int64_t r = 0; r < b; ++r) {
      const float* row = logits + r * L;
      correct += int64_t(std::max_element(row, row + L) - row) == labels[size_t(r)];
    }
  }
  e.images = n;
  e.loss = loss_sum / double(n);
  e.accuracy = double(correct) / double(n);
  e.seconds = base::NowSeconds() - t0;
  return e;
}

Result<double> FitVitHead(Vit* m, const data::ImageSet& train, const data::ImageProcessor& p, const HeadFitOptions& o) {
  if (o.steps <= 0 || o.batch <= 0 || !(o.lr > 0)) return Error("head fitting needs positive steps, batch and learning rate");
  T81_RETURN_IF_ERROR(CheckInputs(*m, train, p));
  const VitConfig& c = m->config();
  const int64_t n = o.max_train > 0 ? std::min(o.max_train, train.n) : train.n, B = std::min(o.batch, n), C = c.C,
                K = c.labels;
  float *w = m->head_weight(), *bias = m->head_bias();
  const size_t KC = size_t(K * C), Ks = size_t(K);
  std::vector<float> mw(KC), vw(KC), mb(Ks), vb(Ks), gw(KC), gb(Ks), probs(Ks);
  std::vector<float> pixels(static_cast<size_t>(B * c.channels * c.image * c.image));
  std::vector<int64_t> idx(static_cast<size_t>(B));
  std::vector<double> losses;
  for (int64_t step = 0; step < o.steps; ++step) {
    base::Rng rng(o.seed * 0x9E3779B97F4A7C15ull + uint64_t(step) + 0x51ED);
    for (int64_t& i : idx) i = int64_t(rng.Below(uint64_t(n)));
    T81_RETURN_IF_ERROR(data::Preprocess(pixels.data(), train, idx.data(), B, p, c.channels));
    T81_RETURN_IF_ERROR(m->Forward(pixels.data(), nullptr, B, Vit::Pass::kInfer).status());
    const float* feat = m->cls_features();  // (B, C), the head's input
    std::fill(gw.begin(), gw.end(), 0.0f);
    std::fill(gb.begin(), gb.end(), 0.0f);
    double loss = 0;
    for (int64_t b = 0; b < B; ++b) {
      const float* x = feat + b * C;
      float mx = -INFINITY;
      for (int64_t k = 0; k < K; ++k) {
        double z = bias[k];
        for (int64_t i = 0; i < C; ++i) z += double(w[k * C + i]) * x[i];
        probs[size_t(k)] = float(z);
        mx = std::max(mx, probs[size_t(k)]);
      }
      double sum = 0;
      for (float& q : probs) sum += (q = std::exp(q - mx));
      const int32_t y = train.labels[size_t(idx[size_t(b)])];
      loss -= std::log(std::max(1e-30, double(probs[size_t(y)]) / sum));
      for (int64_t k = 0; k < K; ++k) {
        const float d = float((probs[size_t(k)] / sum - (k == y ? 1.0 : 0.0)) / double(B));
        gb[size_t(k)] += d;
        for (int64_t i = 0; i < C; ++i) gw[size_t(k * C + i)] += d * x[i];
      }
    }
    losses.push_back(loss / double(B));
    // Adam (torch defaults), bias-corrected.
    const double b1 = 0.9, b2 = 0.999, c1 = 1 - std::pow(b1, double(step + 1)), c2 = 1 - std::pow(b2, double(step + 1));
    auto adam = [&](float* prm, const std::vector<float>& g, std::vector<float>& m1, std::vector<float>& m2) {
      for (size_t i = 0; i < g.size(); ++i) {
        m1[i] = float(b1 * m1[i] + (1 - b1) * g[i]);
        m2[i] = float(b2 * m2[i] + (1 - b2) * double(g[i]) * g[i]);
        prm[i] -= float(o.lr * (m1[i] / c1) / (std::sqrt(m2[i] / c2) + 1e-8));
      }
    };
    adam(w, gw, mw, vw);
    adam(bias, gb, mb, vb);
  }
  const size_t last = std::min<size_t>(10, losses.size());
  double tail = 0;
  for (size_t i = losses.size() - last; i < losses.size(); ++i) tail += losses[i];
  return tail / double(last);
}

Result<VitTrainer> VitTrainer::Create(Vit* m, const VitTrainOptions& o, const data::ImageSet* train,
                                      const data::ImageProcessor& p) {
  if (o.epochs <= 0 || o.batch <= 0) return Error("--epochs and --batch must be positive");
  if (o.max_steps < 0 || o.max_train < 0 || o.warmup < 0 || o.lambda_warmup < 0 || o.shift < 0)
    return Error("--max-steps, --max-train, --warmup, --lambda-warmup and --shift must not be negative");
  if (!(o.lr > 0) || !(o.min_lr >= 0) || o.min_lr > o.lr) return Error("--lr must be positive and --min-lr in [0, lr]");
  if (!(o.weight_decay >= 0) || !(o.grad_clip >= 0)) return Error("--weight-decay and --grad-clip must not be negative");
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) return Error("--label-smoothing must be in [0, 1)");
  if (!(o.erase >= 0 && o.erase <= 1)) return Error("--erase must be in [0, 1]");
  if (!(o.ema >= 0 && o.ema < 1)) return Error("--ema must be in [0, 1)");
  if (!(o.drop_path >= 0 && o.drop_path < 1)) return Error("--drop-path must be in [0, 1)");
  if (!(o.cutmix >= 0 && o.cutmix <= 1)) return Error("--cutmix must be in [0, 1]");
  T81_RETURN_IF_ERROR(CheckInputs(*m, *train, p));
  if (o.shift >= m->config().image) return Error("--shift must be smaller than the image size");
  VitTrainer t(m, o, train, p);
  t.n_ = o.max_train > 0 ? std::min(o.max_train, train->n) : train->n;
  t.spe_ = t.n_ / o.batch;
  if (t.spe_ == 0)
    return Error(train->name + ": " + std::to_string(t.n_) + " training images, fewer than one batch of " +
                 std::to_string(o.batch));
  t.total_ = o.epochs * t.spe_;
  if (o.max_steps > 0) t.total_ = std::min(t.total_, o.max_steps);
  if (o.qat) T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(o.ternary));
  T81_RETURN_IF_ERROR(m->SetLinearMode(o.qat ? nn::LinearMode::kQat : nn::LinearMode::kFloat, o.ternary));
  m->DecayMatricesOnly();
  m->SetLabelSmoothing(float(o.label_smoothing));
  if (o.ema > 0) m->arena().EnableEma();
  if (o.bf16 && !nn::Bf16MatmulAvailable()) return Error("bf16 products need a CPU with AMX-BF16; this one has none");
  nn::SetMatmulPrecision(o.bf16 ? nn::MatmulPrecision::kBf16 : nn::MatmulPrecision::kFp32);
  return t;
}

void VitTrainer::SwapAverage() {
  if (o_.ema > 0) m_->arena().SwapEma();
}

float VitTrainer::lambda() const {
  if (!o_.qat || o_.lambda_warmup <= 0) return 1.0f;
  return float(std::min(1.0, double(step_ + 1) / double(o_.lambda_warmup)));
}

void VitTrainer::Augment(float* pixels, int64_t B) {
  if (o_.shift == 0 && !o_.flip && o_.erase == 0) return;
  const VitConfig& c = m_->config();
  const int64_t S = c.image, CH = c.channels;
  base::Rng rng(o_.seed * 0xD1B54A32D192ED03ull + uint64_t(step_) * 0x9E3779B97F4A7C15ull + 7);
  shifted_.resize(size_t(S * S));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t span = 2 * o_.shift + 1;
    const int64_t dy = int64_t(rng.Below(uint64_t(span))) - o_.shift, dx = int64_t(rng.Below(uint64_t(span))) - o_.shift;
    const bool flip = o_.flip && rng.Below(2) == 1;
    for (int64_t ch = 0; ch < CH && (dy != 0 || dx != 0 || flip); ++ch) {  // an identity move skips the copy
      float* plane = pixels + (b * CH + ch) * S * S;
      // What a black pixel becomes after rescale and normalize: the fill of the uncovered border.
      const size_t mc = proc_.mean.size() == 1 ? 0 : size_t(ch % int64_t(proc_.mean.size()));
      const float fill = proc_.do_normalize ? float((0.0 - proc_.mean[mc]) / proc_.std[mc]) : 0.0f;
      for (int64_t y = 0; y < S; ++y)
        for (int64_t x = 0; x < S; ++x) {
          const int64_t sy = y - dy, sx0 = x - dx, sx = flip ? S - 1 - sx0 : sx0;
          shifted_[size_t(y * S + x)] = sy >= 0 && sy < S && sx0 >= 0 && sx0 < S ? plane[sy * S + sx] : fill;
        }
      std::copy(shifted_.begin(), shifted_.end(), plane);
    }
    if (o_.erase > 0 && rng.Uniform() < o_.erase) RandomErase(pixels + b * CH * S * S, CH, S, proc_, &rng);
  }
}

// CutMix (Yun et al., 2019): image b, with probability o_.cutmix, takes a box of its partner's
// (image B − 1 − b before any mixing): area fraction 1 − λ for λ uniform in [0, 1) (Beta(1, 1)),
// sides √(1 − λ)·S, centre uniform, clipped to the image; its target weighs the partner's label
// by the box's real area.
void VitTrainer::CutMix(float* pixels, int64_t B) {
  if (o_.cutmix <= 0) return;
  const VitConfig& c = m_->config();
  const int64_t S = c.image, CH = c.channels, per = CH * S * S;
  unmixed_.assign(pixels, pixels + B * per);
  base::Rng rng(o_.seed * 0x94D049BB133111EBull + uint64_t(step_) * 0xBF58476D1CE4E5B9ull + 13);
  std::vector<int32_t> second(static_cast<size_t>(B));
  std::vector<float> lambda(static_cast<size_t>(B), 1.0f);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t partner = B - 1 - b;
    second[size_t(b)] = int32_t(labels_[size_t(partner)]);
    if (rng.Uniform() >= o_.cutmix) continue;
    const double side = std::sqrt(1.0 - rng.Uniform()) * double(S);
    const double cy = rng.Uniform() * double(S), cx = rng.Uniform() * double(S);
    const int64_t y0 = std::clamp<int64_t>(int64_t(std::lround(cy - side / 2)), 0, S),
                  y1 = std::clamp<int64_t>(int64_t(std::lround(cy + side / 2)), 0, S),
                  x0 = std::clamp<int64_t>(int64_t(std::lround(cx - side / 2)), 0, S),
                  x1 = std::clamp<int64_t>(int64_t(std::lround(cx + side / 2)), 0, S);
    if (y1 <= y0 || x1 <= x0) continue;
    for (int64_t ch = 0; ch < CH; ++ch)
      for (int64_t y = y0; y < y1; ++y)
        std::copy(unmixed_.begin() + partner * per + (ch * S + y) * S + x0,
                  unmixed_.begin() + partner * per + (ch * S + y) * S + x1, pixels + b * per + (ch * S + y) * S + x0);
    lambda[size_t(b)] = float(1.0 - double((y1 - y0) * (x1 - x0)) / double(S * S));
  }
  m_->SetMixedTargets(std::move(second), std::move(lambda));
}

Result<double> VitTrainer::Step() {
  if (step_ >= total_) return Error("the run has done its " + std::to_string(total_) + " steps");
  const double t0 = base::NowSeconds();
  const int64_t B = o_.batch, epoch = step_ / spe_, within = step_ % spe_;
  if (order_epoch_ != epoch) {  // the epoch's order from (seed, epoch) alone
    order_.resize(size_t(n_));
    std::iota(order_.begin(), order_.end(), 0);
    base::Rng rng(o_.seed * 0x9E3779B97F4A7C15ull + uint64_t(epoch) + 1);
    for (int64_t i = n_ - 1; i > 0; --i) std::swap(order_[size_t(i)], order_[size_t(rng.Below(uint64_t(i + 1)))]);
    order_epoch_ = epoch;
  }
  const VitConfig& c = m_->config();
  idx_.assign(order_.begin() + within * B, order_.begin() + (within + 1) * B);
  pixels_.resize(size_t(B * c.channels * c.image * c.image));
  T81_RETURN_IF_ERROR(data::Preprocess(pixels_.data(), *train_, idx_.data(), B, proc_, c.channels));
  Augment(pixels_.data(), B);
  labels_.resize(size_t(B));
  for (int64_t b = 0; b < B; ++b) labels_[size_t(b)] = train_->labels[size_t(idx_[size_t(b)])];
  CutMix(pixels_.data(), B);
  m_->SetQatLambda(lambda());
  if (o_.drop_path > 0) {  // block l drops each branch of each sample with p = drop_path · l / (L − 1)
    const int64_t L = c.L;
    std::vector<float> keep(size_t(L * 2 * B));
    base::Rng rng(o_.seed * 0xA24BAED4963EE407ull + uint64_t(step_) * 0x9FB21C651E98DF25ull + 11);
    for (int64_t l = 0; l < L; ++l) {
      const double p = L > 1 ? o_.drop_path * double(l) / double(L - 1) : o_.drop_path;
      for (int64_t i = 0; i < 2 * B; ++i) keep[size_t(l * 2 * B + i)] = rng.Uniform() < p ? 0.0f : float(1.0 / (1.0 - p));
    }
    m_->SetDropPath(std::move(keep));
  }
  T81_ASSIGN_OR_RETURN(const double loss, m_->Forward(pixels_.data(), labels_.data(), B));
  if (!std::isfinite(loss))
    return Error("training diverged at step " + std::to_string(step_ + 1) + " (loss " + std::to_string(loss) + "); lower --lr");
  m_->ZeroGrad();
  T81_RETURN_IF_ERROR(m_->Backward());
  if (o_.grad_clip > 0) m_->ClipGradNorm(o_.grad_clip);
  T81_RETURN_IF_ERROR(m_->AdamWStep(VitLearningRate(o_, step_, total_), o_.beta1, o_.beta2, o_.eps, o_.weight_decay));
  // The average's decay ramps up, (1 + t) / (10 + t), so the first steps' weights fade out fast.
  if (o_.ema > 0) m_->arena().UpdateEma(std::min(o_.ema, double(step_ + 1) / double(step_ + 10)));
  ++step_;
  images_ += B;
  elapsed_ += base::NowSeconds() - t0;
  return loss;
}

Result<VitEval> VitTrainer::Evaluate(const data::ImageSet& set, int64_t max_images) {
  m_->SetQatLambda(o_.qat && o_.lambda_warmup > 0
                       ? float(std::min(1.0, double(std::max<int64_t>(1, step_)) / double(o_.lambda_warmup)))
                       : 1.0f);
  T81_ASSIGN_OR_RETURN(VitEval e, EvaluateVit(m_, set, proc_, o_.batch, max_images));
  elapsed_ += e.seconds;
  return e;
}

std::string VitTrainer::Fingerprint() const {
  const VitConfig& c = m_->config();
  nlohmann::json j = {{"arch", "vit"}, {"params", m_->num_params()}, {"image", c.image}, {"patch", c.patch},
                      {"epochs", o_.epochs}, {"max_steps", o_.max_steps}, {"batch", o_.batch}, {"warmup", o_.warmup},
                      {"lr", o_.lr}, {"min_lr", o_.min_lr}, {"weight_decay", o_.weight_decay},
                      {"grad_clip", o_.grad_clip}, {"beta1", o_.beta1}, {"beta2", o_.beta2}, {"eps", o_.eps},
                      {"seed", o_.seed}, {"shift", o_.shift}, {"flip", o_.flip}, {"qat", o_.qat},
                      {"dataset", train_->name}, {"train_images", n_}};
  // Absent: 0 (older state files).
  if (o_.label_smoothing != 0) j["label_smoothing"] = o_.label_smoothing;
  if (o_.erase != 0) j["erase"] = o_.erase;
  if (o_.ema != 0) j["ema"] = o_.ema;
  if (o_.drop_path != 0) j["drop_path"] = o_.drop_path;
  if (o_.cutmix != 0) j["cutmix"] = o_.cutmix;
  if (o_.bf16) j["matmul"] = "bf16";
  if (o_.qat) {
    j["threshold"] = o_.ternary.threshold;
    j["granularity"] = quant::GranularityName(o_.ternary.granularity);
    j["lambda_warmup"] = o_.lambda_warmup;
  }
  return j.dump();
}

Status VitTrainer::SaveState(const std::string& path) const {
  return SaveTrainState(path, m_->arena(), Fingerprint(), {step_, images_, elapsed_});
}

Status VitTrainer::LoadState(const std::string& path) {
  TrainCounters c;
  T81_RETURN_IF_ERROR(LoadTrainState(path, m_->arena(), Fingerprint(), total_, &c));
  step_ = c.step;
  images_ = c.items;
  elapsed_ = c.elapsed_s;
  return OkStatus();
}

}  // namespace t81::models
