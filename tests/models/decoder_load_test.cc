// DecoderLM::Load on broken copies of the gpt2-tiny / llama-tiny fixtures: every failure is an
// error (never a crash) that names the file and the field or tensor at fault; a sharded
// checkpoint (model.safetensors.index.json) loads to the same parameters as the single file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "t81/io/safetensors.h"
#include "t81/models/decoder.h"

namespace t81::models {
namespace {

namespace fs = std::filesystem;

std::string Fixture(const std::string& name) { return std::string(T81_TEST_DATA) + "/fixtures/" + name; }

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
  ASSERT_TRUE(out.good()) << p;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

class DecoderLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("t81_decoder_load_test_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Copies config.json and model.safetensors of a fixture into dir_.
  void CopyFixture(const std::string& name) {
    for (const char* f : {"config.json", "model.safetensors"})
      fs::copy_file(fs::path(Fixture(name)) / f, dir_ / f, fs::copy_options::overwrite_existing);
  }
  // Replaces `from` (must occur) by `to` in config.json.
  void EditConfig(const std::string& from, const std::string& to) {
    std::string s = ReadText(dir_ / "config.json");
    const size_t at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    WriteText(dir_ / "config.json", s);
  }
  // Rewrites model.safetensors through `edit`, which gets every tensor (name, shape, values) and
  // adds what it wants to the writer.
  template <typename Edit>
  void RewriteCheckpoint(Edit edit) {
    const std::string path = (dir_ / "model.safetensors").string();
    io::SafeTensorsWriter w;
    {
      auto f = io::SafeTensorsFile::Open(path);
      ASSERT_TRUE(f.ok()) << f.status().message();
      for (const auto& t : f.value()->tensors()) {
        auto v = f.value()->ReadFloat(t.name);
        ASSERT_TRUE(v.ok()) << v.status().message();
        edit(w, t, v.value());
      }
    }
    ASSERT_TRUE(w.Write(path).ok());
  }
  // Load must fail with a message holding every string of `want` (case-insensitive).
  std::string ExpectLoadError(const std::vector<std::string>& want) {
    auto m = DecoderLM::Load(dir_.string());
    EXPECT_FALSE(m.ok()) << "loaded";
    if (m.ok()) return "";
    const std::string msg = m.status().message();
    for (const auto& s : want) EXPECT_NE(Lower(msg).find(Lower(s)), std::string::npos) << "'" << s << "' not in: " << msg;
    return msg;
  }

  fs::path dir_;
};

TEST_F(DecoderLoad, IntactCopyLoads) {
  CopyFixture("gpt2-tiny");
  auto m = DecoderLM::Load(dir_.string());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->config().C, 64);
  EXPECT_EQ(m.value()->config().L, 2);
}

TEST_F(DecoderLoad, TruncatedCheckpoint) {
  CopyFixture("gpt2-tiny");
  const fs::path p = dir_ / "model.safetensors";
  fs::resize_file(p, fs::file_size(p) - 1000);
  ExpectLoadError({p.string()});
}

TEST_F(DecoderLoad, ShapeMismatchNamesTheTensor) {
  CopyFixture("gpt2-tiny");
  EditConfig("\"n_embd\": 64", "\"n_embd\": 32");
  const std::string msg = ExpectLoadError({"shape", (dir_ / "model.safetensors").string()});
  // The message names a tensor of the checkpoint: "... tensor 'NAME' has shape ...".
  const size_t a = msg.find("tensor '");
  ASSERT_NE(a, std::string::npos) << msg;
  const size_t b = msg.find('\'', a + 8);
  ASSERT_NE(b, std::string::npos) << msg;
  const std::string name = msg.substr(a + 8, b - a - 8);
  auto f = io::SafeTensorsFile::Open((dir_ / "model.safetensors").string());
  ASSERT_TRUE(f.ok());
  const io::TensorInfo* t = f.value()->Find(name);
  ASSERT_NE(t, nullptr) << "'" << name << "' is not a checkpoint tensor: " << msg;
  EXPECT_NE(std::find(t->shape.begin(), t->shape.end(), 64), t->shape.end()) << name;
}

TEST_F(DecoderLoad, MissingTensor) {
  CopyFixture("gpt2-tiny");
  const std::string dropped = "transformer.h.0.ln_1.bias";
  bool seen = false;
  RewriteCheckpoint([&](io::SafeTensorsWriter& w, const io::TensorInfo& t, const std::vector<float>& v) {
    if (t.name == dropped) {
      seen = true;
      return;
    }
    w.AddF32(t.name, t.shape, v.data());
  });
  ASSERT_TRUE(seen);
  ExpectLoadError({"'" + dropped + "'", "missing"});
}

TEST_F(DecoderLoad, WrongDType) {
  CopyFixture("gpt2-tiny");
  const std::string target = "transformer.h.1.mlp.c_fc.bias";
  RewriteCheckpoint([&](io::SafeTensorsWriter& w, const io::TensorInfo& t, const std::vector<float>& v) {
    if (t.name == target) {
      std::vector<int64_t> iv(v.size(), 1);
      w.AddI64(t.name, t.shape, iv.data());
    } else {
      w.AddF32(t.name, t.shape, v.data());
    }
  });
  ExpectLoadError({"dtype", target, (dir_ / "model.safetensors").string()});
}

TEST_F(DecoderLoad, ConfigMissingField) {
  CopyFixture("gpt2-tiny");
  EditConfig("\"n_layer\": 2,", "");
  ExpectLoadError({"n_layer", (dir_ / "config.json").string()});
}

TEST_F(DecoderLoad, ConfigBadFieldValues) {
  CopyFixture("gpt2-tiny");
  EditConfig("\"n_head\": 4", "\"n_head\": -4");
  ExpectLoadError({"n_head"});
  CopyFixture("gpt2-tiny");
  EditConfig("\"n_head\": 4", "\"n_head\": 3");  // 64 is not a multiple of 3
  ExpectLoadError({"n_head"});
  CopyFixture("gpt2-tiny");
  EditConfig("\"model_type\": \"gpt2\"", "\"model_type\": \"bert\"");
  ExpectLoadError({"bert"});
  CopyFixture("gpt2-tiny");
  WriteText(dir_ / "config.json", "[1, 2]");
  ExpectLoadError({"config.json"});
}

TEST_F(DecoderLoad, RopeScalingRejected) {
  CopyFixture("llama-tiny");
  ASSERT_TRUE(DecoderLM::Load(dir_.string()).ok());
  EditConfig("{", "{\n  \"rope_scaling\": {\"type\": \"longrope\"},");
  ExpectLoadError({"rope", "config.json"});
  // rope_parameters with a non-default rope_type (transformers >= 5 spelling).
  CopyFixture("llama-tiny");
  EditConfig("\"rope_type\": \"default\"", "\"rope_type\": \"longrope\"");
  ExpectLoadError({"rope", "longrope"});
}

TEST_F(DecoderLoad, NoCheckpoint) {
  CopyFixture("gpt2-tiny");
  fs::remove(dir_ / "model.safetensors");
  ExpectLoadError({dir_.string()});
}

TEST_F(DecoderLoad, ShardedCheckpointLoadsTheSameParameters) {
  auto orig = DecoderLM::Load(Fixture("gpt2-tiny"));
  ASSERT_TRUE(orig.ok()) << orig.status().message();

  fs::copy_file(fs::path(Fixture("gpt2-tiny")) / "config.json", dir_ / "config.json");
  auto src = io::SafeTensorsFile::Open(Fixture("gpt2-tiny") + "/model.safetensors");
  ASSERT_TRUE(src.ok()) << src.status().message();
  const auto& tensors = src.value()->tensors();
  ASSERT_GT(tensors.size(), 2u);
  io::SafeTensorsWriter w1, w2;
  std::string map;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    auto v = src.value()->ReadFloat(t.name);
    ASSERT_TRUE(v.ok()) << v.status().message();
    const bool first = i % 2 == 0;  // interleave so both shards hold tensors of every layer
    (first ? w1 : w2).AddF32(t.name, t.shape, v->data());
    const std::string file = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    map += std::string(map.empty() ? "" : ",\n    ") + "\"" + t.name + "\": \"" + file + "\"";
  }
  w1.SetMetadata("format", "pt");
  w2.SetMetadata("format", "pt");
  ASSERT_TRUE(w1.Write((dir_ / "model-00001-of-00002.safetensors").string()).ok());
  ASSERT_TRUE(w2.Write((dir_ / "model-00002-of-00002.safetensors").string()).ok());
  WriteText(dir_ / "model.safetensors.index.json",
            "{\n  \"metadata\": {\"total_size\": 678912},\n  \"weight_map\": {\n    " + map + "\n  }\n}\n");
  ASSERT_FALSE(fs::exists(dir_ / "model.safetensors"));

  auto sharded = DecoderLM::Load(dir_.string());
  ASSERT_TRUE(sharded.ok()) << sharded.status().message();
  const auto a = orig.value()->HfParams(), b = sharded.value()->HfParams();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].shape, b[i].shape) << a[i].name;
    EXPECT_EQ(a[i].values, b[i].values) << a[i].name;
  }

  // A shard that the index names but that is missing, and a shard name with a path.
  fs::remove(dir_ / "model-00002-of-00002.safetensors");
  ExpectLoadError({"model-00002-of-00002.safetensors"});
  WriteText(dir_ / "model.safetensors.index.json",
            "{\"weight_map\": {\"transformer.wte.weight\": \"../model-00001-of-00002.safetensors\"}}");
  ExpectLoadError({"index.json"});
  WriteText(dir_ / "model.safetensors.index.json", "{\"nothing\": 1}");
  ExpectLoadError({"weight_map"});
}

}  // namespace
}  // namespace t81::models
