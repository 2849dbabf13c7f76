#include "fuzz/targets.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "t81/data/idx.h"
#include "t81/data/images.h"
#include "t81/io/gguf.h"
#include "t81/io/safetensors.h"
#include "t81/models/model.h"
#include "t81/text/tokenizer.h"

namespace t81::fuzz {

namespace fs = std::filesystem;

namespace {

// Owns the per-process scratch folder: made once, removed (with its files) at exit.
class Scratch {
 public:
  Scratch() {
    std::string tmpl = (fs::temp_directory_path() / ("t81_fuzz_" + std::to_string(getpid()) + "_XXXXXX")).string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("t81 fuzz: mkdtemp");
      std::abort();
    }
    root_ = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const fs::path& root() const { return root_; }

 private:
  fs::path root_;
};

// Writes bytes to path (replacing it); a failure here is the harness's own, so it aborts.
void Put(const fs::path& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(("t81 fuzz: writing " + path.string()).c_str());
    std::abort();
  }
}

// Writes part i of parts to dir/names[i]; names without a part are removed.
void PutParts(const fs::path& dir, const std::vector<std::string_view>& parts, std::initializer_list<const char*> names) {
  size_t i = 0;
  for (const char* n : names) {
    std::error_code ec;
    if (i < parts.size()) Put(dir / n, parts[i]);
    else fs::remove(dir / n, ec);
    ++i;
  }
}

std::string_view AsText(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// Keeps the first error of a walk that goes on after errors.
void Keep(Status* first, const Status& s) {
  if (first->ok() && !s.ok()) *first = s;
}

// Encode / Decode of a fixed text through a loaded tokenizer, both with and without specials.
Status RoundTrip(const text::Tokenizer& t) {
  static constexpr std::string_view kText = "Hello world, t81 fuzz! <s>  42\n\t\xC3\xBCn\xC3\xAF \xE2\x96\x81x </s>";
  Status first;
  for (bool add_special : {false, true}) {
    auto ids = t.Encode(kText, add_special);
    if (!ids.ok()) {
      Keep(&first, ids.status());
      continue;
    }
    for (bool skip : {false, true}) {
      text::DecodeOptions opt;
      opt.skip_special = skip;
      auto s = t.Decode(ids.value(), opt);
      if (!s.ok()) Keep(&first, s.status());
    }
  }
  return first;
}

}  // namespace

std::vector<std::string_view> CutParts(std::string_view in, size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const size_t at = in.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    out.push_back(in.substr(0, at));
    in.remove_prefix(at + kPartSeparator.size());
  }
  out.push_back(in);
  return out;
}

fs::path ScratchDir(const char* sub) {
  static Scratch scratch;
  fs::path p = scratch.root() / sub;
  std::error_code ec;
  fs::create_directories(p, ec);
  return p;
}

Status FeedGguf(const uint8_t* data, size_t size) {
  const fs::path path = ScratchDir("gguf") / "in.gguf";
  Put(path, AsText(data, size));
  T81_ASSIGN_OR_RETURN(auto f, io::GgufFile::Open(path.string()));
  Status first;
  for (const auto& [key, v] : f->kv())
    if (f->Find(key) != &v) Keep(&first, Error(path.string() + ": key '" + key + "' not found by name"));
  for (const io::GgufTensor& t : f->tensors()) {
    if (f->FindTensor(t.name) != &t) Keep(&first, Error(path.string() + ": tensor '" + t.name + "' not found by name"));
    auto x = f->Dequantize(t);
    if (!x.ok()) {
      Keep(&first, x.status());
      continue;
    }
    const int64_t rows = f->rows(t);
    if (rows >= 2) {  // one middle row alone, as the streaming readers take them
      std::vector<float> row(size_t(t.ne[0]));
      Keep(&first, f->DequantizeRows(t, rows / 2, rows / 2 + 1, row.data()));
    }
    f->Release(t);
  }
  auto tok = text::Tokenizer::FromGguf(*f);
  if (!tok.ok()) return first.ok() ? tok.status() : first;
  Keep(&first, RoundTrip(tok.value()));
  return first;
}

Status FeedSafetensors(const uint8_t* data, size_t size) {
  const fs::path path = ScratchDir("safetensors") / "model.safetensors";
  Put(path, AsText(data, size));
  T81_ASSIGN_OR_RETURN(auto f, io::SafeTensorsFile::Open(path.string()));
  Status first;
  for (const io::TensorInfo& t : f->tensors()) {
    if (f->Find(t.name) != &t) Keep(&first, Error(path.string() + ": tensor '" + t.name + "' not found by name"));
    const bool is_int = t.dtype == io::DType::kI64 || t.dtype == io::DType::kI32;
    if (is_int) {
      auto v = f->ReadInt(t.name);
      if (!v.ok()) Keep(&first, v.status());
    } else {
      auto v = f->ReadFloat(t.name);
      if (!v.ok()) Keep(&first, v.status());
    }
    f->Release(t.name);
  }
  return first;
}

Status FeedConfig(const uint8_t* data, size_t size) {
  const fs::path dir = ScratchDir("config");
  Put(dir / "config.json", AsText(data, size));
  T81_ASSIGN_OR_RETURN(const models::ModelLayout m, models::ReadModelLayout(dir.string()));
  if (m.tensors.empty()) return Error(dir.string() + "/config.json: a layout with no tensors");
  return m.num_params() > 0 ? OkStatus() : Error(dir.string() + "/config.json: a layout with no parameters");
}

Status FeedIdx(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  (void)data::ParseIdxImages(bytes, "images");  // the whole input as either kind: no crash is the test
  (void)data::ParseIdxLabels(bytes, "labels");
  const fs::path dir = ScratchDir("idx");
  PutParts(dir, CutParts(AsText(data, size), 2), {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"});
  return data::LoadFashionMnist(dir.string(), "train").status();
}

// A broken promise of an accepted input: the fuzzer's finding.
[[noreturn]] void Broken(const std::string& what) {
  std::fprintf(stderr, "t81 fuzz: %s\n", what.c_str());
  std::abort();
}

// Preprocess of the first (at most two) images of set to (side x side), checked finite.
void WalkImages(const data::ImageSet& set, int64_t side) {
  data::ImageProcessor p;
  p.height = p.width = side;
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  const int64_t idx[2] = {0, set.n - 1};
  const int64_t count = std::min<int64_t>(2, set.n);
  std::vector<float> out(size_t(count * 3 * side * side));
  const Status s = data::Preprocess(out.data(), set, idx, count, p, 3);
  if (!s.ok()) Broken("Preprocess of an accepted CIFAR set: " + s.message());
  for (float v : out)
    if (!std::isfinite(v)) Broken("Preprocess wrote a non-finite value");
}

Status FeedCifar(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  const fs::path dir = ScratchDir("cifar");
  Put(dir / "test_batch.bin", AsText(data, size));
  Put(dir / "test.bin", AsText(data, size));
  Status first;
  bool accepted = false;
  for (int classes : {10, 100}) {
    const std::string name = "cifar" + std::to_string(classes);
    const auto set = data::ParseCifar(bytes, name, classes);
    if (data::LoadImageSet(name, dir.string(), "test").ok() != set.ok())
      Broken("LoadImageSet and ParseCifar disagree on " + name);
    if (!set.ok()) {
      if (classes == 10) first = set.status();
      continue;
    }
    accepted = true;
    if (set->n <= 0 || int64_t(set->pixels.size()) != set->n * 3 * 32 * 32 || int64_t(set->labels.size()) != set->n)
      Broken("ParseCifar: sizes do not match the set's shape");
    for (int32_t l : set->labels)
      if (l < 0 || l >= classes) Broken("ParseCifar: a label outside 0..classes-1");
    WalkImages(set.value(), 8);
    WalkImages(set.value(), 40);
  }
  return accepted ? OkStatus() : first;
}

Status FeedImageProcessor(const uint8_t* data, size_t size) {
  const fs::path dir = ScratchDir("image_processor");
  Put(dir / "preprocessor_config.json", AsText(data, size));
  Status first;
  for (int64_t channels : {3, 1}) {
    const auto p = data::LoadImageProcessor(dir.string(), 32, channels);
    if (!p.ok()) {
      if (channels == 3) Keep(&first, p.status());  // a 3-channel file is refused for 1 channel
      continue;
    }
    const fs::path back_dir = ScratchDir("image_processor_back");
    Put(back_dir / "preprocessor_config.json", data::ImageProcessorJson(p.value()));
    const auto q = data::LoadImageProcessor(back_dir.string(), 32, channels);
    if (!q.ok()) Broken("ImageProcessorJson wrote a file LoadImageProcessor refuses: " + q.status().message());
    if (q->do_resize != p->do_resize || q->do_rescale != p->do_rescale || q->do_normalize != p->do_normalize ||
        q->height != p->height || q->width != p->width || q->rescale_factor != p->rescale_factor ||
        q->mean != p->mean || q->std != p->std)
      Broken("preprocessor_config.json does not read back equal");
    if (channels != 3 || p->height * p->width > 128 * 128) continue;
    data::ImageSet set;
    set.name = "fuzz";
    set.n = 2;
    set.channels = 3;
    set.height = set.width = 8;
    set.classes = 2;
    set.labels = {0, 1};
    set.pixels.resize(2 * 3 * 64);
    for (size_t i = 0; i < set.pixels.size(); ++i) set.pixels[i] = uint8_t(i * 37);
    const int64_t idx[2] = {1, 0};
    std::vector<float> out(size_t(2 * 3 * p->height * p->width));
    Keep(&first, data::Preprocess(out.data(), set, idx, 2, p.value(), 3));
  }
  return first;
}

Status FeedTokenizerJson(const uint8_t* data, size_t size) {
  const fs::path dir = ScratchDir("tokenizer_json");
  PutParts(dir, CutParts(AsText(data, size), 3), {"tokenizer.json", "tokenizer_config.json", "config.json"});
  T81_ASSIGN_OR_RETURN(const text::Tokenizer t, text::Tokenizer::Load(dir));
  return RoundTrip(t);
}

Status FeedTokenizerBpe(const uint8_t* data, size_t size) {
  const fs::path dir = ScratchDir("tokenizer_bpe");
  PutParts(dir, CutParts(AsText(data, size), 3), {"vocab.json", "merges.txt", "tokenizer_config.json"});
  T81_ASSIGN_OR_RETURN(const text::Tokenizer t, text::Tokenizer::Load(dir));
  return RoundTrip(t);
}

}  // namespace t81::fuzz
