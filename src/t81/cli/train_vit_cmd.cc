// t81 train vit: trains a Vision Transformer classifier (HF ViTForImageClassification) on
// Fashion-MNIST (default), CIFAR-10 or CIFAR-100, in float or ternary-aware (QAT from a float
// model, with the λ warm-up), and writes a Hugging Face folder (config.json, model.safetensors,
// preprocessor_config.json) plus train_log.csv; --resume continues a stopped run bit for bit.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"
#include "t81/base/threads.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/run_info.h"
#include "t81/cli/train_flags.h"
#include "t81/cli/vit_common.h"
#include "t81/io/hf_cache.h"
#include "t81/models/vit_train.h"
#include "t81/nn/layers.h"

namespace t81::cli {
namespace {

constexpr const char* kStateFile = "train_state.safetensors";
constexpr const char* kLogFile = "train_log.csv";
constexpr const char* kLogHeader = "epoch,step,train_loss,test_loss,test_accuracy,lr,elapsed_s";
constexpr const char* kRunFile = "train_run.json";

struct TrainVitFlags {
  std::string dataset = "fashion-mnist", data_dir, out, init_from, granularity = "row", matmul = "auto";
  int64_t image_size = 0, patch = 7, n_layer = 4, n_embd = 256, n_head = 8, n_ff = 0, eval_images = 2000;
  float threshold = quant::kDefaultThreshold;
  bool resume = false, flip = false;
  int threads = 0;
  models::VitTrainOptions o;
  // The default recipe (the main job's cached model): a 3.2 M-parameter ViT (width 256, 4 layers,
  // 8 heads, patch 7: 16 patches + [CLS]), 36 epochs of Fashion-MNIST at 28×28 in batches of 64,
  // label smoothing 0.1, CutMix 0.5, random erasing 0.3 and stochastic depth 0.12 — 24.5
  // minutes on 2 cores with AMX bf16 products (--matmul auto); fp32 products take about 2× as
  // long. Without CutMix the curve stops near 0.895 however long it runs (28 or 36 epochs); with it,
  // 32 epochs gave 0.8997. Without erasing and stochastic depth the model overfits after ~19 epochs;
  // flips (0.887 at 28 epochs) and shifts cost more than they return; patch 4 runs at half the speed
  // for no better curve, a fifth layer trailed (BENCHMARKS.md section 3). A peak learning rate of
  // 2e-3 made the loss climb, 1e-3 trailed.
  TrainVitFlags() {
    o.epochs = 36;
    o.batch = 64;
    o.lr = 7e-4;
    o.min_lr = 1e-5;
    o.warmup = 600;
    o.shift = 0;
    o.label_smoothing = 0.1;
    o.erase = 0.3;
    o.drop_path = 0.12;
    o.cutmix = 0.5;
  }
};

Result<std::unique_ptr<models::Vit>> MakeModel(const TrainVitFlags& f, const data::ImageSet& train) {
  if (!f.init_from.empty()) return models::Vit::Load(f.init_from);
  models::VitConfig c;
  c.C = f.n_embd;
  c.L = f.n_layer;
  c.NH = f.n_head;
  c.FF = f.n_ff ? f.n_ff : 4 * f.n_embd;
  c.image = f.image_size ? f.image_size : train.height;
  c.patch = f.patch;
  c.channels = train.channels;
  c.labels = train.classes;
  if (f.n_ff < 0 || f.image_size < 0) return Error("--n-ff and --image-size must not be negative");
  return models::Vit::Create(c, f.o.seed, ImageLabelNames(f.dataset));
}

Status RunTrainVit(TrainVitFlags f) {
  T81_RETURN_IF_ERROR(CheckImageDataset(f.dataset));
  if (f.eval_images < 0) return Error("--eval-images must not be negative");
  const std::string state = f.out + "/" + kStateFile, log = f.out + "/" + kLogFile;
  if (f.matmul == "bf16" && !nn::Bf16MatmulAvailable())
    return Error("--matmul bf16 needs a CPU with AMX-BF16 (this one has none); use --matmul fp32");
  f.o.bf16 = f.matmul == "bf16" || (f.matmul == "auto" && nn::Bf16MatmulAvailable());
  T81_RETURN_IF_ERROR(StartTrainRun(f, state, kStateFile));
  f.o.flip = f.flip;
  if (!f.init_from.empty()) {
    T81_ASSIGN_OR_RETURN(f.init_from, io::ResolveModelPath(f.init_from));
  }
  T81_ASSIGN_OR_RETURN(const data::ImageSet train, data::LoadImageSet(f.dataset, f.data_dir, "train"));
  T81_ASSIGN_OR_RETURN(const data::ImageSet test, data::LoadImageSet(f.dataset, f.data_dir, "test"));
  std::fprintf(stderr, "[train vit] %s: %lld training images, %lld test images, %lldx%lld, %lld channel(s), %lld classes\n",
               f.dataset.c_str(), (long long)train.n, (long long)test.n, (long long)train.height, (long long)train.width,
               (long long)train.channels, (long long)train.classes);
  T81_ASSIGN_OR_RETURN(auto m, MakeModel(f, train));
  const models::VitConfig& c = m->config();
  data::ImageProcessor proc = TrainingProcessor(train, c.image, c.channels);
  if (!f.init_from.empty()) {
    T81_ASSIGN_OR_RETURN(proc, data::LoadImageProcessor(f.init_from, c.image, c.channels));
    if (c.labels != train.classes) {
      std::fprintf(stderr, "[train vit] %s has %lld labels, %s %lld: a fresh classifier head\n", f.init_from.c_str(),
                   (long long)c.labels, f.dataset.c_str(), (long long)train.classes);
      T81_RETURN_IF_ERROR(m->ResetHead(train.classes, f.o.seed, ImageLabelNames(f.dataset)));
    }
  }
  T81_ASSIGN_OR_RETURN(models::VitTrainer tr, models::VitTrainer::Create(m.get(), f.o, &train, proc));
  if (f.resume) {
    T81_RETURN_IF_ERROR(tr.LoadState(state));
    T81_RETURN_IF_ERROR(TruncateCsvAfter(log, tr.step(), /*column=*/1));
    std::fprintf(stderr, "[train vit] resumed %s at step %lld\n", f.out.c_str(), (long long)tr.step());
  }
  const int64_t total = tr.total_steps(), spe = tr.steps_per_epoch();
  std::fprintf(stderr,
               "[train vit] ViT %lldx%lld patch %lld, %lld layers, width %lld, %lld heads: %lld parameters; %s; "
               "%lld steps (%lld a epoch, batch %lld); %s products; %d threads\n",
               (long long)c.image, (long long)c.image, (long long)c.patch, (long long)c.L, (long long)c.C,
               (long long)c.NH, (long long)m->num_params(), f.o.qat ? "QAT (ternary block linears)" : "float",
               (long long)total, (long long)spe, (long long)f.o.batch, f.o.bf16 ? "bf16 (AMX)" : "fp32",
               base::NumThreads());
  PrintBlasCoreNote("train vit");
  const bool tty = isatty(2);
  double loss_sum = 0;
  int64_t loss_n = 0;
  const int64_t images0 = tr.images();
  const double elapsed0 = tr.elapsed_s();
  while (tr.step() < total) {
    T81_ASSIGN_OR_RETURN(const double loss, tr.Step());
    loss_sum += loss;
    ++loss_n;
    const int64_t s = tr.step();
    const bool epoch_end = s % spe == 0 || s == total;
    if (tty || s % 20 == 0 || epoch_end)
      std::fprintf(stderr, "%s[train vit] epoch %lld step %lld/%lld loss %.4f lr %.2e%s%s %.0f img/s, %s elapsed, ETA %s   %s",
                   tty ? "\r" : "", (long long)((s - 1) / spe + 1), (long long)s, (long long)total, loss,
                   models::VitLearningRate(f.o, s - 1, total), f.o.qat ? " lambda " : "",
                   f.o.qat ? std::to_string(tr.lambda()).substr(0, 4).c_str() : "",
                   double(tr.images() - images0) / std::max(1e-9, tr.elapsed_s() - elapsed0),
                   HumanDuration(tr.elapsed_s()).c_str(), HumanDuration(tr.elapsed_s() / double(s) * double(total - s)).c_str(),
                   tty ? "" : "\n");
    if (!epoch_end) continue;
    tr.SwapAverage();  // with --ema, the average is what is evaluated and saved
    // The run's last evaluation (and so train_run.json's accuracy) is on the whole test split.
    T81_ASSIGN_OR_RETURN(const models::VitEval e, tr.Evaluate(test, s == total ? 0 : f.eval_images));
    if (tty) std::fprintf(stderr, "\n");
    const int64_t epoch = (s - 1) / spe + 1;
    std::fprintf(stderr, "[train vit] epoch %lld: train loss %.4f, test loss %.4f, test accuracy %.4f (%lld images)\n",
                 (long long)epoch, loss_sum / double(loss_n), e.loss, e.accuracy, (long long)e.images);
    char row[512];
    std::snprintf(row, sizeof row, "%lld,%lld,%.6f,%.6f,%.6f,%.6g,%.2f", (long long)epoch, (long long)s,
                  loss_sum / double(loss_n), e.loss, e.accuracy, models::VitLearningRate(f.o, s - 1, total), tr.elapsed_s());
    T81_RETURN_IF_ERROR(m->Save(f.out));
    T81_RETURN_IF_ERROR(base::WriteFileAtomic(f.out + "/preprocessor_config.json", data::ImageProcessorJson(proc)));
    tr.SwapAverage();
    T81_RETURN_IF_ERROR(tr.SaveState(state));
    T81_RETURN_IF_ERROR(AppendCsv(log, kLogHeader, {row}));
    nlohmann::json run_info = {{"log", kLogFile}, {"step", s}, {"steps", total}, {"dataset", f.dataset},
                               {"test_accuracy", e.accuracy}, {"test_images", e.images},
                               {"matmul", f.o.bf16 ? "bf16" : "fp32"}};
    AddRunInfo(run_info, base::NumThreads(), ActiveIsa());
    T81_RETURN_IF_ERROR(base::WriteFileAtomic(f.out + "/" + kRunFile, run_info.dump(2) + "\n"));
    loss_sum = 0;
    loss_n = 0;
  }
  std::printf("trained vit: %lld steps, %lld images, %s; model in %s (log: %s)\n", (long long)tr.step(),
              (long long)tr.images(), HumanDuration(tr.elapsed_s()).c_str(), f.out.c_str(), log.c_str());
  return OkStatus();
}

}  // namespace

void AddTrainVit(CLI::App& train, Runner* run) {
  auto f = std::make_shared<TrainVitFlags>();
  CLI::App* c = train.add_subcommand("vit", "train a ViT image classifier (float or QAT) into an HF folder");
  c->add_option("--dataset", f->dataset, "fashion-mnist, cifar10 or cifar100")->capture_default_str();
  c->add_option("--data-dir", f->data_dir, "the data set's folder (default: the Debian package's, for fashion-mnist)");
  c->add_option("--out", f->out, "model folder to write (config.json, model.safetensors, preprocessor_config.json, train_log.csv)")
      ->required();
  c->add_option("--image-size", f->image_size, "model input size (default: the data set's own)");
  c->add_option("--patch", f->patch, "patch size (divides the image size)")->capture_default_str();
  c->add_option("--n-layer", f->n_layer, "transformer blocks")->capture_default_str();
  c->add_option("--n-embd", f->n_embd, "model width")->capture_default_str();
  c->add_option("--n-head", f->n_head, "attention heads")->capture_default_str();
  c->add_option("--n-ff", f->n_ff, "MLP width (default: 4·n_embd)");
  c->add_option("--epochs", f->o.epochs, "passes over the training images")->capture_default_str();
  c->add_option("--max-steps", f->o.max_steps, "stop after this many steps (0: all epochs)")->capture_default_str();
  c->add_option("--max-train", f->o.max_train, "use the first N training images (0: all)")->capture_default_str();
  c->add_option("--batch", f->o.batch, "images per step")->capture_default_str();
  c->add_option("--shift", f->o.shift, "augmentation: random shift by up to this many pixels (0: none)")->capture_default_str();
  c->add_flag("--flip,!--no-flip", f->flip, "augmentation: random horizontal flips (--no-flip: none, the default)");
  c->add_option("--erase", f->o.erase, "augmentation: probability of random erasing (a rectangle of 2-25 % of the image set to random pixels)")
      ->capture_default_str();
  c->add_option("--drop-path", f->o.drop_path, "stochastic depth: the last block's rate of dropping a branch per image, rising linearly from 0 at the first (0: none)")
      ->capture_default_str();
  c->add_option("--cutmix", f->o.cutmix,
                "CutMix: the probability that a training image gets a box of another image of its batch, the labels mixed by the box's area (0: none)")
      ->capture_default_str();
  c->add_option("--ema", f->o.ema, "decay of an average of the weights kept while training, which is evaluated and saved (0: none; e.g. 0.999)")
      ->capture_default_str();
  c->add_option("--matmul", f->matmul,
                "precision of the linear layers' products: bf16 (AMX tile unit; f32 weights and sums), fp32, or auto "
                "(bf16 where the CPU has AMX-BF16)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  c->add_option("--label-smoothing", f->o.label_smoothing,
                "label smoothing ε of the training loss (train_loss is then the smoothed loss; test_loss stays plain)")
      ->capture_default_str();
  c->add_option("--eval-images", f->eval_images,
                "test images evaluated after each epoch but the last, which evaluates them all (0: all every time)")->capture_default_str();
  AddSharedTrainFlags(c, f.get(), {.weight_decay = "AdamW decay (matrices only)",
                                   .seed = "seed for the initial weights, the image order and the augmentation",
                                   .init_from = "start from this HF ViT folder (e.g. QAT fine-tuning of a float model)"});
  c->callback([f, run] { *run = [f] { return RunTrainVit(*f); }; });
}

}  // namespace t81::cli
