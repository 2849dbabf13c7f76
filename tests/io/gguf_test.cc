// GGUF reader and writer: GgufWriter -> GgufFile round trips (every metadata setter, F32 / F16 /
// TQ1_0 / TQ2_0 tensors, default and custom alignment), a hand-made Q8_0 file, hand-made broken
// files (one per validation rule of GgufFile::Open; every error names the file), the writer's
// checks, the ggml type table and GgmlTensorBytes, and Dequantize of a type t81 does not decode.
#include "t81/io/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "t81/base/fp16.h"
#include "t81/quant/tq.h"

namespace t81::io {
namespace {

namespace fs = std::filesystem;

// Little-endian byte builder for hand-made GGUF files.
struct Buf {
  std::string s;
  template <typename T>
  Buf& Put(T v) {
    char c[sizeof(T)];
    std::memcpy(c, &v, sizeof(T));
    s.append(c, sizeof(T));
    return *this;
  }
  Buf& U8(uint8_t v) { return Put(v); }
  Buf& U32(uint32_t v) { return Put(v); }
  Buf& U64(uint64_t v) { return Put(v); }
  Buf& I32(int32_t v) { return Put(v); }
  Buf& F32(float v) { return Put(v); }
  Buf& Str(const std::string& v) {
    U64(v.size());
    s += v;
    return *this;
  }
  Buf& Raw(const std::string& v) {
    s += v;
    return *this;
  }
  Buf& PadTo(size_t a) {
    s.resize((s.size() + a - 1) / a * a, '\0');
    return *this;
  }
  // One KV pair.
  Buf& KvU32(const std::string& k, uint32_t v) { return Str(k).U32(uint32_t(GgufType::kU32)).U32(v); }
  Buf& KvI32(const std::string& k, int32_t v) { return Str(k).U32(uint32_t(GgufType::kI32)).I32(v); }
  Buf& KvStr(const std::string& k, const std::string& v) { return Str(k).U32(uint32_t(GgufType::kString)).Str(v); }
  // One tensor info.
  Buf& Info(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type, uint64_t offset) {
    Str(name).U32(uint32_t(ne.size()));
    for (uint64_t d : ne) U64(d);
    return U32(type).U64(offset);
  }
};

std::string Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  Buf b;
  b.Raw("GGUF").U32(version).U64(n_tensors).U64(n_kv);
  return b.s;
}

// Header, KV bytes, tensor info bytes, padding to `align`, data.
std::string MakeGguf(uint64_t n_tensors, uint64_t n_kv, const Buf& kv, const Buf& infos, const std::string& data,
                 size_t align = 32, uint32_t version = 3) {
  Buf b;
  b.Raw(Header(version, n_tensors, n_kv)).Raw(kv.s).Raw(infos.s).PadTo(align).Raw(data);
  return b.s;
}

std::vector<uint8_t> F32Bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::string F32Str(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::vector<float> Iota(size_t n, float start = 0.5f, float step = 1.25f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * float(i) * (i % 2 ? -1.0f : 1.0f);
  return v;
}

std::vector<float> RandomWeights(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<float> w(n);
  for (float& x : w) x = d(rng);
  return w;
}

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("t81_gguf_test_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string WriteBytes(const std::string& name, const std::string& bytes) {
    const std::string p = Path(name);
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    f.close();
    EXPECT_TRUE(f.good());
    return p;
  }
  std::string ReadBytes(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  // Open must fail; the message names the file and every string in `also`.
  void ExpectOpenError(const std::string& path, const std::vector<std::string>& also = {}) {
    auto r = GgufFile::Open(path);
    ASSERT_FALSE(r.ok()) << path << " opened";
    const std::string& msg = r.status().message();
    EXPECT_NE(msg.find(path), std::string::npos) << "path not in: " << msg;
    for (const auto& s : also) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
  }
  std::unique_ptr<GgufFile> OpenOk(const std::string& path) {
    auto r = GgufFile::Open(path);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return nullptr;
    return std::move(r).value();
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_F(GgufTest, WriterReaderRoundTrip) {
  GgufWriter w;
  w.SetString("general.name", std::string("t81 \xce\xbc-model\0x", 14));
  w.SetU32("u32", 0xDEADBEEFu);
  w.SetI32("i32", -123456789);
  w.SetF32("f32", 3.14159f);
  w.SetBool("bool_t", true);
  w.SetBool("bool_f", false);
  w.SetStringArray("strs", {"a", "", "hello world", "\xe2\x96\x81tok"});
  w.SetI32Array("ints", {0, -1, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), 7});
  w.SetF32Array("floats", {1.5f, -0.0f, 1e-30f, -2.75f});
  w.SetI32Array("empty", {});

  const std::vector<float> f32 = Iota(24);
  const std::vector<float> f16_src = {0.1f, -2.0f, 65504.0f, 1e-7f, 3.14159f, -0.0f, 1.0f / 3.0f, 1000.1f, -7.77f, 0.5f};
  std::vector<uint8_t> f16_bytes(f16_src.size() * 2);
  for (size_t i = 0; i < f16_src.size(); ++i) {
    const uint16_t h = base::Fp32ToFp16(f16_src[i]);
    std::memcpy(f16_bytes.data() + 2 * i, &h, 2);
  }
  const std::vector<float> w2 = RandomWeights(3 * 512, 1);
  const quant::TernaryMatrix tq2 =
      quant::QuantizeMatrix(w2.data(), 3, 512, quant::Granularity::kBlock, 0.45f, quant::TqFormat::kTq2_0);
  const std::vector<float> w1 = RandomWeights(2 * 256, 2);
  const quant::TernaryMatrix tq1 =
      quant::QuantizeMatrix(w1.data(), 2, 256, quant::Granularity::kRow, 0.45f, quant::TqFormat::kTq1_0);
  ASSERT_EQ(tq2.data.size(), 3u * 2 * 66);
  ASSERT_EQ(tq1.data.size(), 2u * 54);

  ASSERT_TRUE(w.AddTensor("f32.weight", {8, 3}, quant::kGgmlF32, F32Bytes(f32)).ok());
  ASSERT_TRUE(w.AddTensor("f16.weight", {5, 2}, quant::kGgmlF16, f16_bytes).ok());  // 20 bytes: next one needs padding
  ASSERT_TRUE(w.AddTensor("tq2.weight", {512, 3}, quant::kGgmlTq2_0, tq2.data).ok());
  ASSERT_TRUE(w.AddTensor("tq1.weight", {256, 2}, quant::kGgmlTq1_0, tq1.data).ok());
  EXPECT_EQ(w.tensor_count(), 4);
  const std::string p = Path("rt.gguf");
  ASSERT_TRUE(w.Write(p).ok());

  auto f = OpenOk(p);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->path(), p);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->file_size(), fs::file_size(p));
  EXPECT_EQ(f->kv().size(), 10u);

  const GgufValue* v = f->Find("general.name");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kString);
  EXPECT_EQ(v->s, std::string("t81 \xce\xbc-model\0x", 14));
  v = f->Find("u32");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kU32);
  EXPECT_EQ(v->u, 0xDEADBEEFu);
  v = f->Find("i32");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kI32);
  EXPECT_EQ(v->i, -123456789);
  v = f->Find("f32");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kF32);
  EXPECT_EQ(v->f, double(3.14159f));
  v = f->Find("bool_t");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kBool);
  EXPECT_TRUE(v->b);
  v = f->Find("bool_f");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kBool);
  EXPECT_FALSE(v->b);
  v = f->Find("strs");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kArray);
  EXPECT_EQ(v->elem_type, GgufType::kString);
  EXPECT_EQ(v->array_size(), 4u);
  EXPECT_EQ(v->strs, (std::vector<std::string>{"a", "", "hello world", "\xe2\x96\x81tok"}));
  v = f->Find("ints");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kArray);
  EXPECT_EQ(v->elem_type, GgufType::kI32);
  EXPECT_EQ(v->nums, (std::vector<double>{0, -1, double(std::numeric_limits<int32_t>::min()),
                                          double(std::numeric_limits<int32_t>::max()), 7}));
  v = f->Find("floats");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->elem_type, GgufType::kF32);
  ASSERT_EQ(v->nums.size(), 4u);
  EXPECT_EQ(v->nums[0], 1.5);
  EXPECT_EQ(v->nums[1], 0.0);
  EXPECT_TRUE(std::signbit(v->nums[1]));
  EXPECT_EQ(v->nums[2], double(1e-30f));
  EXPECT_EQ(v->nums[3], -2.75);
  v = f->Find("empty");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, GgufType::kArray);
  EXPECT_EQ(v->array_size(), 0u);
  EXPECT_EQ(f->Find("missing"), nullptr);

  // Tensors: order, shapes, types, sizes, aligned offsets, the exact bytes.
  ASSERT_EQ(f->tensors().size(), 4u);
  const char* names[] = {"f32.weight", "f16.weight", "tq2.weight", "tq1.weight"};
  const std::vector<std::vector<int64_t>> shapes = {{8, 3}, {5, 2}, {512, 3}, {256, 2}};
  const uint32_t types[] = {quant::kGgmlF32, quant::kGgmlF16, quant::kGgmlTq2_0, quant::kGgmlTq1_0};
  const std::vector<std::vector<uint8_t>> bytes = {F32Bytes(f32), f16_bytes, tq2.data, tq1.data};
  uint64_t prev_end = 0;
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(names[i]);
    const GgufTensor& t = f->tensors()[i];
    EXPECT_EQ(t.name, names[i]);
    EXPECT_EQ(f->FindTensor(names[i]), &t);
    EXPECT_EQ(t.ne, shapes[i]);
    EXPECT_EQ(t.type, types[i]);
    EXPECT_EQ(t.bytes, bytes[i].size());
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_GE(t.offset, prev_end);
    prev_end = t.offset + t.bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f->data(t)) % 32, 0u);  // the data section itself is aligned
    EXPECT_EQ(std::memcmp(f->data(t), bytes[i].data(), bytes[i].size()), 0);
  }
  EXPECT_EQ(f->FindTensor("missing"), nullptr);
  EXPECT_EQ(f->tensors()[1].offset, 96u);
  EXPECT_EQ(f->tensors()[2].offset, 128u);  // 96 + 20 rounded up to 32

  auto d32 = f->Dequantize(*f->FindTensor("f32.weight"));
  ASSERT_TRUE(d32.ok()) << d32.status().message();
  EXPECT_EQ(d32.value(), f32);

  auto d16 = f->Dequantize(*f->FindTensor("f16.weight"));
  ASSERT_TRUE(d16.ok()) << d16.status().message();
  ASSERT_EQ(d16->size(), f16_src.size());
  for (size_t i = 0; i < f16_src.size(); ++i) {
    const float want = base::RoundToFp16(f16_src[i]);
    EXPECT_EQ(std::memcmp(&d16.value()[i], &want, 4), 0) << i << ": " << d16.value()[i] << " vs " << want;
  }
  EXPECT_EQ(d16.value()[2], 65504.0f);
  EXPECT_NE(d16.value()[0], 0.1f);  // really rounded to fp16

  std::vector<float> want2(3 * 512), want1(2 * 256);
  quant::Dequantize(tq2, want2.data());
  quant::Dequantize(tq1, want1.data());
  auto dq2 = f->Dequantize(*f->FindTensor("tq2.weight"));
  ASSERT_TRUE(dq2.ok()) << dq2.status().message();
  EXPECT_EQ(dq2.value(), want2);
  auto dq1 = f->Dequantize(*f->FindTensor("tq1.weight"));
  ASSERT_TRUE(dq1.ok()) << dq1.status().message();
  EXPECT_EQ(dq1.value(), want1);
  // The ternary tensors are not degenerate: some weights nonzero, of both signs.
  int pos = 0, neg = 0;
  for (float x : want2) pos += x > 0, neg += x < 0;
  EXPECT_GT(pos, 100);
  EXPECT_GT(neg, 100);

  // The atomic writer leaves no temporary file behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(GgufTest, CustomAlignment64) {
  GgufWriter w;
  w.SetU32("general.alignment", 64);
  w.SetString("general.name", "x");
  const std::vector<float> a = Iota(3), b = Iota(17, -1.0f), c = Iota(40, 2.0f);
  ASSERT_TRUE(w.AddTensor("a", {3}, quant::kGgmlF32, F32Bytes(a)).ok());
  ASSERT_TRUE(w.AddTensor("b", {17}, quant::kGgmlF32, F32Bytes(b)).ok());
  ASSERT_TRUE(w.AddTensor("c", {8, 5}, quant::kGgmlF32, F32Bytes(c)).ok());
  const std::string p = Path("a64.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  auto f = OpenOk(p);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 64u);
  ASSERT_EQ(f->tensors().size(), 3u);
  const std::vector<float>* want[] = {&a, &b, &c};
  for (size_t i = 0; i < 3; ++i) {
    const GgufTensor& t = f->tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.offset % 64, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f->data(t)) % 64, 0u);
    auto d = f->Dequantize(t);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(d.value(), *want[i]);
  }
  EXPECT_EQ(f->tensors()[1].offset, 64u);   // 12 bytes -> 64
  EXPECT_EQ(f->tensors()[2].offset, 192u);  // 64 + 68 -> 192
  // The writer pads after every tensor, so the file ends on a multiple of 64.
  EXPECT_EQ(f->file_size() % 64, 0u);
}

TEST_F(GgufTest, WriterSetterOverwritesKey) {
  GgufWriter w;
  w.SetString("k", "first");
  w.SetU32("n", 1);
  w.SetString("k", "second");
  const std::string p = Path("ow.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  auto f = OpenOk(p);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kv().size(), 2u);
  ASSERT_NE(f->Find("k"), nullptr);
  EXPECT_EQ(f->Find("k")->s, "second");
  EXPECT_TRUE(f->tensors().empty());
}

// A hand-made file (not from GgufWriter) with every scalar width the reader handles, version 2.
TEST_F(GgufTest, HandMadeFileOpens) {
  Buf kv;
  kv.Str("u8").U32(uint32_t(GgufType::kU8)).U8(200);
  kv.Str("i8").U32(uint32_t(GgufType::kI8)).Put<int8_t>(-100);
  kv.Str("u16").U32(uint32_t(GgufType::kU16)).Put<uint16_t>(60000);
  kv.Str("i16").U32(uint32_t(GgufType::kI16)).Put<int16_t>(-30000);
  kv.Str("u64").U32(uint32_t(GgufType::kU64)).U64(uint64_t(1) << 50);
  kv.Str("i64").U32(uint32_t(GgufType::kI64)).Put<int64_t>(-(int64_t(1) << 50));
  kv.Str("f64").U32(uint32_t(GgufType::kF64)).Put<double>(2.718281828459045);
  kv.Str("u16s").U32(uint32_t(GgufType::kArray)).U32(uint32_t(GgufType::kU16)).U64(3)
      .Put<uint16_t>(1).Put<uint16_t>(2).Put<uint16_t>(65535);
  Buf infos;
  infos.Info("t", {8}, quant::kGgmlF32, 0);
  const std::vector<float> data = Iota(8);
  const std::string p = WriteBytes("hand.gguf", MakeGguf(1, 8, kv, infos, F32Str(data), 32, 2));
  auto f = OpenOk(p);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->Find("u8")->u, 200u);
  EXPECT_EQ(f->Find("i8")->i, -100);
  EXPECT_EQ(f->Find("u16")->u, 60000u);
  EXPECT_EQ(f->Find("i16")->i, -30000);
  EXPECT_EQ(f->Find("u64")->u, uint64_t(1) << 50);
  EXPECT_EQ(f->Find("i64")->i, -(int64_t(1) << 50));
  EXPECT_EQ(f->Find("f64")->f, 2.718281828459045);
  EXPECT_EQ(f->Find("u16s")->nums, (std::vector<double>{1, 2, 65535}));
  const GgufTensor* t = f->FindTensor("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->numel(), 8);
  auto d = f->Dequantize(*t);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d.value(), data);
}

// ---------------------------------------------------------------------------------------------
// Q8_0

TEST_F(GgufTest, HandMadeQ8_0DequantizesToDTimesQ) {
  // ne = [64, 2]: 2 blocks per row, 4 blocks of (fp16 d, 32 int8).
  const float ds[4] = {0.5f, -0.25f, 1.5e-3f, 3.0f};
  std::string data;
  std::vector<float> want;
  for (int b = 0; b < 4; ++b) {
    const uint16_t h = base::Fp32ToFp16(ds[b]);
    data.append(reinterpret_cast<const char*>(&h), 2);
    for (int i = 0; i < 32; ++i) {
      const int8_t q = int8_t(b == 3 ? (i == 0 ? -128 : i == 1 ? 127 : i - 16) : (i * 7 + b * 13) % 255 - 127);
      data.push_back(char(q));
      want.push_back(base::RoundToFp16(ds[b]) * float(q));
    }
  }
  ASSERT_EQ(data.size(), 4u * 34);
  Buf infos;
  infos.Info("q8", {64, 2}, quant::kGgmlQ8_0, 0);
  const std::string p = WriteBytes("q8.gguf", MakeGguf(1, 0, Buf{}, infos, data));
  auto f = OpenOk(p);
  ASSERT_NE(f, nullptr);
  const GgufTensor* t = f->FindTensor("q8");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, quant::kGgmlQ8_0);
  EXPECT_EQ(t->bytes, 136u);
  auto d = f->Dequantize(*t);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d.value(), want);
  EXPECT_EQ(d.value()[96], -128 * 3.0f);
  EXPECT_EQ(d.value()[97], 127 * 3.0f);
}

// ---------------------------------------------------------------------------------------------
// Broken files

TEST_F(GgufTest, MissingFileAndDirectory) {
  ExpectOpenError(Path("does_not_exist.gguf"), {"cannot open"});
  ExpectOpenError(dir_.string(), {"regular file"});
}

TEST_F(GgufTest, BadMagic) {
  std::string b = MakeGguf(0, 0, Buf{}, Buf{}, "");
  b[3] = 'X';
  ExpectOpenError(WriteBytes("magic.gguf", b), {"magic"});
  std::string b2 = MakeGguf(0, 0, Buf{}, Buf{}, "");
  b2[0] = 'g';
  ExpectOpenError(WriteBytes("magic2.gguf", b2), {"magic"});
}

TEST_F(GgufTest, UnsupportedVersion) {
  ExpectOpenError(WriteBytes("v1.gguf", MakeGguf(0, 0, Buf{}, Buf{}, "", 32, 1)), {"version", "1"});
  ExpectOpenError(WriteBytes("v4.gguf", MakeGguf(0, 0, Buf{}, Buf{}, "", 32, 4)), {"version", "4"});
  ExpectOpenError(WriteBytes("v0.gguf", MakeGguf(0, 0, Buf{}, Buf{}, "", 32, 0)), {"version"});
  // Control: the same file with version 3 (and 2) opens.
  EXPECT_NE(OpenOk(WriteBytes("v3.gguf", MakeGguf(0, 0, Buf{}, Buf{}, "", 32, 3))), nullptr);
  EXPECT_NE(OpenOk(WriteBytes("v2.gguf", MakeGguf(0, 0, Buf{}, Buf{}, "", 32, 2))), nullptr);
}

TEST_F(GgufTest, ShorterThanHeader) {
  const std::string h = Header(3, 0, 0);
  ASSERT_EQ(h.size(), 24u);
  ExpectOpenError(WriteBytes("empty.gguf", ""), {"truncated"});
  ExpectOpenError(WriteBytes("magic_only.gguf", "GGUF"), {"truncated"});
  ExpectOpenError(WriteBytes("short.gguf", h.substr(0, 23)), {"truncated"});
}

TEST_F(GgufTest, AbsurdCounts) {
  const std::string tail(64, '\0');
  ExpectOpenError(WriteBytes("nt.gguf", Header(3, uint64_t(1) << 60, 0) + tail), {"absurd", "tensor count"});
  ExpectOpenError(WriteBytes("nkv.gguf", Header(3, 0, uint64_t(1) << 60) + tail), {"absurd", "metadata count"});
  ExpectOpenError(WriteBytes("nt_max.gguf", Header(3, ~uint64_t(0), 0) + tail), {"absurd"});
  // A count that merely exceeds what the remaining 64 bytes could hold.
  ExpectOpenError(WriteBytes("nkv_small.gguf", Header(3, 0, 6) + tail), {"absurd"});
}

TEST_F(GgufTest, KeyLengthPastEnd) {
  Buf kv;
  kv.U64(1000).Raw("general.na");
  ExpectOpenError(WriteBytes("key.gguf", Header(3, 0, 1) + kv.s + std::string(8, '\0')), {"runs past the end"});
  // A tensor name running past the end as well.
  Buf infos;
  infos.U64(500).Raw("tensor");
  ExpectOpenError(WriteBytes("tname.gguf", Header(3, 1, 0) + infos.s + std::string(32, '\0')), {"runs past the end"});
}

TEST_F(GgufTest, StringValuePastEnd) {
  Buf kv;
  kv.Str("general.name").U32(uint32_t(GgufType::kString)).U64(4096).Raw("abc");
  ExpectOpenError(WriteBytes("sval.gguf", Header(3, 0, 1) + kv.s + std::string(16, '\0')), {"runs past the end"});
}

TEST_F(GgufTest, ArrayCountPastEnd) {
  Buf kv;
  kv.Str("ints").U32(uint32_t(GgufType::kArray)).U32(uint32_t(GgufType::kI32)).U64(1000).I32(1).I32(2);
  ExpectOpenError(WriteBytes("arr.gguf", Header(3, 0, 1) + kv.s + std::string(16, '\0')), {"runs past the end", "ints"});
  Buf kv2;
  kv2.Str("toks").U32(uint32_t(GgufType::kArray)).U32(uint32_t(GgufType::kString)).U64(uint64_t(1) << 40).Str("a");
  ExpectOpenError(WriteBytes("sarr.gguf", Header(3, 0, 1) + kv2.s + std::string(16, '\0')), {"runs past the end", "toks"});
}

// The reader rejects an unknown metadata type (this part holds).
TEST_F(GgufTest, UnknownKvTypeRejected) {
  Buf kv;
  kv.Str("weird").U32(99).U32(0).U32(0);
  const std::string p = WriteBytes("kv99.gguf", MakeGguf(0, 1, kv, Buf{}, ""));
  auto r = GgufFile::Open(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("99"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("weird"), std::string::npos) << r.status().message();
}

// BUG (src/t81/io/gguf.cc, ReadScalar): the "unknown metadata type" error is built without the
// file path, unlike every other error of GgufFile::Open.
TEST_F(GgufTest, UnknownKvTypeErrorNamesFile) {
  Buf kv;
  kv.Str("weird").U32(99).U32(0).U32(0);
  ExpectOpenError(WriteBytes("kv99.gguf", MakeGguf(0, 1, kv, Buf{}, "")), {"99", "weird"});
}

TEST_F(GgufTest, UnknownArrayElementType) {
  Buf kv;
  kv.Str("arr").U32(uint32_t(GgufType::kArray)).U32(77).U64(1).U64(0);
  ExpectOpenError(WriteBytes("aet.gguf", MakeGguf(0, 1, kv, Buf{}, "")), {"unknown array element type", "77", "arr"});
}

TEST_F(GgufTest, NestedArray) {
  Buf kv;
  kv.Str("nest").U32(uint32_t(GgufType::kArray)).U32(uint32_t(GgufType::kArray)).U64(1)
      .U32(uint32_t(GgufType::kI32)).U64(1).I32(5);
  ExpectOpenError(WriteBytes("nest.gguf", MakeGguf(0, 1, kv, Buf{}, "")), {"nested array", "nest"});
}

TEST_F(GgufTest, DuplicateKey) {
  Buf kv;
  kv.KvStr("general.name", "a").KvU32("n", 1).KvStr("general.name", "b");
  ExpectOpenError(WriteBytes("dupkey.gguf", MakeGguf(0, 3, kv, Buf{}, "")), {"duplicate", "general.name"});
  // Control: two distinct keys open.
  Buf ok;
  ok.KvStr("general.name", "a").KvU32("n", 1);
  EXPECT_NE(OpenOk(WriteBytes("twokeys.gguf", MakeGguf(0, 2, ok, Buf{}, ""))), nullptr);
}

TEST_F(GgufTest, BadAlignment) {
  for (uint32_t a : {0u, 48u, 3u, 96u}) {
    SCOPED_TRACE(a);
    Buf kv;
    kv.KvU32("general.alignment", a);
    ExpectOpenError(WriteBytes("align" + std::to_string(a) + ".gguf", MakeGguf(0, 1, kv, Buf{}, "", 64)),
                    {"general.alignment", "power of two"});
  }
  Buf kv_i32;
  kv_i32.KvI32("general.alignment", 32);
  ExpectOpenError(WriteBytes("align_i32.gguf", MakeGguf(0, 1, kv_i32, Buf{}, "")), {"general.alignment"});
  // Control: 16 (a power of two) opens and is used.
  Buf kv16;
  kv16.KvU32("general.alignment", 16);
  Buf infos;
  infos.Info("t", {4}, quant::kGgmlF32, 16);
  auto f = OpenOk(WriteBytes("align16.gguf", MakeGguf(1, 1, kv16, infos, std::string(32, '\0'), 16)));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 16u);
}

TEST_F(GgufTest, TensorDimensionCount) {
  Buf zero;
  zero.Str("t0").U32(0).U32(quant::kGgmlF32).U64(0);
  ExpectOpenError(WriteBytes("nd0.gguf", MakeGguf(1, 0, Buf{}, zero, std::string(32, '\0'))), {"t0", "dimensions"});
  Buf five;
  five.Info("t5", {1, 1, 1, 1, 1}, quant::kGgmlF32, 0);
  ExpectOpenError(WriteBytes("nd5.gguf", MakeGguf(1, 0, Buf{}, five, std::string(32, '\0'))), {"t5", "dimensions"});
  // Control: 4 dims open.
  Buf four;
  four.Info("t4", {2, 1, 2, 2}, quant::kGgmlF32, 0);
  auto f = OpenOk(WriteBytes("nd4.gguf", MakeGguf(1, 0, Buf{}, four, std::string(32, '\0'))));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tensors()[0].numel(), 8);
}

TEST_F(GgufTest, TensorZeroOrAbsurdDimension) {
  Buf z;
  z.Info("z", {8, 0}, quant::kGgmlF32, 0);
  ExpectOpenError(WriteBytes("zero.gguf", MakeGguf(1, 0, Buf{}, z, std::string(32, '\0'))), {"'z'", "shape"});
  Buf z0;
  z0.Info("z0", {0}, quant::kGgmlF32, 0);
  ExpectOpenError(WriteBytes("zero0.gguf", MakeGguf(1, 0, Buf{}, z0, std::string(32, '\0'))), {"'z0'", "shape"});
  Buf big;
  big.Info("big", {uint64_t(1) << 30, uint64_t(1) << 30}, quant::kGgmlF32, 0);
  ExpectOpenError(WriteBytes("big.gguf", MakeGguf(1, 0, Buf{}, big, std::string(32, '\0'))), {"'big'", "absurd"});
}

TEST_F(GgufTest, UnknownGgmlType) {
  Buf infos;
  infos.Info("w", {8}, 200, 0);
  ExpectOpenError(WriteBytes("t200.gguf", MakeGguf(1, 0, Buf{}, infos, std::string(64, '\0'))),
                  {"unknown ggml type", "200", "'w'"});
}

TEST_F(GgufTest, TernaryRowNotMultipleOf256) {
  Buf infos;
  infos.Info("tq", {128, 2}, quant::kGgmlTq2_0, 0);
  ExpectOpenError(WriteBytes("tq128.gguf", MakeGguf(1, 0, Buf{}, infos, std::string(256, '\0'))),
                  {"multiple of 256", "'tq'", "TQ2_0"});
  Buf infos1;
  infos1.Info("tq1", {300}, quant::kGgmlTq1_0, 0);
  ExpectOpenError(WriteBytes("tq1_300.gguf", MakeGguf(1, 0, Buf{}, infos1, std::string(256, '\0'))),
                  {"multiple of 256", "'tq1'"});
}

TEST_F(GgufTest, MisalignedOffset) {
  Buf infos;
  infos.Info("a", {8}, quant::kGgmlF32, 0).Info("b", {4}, quant::kGgmlF32, 48);
  ExpectOpenError(WriteBytes("mis.gguf", MakeGguf(2, 0, Buf{}, infos, std::string(128, '\0'))), {"'b'", "alignment"});
  // Control: offset 64 opens.
  Buf ok;
  ok.Info("a", {8}, quant::kGgmlF32, 0).Info("b", {4}, quant::kGgmlF32, 64);
  EXPECT_NE(OpenOk(WriteBytes("al.gguf", MakeGguf(2, 0, Buf{}, ok, std::string(128, '\0')))), nullptr);
}

TEST_F(GgufTest, OffsetPastEndOfData) {
  Buf infos;
  infos.Info("far", {8}, quant::kGgmlF32, 64);
  ExpectOpenError(WriteBytes("far.gguf", MakeGguf(1, 0, Buf{}, infos, std::string(32, '\0'))), {"'far'", "not within the file"});
  Buf huge;
  huge.Info("huge", {8}, quant::kGgmlF32, uint64_t(1) << 62);
  ExpectOpenError(WriteBytes("huge.gguf", MakeGguf(1, 0, Buf{}, huge, std::string(32, '\0'))), {"'huge'", "not within the file"});
  // Starts inside the data but its bytes run past the end.
  Buf over;
  over.Info("over", {16}, quant::kGgmlF32, 0);
  ExpectOpenError(WriteBytes("over.gguf", MakeGguf(1, 0, Buf{}, over, std::string(32, '\0'))), {"'over'", "not within the file"});
  // Control: the exact fit opens.
  Buf fit;
  fit.Info("fit", {8}, quant::kGgmlF32, 0);
  EXPECT_NE(OpenOk(WriteBytes("fit.gguf", MakeGguf(1, 0, Buf{}, fit, std::string(32, '\0')))), nullptr);
}

TEST_F(GgufTest, TruncatedTensorData) {
  GgufWriter w;
  w.SetString("general.name", "trunc");
  ASSERT_TRUE(w.AddTensor("a", {8, 3}, quant::kGgmlF32, F32Bytes(Iota(24))).ok());
  ASSERT_TRUE(w.AddTensor("b", {16}, quant::kGgmlF32, F32Bytes(Iota(16))).ok());  // 64 bytes, no trailing padding
  const std::string full_path = Path("full.gguf");
  ASSERT_TRUE(w.Write(full_path).ok());
  const std::string full = ReadBytes(full_path);
  ASSERT_NE(OpenOk(full_path), nullptr);
  for (size_t chop : {size_t(1), size_t(33), size_t(64)}) {
    SCOPED_TRACE(chop);
    const std::string p = WriteBytes("chop" + std::to_string(chop) + ".gguf", full.substr(0, full.size() - chop));
    ExpectOpenError(p, {"'b'", "not within the file"});
  }
  // Chopped into tensor "a" as well: the error names a tensor and the truncation.
  const std::string p = WriteBytes("chop_a.gguf", full.substr(0, full.size() - 64 - 40));
  ExpectOpenError(p, {"truncated"});
  // Chopped inside the metadata: still rejected, naming the file.
  const std::string p2 = WriteBytes("chop_info.gguf", full.substr(0, 60));
  ExpectOpenError(p2, {});
}

TEST_F(GgufTest, OverlappingTensorData) {
  // b starts inside a (a: 8 floats at 0, b at 0 + 32 would fit; at 0 it overlaps entirely).
  Buf same;
  same.Info("a", {8}, quant::kGgmlF32, 0).Info("b", {8}, quant::kGgmlF32, 0);
  ExpectOpenError(WriteBytes("same.gguf", MakeGguf(2, 0, Buf{}, same, std::string(64, '\0'))), {"overlap", "'a'", "'b'"});
  // Partial overlap, listed out of order: c (16 floats at 0) covers b (8 floats at 32).
  Buf part;
  part.Info("b", {8}, quant::kGgmlF32, 32).Info("c", {16}, quant::kGgmlF32, 0);
  ExpectOpenError(WriteBytes("part.gguf", MakeGguf(2, 0, Buf{}, part, std::string(96, '\0'))), {"overlap", "'c'", "'b'"});
  // Control: adjacent ranges open.
  Buf adj;
  adj.Info("b", {8}, quant::kGgmlF32, 32).Info("c", {8}, quant::kGgmlF32, 0);
  EXPECT_NE(OpenOk(WriteBytes("adj.gguf", MakeGguf(2, 0, Buf{}, adj, std::string(64, '\0')))), nullptr);
}

TEST_F(GgufTest, DuplicateTensorName) {
  Buf infos;
  infos.Info("w", {8}, quant::kGgmlF32, 0).Info("w", {8}, quant::kGgmlF32, 32);
  ExpectOpenError(WriteBytes("duptensor.gguf", MakeGguf(2, 0, Buf{}, infos, std::string(64, '\0'))), {"duplicate tensor", "'w'"});
}

// ---------------------------------------------------------------------------------------------
// Writer checks, type table, sizes

TEST_F(GgufTest, WriterRejectsWrongBytesAndDuplicates) {
  GgufWriter w;
  Status s = w.AddTensor("a", {8, 3}, quant::kGgmlF32, std::vector<uint8_t>(95));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'a'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("96"), std::string::npos) << s.message();
  EXPECT_FALSE(w.AddTensor("a", {8, 3}, quant::kGgmlF32, std::vector<uint8_t>(97)).ok());
  EXPECT_FALSE(w.AddTensor("q", {512, 2}, quant::kGgmlTq2_0, std::vector<uint8_t>(2 * 66)).ok());  // one row's worth
  EXPECT_FALSE(w.AddTensor("h", {10}, quant::kGgmlF16, std::vector<uint8_t>(40)).ok());  // F32-sized
  EXPECT_EQ(w.tensor_count(), 0);

  EXPECT_TRUE(w.AddTensor("a", {8, 3}, quant::kGgmlF32, std::vector<uint8_t>(96)).ok());
  s = w.AddTensor("a", {4}, quant::kGgmlF16, std::vector<uint8_t>(8));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'a'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("twice"), std::string::npos) << s.message();
  EXPECT_EQ(w.tensor_count(), 1);

  // Unknown type and a row that is not a whole number of blocks.
  s = w.AddTensor("u", {8}, 200, std::vector<uint8_t>(32));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown ggml type"), std::string::npos) << s.message();
  EXPECT_FALSE(w.AddTensor("q8", {33}, quant::kGgmlQ8_0, std::vector<uint8_t>(34)).ok());
  EXPECT_EQ(w.tensor_count(), 1);

  // Only the accepted tensor is written.
  const std::string p = Path("w.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  auto f = OpenOk(p);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->tensors().size(), 1u);
  EXPECT_EQ(f->tensors()[0].name, "a");
  EXPECT_EQ(f->tensors()[0].type, quant::kGgmlF32);
}

TEST(GgmlTypes, KnownTypes) {
  struct Want {
    uint32_t id;
    const char* name;
    int64_t block, size;
  };
  const Want want[] = {{quant::kGgmlF32, "F32", 1, 4},      {quant::kGgmlF16, "F16", 1, 2},        {quant::kGgmlQ8_0, "Q8_0", 32, 34},
                       {quant::kGgmlTq1_0, "TQ1_0", 256, 54}, {quant::kGgmlTq2_0, "TQ2_0", 256, 66}, {12, "Q4_K", 256, 144},
                       {30, "BF16", 1, 2}};
  for (const Want& w : want) {
    SCOPED_TRACE(w.name);
    const quant::GgmlTypeInfo* t = quant::GgmlTypeOf(w.id);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->id, w.id);
    EXPECT_STREQ(t->name, w.name);
    EXPECT_EQ(t->block, w.block);
    EXPECT_EQ(t->size, w.size);
  }
  EXPECT_EQ(quant::kGgmlF32, 0u);
  EXPECT_EQ(quant::kGgmlF16, 1u);
  EXPECT_EQ(quant::kGgmlQ8_0, 8u);
  EXPECT_EQ(quant::kGgmlTq1_0, 34u);
  EXPECT_EQ(quant::kGgmlTq2_0, 35u);
  EXPECT_EQ(quant::GgmlTypeOf(200), nullptr);
  EXPECT_EQ(quant::GgmlTypeOf(4), nullptr);  // Q4_2, removed from ggml
  EXPECT_EQ(quant::GgmlTypeOf(36), nullptr);
}

TEST(GgmlTypes, TensorBytes) {
  struct Case {
    uint32_t type;
    std::vector<int64_t> ne;
    uint64_t bytes;
  };
  const Case cases[] = {
      {quant::kGgmlF32, {8, 3}, 96},         {quant::kGgmlF32, {7}, 28},           {quant::kGgmlF16, {8, 3}, 48},
      {quant::kGgmlF16, {3, 2, 2, 5}, 120},  {quant::kGgmlQ8_0, {64, 3}, 204},     {quant::kGgmlQ8_0, {32}, 34},
      {quant::kGgmlTq1_0, {512, 2}, 216},    {quant::kGgmlTq1_0, {256}, 54},       {quant::kGgmlTq2_0, {256, 3}, 198},
      {quant::kGgmlTq2_0, {768, 2, 2}, 792}, {12, {256, 2}, 288},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "type " << c.type << " ne[0] " << c.ne[0]);
    auto r = GgmlTensorBytes(c.type, c.ne);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r.value(), c.bytes);
  }
  auto e = GgmlTensorBytes(quant::kGgmlTq2_0, {128});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("multiple of 256"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("128"), std::string::npos) << e.status().message();
  e = GgmlTensorBytes(quant::kGgmlTq1_0, {255, 4});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("multiple of 256"), std::string::npos) << e.status().message();
  e = GgmlTensorBytes(quant::kGgmlQ8_0, {48});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("multiple of 32"), std::string::npos) << e.status().message();
  e = GgmlTensorBytes(200, {8});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("unknown ggml type"), std::string::npos) << e.status().message();
  EXPECT_FALSE(GgmlTensorBytes(quant::kGgmlF32, {}).ok());
}

TEST(GgufTensorTest, Numel) {
  GgufTensor t;
  t.ne = {256, 3, 2};
  EXPECT_EQ(t.numel(), 1536);
  t.ne = {5};
  EXPECT_EQ(t.numel(), 5);
}

TEST(GgufValueTest, ArraySize) {
  GgufValue v;
  EXPECT_EQ(v.array_size(), 0u);
  v.type = GgufType::kArray;
  v.elem_type = GgufType::kString;
  v.strs = {"a", "b"};
  v.nums = {1, 2, 3};
  EXPECT_EQ(v.array_size(), 2u);
  v.elem_type = GgufType::kF32;
  EXPECT_EQ(v.array_size(), 3u);
}

// ---------------------------------------------------------------------------------------------
// A type t81 does not decode

TEST_F(GgufTest, DequantizeUnsupportedTypeNamesTensor) {
  GgufWriter w;
  std::vector<uint8_t> q4k(288);
  for (size_t i = 0; i < q4k.size(); ++i) q4k[i] = uint8_t(i * 31);
  ASSERT_TRUE(w.AddTensor("blk.0.ffn_down.weight", {256, 2}, 12, q4k).ok());
  const std::string p = Path("q4k.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  auto f = OpenOk(p);
  ASSERT_NE(f, nullptr);
  const GgufTensor* t = f->FindTensor("blk.0.ffn_down.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, 12u);
  EXPECT_EQ(t->bytes, 288u);
  EXPECT_EQ(std::memcmp(f->data(*t), q4k.data(), 288), 0);
  auto d = f->Dequantize(*t);
  ASSERT_FALSE(d.ok());
  const std::string& msg = d.status().message();
  EXPECT_NE(msg.find("blk.0.ffn_down.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Q4_K"), std::string::npos) << msg;
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
}

}  // namespace
}  // namespace t81::io
