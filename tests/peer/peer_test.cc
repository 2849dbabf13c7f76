// The llama.cpp peer check (CTest label "peer"): t81 exports GGUF files, real llama.cpp (prebuilt
// libraries of npm node-llama-cpp 3.21.1, run by tools/peer/t81_peer) loads them, and:
//   - TQ1_0 and TQ2_0 exports give bit-identical llama.cpp logits;
//   - llama.cpp's logits on the ternary weights agree with t81's (fake-quant forward on the same
//     ternary weights) within 0.03 absolute — llama.cpp quantizes activations to Q8_K;
//   - an F32 export agrees with t81's float forward within 2e-3;
//   - with a Q8_0 embedding/head, llama.cpp and t81's engine on the same file agree within 0.03.
// For the gpt2-blocks256 fixture and for a Llama made and QAT-trained by t81 itself.
#include <gtest/gtest.h>

#include "../cli/exec.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "t81/base/rng.h"
#include "t81/io/gguf.h"
#include "t81/models/decoder.h"
#include "t81/models/gguf_export.h"

namespace t81 {
namespace {

std::vector<float> PeerLogits(const std::string& gguf, const std::vector<int64_t>& ids, std::string* msg) {
  const std::string out = gguf + ".logits";
  std::string list;
  for (size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
  const auto r = t81::testing::ExecCommand(std::string(T81_PEER_BIN) + " " + T81_PEER_BINS + " " + gguf + " --ids " +
                                           list + " --out " + out + " --threads 1");
  *msg += r.out;
  if (r.rc != 0) return {};
  std::ifstream f(out, std::ios::binary);
  std::vector<float> v((std::filesystem::file_size(out)) / 4);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  return v;
}

double MaxAbsDiff(const std::vector<float>& a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

void CheckModel(models::DecoderLM& m, quant::Granularity g, const std::string& tag) {
  const std::string dir = ::testing::TempDir() + "/t81_peer_" + tag;
  std::filesystem::create_directories(dir);
  std::vector<int64_t> ids;
  for (int i = 0; i < 16; ++i) ids.push_back((i * 37 + 11) % m.config().V);
  const int64_t T = int64_t(ids.size()), V = m.config().V;
  models::GgufExportOptions opt;
  opt.ternary.granularity = g;
  // t81 on the same ternary weights (float activations) and on the float weights.
  m.SetLinearMode(nn::LinearMode::kQat, {opt.ternary.threshold, g});
  ASSERT_TRUE(m.Forward(ids.data(), nullptr, 1, T).ok());
  const std::vector<float> t81_tern(m.logits(), m.logits() + T * V);
  m.SetLinearMode(nn::LinearMode::kFloat);
  ASSERT_TRUE(m.Forward(ids.data(), nullptr, 1, T).ok());
  const std::vector<float> t81_float(m.logits(), m.logits() + T * V);

  std::map<std::string, std::vector<float>> peer;
  for (auto [q, name] : {std::pair{models::GgufQuant::kTq2_0, "tq2_0"}, {models::GgufQuant::kTq1_0, "tq1_0"},
                         {models::GgufQuant::kF32, "f32"}}) {
    opt.quant = q;
    const std::string path = dir + "/" + name + ".gguf";
    auto rep = models::ExportGguf(m, opt, path);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    ASSERT_TRUE(models::ValidateGguf(m, opt, path).ok());
    std::string msg;
    peer[name] = PeerLogits(path, ids, &msg);
    ASSERT_EQ(peer[name].size(), size_t(T * V)) << tag << " " << name << ": llama.cpp failed: " << msg;
  }
  EXPECT_EQ(peer["tq1_0"], peer["tq2_0"]) << tag << ": TQ1_0 and TQ2_0 logits differ in llama.cpp";
  const double d_tern = MaxAbsDiff(peer["tq2_0"], t81_tern.data(), t81_tern.size());
  const double d_float = MaxAbsDiff(peer["f32"], t81_float.data(), t81_float.size());
  float range = 0;
  for (float v : t81_tern) range = std::max(range, std::fabs(v));
  std::printf("%s: |llama.cpp TQ2_0 - t81 ternary| max %.5f; |llama.cpp F32 - t81 float| max %.6f; max |logit| %.3f\n",
              tag.c_str(), d_tern, d_float, range);
  EXPECT_LE(d_tern, 0.03) << tag;
  EXPECT_LE(d_float, 2e-3) << tag;
  // The comparison can fail: the float logits are not within the ternary tolerance of ternary ones.
  EXPECT_GT(MaxAbsDiff(peer["tq2_0"], t81_float.data(), t81_float.size()), 0.03) << tag;
  // Q8_0 embedding/head: llama.cpp and t81's engine (packed TQ2_0 layers, 8-bit head: LoadGguf of
  // the same file) both quantize activations; their logits agree as closely as above.
  {
    opt.quant = models::GgufQuant::kTq2_0;
    opt.embd_type = quant::kGgmlQ8_0;
    const std::string path = dir + "/tq2_0_q8.gguf";
    ASSERT_TRUE(models::ExportGguf(m, opt, path).ok());
    std::string msg;
    const std::vector<float> pq8 = PeerLogits(path, ids, &msg);
    ASSERT_EQ(pq8.size(), size_t(T * V)) << tag << " q8 head: llama.cpp failed: " << msg;
    auto e = models::DecoderLM::LoadGguf(path);
    ASSERT_TRUE(e.ok()) << e.status().message();
    ASSERT_TRUE((*e)->Forward(ids.data(), nullptr, 1, T).ok());
    const double d_q8 = MaxAbsDiff(pq8, (*e)->logits(), size_t(T * V));
    std::printf("%s: Q8_0 head: |llama.cpp - t81 engine| max %.5f (F32-head files differ by %.5f in llama.cpp)\n",
                tag.c_str(), d_q8, MaxAbsDiff(pq8, peer["tq2_0"].data(), size_t(T * V)));
    EXPECT_LE(d_q8, 0.03) << tag;
    opt.embd_type = quant::kGgmlF32;
  }
  // Perplexity on the same GGUF and tokens: t81's inference path (LoadGguf, packed kernels, KV
  // cache: what `t81 perplexity FILE.gguf` runs) against the NLL of llama.cpp's logits.
  {
    auto e = models::DecoderLM::LoadGguf(dir + "/tq2_0.gguf");
    ASSERT_TRUE(e.ok()) << e.status().message();
    double nll = 0;
    int64_t n = 0;
    ASSERT_TRUE((*e)->ScoreTokens(ids.data(), T, 1, &nll, &n).ok());
    double peer_nll = 0;
    for (int64_t t = 1; t < T; ++t) {
      const float* l = peer["tq2_0"].data() + (t - 1) * V;
      double mx = l[0], sum = 0;
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, double(l[v]));
      for (int64_t v = 0; v < V; ++v) sum += std::exp(double(l[v]) - mx);
      peer_nll += mx + std::log(sum) - double(l[ids[size_t(t)]]);
    }
    const double ppl = std::exp(nll / double(n)), peer_ppl = std::exp(peer_nll / double(T - 1));
    std::printf("%s: PPL over %lld tokens: t81 %.4f, llama.cpp %.4f\n", tag.c_str(), (long long)n, ppl, peer_ppl);
    EXPECT_EQ(n, T - 1);
    EXPECT_NEAR(ppl, peer_ppl, 0.005 * peer_ppl) << tag;
  }
  std::filesystem::remove_all(dir);
}

TEST(Peer, Gpt2Blocks256Fixture) {
  auto m = models::DecoderLM::Load(std::string(T81_TEST_DATA) + "/fixtures/gpt2-blocks256");
  ASSERT_TRUE(m.ok()) << m.status().message();
  CheckModel(**m, quant::Granularity::kRow, "gpt2-blocks256");
}

TEST(Peer, LlamaTrainedTernaryByT81) {
  models::DecoderConfig c;
  c.arch = models::Arch::kLlama;
  c.V = 256;
  c.C = 256;
  c.L = 2;
  c.NH = 4;
  c.NKV = 2;
  c.HD = 64;
  c.FF = 512;
  c.max_t = 64;
  c.eps = 1e-6f;
  c.tied = false;
  auto m = models::DecoderLM::Create(c, 7);
  // A few QAT steps on a fixed batch: the model that goes out is one t81 trained ternary.
  m->SetLinearMode(nn::LinearMode::kQat, {quant::kDefaultThreshold, quant::Granularity::kBlock});
  base::Rng rng(3);
  std::vector<int64_t> batch(4 * 32);
  for (int64_t& id : batch) id = int64_t(rng.Below(256));
  double first = 0, last = 0;
  for (int s = 0; s < 5; ++s) {
    const double loss = m->Forward(batch.data(), batch.data(), 4, 32).value();
    (s == 0 ? first : last) = loss;
    m->ZeroGrad();
    m->Backward();
    m->AdamWStep(1e-3);
  }
  EXPECT_LT(last, first);
  CheckModel(*m, quant::Granularity::kBlock, "llama-t81-qat");
}

}  // namespace
}  // namespace t81

namespace t81 {
namespace {

TEST(Peer, BenchGgufReportsBothEngines) {
  const std::string dir = ::testing::TempDir() + "/t81_peer_bench";
  std::filesystem::remove_all(dir);
  auto run = [](const std::string& args, std::string* out) {
    const auto r = t81::testing::ExecCommand(std::string(T81_BIN) + " " + args);
    *out += r.out;
    return r.rc;
  };
  std::string out;
  ASSERT_EQ(run("init " + dir + "/hf --arch llama --vocab 260 --n-embd 256 --n-layer 1 --n-head 4 --n-ff 512 --ctx 64", &out), 0) << out;
  ASSERT_EQ(run("gguf " + dir + "/m.gguf --from-hf " + dir + "/hf --quant TQ2_0", &out), 0) << out;
  ASSERT_EQ(run("bench gguf --gguf " + dir + "/m.gguf --runs 2 --n-predict 8 --prompt-tokens 8 --threads 1 --json-output " +
                    dir + "/b.json",
                &out),
            0)
      << out;
  std::ifstream f(dir + "/b.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  for (const char* k : {"t81_eval_tok_s", "llama_eval_tok_s", "eval_speedup", "prompt_speedup"}) EXPECT_GT(j[k].get<double>(), 0.0) << k;
  EXPECT_GT(j["llama"]["peak_rss_mib"].get<double>(), 0.0);
  EXPECT_GT(j["t81"]["peak_rss_mib"].get<double>(), 0.0);
  EXPECT_GT(j["size_mib"].get<double>(), 0.0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t81
