// t81 train lm and t81 bench lm end to end on a tiny corpus with a tiny tokenizer: the HF folder
// and train_log.csv, resuming, the seed's micro-run flags with its JSON keys in order, and bad
// input as one "t81: " line, a non-zero exit and no output file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../test_util.h"
#include "exec.h"
#include "tiny_tokenizer.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;
using t81::testing::ExecResult;
using t81::testing::TempDir;

ExecResult Exec(const std::string& args) { return t81::testing::ExecCommand(std::string(T81_BIN) + " " + args); }

// A corpus of 300 lines over the tiny tokenizer's alphabet, and the tokenizer.
struct Corpus {
  std::string text, tokenizer;
};
Corpus MakeCorpus(const TempDir& d) {
  std::ofstream t(d / "corpus.txt");
  for (int i = 0; i < 300; ++i) t << (i % 3 ? "ab ab a b ab a\n" : "a b ab ab b ab a ab\n");
  fs::create_directories(d / "tok");
  std::ofstream(d / "tok/tokenizer.json") << t81::testing::kTinyTokenizer;
  return {d / "corpus.txt", d / "tok"};
}

std::string TrainArgs(const TempDir& d, const Corpus& c, const std::string& out, int steps) {
  return "train lm --corpus " + c.text + " --tokenizer " + c.tokenizer + " --out " + (d / out) +
         " --n-layer 1 --n-embd 32 --n-head 2 --seq 96 --batch 2 --steps " + std::to_string(steps) +
         " --warmup 2 --lr 3e-3 --eval-every 4 --eval-tokens 192 --seed 1";
}

TEST(LmCli, TrainWritesAnHfFolderAndResumes) {
  TempDir d("t81_trainlm");
  const Corpus c = MakeCorpus(d);
  ExecResult r = Exec(TrainArgs(d, c, "m", 8));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("step 8/8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ETA"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                        "generation_config.json", "train_log.csv", "train_state.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(d / "m") / f)) << f;
  const std::string log = t81::testing::ReadText(d / "m/train_log.csv");
  EXPECT_EQ(log.rfind("step,tokens,train_loss,val_loss,val_ppl,lr,lambda,tokens_per_s,elapsed_s\n4,768,", 0), 0u) << log;
  EXPECT_NE(log.find("\n8,1536,"), std::string::npos) << log;
  const std::string run = t81::testing::ReadText(d / "m/train_run.json");  // the run that wrote the log
  for (const char* k : {"\"timestamp\"", "\"git_revision\"", "\"cpu_model\"", "\"isa\"", "\"threads\"", "\"step\": 8"})
    EXPECT_NE(run.find(k), std::string::npos) << k << "\n" << run;
  // The folder is a model the other commands read.
  ExecResult g = Exec("generate " + (d / "m") + " --prompt ab -n 3");
  EXPECT_EQ(g.rc, 0) << g.out;
  ExecResult info = Exec("info " + (d / "m"));
  EXPECT_EQ(info.rc, 0) << info.out;
  // A second run into the same folder must say --resume; --resume of a finished run changes nothing.
  r = Exec(TrainArgs(d, c, "m", 8));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
  const std::string before = t81::testing::ReadText(d / "m/model.safetensors");
  r = Exec(TrainArgs(d, c, "m", 8) + " --resume");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(t81::testing::ReadText(d / "m/model.safetensors"), before);
  EXPECT_EQ(t81::testing::ReadText(d / "m/train_log.csv"), log);
  // Other settings on --resume: refused, naming the setting.
  r = Exec(TrainArgs(d, c, "m", 8) + " --resume --weight-decay 0.2");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("weight_decay"), std::string::npos) << r.out;
  // QAT fine-tuning from the trained model, with the λ warm-up logged.
  r = Exec(TrainArgs(d, c, "q", 4) + " --init-from " + (d / "m") + " --qat --lambda-warmup 8");
  ASSERT_EQ(r.rc, 0) << r.out;
  const std::string qlog = t81::testing::ReadText(d / "q/train_log.csv");
  EXPECT_NE(qlog.find(",0.5000,"), std::string::npos) << qlog;  // λ after 4 of 8 warm-up steps
}

TEST(LmCli, BenchLmSeedMicroRun) {
  TempDir d("t81_benchlm");
  const Corpus c = MakeCorpus(d);
  ASSERT_EQ(Exec(TrainArgs(d, c, "m", 4)).rc, 0);
  const std::string json = d / "b.json";
  ExecResult r = Exec("bench lm --model-id " + (d / "m") + " --dataset " + c.text +
                      " --device cpu --dtype float32 --max-eval-tokens 16 --eval-texts 8 --max-new-tokens 4 --run-qat "
                      "--qat-steps 5 --train-split 'train[:20]' --output-dir " + (d / "qat") + " --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* line : {"\nSummary\n", "Baseline size GiB: ", "PTQ size GiB: ", "Compression ratio: ", "Baseline PPL: ",
                           "PTQ PPL: ", "Baseline tok/s: ", "PTQ tok/s: ", "QAT PPL: ", "QAT tok/s: ", "QAT step 5/5"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  std::ifstream jf(json);
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(jf);
  const std::vector<std::string> seed_keys = {"model_id", "dataset", "device", "dtype", "threshold", "max_eval_tokens",
                                              "eval_texts", "max_new_tokens", "skip_latency", "skip_ptq_ppl", "run_qat",
                                              "qat_steps", "train_split", "learning_rate", "compression_ratio",
                                              "baseline", "ptq", "qat"};
  size_t i = 0;
  for (auto it = j.begin(); it != j.end() && i < seed_keys.size(); ++it, ++i) EXPECT_EQ(it.key(), seed_keys[i]);
  for (const char* stage : {"baseline", "ptq", "qat"}) {
    const auto& s = j[stage];
    ASSERT_TRUE(s.is_object()) << stage;
    EXPECT_EQ(s.begin().key(), "size_gib");
    EXPECT_GT(s["ppl"].get<double>(), 1.0) << stage;
    EXPECT_GT(s["tok_s"].get<double>(), 0.0) << stage;
  }
  EXPECT_LT(j["ptq"]["size_gib"].get<double>(), j["baseline"]["size_gib"].get<double>());
  EXPECT_EQ(j["qat_losses"].size(), 5u);
  EXPECT_TRUE(fs::exists(fs::path(d / "qat") / "model.safetensors"));
  // --skip-latency and --skip-ptq-ppl: tok/s 0.0, PTQ PPL null and "pending".
  r = Exec("bench lm --model-id " + (d / "m") + " --dataset " + c.text +
           " --max-eval-tokens 16 --eval-texts 4 --skip-latency --skip-ptq-ppl --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("PTQ PPL: pending"), std::string::npos) << r.out;
  std::ifstream jf2(json);
  const nlohmann::json k = nlohmann::json::parse(jf2);
  EXPECT_TRUE(k["ptq"]["ppl"].is_null());
  EXPECT_EQ(k["baseline"]["tok_s"].get<double>(), 0.0);
  EXPECT_TRUE(k["qat"].is_null());
  // --dtype bfloat16: a bf16 checkpoint's baseline stays bf16 (2 bytes a parameter, as stored).
  ASSERT_EQ(Exec("init " + (d / "bf") + " --arch llama --vocab 16 --n-embd 32 --n-layer 1 --n-head 2 --n-ff 64 --ctx 96 "
                 "--dtype bf16").rc, 0);
  fs::copy(fs::path(c.tokenizer) / "tokenizer.json", fs::path(d / "bf") / "tokenizer.json");
  r = Exec("bench lm --model-id " + (d / "bf") + " --dataset " + c.text +
           " --dtype bfloat16 --max-eval-tokens 16 --eval-texts 4 --max-new-tokens 4 --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  std::ifstream jf3(json);
  const nlohmann::json b = nlohmann::json::parse(jf3);
  EXPECT_EQ(b["dtype"], "bfloat16");
  EXPECT_DOUBLE_EQ(b["stages"]["baseline"]["size_bytes"].get<double>(), 2.0 * b["num_params"].get<double>());
  EXPECT_GT(b["baseline"]["ppl"].get<double>(), 1.0);
  EXPECT_GT(b["ptq"]["tok_s"].get<double>(), 0.0);
}

TEST(LmCli, BadInputIsOneLineAndWritesNothing) {
  TempDir d("t81_lmbad");
  const Corpus c = MakeCorpus(d);
  ASSERT_EQ(Exec(TrainArgs(d, c, "m", 2)).rc, 0);
  fs::create_directories(d / "notok");
  fs::copy(fs::path(d / "m") / "config.json", fs::path(d / "notok") / "config.json");
  fs::copy(fs::path(d / "m") / "model.safetensors", fs::path(d / "notok") / "model.safetensors");
  std::ofstream(d / "short.txt") << "ab ab\nab a\nb\n";
  std::ofstream(d / "blank.txt") << "\n\n \n\n\n\n\n\n\n\n\n\n";
  const std::string json = d / "bad.json";
  const std::string m = " --model-id " + (d / "m") + " --json-output " + json;
  const std::pair<std::string, std::string> cases[] = {
      {"bench lm" + m + " --dataset wikitext-2-raw-v1", "unknown dataset"},
      {"bench lm" + m + " --dataset " + c.text + " --run-qat --train-split 'train[:x]'", "split expression"},
      {"bench lm" + m + " --dataset " + (d / "blank.txt"), "no non-blank line"},
      {"bench lm" + m + " --dataset " + c.text + " --max-eval-tokens 97", "context"},
      {"bench lm --model-id " + (d / "notok") + " --dataset " + c.text + " --json-output " + json, "no tokenizer"},
      {"bench lm" + m + " --dataset " + c.text + " --device cuda", "--device"},
      {"bench lm" + m + " --dataset " + c.text + " --dtype float16", "--dtype"},
      {"bench lm --model-id no-such/model --json-output " + json, "no-such/model"},
      {"train lm --corpus nope --out " + (d / "o"), "unknown dataset"},
      {"train lm --corpus " + (d / "short.txt") + " --tokenizer " + c.tokenizer + " --out " + (d / "o2") + " --seq 64",
       "needs more"},
  };
  for (const auto& [args, want] : cases) {
    ExecResult r = Exec(args);
    EXPECT_EQ(r.rc, 1) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("t81: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(want), std::string::npos) << args << "\n" << r.out;
    EXPECT_FALSE(fs::exists(json)) << args;
  }
  EXPECT_FALSE(fs::exists(d / "o"));
  EXPECT_FALSE(fs::exists(d / "o2"));
  EXPECT_EQ(Exec("bench lm --model-id x --bogus").rc, 2);
}

}  // namespace
}  // namespace t81
