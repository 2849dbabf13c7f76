// safetensors reader and writer: writer -> reader round trips, hand-made files for the F16 / BF16
// / I32 decoders, and one hand-made broken file per validation rule of SafeTensorsFile::Open
// (every error names the file, and the tensor where one is at fault).
#include "t81/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace t81::io {
namespace {

namespace fs = std::filesystem;

class SafeTensors : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("t81_safetensors_test_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // u64 LE header length, the header, then the data region.
  std::string WriteRaw(const std::string& name, const std::string& header, const std::string& data) {
    std::string bytes(8, '\0');
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((n >> (8 * i)) & 0xff);
    bytes += header;
    bytes += data;
    return WriteBytes(name, bytes);
  }
  std::string WriteBytes(const std::string& name, const std::string& bytes) {
    const std::string p = Path(name);
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    EXPECT_TRUE(f.good());
    return p;
  }
  // Open must fail; the message names the file and every string in `also`.
  void ExpectOpenError(const std::string& path, std::vector<std::string> also = {}) {
    auto r = SafeTensorsFile::Open(path);
    ASSERT_FALSE(r.ok()) << path << " opened";
    const std::string& msg = r.status().message();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const auto& s : also) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
  }

  fs::path dir_;
};

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST_F(SafeTensors, WriterReaderRoundTrip) {
  const std::vector<float> a = {1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-30f};
  const std::vector<int64_t> ids = {0, -1, int64_t(1) << 40, std::numeric_limits<int64_t>::min()};
  const std::vector<float> scalar = {42.0f};
  const std::vector<float> w = {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
  SafeTensorsWriter wr;
  wr.AddF32("model.a", {2, 3}, a.data());
  wr.AddI64("input_ids", {4}, ids.data());
  wr.AddF32("s", {}, scalar.data());
  wr.AddF32("w.weight", {2, 3, 4}, w.data());
  wr.SetMetadata("format", "pt");
  wr.SetMetadata("note", "hello \"world\"");
  const std::string p = Path("rt.safetensors");
  ASSERT_TRUE(wr.Write(p).ok());

  auto r = SafeTensorsFile::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const SafeTensorsFile& f = *r.value();
  EXPECT_EQ(f.path(), p);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "hello \"world\"");

  const TensorInfo* ta = f.Find("model.a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, DType::kF32);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ta->numel(), 6);
  EXPECT_EQ(ta->end - ta->begin, 24u);
  auto va = f.ReadFloat("model.a");
  ASSERT_TRUE(va.ok()) << va.status().message();
  ASSERT_EQ(va->size(), a.size());
  EXPECT_EQ(std::memcmp(va->data(), a.data(), 24), 0);  // bit exact, -0.0 included

  const TensorInfo* ti = f.Find("input_ids");
  ASSERT_NE(ti, nullptr);
  EXPECT_EQ(ti->dtype, DType::kI64);
  EXPECT_EQ(ti->shape, (std::vector<int64_t>{4}));
  auto vi = f.ReadInt("input_ids");
  ASSERT_TRUE(vi.ok()) << vi.status().message();
  EXPECT_EQ(vi.value(), ids);

  const TensorInfo* ts = f.Find("s");
  ASSERT_NE(ts, nullptr);
  EXPECT_TRUE(ts->shape.empty());
  EXPECT_EQ(ts->numel(), 1);
  EXPECT_EQ(f.ReadFloat("s").value(), scalar);

  EXPECT_EQ(f.Find("w.weight")->shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(f.ReadFloat("w.weight").value(), w);
  EXPECT_EQ(f.Find("nope"), nullptr);

  // The data region starts 8-byte aligned (header padded) and holds exactly the tensors.
  std::ifstream in(p, std::ios::binary);
  uint64_t hlen = 0;
  in.read(reinterpret_cast<char*>(&hlen), 8);
  EXPECT_EQ((8 + hlen) % 8, 0u);
  EXPECT_EQ(fs::file_size(p), 8 + hlen + 24 + 32 + 4 + 96);
  // The writer leaves no temporary file behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(SafeTensors, WriterWithoutMetadataAndOverwrite) {
  const std::vector<float> a = {1, 2};
  const std::string p = Path("x.safetensors");
  {
    SafeTensorsWriter wr;
    wr.AddF32("a", {2}, a.data());
    ASSERT_TRUE(wr.Write(p).ok());
  }
  {
    SafeTensorsWriter wr;
    const std::vector<float> b = {5, 6, 7};
    wr.AddF32("b", {3}, b.data());
    ASSERT_TRUE(wr.Write(p).ok());  // replaces the old file
  }
  auto r = SafeTensorsFile::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r.value()->metadata().empty());
  ASSERT_EQ(r.value()->tensors().size(), 1u);
  EXPECT_EQ(r.value()->Find("a"), nullptr);
  EXPECT_EQ(r.value()->ReadFloat("b").value(), (std::vector<float>{5, 6, 7}));
}

TEST_F(SafeTensors, DecodesF16) {
  // 1.0, -2.5, 65504 (largest half), 0, smallest subnormal 2^-24, -inf.
  const std::vector<uint16_t> h = {0x3c00, 0xc100, 0x7bff, 0x0000, 0x0001, 0xfc00};
  const std::string p = WriteRaw(
      "f16.safetensors", R"({"h":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}})", Bytes(h));
  auto r = SafeTensorsFile::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()->Find("h")->dtype, DType::kF16);
  auto v = r.value()->ReadFloat("h");
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->size(), 6u);
  EXPECT_EQ((*v)[0], 1.0f);
  EXPECT_EQ((*v)[1], -2.5f);
  EXPECT_EQ((*v)[2], 65504.0f);
  EXPECT_EQ((*v)[3], 0.0f);
  EXPECT_EQ((*v)[4], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf((*v)[5]) && (*v)[5] < 0);
  // F16 is not an integer type.
  auto bad = r.value()->ReadInt("h");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'h'"), std::string::npos) << bad.status().message();
}

TEST_F(SafeTensors, DecodesBF16) {
  // 1.0, -2.5, 3.140625, 0x7f7f (largest finite bf16 = 3.3895314e38).
  const std::vector<uint16_t> h = {0x3f80, 0xc020, 0x4049, 0x7f7f};
  const std::string p = WriteRaw(
      "bf16.safetensors", R"({"__metadata__":{"k":"v"},"b":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})",
      Bytes(h));
  auto r = SafeTensorsFile::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()->metadata().at("k"), "v");
  auto v = r.value()->ReadFloat("b");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v.value(), (std::vector<float>{1.0f, -2.5f, 3.140625f, 3.3895313892515355e38f}));
}

TEST_F(SafeTensors, DecodesI32AndDataOffsetsAreRelative) {
  // Two tensors stored in reverse order of the header, with 4 unused bytes in front.
  const std::vector<int32_t> ints = {-7, 2147483647};
  const std::vector<float> fl = {0.5f};
  std::string data(4, 'x');
  data += Bytes(fl);
  data += Bytes(ints);
  const std::string p = WriteRaw(
      "i32.safetensors",
      R"({"i":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},"f":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
      data);
  auto r = SafeTensorsFile::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()->ReadInt("i").value(), (std::vector<int64_t>{-7, 2147483647}));
  EXPECT_EQ(r.value()->ReadFloat("f").value(), fl);
}

TEST_F(SafeTensors, ReadWrongDTypeOrMissingName) {
  const std::vector<float> a = {1, 2};
  const std::vector<int64_t> b = {3, 4};
  SafeTensorsWriter wr;
  wr.AddF32("floats", {2}, a.data());
  wr.AddI64("ints", {2}, b.data());
  const std::string p = Path("m.safetensors");
  ASSERT_TRUE(wr.Write(p).ok());
  auto r = SafeTensorsFile::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const SafeTensorsFile& f = *r.value();

  auto e1 = f.ReadFloat("ints");
  ASSERT_FALSE(e1.ok());
  EXPECT_NE(e1.status().message().find("'ints'"), std::string::npos) << e1.status().message();
  EXPECT_NE(e1.status().message().find(p), std::string::npos) << e1.status().message();
  EXPECT_NE(e1.status().message().find("I64"), std::string::npos) << e1.status().message();

  auto e2 = f.ReadInt("floats");
  ASSERT_FALSE(e2.ok());
  EXPECT_NE(e2.status().message().find("'floats'"), std::string::npos) << e2.status().message();
  EXPECT_NE(e2.status().message().find(p), std::string::npos) << e2.status().message();
  EXPECT_NE(e2.status().message().find("F32"), std::string::npos) << e2.status().message();

  auto e3 = f.ReadFloat("missing.tensor");
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.status().message().find("missing.tensor"), std::string::npos) << e3.status().message();
  auto e4 = f.ReadInt("missing.tensor");
  ASSERT_FALSE(e4.ok());
  EXPECT_NE(e4.status().message().find("missing.tensor"), std::string::npos) << e4.status().message();
}

// --- Open errors --------------------------------------------------------------------------------

TEST_F(SafeTensors, ErrorMissingFileAndDirectory) {
  ExpectOpenError(Path("does_not_exist.safetensors"));
  ExpectOpenError(dir_.string());
}

TEST_F(SafeTensors, ErrorShorterThanEightBytes) {
  ExpectOpenError(WriteBytes("short.safetensors", std::string("\x02\x00\x00", 3)));
  ExpectOpenError(WriteBytes("empty.safetensors", ""));
}

TEST_F(SafeTensors, ErrorHeaderLengthPastEnd) {
  std::string bytes(8, '\0');
  bytes[0] = char(0xe8);  // 1000
  bytes[1] = char(0x03);
  bytes += "{}";
  ExpectOpenError(WriteBytes("hlen.safetensors", bytes), {"1000"});
  // A huge length that would overflow 8 + hlen.
  std::string huge(8, char(0xff));
  huge += "{}";
  ExpectOpenError(WriteBytes("huge.safetensors", huge));
}

TEST_F(SafeTensors, ErrorHeaderNotJson) {
  ExpectOpenError(WriteRaw("nj.safetensors", R"({"a": {"dtype": "F32", )", std::string(8, '\0')));
  ExpectOpenError(WriteRaw("garbage.safetensors", "\xff\xfe not json", ""));
}

TEST_F(SafeTensors, ErrorHeaderNotObject) {
  ExpectOpenError(WriteRaw("arr.safetensors", "[1, 2, 3]", ""));
  ExpectOpenError(WriteRaw("str.safetensors", R"("a string")", ""));
  ExpectOpenError(WriteRaw("meta.safetensors", R"({"__metadata__": [1]})", ""));
}

TEST_F(SafeTensors, ErrorUnknownDType) {
  ExpectOpenError(WriteRaw("f8.safetensors", R"({"t8": {"dtype": "F8", "shape": [2], "data_offsets": [0, 2]}})",
                           std::string(2, '\0')),
                  {"'t8'", "F8"});
  ExpectOpenError(WriteRaw("f8n.safetensors", R"({"t9": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})",
                           std::string(8, '\0')),
                  {"'t9'"});
}

TEST_F(SafeTensors, ErrorNegativeOrBadShape) {
  ExpectOpenError(WriteRaw("neg.safetensors", R"({"negt": {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]}})",
                           std::string(8, '\0')),
                  {"'negt'", "shape"});
  ExpectOpenError(WriteRaw("frac.safetensors", R"({"fract": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
                           std::string(4, '\0')),
                  {"'fract'"});
  ExpectOpenError(WriteRaw("noarr.safetensors", R"({"sh": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})",
                           std::string(8, '\0')),
                  {"'sh'"});
  // 2^40 · 2^40 elements: rejected without overflowing.
  ExpectOpenError(
      WriteRaw("big.safetensors",
               R"({"bigt": {"dtype": "F32", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 0]}})", ""),
      {"'bigt'"});
  // A zero dimension beside 2^63: the product is 0, but the dimension alone is refused (it would
  // be negative as int64).
  ExpectOpenError(WriteRaw("zero_big.safetensors",
                           R"({"zb": {"dtype": "F32", "shape": [0, 9223372036854775808], "data_offsets": [0, 0]}})", ""),
                  {"'zb'", "absurdly large"});
  ExpectOpenError(WriteRaw("rank9.safetensors",
                           R"({"r9": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 4]}})",
                           std::string(4, '\0')),
                  {"'r9'", "dimensions"});
}

TEST_F(SafeTensors, ErrorHeaderNestedTooDeep) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  ExpectOpenError(WriteRaw("deep.safetensors", R"({"__metadata__": {"x": )" + deep + "}}", ""), {"nested deeper"});
}

TEST_F(SafeTensors, ErrorDataOffsetsOutOfBounds) {
  ExpectOpenError(WriteRaw("oob.safetensors", R"({"oobt": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                           std::string(8, '\0')),
                  {"'oobt'"});
  ExpectOpenError(WriteRaw("rev.safetensors", R"({"revt": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})",
                           std::string(8, '\0')),
                  {"'revt'"});
  ExpectOpenError(WriteRaw("negoff.safetensors", R"({"nego": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})",
                           std::string(8, '\0')),
                  {"'nego'"});
  ExpectOpenError(WriteRaw("three.safetensors", R"({"thr": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}})",
                           std::string(8, '\0')),
                  {"'thr'"});
}

TEST_F(SafeTensors, ErrorByteCountDoesNotMatchShape) {
  ExpectOpenError(WriteRaw("cnt.safetensors", R"({"cnt": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
                           std::string(16, '\0')),
                  {"'cnt'"});
  ExpectOpenError(WriteRaw("cnt16.safetensors", R"({"c16": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 16]}})",
                           std::string(16, '\0')),
                  {"'c16'"});
}

TEST_F(SafeTensors, ErrorOverlappingTensors) {
  ExpectOpenError(WriteRaw("ov.safetensors",
                           R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                           R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                           std::string(12, '\0')),
                  {"overlap"});
  // The same range twice.
  ExpectOpenError(WriteRaw("same.safetensors",
                           R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                           R"( "b": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}})",
                           std::string(8, '\0')),
                  {"overlap"});
  // One tensor inside another.
  ExpectOpenError(WriteRaw("inside.safetensors",
                           R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                           R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                           std::string(16, '\0')),
                  {"overlap"});
}

TEST_F(SafeTensors, EmptyTensorsDoNotOverlap) {
  // Zero-size tensors occupy no bytes, so they may sit anywhere (even at the same offset).
  const std::string p = WriteRaw("empty.safetensors",
                                 R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                 R"( "e1": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]},)"
                                 R"( "e2": {"dtype": "F32", "shape": [0, 3], "data_offsets": [8, 8]},)"
                                 R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                                 std::string(12, '\0'));
  auto r = SafeTensorsFile::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r.value()->ReadFloat("e2").value().empty());
}

// An empty tensor whose offset falls inside a large tensor must not hide an overlap between that
// large tensor and a later one: ranges sorted by begin are (0,400) (40,40) (200,240), and the
// overlap check in Open compares each range only with its predecessor, skipping empty ones, so
// (200,240) is compared with the empty (40,40) and the overlap with (0,400) is never seen.
TEST_F(SafeTensors, OverlapHiddenBehindEmptyTensor) {
  ExpectOpenError(WriteRaw("hidden.safetensors",
                           R"({"big": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]},)"
                           R"( "empty": {"dtype": "F32", "shape": [0], "data_offsets": [40, 40]},)"
                           R"( "later": {"dtype": "F32", "shape": [10], "data_offsets": [200, 240]}})",
                           std::string(400, '\0')),
                  {"overlap"});
}

TEST_F(SafeTensors, ErrorMissingFields) {
  ExpectOpenError(WriteRaw("nooff.safetensors", R"({"nooff": {"dtype": "F32", "shape": [2]}})", std::string(8, '\0')),
                  {"'nooff'", "data_offsets"});
  ExpectOpenError(WriteRaw("nodt.safetensors", R"({"nodt": {"shape": [2], "data_offsets": [0, 8]}})",
                           std::string(8, '\0')),
                  {"'nodt'"});
  ExpectOpenError(WriteRaw("nosh.safetensors", R"({"nosh": {"dtype": "F32", "data_offsets": [0, 8]}})",
                           std::string(8, '\0')),
                  {"'nosh'"});
  ExpectOpenError(WriteRaw("notobj.safetensors", R"({"notobj": [1, 2]})", ""), {"'notobj'"});
}

TEST_F(SafeTensors, ErrorTruncatedFile) {
  const std::vector<float> a(16, 1.0f), z(8, 2.0f);
  SafeTensorsWriter wr;
  wr.AddF32("a_first", {16}, a.data());
  wr.AddF32("z_last", {8}, z.data());  // stored last: the truncation cuts into it
  const std::string p = Path("trunc.safetensors");
  ASSERT_TRUE(wr.Write(p).ok());
  ASSERT_TRUE(SafeTensorsFile::Open(p).ok());
  fs::resize_file(p, fs::file_size(p) - 5);
  ExpectOpenError(p, {"'z_last'"});
  // Cut into the header itself.
  std::ifstream in(p, std::ios::binary);
  uint64_t hlen = 0;
  in.read(reinterpret_cast<char*>(&hlen), 8);
  in.close();
  fs::resize_file(p, 8 + hlen / 2);
  ExpectOpenError(p);
}

}  // namespace
}  // namespace t81::io
