// Tokenizers against llama.cpp (part of the "peer" check): t81 gguf writes a tiny model of the
// right architecture with a real tokenizer (npm GPT-2 for "gpt2"/gpt-2, Mistral for "llama"/SPM,
// Llama 3 for "gpt2"/llama-bpe); llama.cpp's llama_tokenize (tools/peer/t81_peer --tokenize-file,
// add_special=false, parse_special=true) must give t81's ids (Tokenizer::FromGguf on the same file,
// Encode(text, false)) on the golden texts, except the texts listed below with their reasons.
#include <gtest/gtest.h>

#include "../cli/exec.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "t81/io/gguf.h"
#include "t81/models/gguf_export.h"
#include "t81/text/tokenizer.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string Slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  const char* golden_name;  // tests/text/golden_ids.json tokenizer
  models::Arch arch;
  // Golden texts where llama.cpp legitimately differs from transformers (and so from t81).
  std::map<std::string, std::string> excluded;
};

std::vector<Case> Cases() {
  return {
      // gpt-3-encoder (the reference) has no added tokens: "<|endoftext|>" in the text is plain
      // text. llama.cpp's vocabulary loader forces tokens spelled like end-of-turn markers
      // ("<|endoftext|>", "<|eot_id|>", ...) to control type whatever the file says, and
      // parse_special then matches it as one token.
      {"gpt2", models::Arch::kGpt2, {{"special_gpt2", "llama.cpp makes <|endoftext|> a control token"}}},
      {"mistral", models::Arch::kLlama, {}},
      {"llama3", models::Arch::kLlama, {}},
  };
}

// A GGUF of a tiny model (zero weights) with vocabulary V >= the tokenizer's, carrying the
// tokenizer of folder `tok_dir`.
Status WriteTinyGguf(models::Arch arch, const fs::path& tok_dir, int64_t V, const std::string& path) {
  models::DecoderConfig c;
  c.arch = arch;
  c.V = V;
  c.C = 32;
  c.L = 1;
  c.NH = 2;
  c.NKV = 2;
  c.HD = 16;
  c.FF = 64;
  c.max_t = 64;
  c.eps = 1e-5f;
  c.tied = arch == models::Arch::kGpt2;
  c.attn_bias = c.mlp_bias = arch == models::Arch::kGpt2;
  const std::vector<models::HfTensor> map = models::DecoderLM::HfTensorList(c);
  models::GgufExportOptions opt;
  opt.quant = models::GgufQuant::kF16;
  opt.embd_type = quant::kGgmlF16;
  opt.tokenizer_dir = tok_dir.string();
  auto rows = [](const models::HfTensor& h) -> Result<std::vector<float>> { return std::vector<float>(size_t(h.numel()), 0.01f); };
  T81_ASSIGN_OR_RETURN(auto rep, models::ExportGguf(c, map, rows, opt, path));
  (void)rep;
  return models::ValidateGguf(c, map, rows, opt, path);
}

TEST(TokenizerPeer, LlamaCppTokenizesLikeT81) {
  const Json golden = Json::parse(Slurp(T81_TEXT_GOLDEN));
  const fs::path dir = fs::path(::testing::TempDir()) / "t81_peer_tok";
  fs::create_directories(dir);
  for (const Case& cs : Cases()) {
    fs::path tok_dir;
    for (const Json& t : golden["tokenizers"])
      if (t["name"] == cs.golden_name) tok_dir = fs::path(T81_NPM_TEXT_DIR) / t["path"].get<std::string>();
    if (tok_dir.empty() || !fs::exists(tok_dir)) {
      ADD_FAILURE() << cs.golden_name << ": " << tok_dir << " not installed: run scripts/text/install.sh";
      continue;
    }
    auto orig = text::Tokenizer::Load(tok_dir);
    ASSERT_TRUE(orig.ok()) << orig.status().message();
    const std::string gguf = (dir / (std::string(cs.golden_name) + ".gguf")).string();
    const Status w = WriteTinyGguf(cs.arch, tok_dir, orig->vocab_size(), gguf);
    ASSERT_TRUE(w.ok()) << w.message();
    auto f = io::GgufFile::Open(gguf);
    ASSERT_TRUE(f.ok()) << f.status().message();
    auto tok = text::Tokenizer::FromGguf(**f);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    int matched = 0, compared = 0;
    std::string matched_names, differing;
    for (const Json& t : golden["texts"]) {
      const std::string name = t["name"].get<std::string>(), s = t["text"].get<std::string>();
      if (cs.excluded.count(name)) continue;
      const std::string tf = (dir / "text.txt").string();
      std::ofstream(tf, std::ios::binary) << s;
      const auto r = t81::testing::ExecCommand(std::string(T81_PEER_BIN) + " " + T81_PEER_BINS + " " + gguf + " --tokenize-file " + tf);
      ASSERT_EQ(r.rc, 0) << r.out;
      std::vector<int32_t> peer;
      std::istringstream in(r.out);
      for (int32_t id; in >> id;) peer.push_back(id);
      auto ours = tok->Encode(s, false);
      ASSERT_TRUE(ours.ok()) << ours.status().message();
      EXPECT_EQ(*ours, orig->Encode(s, false).value()) << name;
      ++compared;
      if (*ours == peer) {
        ++matched;
        matched_names += " " + name;
      } else {
        differing += " " + name;
        ADD_FAILURE() << cs.golden_name << ": llama.cpp tokenizes '" << name << "' differently:\n  llama.cpp: " << r.out
                      << "  t81: " << ::testing::PrintToString(*ours);
      }
    }
    std::printf("%s: llama.cpp matched t81 on %d/%d texts;%s%s\n", cs.golden_name, matched, compared,
                differing.empty() ? "" : " differing:", differing.c_str());
    EXPECT_GT(compared, 30);
  }
}

}  // namespace
}  // namespace t81
