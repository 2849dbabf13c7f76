// End to end: `t81 init --arch vit`, `t81 train vit` (HF folder, log, resume, QAT from a float
// model) and `t81 bench vit` (the seed's summary lines and JSON keys, a fresh head, head fitting),
// on Fashion-MNIST from the Debian package, the training aids (--ema saves the average); bad input
// gets one line and writes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../test_util.h"
#include "t81/io/safetensors.h"
#include "exec.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;
using t81::testing::ExecResult;
using t81::testing::TempDir;

ExecResult Exec(const std::string& args) { return t81::testing::ExecCommand(std::string(T81_BIN) + " " + args); }

std::string TrainArgs(const TempDir& d, const std::string& out) {
  return "train vit --out " + (d / out) +
         " --n-layer 1 --n-embd 32 --n-head 2 --patch 7 --max-train 256 --epochs 2 --batch 64 --eval-images 128 "
         "--warmup 2 --lr 3e-3 --seed 1 --threads 2";
}

nlohmann::ordered_json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::ordered_json::parse(in);
}

TEST(VitCli, TrainWritesAnHfFolderAndResumes) {
  TempDir d("t81_trainvit");
  ExecResult r = Exec(TrainArgs(d, "m"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("epoch 2 step 8/8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ETA"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "preprocessor_config.json", "train_log.csv",
                        "train_state.safetensors", "train_run.json"})
    EXPECT_TRUE(fs::exists(fs::path(d / "m") / f)) << f;
  const std::string log = t81::testing::ReadText(d / "m/train_log.csv");
  EXPECT_EQ(log.rfind("epoch,step,train_loss,test_loss,test_accuracy,lr,elapsed_s\n1,4,", 0), 0u) << log;
  EXPECT_NE(log.find("\n2,8,"), std::string::npos) << log;
  // --eval-images 128 after epoch 1; after the last, the whole test split.
  EXPECT_NE(r.out.find("(128 images)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(10000 images)"), std::string::npos) << r.out;
  EXPECT_EQ(ReadJson(d / "m/train_run.json")["test_images"].get<int64_t>(), 10000);
  auto cfg = ReadJson(d / "m/config.json");
  EXPECT_EQ(cfg["model_type"].get<std::string>(), "vit");
  EXPECT_EQ(cfg["image_size"].get<int64_t>(), 28);
  EXPECT_EQ(cfg["num_channels"].get<int64_t>(), 1);
  EXPECT_EQ(cfg["id2label"]["9"].get<std::string>(), "Ankle boot");
  auto pre = ReadJson(d / "m/preprocessor_config.json");
  EXPECT_EQ(pre["image_processor_type"].get<std::string>(), "ViTImageProcessor");
  EXPECT_NEAR(pre["image_mean"].get<double>(), 0.2860, 1e-6);  // one channel: a bare number, as HF accepts
  ExecResult info = Exec("info " + (d / "m"));
  EXPECT_EQ(info.rc, 0) << info.out;
  EXPECT_NE(info.out.find("architecture vit"), std::string::npos) << info.out;
  // Again into the same folder: --resume needed; --resume of the finished run changes nothing.
  r = Exec(TrainArgs(d, "m"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
  const std::string before = t81::testing::ReadText(d / "m/model.safetensors");
  r = Exec(TrainArgs(d, "m") + " --resume");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(t81::testing::ReadText(d / "m/model.safetensors"), before);
  EXPECT_EQ(t81::testing::ReadText(d / "m/train_log.csv"), log);
  r = Exec(TrainArgs(d, "m") + " --resume --weight-decay 0.2");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("weight_decay"), std::string::npos) << r.out;
  // QAT from the float model, λ rising over 8 steps.
  r = Exec(TrainArgs(d, "q") + " --init-from " + (d / "m") + " --qat --lambda-warmup 8");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("QAT (ternary block linears)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lambda 1.00"), std::string::npos) << r.out;
  // The training aids. --ema does not change the training (the state's weights equal those of the
  // same run without it) but the folder holds the average (another model); a resume must name the
  // same settings.
  const std::string aids = " --erase 0.5 --drop-path 0.2";
  ASSERT_EQ(Exec(TrainArgs(d, "a") + aids).rc, 0);
  r = Exec(TrainArgs(d, "e") + aids + " --ema 0.9");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto params = [&](const std::string& dir) {
    auto f = io::SafeTensorsFile::Open(d / (dir + "/train_state.safetensors"));
    EXPECT_TRUE(f.ok());
    return f.value()->ReadFloat("params").value();
  };
  EXPECT_EQ(params("e"), params("a"));
  EXPECT_TRUE(io::SafeTensorsFile::Open(d / "e/train_state.safetensors").value()->Find("ema"));
  EXPECT_FALSE(io::SafeTensorsFile::Open(d / "a/train_state.safetensors").value()->Find("ema"));
  EXPECT_NE(t81::testing::ReadText(d / "e/model.safetensors"), t81::testing::ReadText(d / "a/model.safetensors"));
  EXPECT_EQ(Exec("info " + (d / "e")).rc, 0);
  r = Exec(TrainArgs(d, "e") + aids + " --resume --ema 0.8");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("ema 0.9 -> 0.8"), std::string::npos) << r.out;
  // --matmul: auto is bf16 exactly where the CPU has AMX-BF16 (train_run.json says which); fp32
  // is then another run, and a resume must name the same precision.
  const std::string auto_mm = ReadJson(d / "m/train_run.json")["matmul"].get<std::string>();
  r = Exec(TrainArgs(d, "f") + " --matmul fp32");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("fp32 products"), std::string::npos) << r.out;
  EXPECT_EQ(ReadJson(d / "f/train_run.json")["matmul"].get<std::string>(), "fp32");
  if (auto_mm == "bf16") {
    EXPECT_NE(t81::testing::ReadText(d / "f/model.safetensors"), t81::testing::ReadText(d / "m/model.safetensors"));
    r = Exec(TrainArgs(d, "f") + " --resume --matmul bf16");
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.out.find("matmul"), std::string::npos) << r.out;
  } else {
    EXPECT_EQ(auto_mm, "fp32");
    EXPECT_EQ(t81::testing::ReadText(d / "f/model.safetensors"), t81::testing::ReadText(d / "m/model.safetensors"));
  }
}

TEST(VitCli, BenchVitSeedRun) {
  TempDir d("t81_benchvit");
  ASSERT_EQ(Exec(TrainArgs(d, "m")).rc, 0);
  const std::string json = d / "b.json";
  ExecResult r = Exec("bench vit --model-id " + (d / "m") +
                      " --device cpu --threshold 0.45 --batch-size 32 --max-train-samples 128 --max-eval-samples 64 "
                      "--eval-batches 2 --run-qat --qat-steps 3 --output-dir " + (d / "qat") + " --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* line : {"\nSummary\n", "Model: ", "Baseline size GiB: ", "Baseline acc/loss: ", "Baseline images/s: ",
                           "PTQ size GiB: ", "PTQ acc/loss: ", "PTQ images/s: ", "QAT size GiB: ", "QAT acc/loss: ",
                           "QAT images/s: ", "QAT step 3/3"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  auto j = ReadJson(json);
  const std::vector<std::string> seed_keys = {"model_id", "dataset", "device", "threshold", "baseline", "ptq", "qat"};
  size_t i = 0;
  for (auto it = j.begin(); it != j.end() && i < seed_keys.size(); ++it, ++i) EXPECT_EQ(it.key(), seed_keys[i]);
  EXPECT_EQ(j["dataset"].get<std::string>(), "fashion-mnist");
  EXPECT_DOUBLE_EQ(j["threshold"].get<double>(), 0.45);
  for (const char* stage : {"baseline", "ptq", "qat"}) {
    const auto& s = j[stage];
    ASSERT_TRUE(s.is_object()) << stage;
    std::vector<std::string> keys;
    for (auto it = s.begin(); it != s.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"size_gib", "accuracy", "loss", "images_per_s"})) << stage;
    EXPECT_GT(s["accuracy"].get<double>(), 0.0) << stage;
    EXPECT_GT(s["images_per_s"].get<double>(), 0.0) << stage;
    EXPECT_EQ(j["t81"][stage]["eval_images"].get<int64_t>(), 64) << stage;
  }
  EXPECT_LT(j["ptq"]["size_gib"].get<double>(), j["baseline"]["size_gib"].get<double>());
  EXPECT_TRUE(fs::exists(fs::path(d / "qat") / "model.safetensors"));
  for (const char* k : {"timestamp", "git_revision", "cpu_model", "isa", "threads"})
    EXPECT_TRUE(j.contains(k)) << k;
  // --max-eval-batches 0 and --skip-throughput: accuracy, loss and images/s reported as 0.
  r = Exec("bench vit --model-id " + (d / "m") + " --max-eval-batches 0 --skip-throughput --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  auto k = ReadJson(json);
  EXPECT_EQ(k["baseline"]["accuracy"].get<double>(), 0.0);
  EXPECT_EQ(k["ptq"]["images_per_s"].get<double>(), 0.0);
  EXPECT_TRUE(k["qat"].is_null());
  EXPECT_GT(k["ptq"]["size_gib"].get<double>(), 0.0);
}

TEST(VitCli, AHeadOfOtherLabelsIsReplacedAndCanBeFitted) {
  TempDir d("t81_vithead");
  ExecResult r = Exec("init " + (d / "v") + " --arch vit --image-size 28 --patch 7 --channels 3 --labels 1000 "
                      "--n-embd 32 --n-layer 1 --n-head 2 --n-ff 64");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("vit 28x28 patch 7"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(fs::path(d / "v") / "preprocessor_config.json"));
  const std::string json = d / "h.json";
  // Grey Fashion-MNIST into a 3-channel model; 1000 labels -> a fresh 10-label head, fitted for 100
  // steps on the random body's features.
  r = Exec("bench vit --model-id " + (d / "v") + " --max-eval-samples 256 --eval-batches 8 --max-train-samples 2048 "
           "--fit-head-steps 100 --head-lr 5e-2 --skip-throughput --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("fresh classifier head"), std::string::npos) << r.out;
  auto j = ReadJson(json);
  EXPECT_TRUE(j["t81"]["fresh_head"].get<bool>());
  EXPECT_EQ(j["t81"]["fit_head_steps"].get<int64_t>(), 100);
  EXPECT_GT(j["baseline"]["accuracy"].get<double>(), 0.2);  // chance is 0.1; unfitted, 0.07-0.13 here
}

TEST(VitCli, BadInputIsOneLineAndWritesNothing) {
  TempDir d("t81_vitbad");
  ASSERT_EQ(Exec("init " + (d / "lm") + " --arch llama --vocab 16 --n-embd 32 --n-layer 1 --n-head 2 --n-ff 64").rc, 0);
  const std::string json = d / "x.json";
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"train vit --out " + (d / "o") + " --patch 5", "not divisible by the patch size"},
      {"train vit --out " + (d / "o") + " --dataset mnist", "--dataset"},
      {"train vit --out " + (d / "o") + " --data-dir " + (d / "none"), "none"},
      {"train vit --out " + (d / "o") + " --n-embd 30 --n-head 4", "multiple of the head count"},
      {"train vit --out " + (d / "o") + " --ema 1", "--ema must be in [0, 1)"},
      {"train vit --out " + (d / "o") + " --erase 1.5", "--erase must be in [0, 1]"},
      {"train vit --out " + (d / "o") + " --drop-path -0.1", "--drop-path must be in [0, 1)"},
      {"bench vit --model-id " + (d / "lm") + " --json-output " + json, "model_type is not vit"},
      {"bench vit --model-id " + (d / "missing") + " --json-output " + json, "missing"},
      {"bench vit --model-id " + (d / "lm") + " --device cuda --json-output " + json, "--device"},
      {"bench vit --model-id " + (d / "lm") + " --activations i4 --json-output " + json, "--activations"},
      {"init " + (d / "o") + " --arch vit --image-size 30 --patch 16", "not divisible by the patch size"},
  };
  for (const Case& c : cases) {
    ExecResult r = Exec(c.args);
    EXPECT_EQ(r.rc, 1) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
    size_t errors = 0;  // progress lines may come first; the error is one line "t81: ..."
    for (size_t at = 0; (at = r.out.find("t81: ", at)) != std::string::npos; ++at) errors += at == 0 || r.out[at - 1] == '\n';
    EXPECT_EQ(errors, 1u) << c.args << "\n" << r.out;
    EXPECT_FALSE(fs::exists(json)) << c.args;
    EXPECT_FALSE(fs::exists(fs::path(d / "o") / "model.safetensors")) << c.args;
  }
  // bf16 asked for where there is no AMX (T81_ISA=avx2 turns the tile unit off): one line, nothing written.
  ExecResult r = t81::testing::ExecCommand("T81_ISA=avx2 " + std::string(T81_BIN) + " train vit --out " + (d / "o") +
                                           " --matmul bf16");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("--matmul bf16 needs a CPU with AMX-BF16"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(fs::path(d / "o") / "model.safetensors"));
  EXPECT_EQ(Exec("train vit --out " + (d / "o") + " --matmul fp16").rc, 2);
}

}  // namespace
}  // namespace t81
