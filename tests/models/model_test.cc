// The model interface (src/t81/models/model.h): LoadModel picks the model by config.json, a batch
// read from the golden files runs through the interface to the golden loss, and input from outside
// (config fields of the wrong type, bad options, calls out of order) comes back as an error — never
// an abort — so that bindings can raise exceptions.
#include "t81/models/model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "t81/models/decoder.h"
#include "t81/models/vit.h"
#include "../test_util.h"

namespace t81::models {
namespace {

namespace fs = std::filesystem;
using t81::testing::Fixture;
using t81::testing::ReadText;

class ModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { tmp_ = std::make_unique<t81::testing::TempDir>("t81_model_test"); dir_ = tmp_->path(); }
  // A copy of the fixture whose config.json has `from` replaced by `to`.
  std::string EditedCopy(const std::string& fixture, const std::string& from, const std::string& to) {
    fs::copy_file(fs::path(Fixture(fixture)) / "model.safetensors", dir_ / "model.safetensors",
                  fs::copy_options::overwrite_existing);
    std::string cfg = ReadText(fs::path(Fixture(fixture)) / "config.json");
    const size_t at = cfg.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) cfg.replace(at, from.size(), to);
    std::ofstream(dir_ / "config.json", std::ios::binary | std::ios::trunc) << cfg;
    return dir_.string();
  }
  std::unique_ptr<t81::testing::TempDir> tmp_;
  fs::path dir_;
};

TEST(LoadModel, PicksTheModelByConfig) {
  for (auto [name, arch] : {std::pair{"gpt2-tiny", "gpt2"}, {"llama-tiny", "llama"}, {"phi3-tiny", "phi3"},
                            {"vit-tiny", "vit"}}) {
    auto m = LoadModel(Fixture(name));
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_STREQ(m.value()->arch(), arch);
    EXPECT_GT(m.value()->num_params(), 0);
  }
  auto missing = LoadModel(Fixture("no-such-model"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no-such-model"), std::string::npos) << missing.status().message();
}

// Through the interface alone: the golden inputs give the golden loss, and one backward step gives
// non-zero gradients under the golden files' names.
TEST(LoadModel, GoldenBatchThroughTheInterface) {
  for (const char* name : {"gpt2-tiny", "vit-tiny"}) {
    auto m = LoadModel(Fixture(name));
    ASSERT_TRUE(m.ok()) << m.status().message();
    auto golden = io::SafeTensorsFile::Open(Fixture(name) + "/golden.safetensors");
    ASSERT_TRUE(golden.ok());
    auto batch = m.value()->ReadBatch(*golden.value(), true);
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    auto loss = m.value()->Forward(batch.value());
    ASSERT_TRUE(loss.ok()) << loss.status().message();
    const double ref = golden.value()->ReadFloat("loss").value()[0];
    EXPECT_NEAR(loss.value(), ref, 1e-5 * std::fabs(ref)) << name;
    m.value()->ZeroGrad();
    ASSERT_TRUE(m.value()->Backward().ok());
    const auto grads = m.value()->HfGrads();
    ASSERT_FALSE(grads.empty());
    EXPECT_NE(golden.value()->Find("grad." + grads[0].name), nullptr) << grads[0].name;
  }
}

TEST(LoadModel, CallsOutOfOrderAreErrors) {
  for (const char* name : {"llama-tiny", "vit-tiny"}) {
    auto m = LoadModel(Fixture(name));
    ASSERT_TRUE(m.ok());
    Model& model = *m.value();
    // Backward before any Forward, and after a Forward without labels.
    EXPECT_FALSE(model.Backward().ok()) << name;
    auto golden = io::SafeTensorsFile::Open(Fixture(name) + "/golden.safetensors");
    auto batch = model.ReadBatch(*golden.value(), false);
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(model.Forward(batch.value()).ok());
    EXPECT_FALSE(model.Backward().ok()) << name;
    // Packed weights have no backward.
    ASSERT_TRUE(model.SetLinearMode(nn::LinearMode::kPacked).ok());
    auto labelled = model.ReadBatch(*golden.value(), true);
    ASSERT_TRUE(model.Forward(labelled.value()).ok());
    const Status st = model.Backward();
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("packed"), std::string::npos) << st.message();
  }
}

TEST(LoadModel, BadTernaryOptionsAreErrors) {
  auto m = LoadModel(Fixture("gpt2-tiny"));
  ASSERT_TRUE(m.ok());
  for (float t : {0.0f, -0.5f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    quant::TernaryOptions opt;
    opt.threshold = t;
    for (nn::LinearMode mode : {nn::LinearMode::kQat, nn::LinearMode::kPacked}) {
      const Status st = m.value()->SetLinearMode(mode, opt);
      EXPECT_FALSE(st.ok()) << t;
      EXPECT_NE(st.message().find("--threshold"), std::string::npos) << st.message();
    }
  }
}

// A model that cannot fit is refused before anything is allocated, with the sizes in one line;
// training checks its gradients and AdamW moments the same way. (T81_MEMORY_LIMIT_MIB lowers
// what t81 takes as available.)
TEST(LoadModel, WhatCannotFitIsRefused) {
  setenv("T81_MEMORY_LIMIT_MIB", "0", 1);
  for (const char* name : {"gpt2-tiny", "vit-tiny"}) {
    auto m = LoadModel(Fixture(name));
    ASSERT_FALSE(m.ok()) << name;
    const std::string& msg = m.status().message();
    EXPECT_NE(msg.find("needs"), std::string::npos) << msg;
    EXPECT_NE(msg.find("GiB are available"), std::string::npos) << msg;
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
  unsetenv("T81_MEMORY_LIMIT_MIB");
  auto m = LoadModel(Fixture("gpt2-tiny"));
  ASSERT_TRUE(m.ok());
  auto golden = io::SafeTensorsFile::Open(Fixture("gpt2-tiny") + "/golden.safetensors");
  auto batch = m.value()->ReadBatch(*golden.value(), true);
  ASSERT_TRUE(m.value()->Forward(batch.value()).ok());
  setenv("T81_MEMORY_LIMIT_MIB", "0", 1);
  const Status st = m.value()->Backward();
  unsetenv("T81_MEMORY_LIMIT_MIB");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("training"), std::string::npos) << st.message();
  EXPECT_TRUE(m.value()->Backward().ok());
}

TEST(LoadModel, InputOfTheWrongKindIsAnError) {
  auto lm = LoadModel(Fixture("gpt2-tiny"));
  auto vit = LoadModel(Fixture("vit-tiny"));
  ASSERT_TRUE(lm.ok() && vit.ok());
  auto lm_golden = io::SafeTensorsFile::Open(Fixture("gpt2-tiny") + "/golden.safetensors");
  auto vit_golden = io::SafeTensorsFile::Open(Fixture("vit-tiny") + "/golden.safetensors");
  EXPECT_FALSE(lm.value()->ReadBatch(*vit_golden.value(), false).ok());   // pixels for a language model
  EXPECT_FALSE(vit.value()->ReadBatch(*lm_golden.value(), false).ok());   // token ids for a ViT
  Batch empty;
  EXPECT_FALSE(lm.value()->Forward(empty).ok());
  EXPECT_FALSE(vit.value()->Forward(empty).ok());
}

// Fields of the wrong JSON type: one-line errors naming config.json and the field.
TEST_P(ModelTest, ConfigFieldsOfTheWrongTypeAreErrors) {
  struct Edit {
    const char* fixture;
    const char* from;
    const char* to;
    const char* field;
  };
  const Edit edits[] = {
      {"gpt2-tiny", "\"n_layer\": 2", "\"n_layer\": \"2\"", "n_layer"},
      {"gpt2-tiny", "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": \"yes\"", "tie_word_embeddings"},
      {"gpt2-tiny", "\"activation_function\": \"gelu_new\"", "\"activation_function\": 7", "activation_function"},
      {"gpt2-tiny", "\"model_type\": \"gpt2\"", "\"model_type\": [\"gpt2\"]", "model_type"},
      {"llama-tiny", "\"hidden_act\": \"silu\"", "\"hidden_act\": [\"silu\"]", "hidden_act"},
      {"llama-tiny", "\"attention_bias\": false", "\"attention_bias\": 0", "attention_bias"},
      {"llama-tiny", "\"rope_type\": \"default\"", "\"rope_type\": 3", "rope_type"},
      {"llama-tiny", "\"tie_word_embeddings\": false", "\"tie_word_embeddings\": null, \"partial_rotary_factor\": \"half\"",
       "partial_rotary_factor"},
      {"vit-tiny", "\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": \"small\"", "layer_norm_eps"},
      {"vit-tiny", "\"qkv_bias\": true", "\"qkv_bias\": \"true\"", "qkv_bias"},
      {"vit-tiny", "\"hidden_act\": \"gelu\"", "\"hidden_act\": false", "hidden_act"},
  };
  for (const Edit& e : edits) {
    if (GetParam() != e.fixture) continue;
    const std::string dir = EditedCopy(e.fixture, e.from, e.to);
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok()) << e.field;
    const std::string& msg = m.status().message();
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(e.field), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// Sizes that could only size impossible allocations (a hundred million layers, a vocabulary of
// 9e12) are refused from config.json before any table is built: one line naming file and field,
// never std::bad_alloc. Layer counts have their own, lower limit.
TEST_P(ModelTest, AbsurdConfigSizesAreErrors) {
  struct Edit {
    const char* fixture;
    const char* from;
    const char* to;
    const char* expect;
  };
  const Edit edits[] = {
      {"gpt2-tiny", "\"n_layer\": 2", "\"n_layer\": 100000000", "n_layer"},
      {"gpt2-tiny", "\"n_layer\": 2", "\"n_layer\": 5000", "5000 layers"},
      {"gpt2-tiny", "\"vocab_size\": 1024", "\"vocab_size\": 9000000000000", "vocab_size"},
      {"llama-tiny", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 4097", "4097 layers"},
      {"llama-tiny", "\"intermediate_size\": ", "\"intermediate_size\": 99999999999, \"x\": ", "intermediate_size"},
      {"vit-tiny", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1000000", "1000000 layers"},
  };
  for (const Edit& e : edits) {
    if (GetParam() != e.fixture) continue;
    const std::string dir = EditedCopy(e.fixture, e.from, e.to);
    auto m = LoadModel(dir);
    ASSERT_FALSE(m.ok()) << e.expect;
    const std::string& msg = m.status().message();
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(e.expect), std::string::npos) << msg;
    auto layout = ReadModelLayout(dir);  // what info uses
    EXPECT_FALSE(layout.ok()) << e.expect;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelTest, ::testing::Values("gpt2-tiny", "llama-tiny", "vit-tiny"),
                         [](const auto& info) { return t81::testing::ParamName(info.param); });

}  // namespace
}  // namespace t81::models
