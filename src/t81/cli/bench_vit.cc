// t81 bench vit: the seed's benchmark 3. A ViT image classifier (HF folder or cache id) in float
// (baseline), ternarized after training (PTQ) and fine-tuned ternary-aware (QAT), each with its
// size, accuracy / loss on the test images and images/s; PTQ and QAT run on the packed kernels.
// A checkpoint whose head does not match the data set's classes gets a fresh head (the seed's
// ignore_mismatched_sizes), which --fit-head-steps trains first so the baseline is not at chance.
// With --torch-script, PyTorch's float forward of the same shape runs in the same command.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"
#include "t81/base/threads.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/run_info.h"
#include "t81/cli/vit_common.h"
#include "t81/io/hf_cache.h"
#include "t81/models/vit_train.h"

namespace t81::cli {
namespace {

struct BenchVitFlags {
  std::string model_id = "google/vit-base-patch16-224", device = "cpu", dataset = "fashion-mnist", data_dir,
              output_dir = "vit-qat", json_output, granularity = "row", activations = "i8", torch_script,
              python = "/usr/bin/python3";
  double threshold = 0.45;  // quant::kDefaultThreshold, as the seed prints it
  int64_t batch_size = 32, max_train_samples = 2048, max_eval_samples = 512, eval_batches = 16,
          max_eval_batches = -1, qat_steps = 50, fit_head_steps = 0;
  double learning_rate = 5e-5, head_lr = 1e-3;
  bool run_qat = false, skip_throughput = false;
  int threads = 0;
  uint64_t seed = 0;
};

struct Stage {
  int64_t size_bytes = 0;
  double accuracy = 0, loss = 0, images_per_s = 0, ips_min = 0, ips_max = 0;
  int64_t eval_images = 0;
  std::vector<double> batch_s;
};

double Gib(int64_t b) { return double(b) / double(int64_t(1) << 30); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Accuracy / loss over at most `batches` batches of the eval images (0: skipped, reported 0), then
// images/s: one warm-up batch, then `max(1, batches)` batches timed one by one (preprocessing
// included, as the seed's collation is); images/s = batch / median batch time, range from the
// fastest and slowest batch.
Status Measure(Stage* s, models::Vit* m, const data::ImageSet& eval, const data::ImageProcessor& p,
               const BenchVitFlags& f, int64_t batches) {
  if (batches > 0) {
    T81_ASSIGN_OR_RETURN(const models::VitEval e,
                         models::EvaluateVit(m, eval, p, f.batch_size, std::min(eval.n, batches * f.batch_size)));
    s->accuracy = e.accuracy;
    s->loss = e.loss;
    s->eval_images = e.images;
  }
  if (f.skip_throughput) return OkStatus();
  const int64_t B = std::min(f.batch_size, eval.n), timed = std::max<int64_t>(1, batches);
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i <= timed; ++i) {
    const int64_t first = (i * B) % std::max<int64_t>(1, eval.n - B + 1);
    const double t0 = base::NowSeconds();
    T81_RETURN_IF_ERROR(models::VitInputs(&pixels, &labels, *m, eval, p, first, B));
    T81_RETURN_IF_ERROR(m->Forward(pixels.data(), nullptr, B, models::Vit::Pass::kInfer).status());
    if (i > 0) s->batch_s.push_back(base::NowSeconds() - t0);  // batch 0 warms up
  }
  s->images_per_s = double(B) / Median(s->batch_s);
  s->ips_min = double(B) / *std::max_element(s->batch_s.begin(), s->batch_s.end());
  s->ips_max = double(B) / *std::min_element(s->batch_s.begin(), s->batch_s.end());
  return OkStatus();
}

nlohmann::ordered_json SeedStage(const Stage& s) {
  nlohmann::ordered_json j;
  j["size_gib"] = Gib(s.size_bytes);
  j["accuracy"] = s.accuracy;
  j["loss"] = s.loss;
  j["images_per_s"] = s.images_per_s;
  return j;
}

nlohmann::json OurStage(const Stage& s) {
  return {{"size_bytes", s.size_bytes},       {"eval_images", s.eval_images}, {"images_per_s_min", s.ips_min},
          {"images_per_s_max", s.ips_max},     {"batch_s", s.batch_s}};
}

void PrintStage(const char* name, const Stage& s) {
  std::printf("%s size GiB: %.2f\n", name, Gib(s.size_bytes));
  std::printf("%s acc/loss: %.4f/%.4f\n", name, s.accuracy, s.loss);
  std::printf("%s images/s: %.2f\n", name, s.images_per_s);
}

// PyTorch's float forward of the same shape (bench/vit_torch.py): one JSON object on stdout.
Result<nlohmann::json> RunTorch(const BenchVitFlags& f, const models::VitConfig& c, int64_t batches) {
  char cmd[2048];
  std::snprintf(cmd, sizeof cmd,
                "%s %s --image-size %lld --patch %lld --channels %lld --n-layer %lld --n-embd %lld --n-head %lld "
                "--n-ff %lld --labels %lld --batch %lld --batches %lld --threads %d --seed %llu",
                f.python.c_str(), f.torch_script.c_str(), (long long)c.image, (long long)c.patch, (long long)c.channels,
                (long long)c.L, (long long)c.C, (long long)c.NH, (long long)c.FF, (long long)c.labels,
                (long long)f.batch_size, (long long)std::max<int64_t>(1, batches), base::NumThreads(),
                (unsigned long long)f.seed);
  return RunJsonCommand(cmd, f.torch_script + " (PyTorch baseline; is python3-torch installed for " + f.python + "?)",
                        {"images_per_s"});
}

Status RunBenchVit(BenchVitFlags f) {
  if (f.device != "cpu") return Error("--device: t81 runs on the CPU ('cpu'), not '" + f.device + "'");
  T81_RETURN_IF_ERROR(CheckImageDataset(f.dataset));
  if (f.batch_size <= 0) return Error("--batch-size must be positive");
  if (f.max_train_samples < 0 || f.max_eval_samples < 0 || f.qat_steps < 0 || f.fit_head_steps < 0)
    return Error("--max-train-samples, --max-eval-samples, --qat-steps and --fit-head-steps must not be negative");
  if (f.threads > 0) base::SetNumThreads(f.threads);
  nn::ActPath act;
  if (f.activations == "i8") act = nn::ActPath::kI8;
  else if (f.activations == "f32") act = nn::ActPath::kF32;
  else return Error("--activations: i8 or f32");
  quant::TernaryOptions topt;
  topt.threshold = float(f.threshold);
  T81_ASSIGN_OR_RETURN(topt.granularity, quant::ParseGranularity(f.granularity));
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(topt));
  T81_ASSIGN_OR_RETURN(const std::string dir, io::ResolveModelPath(f.model_id));
  T81_ASSIGN_OR_RETURN(std::unique_ptr<models::Vit> m, models::Vit::Load(dir));
  T81_ASSIGN_OR_RETURN(const data::ImageProcessor proc,
                       data::LoadImageProcessor(dir, m->config().image, m->config().channels));
  T81_ASSIGN_OR_RETURN(data::ImageSet test, data::LoadImageSet(f.dataset, f.data_dir, "test"));
  test.KeepFirst(f.max_eval_samples);  // 0: all
  const bool need_train = f.run_qat || f.fit_head_steps > 0;
  data::ImageSet train;
  if (need_train) {
    T81_ASSIGN_OR_RETURN(train, data::LoadImageSet(f.dataset, f.data_dir, "train"));
  }
  const int64_t batches = f.max_eval_batches >= 0 ? f.max_eval_batches : f.eval_batches;
  bool fresh_head = false;
  double head_loss = 0;
  if (m->config().labels != test.classes) {
    std::fprintf(stderr, "[bench vit] %s has %lld labels, %s %lld: a fresh classifier head (ignore_mismatched_sizes)\n",
                 dir.c_str(), (long long)m->config().labels, f.dataset.c_str(), (long long)test.classes);
    T81_RETURN_IF_ERROR(m->ResetHead(test.classes, f.seed, ImageLabelNames(f.dataset)));
    fresh_head = true;
  }
  if (f.fit_head_steps > 0) {
    models::HeadFitOptions h{.steps = f.fit_head_steps, .batch = f.batch_size, .max_train = f.max_train_samples,
                             .lr = f.head_lr, .seed = f.seed};
    std::fprintf(stderr, "[bench vit] fitting the classifier head: %lld steps of %lld images\n", (long long)h.steps,
                 (long long)h.batch);
    T81_ASSIGN_OR_RETURN(head_loss, models::FitVitHead(m.get(), train, proc, h));
  }
  const models::VitConfig c = m->config();
  const int64_t params = m->num_params(), float_bytes = 4 * params;
  const int64_t linear_floats = m->LinearBytes() / 4;  // the block linears' weights, float now
  std::fprintf(stderr, "[bench vit] %s: ViT %lldx%lld patch %lld, %lld layers, width %lld: %lld parameters; %s, %lld eval images; %d threads\n",
               dir.c_str(), (long long)c.image, (long long)c.image, (long long)c.patch, (long long)c.L, (long long)c.C,
               (long long)params, f.dataset.c_str(), (long long)test.n, base::NumThreads());
  PrintBlasCoreNote("bench vit");

  Stage base_s, ptq_s, qat_s;
  base_s.size_bytes = float_bytes;
  std::fprintf(stderr, "[bench vit] baseline (float)\n");
  T81_RETURN_IF_ERROR(Measure(&base_s, m.get(), test, proc, f, batches));
  std::fprintf(stderr, "[bench vit] PTQ (ternary block linears, packed, %s activations)\n", f.activations.c_str());
  T81_RETURN_IF_ERROR(m->SetLinearMode(nn::LinearMode::kPacked, topt, act));
  ptq_s.size_bytes = float_bytes - 4 * linear_floats + m->LinearBytes();
  T81_RETURN_IF_ERROR(Measure(&ptq_s, m.get(), test, proc, f, batches));
  if (f.run_qat) {
    models::VitTrainOptions o;
    o.batch = std::min(f.batch_size, train.n);
    o.epochs = 1 + f.qat_steps * o.batch / std::max<int64_t>(1, f.max_train_samples ? std::min(f.max_train_samples, train.n) : train.n);
    o.max_steps = f.qat_steps;
    o.max_train = f.max_train_samples;
    o.lr = f.learning_rate;
    o.min_lr = f.learning_rate / 10;
    o.warmup = 0;
    o.weight_decay = 0;
    o.shift = 0;
    o.flip = false;
    o.seed = f.seed;
    o.qat = true;
    o.ternary = topt;
    o.lambda_warmup = std::max<int64_t>(1, f.qat_steps / 2);
    if (f.qat_steps > 0) {
      T81_ASSIGN_OR_RETURN(models::VitTrainer tr, models::VitTrainer::Create(m.get(), o, &train, proc));
      while (tr.step() < tr.total_steps()) {
        T81_ASSIGN_OR_RETURN(const double loss, tr.Step());
        if (tr.step() % 10 == 0 || tr.step() == tr.total_steps())
          std::fprintf(stderr, "[bench vit] QAT step %lld/%lld loss %.4f lambda %.2f\n", (long long)tr.step(),
                       (long long)tr.total_steps(), loss, double(tr.lambda()));
      }
      T81_RETURN_IF_ERROR(m->SetLinearMode(nn::LinearMode::kFloat));
      T81_RETURN_IF_ERROR(m->Save(f.output_dir));
      T81_RETURN_IF_ERROR(base::WriteFileAtomic(f.output_dir + "/preprocessor_config.json", data::ImageProcessorJson(proc)));
    }
    std::fprintf(stderr, "[bench vit] QAT model, packed\n");
    T81_RETURN_IF_ERROR(m->SetLinearMode(nn::LinearMode::kPacked, topt, act));
    qat_s.size_bytes = float_bytes - 4 * linear_floats + m->LinearBytes();
    T81_RETURN_IF_ERROR(Measure(&qat_s, m.get(), test, proc, f, batches));
  }
  nlohmann::json torch_j = nullptr;
  if (!f.torch_script.empty() && !f.skip_throughput) {
    T81_ASSIGN_OR_RETURN(torch_j, RunTorch(f, c, batches));
  }

  std::printf("\nSummary\n");
  std::printf("Model: %s\n", f.model_id.c_str());
  PrintStage("Baseline", base_s);
  PrintStage("PTQ", ptq_s);
  if (f.run_qat) PrintStage("QAT", qat_s);
  if (!f.skip_throughput) {
    std::printf("(images/s: median batch of %lld, %d threads; packed / float: %.2fx", (long long)f.batch_size,
                base::NumThreads(), ptq_s.images_per_s / base_s.images_per_s);
    if (!torch_j.is_null())
      std::printf("; t81 float / PyTorch float: %.2fx (PyTorch %.2f images/s)",
                  base_s.images_per_s / torch_j["images_per_s"].get<double>(), torch_j["images_per_s"].get<double>());
    std::printf(")\n");
  }
  if (!f.json_output.empty()) {
    nlohmann::ordered_json j;
    j["model_id"] = f.model_id;
    j["dataset"] = f.dataset;
    j["device"] = f.device;
    j["threshold"] = f.threshold;
    j["baseline"] = SeedStage(base_s);
    j["ptq"] = SeedStage(ptq_s);
    j["qat"] = f.run_qat ? SeedStage(qat_s) : nlohmann::ordered_json(nullptr);
    nlohmann::json t81 = {{"model_dir", dir}, {"params", params}, {"image_size", c.image}, {"patch", c.patch},
                          {"layers", c.L}, {"width", c.C}, {"batch_size", f.batch_size}, {"eval_batches", batches},
                          {"granularity", f.granularity}, {"activations", f.activations},
                          {"fresh_head", fresh_head}, {"fit_head_steps", f.fit_head_steps},
                          {"fit_head_loss", head_loss}, {"qat_steps", f.run_qat ? f.qat_steps : 0},
                          {"learning_rate", f.learning_rate}, {"baseline", OurStage(base_s)}, {"ptq", OurStage(ptq_s)},
                          {"qat", f.run_qat ? OurStage(qat_s) : nlohmann::json(nullptr)}, {"pytorch", torch_j}};
    if (!f.skip_throughput) t81["speedup_packed_vs_float"] = ptq_s.images_per_s / base_s.images_per_s;
    if (!torch_j.is_null()) t81["speedup_float_vs_pytorch"] = base_s.images_per_s / torch_j["images_per_s"].get<double>();
    AddRunInfo(j, base::NumThreads(), ActiveIsa());
    j["t81"] = t81;
    T81_RETURN_IF_ERROR(WriteFileAtomic(f.json_output, j.dump(2) + "\n"));
  }
  return OkStatus();
}

}  // namespace

void AddBenchVit(CLI::App& bench, Runner* run) {
  auto f = std::make_shared<BenchVitFlags>();
  CLI::App* c = bench.add_subcommand("vit", "benchmark 3: ViT float / PTQ / QAT size, accuracy and images/s");
  c->add_option("--model-id", f->model_id, "ViT model folder or HF-cache id")->capture_default_str();
  c->add_option("--device", f->device, "cpu (the only device)")->capture_default_str();
  c->add_option("--dataset", f->dataset, "fashion-mnist, cifar10 or cifar100")->capture_default_str();
  c->add_option("--data-dir", f->data_dir, "the data set's folder (default: the Debian package's, for fashion-mnist)");
  c->add_option("--threshold", f->threshold, "the quantizer's threshold (PTQ, QAT)")->capture_default_str();
  c->add_option("--granularity", f->granularity, "scale group: tensor, row or block")->capture_default_str();
  c->add_option("--activations", f->activations, "packed kernels' activations: i8 or f32")->capture_default_str();
  c->add_option("--batch-size", f->batch_size, "images per batch (evaluation, throughput, QAT)")->capture_default_str();
  c->add_option("--max-train-samples", f->max_train_samples, "QAT / head fitting use the first N training images (0: all)")
      ->capture_default_str();
  c->add_option("--max-eval-samples", f->max_eval_samples, "evaluate on the first N test images (0: all)")
      ->capture_default_str();
  c->add_option("--eval-batches", f->eval_batches, "batches for accuracy and for images/s")->capture_default_str();
  c->add_option("--max-eval-batches", f->max_eval_batches, "overrides --eval-batches; 0 skips accuracy/loss (reported 0)");
  c->add_flag("--run-qat", f->run_qat, "fine-tune ternary-aware (QAT) and measure it packed");
  c->add_option("--qat-steps", f->qat_steps, "QAT optimizer steps")->capture_default_str();
  c->add_option("--learning-rate", f->learning_rate, "QAT learning rate")->capture_default_str();
  c->add_option("--fit-head-steps", f->fit_head_steps, "first train the classifier head alone for N steps (float)")
      ->capture_default_str();
  c->add_option("--head-lr", f->head_lr, "learning rate of --fit-head-steps")->capture_default_str();
  c->add_flag("--skip-throughput", f->skip_throughput, "do not time images/s (reported 0)");
  c->add_option("--output-dir", f->output_dir, "where the QAT model is saved (HF folder)")->capture_default_str();
  c->add_option("--json-output", f->json_output, "write the results as JSON (the seed's keys first)");
  c->add_option("--torch-script", f->torch_script, "also time PyTorch's float forward of this shape (bench/vit_torch.py)");
  c->add_option("--python", f->python, "interpreter for --torch-script")->capture_default_str();
  c->add_option("--threads", f->threads, "threads (default: all cores)");
  c->add_option("--seed", f->seed, "seed for a fresh head, head fitting and QAT batches")->capture_default_str();
  c->callback([f, run] { *run = [f] { return RunBenchVit(*f); }; });
}

}  // namespace t81::cli
