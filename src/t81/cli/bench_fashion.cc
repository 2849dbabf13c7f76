// t81 bench fashion-mnist: the seed's benchmark 1. FP32 training, PTQ (ternarize the trained
// weights, run them packed) and QAT (fine-tune from the FP32 weights with fake-quant forward and
// straight-through backward, then run packed), all evaluated on the 10,000-image test split.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include <unistd.h>

#include "t81/base/rng.h"
#include "t81/base/threads.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/run_info.h"
#include "t81/data/idx.h"
#include "t81/kernels/kernels.h"
#include "t81/models/classifier.h"

namespace t81::cli {
namespace {

struct FashionFlags {
  std::string data_dir = data::kFashionMnistDir;
  int64_t batch_size = 128;
  int fp32_epochs = 3;
  int qat_epochs = 3;
  float threshold = quant::kDefaultThreshold;
  std::string device = "cpu";
  std::string output = "benchmarks/quantization_runs.csv";
  uint64_t seed = 0;
  float lr = -1.0f;      // default: per model (linear 0.03, mlp 0.1)
  float qat_lr = 0.01f;
  float momentum = 0.9f;
  std::string model = "linear";
  std::string granularity = "block";
  std::string format = "tq2_0";
  std::string activations = "auto";
  int threads = 0;  // 0: all cores
  int64_t train_limit = 0;  // 0: all 60,000 images
};

struct ModeRow {
  std::string mode;
  double accuracy, loss, latency_s;
  int64_t bytes;
  double train_s;
};

// Mean per-batch forward time over the test set's full batches after 3 warm-up batches.
template <typename Model>
double MeasureLatency(Model& model, const data::Dataset& test, int64_t batch) {
  std::vector<float> logits(size_t(batch * test.classes));
  const int64_t full = test.n / batch;
  if (full == 0) return 0.0;
  for (int64_t i = 0; i < std::min<int64_t>(3, full); ++i)
    model.Forward(logits.data(), test.x.data() + i * batch * test.dim, batch);
  double total = 0;
  for (int64_t i = 0; i < full; ++i) {
    const double t0 = base::NowSeconds();
    model.Forward(logits.data(), test.x.data() + i * batch * test.dim, batch);
    total += base::NowSeconds() - t0;
  }
  return total / double(full);
}

// Trains for `epochs` passes over the first n images of train, printing progress to stderr (on a
// terminal the line updates in place; in a log, one line per epoch).
double Train(models::Classifier& model, const data::Dataset& train, int64_t n, int64_t batch, int epochs,
             const models::SgdConfig& opt, const quant::TernaryOptions* qat, base::Rng& rng, const char* label) {
  const bool tty = isatty(2);
  return models::TrainClassifier(
      model, train.x.data(), train.y.data(), n, train.dim, batch, epochs, opt, qat, rng,
      [tty, label](const models::TrainProgress& p) {
        const bool last = p.step == p.steps;
        if (!(tty && p.step % 50 == 0) && !last) return;
        std::fprintf(stderr, "%s[%s] epoch %d/%d step %lld/%lld loss %.4f  %.1fs elapsed, ETA %.1fs   %s", tty ? "\r" : "",
                     label, p.epoch, p.epochs, (long long)p.step, (long long)p.steps, p.mean_loss, p.elapsed_s, p.eta_s,
                     last ? "\n" : "");
      });
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

Status RunFashion(const FashionFlags& f) {
  if (f.batch_size <= 0) return Error("--batch-size must be positive (got " + std::to_string(f.batch_size) + ")");
  if (f.fp32_epochs <= 0) return Error("--fp32-epochs must be positive (got " + std::to_string(f.fp32_epochs) + ")");
  if (f.qat_epochs <= 0) return Error("--qat-epochs must be positive (got " + std::to_string(f.qat_epochs) + ")");
  if (!(f.threshold > 0) || !std::isfinite(f.threshold))
    return Error("--threshold must be positive (got " + Fmt("%g", f.threshold) + ")");
  if (f.lr != -1.0f && !(f.lr > 0)) return Error("--lr must be positive");
  if (!(f.qat_lr > 0)) return Error("--qat-lr must be positive");
  if (f.threads < 0) return Error("--threads must be positive");
  if (f.device == "cuda") return Error("--device cuda: this build of t81 has no CUDA support (use --device cpu)");
  if (f.device != "cpu") return Error("--device '" + f.device + "' is not known (expected cpu or cuda)");
  T81_ASSIGN_OR_RETURN(models::ClassifierConfig cfg, models::ClassifierPreset(f.model, 784, 10));
  quant::TernaryOptions qc;
  T81_ASSIGN_OR_RETURN(qc.granularity, quant::ParseGranularity(f.granularity));
  T81_ASSIGN_OR_RETURN(qc.format, quant::ParseTqFormat(f.format));
  qc.threshold = f.threshold;
  T81_ASSIGN_OR_RETURN(nn::ActPath act, nn::ParseActPath(f.activations));

  const int threads = f.threads > 0 ? f.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  base::SetNumThreads(threads);
  const kernels::KernelTable& kt = kernels::Active();

  const double t_load = base::NowSeconds();
  T81_ASSIGN_OR_RETURN(data::Dataset train, data::LoadFashionMnist(f.data_dir, "train"));
  T81_ASSIGN_OR_RETURN(data::Dataset test, data::LoadFashionMnist(f.data_dir, "t10k"));
  const int64_t n_train = f.train_limit > 0 ? std::min(f.train_limit, train.n) : train.n;
  std::fprintf(stderr, "loaded %lld train / %lld test images from %s in %.2fs; model %s, %d threads, kernels %s\n",
               (long long)n_train, (long long)test.n, f.data_dir.c_str(), base::NowSeconds() - t_load,
               f.model.c_str(), threads, kernels::IsaName(kt.isa));

  base::Rng rng(f.seed);
  models::Classifier model(cfg, f.seed);
  const float lr = f.lr > 0 ? f.lr : (f.model == "mlp" ? 0.1f : 0.03f);
  models::SgdConfig opt{lr, f.momentum};
  std::vector<ModeRow> rows;

  const double fp32_s = Train(model, train, n_train, f.batch_size, f.fp32_epochs, opt, nullptr, rng, "fp32");
  {
    const auto ev = models::Evaluate(model, test.x.data(), test.y.data(), test.n, test.dim, test.classes, f.batch_size);
    rows.push_back({"fp32", ev.accuracy, ev.loss, MeasureLatency(model, test, f.batch_size), model.Fp32Bytes(), fp32_s});
  }
  {
    const double t0 = base::NowSeconds();
    models::TernaryClassifier ptq(model, qc, act, kt);
    const double pack_s = base::NowSeconds() - t0;
    const auto ev = models::Evaluate(ptq, test.x.data(), test.y.data(), test.n, test.dim, test.classes, f.batch_size);
    rows.push_back({"ptq", ev.accuracy, ev.loss, MeasureLatency(ptq, test, f.batch_size), ptq.Bytes(), pack_s});
  }
  {
    models::SgdConfig qopt{f.qat_lr, f.momentum};
    const double qat_s = Train(model, train, n_train, f.batch_size, f.qat_epochs, qopt, &qc, rng, "qat");
    models::TernaryClassifier qat(model, qc, act, kt);
    const auto ev = models::Evaluate(qat, test.x.data(), test.y.data(), test.n, test.dim, test.classes, f.batch_size);
    rows.push_back({"qat", ev.accuracy, ev.loss, MeasureLatency(qat, test, f.batch_size), qat.Bytes(), qat_s});
  }

  const std::string header =
      "mode,accuracy,loss,latency_s,bytes,model,threshold,granularity,format,activations,seed,"
      "fp32_epochs,qat_epochs,batch_size,lr,train_s,threads,isa,timestamp,git_revision,cpu_model";
  std::vector<std::string> lines;
  const std::string ts = Timestamp(), run_tail = "," + CsvField(GitRevision()) + "," + CsvField(CpuModel());
  for (const ModeRow& r : rows) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%s,%.6f,%.6f,%.9f,%lld,%s,%g,%s,%s,%s,%llu,%d,%d,%lld,%g,%.3f,%d,%s,%s",
                  r.mode.c_str(), r.accuracy, r.loss, r.latency_s, (long long)r.bytes, f.model.c_str(),
                  f.threshold, f.granularity.c_str(), f.format.c_str(),
                  r.mode == "fp32" ? "f32" : nn::ActPathName(act), (unsigned long long)f.seed,
                  f.fp32_epochs, f.qat_epochs, (long long)f.batch_size, double(r.mode == "qat" ? f.qat_lr : lr), r.train_s, threads,
                  r.mode == "fp32" ? "openblas" : kernels::IsaName(kt.isa), ts.c_str());
    lines.push_back(buf + run_tail);
  }
  T81_RETURN_IF_ERROR(AppendCsv(f.output, header, lines));

  std::printf("Benchmark summary (accuracy, latency, storage): model %s, threshold %g, %s scales, %s\n",
              f.model.c_str(), f.threshold, f.granularity.c_str(), f.format.c_str());
  std::printf("%-5s %9s %9s %13s %10s %11s %12s\n", "mode", "accuracy", "loss", "latency_s", "bytes",
              "size_ratio", "speed_ratio");
  for (const ModeRow& r : rows) {
    std::printf("%-5s %9.4f %9.4f %13.6f %10lld %10.2fx %11.2fx\n", r.mode.c_str(), r.accuracy, r.loss,
                r.latency_s, (long long)r.bytes, double(rows[0].bytes) / double(r.bytes),
                rows[0].latency_s / r.latency_s);
  }
  std::printf("(size_ratio and speed_ratio are fp32 / mode; latency = mean per batch of %lld, %d threads)\n",
              (long long)f.batch_size, threads);
  std::printf("appended 3 rows to %s\n", f.output.c_str());
  return OkStatus();
}

}  // namespace

void AddBenchFashion(CLI::App& bench, Runner* run) {
  auto flags = std::make_shared<FashionFlags>();
  CLI::App* c = bench.add_subcommand("fashion-mnist", "benchmark 1: Fashion-MNIST FP32 / PTQ / QAT");
  c->add_option("--data-dir", flags->data_dir, "folder with the Fashion-MNIST .gz files")->capture_default_str();
  c->add_option("--batch-size", flags->batch_size, "train and eval batch size")->capture_default_str();
  c->add_option("--fp32-epochs", flags->fp32_epochs, "FP32 training epochs")->capture_default_str();
  c->add_option("--qat-epochs", flags->qat_epochs, "QAT fine-tuning epochs")->capture_default_str();
  c->add_option("--threshold", flags->threshold, "ternary threshold: Δ = threshold · mean|w|")->capture_default_str();
  c->add_option("--device", flags->device, "cpu (cuda: not in this build)")->capture_default_str();
  c->add_option("--output", flags->output, "CSV to append to")->capture_default_str();
  c->add_option("--seed", flags->seed, "seed for init and shuffling")->capture_default_str();
  c->add_option("--lr", flags->lr, "FP32 SGD learning rate, cosine-decayed (default: linear 0.03, mlp 0.1)");
  c->add_option("--qat-lr", flags->qat_lr, "QAT SGD learning rate, cosine-decayed")->capture_default_str();
  c->add_option("--momentum", flags->momentum, "SGD momentum")->capture_default_str();
  c->add_option("--model", flags->model, "linear | mlp")->capture_default_str();
  c->add_option("--granularity", flags->granularity, "tensor | row | block")->capture_default_str();
  c->add_option("--format", flags->format, "tq2_0 | tq1_0")->capture_default_str();
  c->add_option("--activations", flags->activations, "auto | int8 | f32 (ternary kernel activation path; auto: int8 for layers with >= 64 outputs)")->capture_default_str();
  c->add_option("--threads", flags->threads, "threads (default: all cores)");
  c->add_option("--train-limit", flags->train_limit, "use only the first N training images (0: all)");
  c->callback([flags, run] { *run = [flags] { return RunFashion(*flags); }; });
}

}  // namespace t81::cli
