// Specification of the GGUF reader on hand-built files: what a valid file reads as, every way a
// file can be wrong (truncated anywhere, bad magic or version, unsupported or misaligned
// tensors, overruns, duplicates, absurd counts) and the typed metadata getters. What the `gguf`
// package writes is compared in tests/gguf/make_gguf_cases.py.
#include "engine/model/gguf_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "llm/error.h"

namespace llm {
namespace {

constexpr uint32_t kF32 = 0, kQ8_0 = 8, kQ4_K = 12, kQ5_0 = 6, kIQ2_XXS = 16;

// Little-endian encoding, as GGUF stores everything.
struct Bytes {
  std::vector<std::byte> b;
  Bytes& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<std::byte>(v >> (8 * i)));
    return *this;
  }
  Bytes& u32(uint32_t v) { return le(v, 4); }
  Bytes& u64(uint64_t v) { return le(v, 8); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    for (const char c : s) b.push_back(static_cast<std::byte>(c));
    return *this;
  }
};

struct Kv {
  std::string key;
  GgufType type;
  Bytes value;  // the encoding after the type
};
Kv scalar(std::string key, GgufType type, uint64_t bits, int size) {
  return {std::move(key), type, Bytes{}.le(bits, size)};
}
Kv string_kv(std::string key, std::string_view s) {
  return {std::move(key), GgufType::kString, Bytes{}.str(s)};
}
Kv array_kv(std::string key, GgufType element, uint64_t count, Bytes elements) {
  Bytes v;
  v.u32(static_cast<uint32_t>(element)).u64(count);
  v.b.insert(v.b.end(), elements.b.begin(), elements.b.end());
  return {std::move(key), GgufType::kArray, v};
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type;
  uint64_t offset;
};

struct FileSpec {
  uint32_t version = 3;
  std::optional<uint64_t> tensor_count, kv_count;  // what the header claims, when not the truth
  std::vector<Kv> kvs;
  std::vector<TensorSpec> tensors;
  uint64_t alignment = 32;  // the padding written before the data section
  std::vector<std::byte> data;

  std::vector<std::byte> build() const {
    Bytes f;
    f.b = {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}};
    f.u32(version).u64(tensor_count.value_or(tensors.size())).u64(kv_count.value_or(kvs.size()));
    for (const Kv& kv : kvs) {
      f.str(kv.key).u32(static_cast<uint32_t>(kv.type));
      f.b.insert(f.b.end(), kv.value.b.begin(), kv.value.b.end());
    }
    for (const TensorSpec& t : tensors) {
      f.str(t.name).u32(static_cast<uint32_t>(t.ne.size()));
      for (const uint64_t d : t.ne) f.u64(d);
      f.u32(t.type).u64(t.offset);
    }
    while (f.b.size() % alignment != 0) f.b.push_back(std::byte{0});
    f.b.insert(f.b.end(), data.begin(), data.end());
    return f.b;
  }
};

std::vector<std::byte> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (std::byte& b : out) b = static_cast<std::byte>(rng());
  return out;
}

// One tensor of each block size, each padded to the default alignment, and a value of every
// metadata type.
FileSpec valid_spec() {
  FileSpec s;
  s.kvs = {
      string_kv("general.architecture", "llama"),
      scalar("u8", GgufType::kU8, 200, 1),
      scalar("i8", GgufType::kI8, static_cast<uint8_t>(-5), 1),
      scalar("u16", GgufType::kU16, 65535, 2),
      scalar("i16", GgufType::kI16, static_cast<uint16_t>(-300), 2),
      scalar("u32", GgufType::kU32, 4000000000u, 4),
      scalar("i32", GgufType::kI32, static_cast<uint32_t>(-70000), 4),
      scalar("f32", GgufType::kF32, std::bit_cast<uint32_t>(1.25f), 4),
      scalar("bool", GgufType::kBool, 1, 1),
      scalar("u64", GgufType::kU64, uint64_t{1} << 62, 8),
      scalar("i64", GgufType::kI64, static_cast<uint64_t>(int64_t{-1} << 40), 8),
      scalar("f64", GgufType::kF64, std::bit_cast<uint64_t>(-2.5e100), 8),
      array_kv("tokens", GgufType::kString, 3, Bytes{}.str("a").str("").str("\xff\xfe")),
      array_kv("i16s", GgufType::kI16, 2, Bytes{}.le(static_cast<uint16_t>(-2), 2).le(7, 2)),
      array_kv("f32s", GgufType::kF32, 2,
               Bytes{}.u32(std::bit_cast<uint32_t>(0.5f)).u32(std::bit_cast<uint32_t>(-3.0f))),
      array_kv("empty", GgufType::kU32, 0, Bytes{}),
  };
  s.tensors = {{"f32", {3, 2}, kF32, 0},           // 24 bytes, padded to 32
               {"q8", {32, 2}, kQ8_0, 32},         // 68 bytes, padded to 96
               {"blk.0.q4k", {256}, kQ4_K, 128}};  // 144 bytes, padded to 160
  s.data = random_bytes(288, 1);
  return s;
}

// The result views `bytes`, which must outlive it: temporaries are refused.
GgufFile parse(const std::vector<std::byte>& bytes) {
  return GgufFile::parse(bytes, "test.gguf");
}
GgufFile parse(std::vector<std::byte>&&) = delete;

// Parses and returns the error, failing the test when there is none.
std::optional<Error> parse_error(const std::vector<std::byte>& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "parsed without error";
  return std::nullopt;
}

void expect_error(const FileSpec& spec, ErrorCode code, const std::string& needle) {
  const auto e = parse_error(spec.build());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), code) << e->what();
  EXPECT_NE(std::string(e->what()).find(needle), std::string::npos) << e->what();
  EXPECT_EQ(std::string(e->what()).rfind("test.gguf: ", 0), 0u) << e->what();
}

TEST(GgufFileTest, ReadsAValidFile) {
  for (const uint32_t version : {2u, 3u}) {
    FileSpec spec = valid_spec();
    spec.version = version;
    const std::vector<std::byte> bytes = spec.build();
    const GgufFile f = parse(bytes);
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.metadata().size(), spec.kvs.size());
    ASSERT_EQ(f.tensors().size(), spec.tensors.size());
    const std::byte* data_start = bytes.data() + bytes.size() - spec.data.size();
    for (const TensorSpec& t : spec.tensors) {
      const TensorView* view = f.find_tensor(t.name);
      ASSERT_NE(view, nullptr) << t.name;
      EXPECT_EQ(view->shape, std::vector<int64_t>(t.ne.rbegin(), t.ne.rend()));
      EXPECT_EQ(view->data.data(), data_start + t.offset) << t.name;
      EXPECT_EQ(view->data.size(), static_cast<size_t>(view->num_elements() / view->shape.back()) *
                                       dtype_row_bytes(view->dtype, view->shape.back()));
    }
    EXPECT_EQ(f.find_tensor("f32")->dtype, DType::kF32);
    EXPECT_EQ(f.find_tensor("q8")->dtype, DType::kQ8_0);
    EXPECT_EQ(f.find_tensor("blk.0.q4k")->dtype, DType::kQ4_K);
    EXPECT_EQ(f.find_tensor("absent"), nullptr);
  }
}

TEST(GgufFileTest, GettersReadEveryType) {
  const std::vector<std::byte> bytes = valid_spec().build();
  const GgufFile f = parse(bytes);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("u8"), 200);
  EXPECT_EQ(f.get_int("i8"), -5);
  EXPECT_EQ(f.get_int("u16"), 65535);
  EXPECT_EQ(f.get_int("i16"), -300);
  EXPECT_EQ(f.get_int("u32"), 4000000000);
  EXPECT_EQ(f.get_int("i32"), -70000);
  EXPECT_EQ(f.get_int("u64"), int64_t{1} << 62);
  EXPECT_EQ(f.get_int("i64"), int64_t{-1} << 40);
  EXPECT_EQ(f.get_int("bool"), 1);
  EXPECT_EQ(f.get_bool("bool"), true);
  EXPECT_EQ(f.get_float("f32"), 1.25);
  EXPECT_EQ(f.get_float("f64"), -2.5e100);
  EXPECT_EQ(f.get_float("i32"), -70000.0);  // every number type reads as a float
  EXPECT_EQ(f.get_strings("tokens"), (std::vector<std::string_view>{"a", "", "\xff\xfe"}));
  EXPECT_EQ(f.get_ints("i16s"), (std::vector<int64_t>{-2, 7}));
  EXPECT_EQ(f.get_floats("i16s"), (std::vector<double>{-2.0, 7.0}));
  EXPECT_EQ(f.get_floats("f32s"), (std::vector<double>{0.5, -3.0}));
  EXPECT_EQ(f.get_ints("empty"), std::vector<int64_t>{});
  EXPECT_EQ(f.get_int("absent"), std::nullopt);
  EXPECT_EQ(f.get_strings("absent"), std::nullopt);
  EXPECT_EQ(f.find("tokens")->count, 3u);
  EXPECT_TRUE(f.find("bool")->is_integer());
  EXPECT_FALSE(f.find("f32")->is_integer());
  EXPECT_TRUE(f.find("f32")->is_number());
  EXPECT_FALSE(f.find("tokens")->is_number());
}

TEST(GgufFileTest, GettersRefuseTheWrongType) {
  const std::vector<std::byte> bytes = valid_spec().build();
  const GgufFile f = parse(bytes);
  const auto expect_wrong = [](auto read, const std::string& key, const std::string& found) {
    try {
      read();
      ADD_FAILURE() << key << " read as the wrong type";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorruptFile);
      EXPECT_NE(std::string(e.what()).find("'" + key + "' holds " + found), std::string::npos)
          << e.what();
    }
  };
  expect_wrong([&] { f.get_string("u32"); }, "u32", "u32");
  expect_wrong([&] { f.get_int("f32"); }, "f32", "f32");
  expect_wrong([&] { f.get_int("general.architecture"); }, "general.architecture", "string");
  expect_wrong([&] { f.get_float("tokens"); }, "tokens", "array of string");
  expect_wrong([&] { f.get_bool("u8"); }, "u8", "u8");
  expect_wrong([&] { f.get_strings("i16s"); }, "i16s", "array of i16");
  expect_wrong([&] { f.get_strings("general.architecture"); }, "general.architecture", "string");
  expect_wrong([&] { f.get_ints("f32s"); }, "f32s", "array of f32");
  expect_wrong([&] { f.get_ints("u32"); }, "u32", "u32");
  expect_wrong([&] { f.get_floats("tokens"); }, "tokens", "array of string");
}

// Every proper prefix of a valid file is a truncated file. Each is a heap copy of exactly that
// size, so that a read past its end is an AddressSanitizer report, not a lucky pass.
TEST(GgufFileTest, EveryTruncationIsCorrupt) {
  const std::vector<std::byte> bytes = valid_spec().build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    const auto e = parse_error(prefix);
    ASSERT_TRUE(e) << "prefix of " << n << " bytes";
    EXPECT_EQ(e->code(), ErrorCode::kCorruptFile) << n << ": " << e->what();
  }
}

// Any one byte changed to anything: parsed or refused with llm::Error, never a crash.
TEST(GgufFileTest, CorruptedBytesNeverCrash) {
  const std::vector<std::byte> bytes = valid_spec().build();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (const unsigned v : {0x00u, 0x01u, 0x7fu, 0x80u, 0xffu}) {
      std::vector<std::byte> copy = bytes;
      copy[i] = static_cast<std::byte>(v);
      try {
        const GgufFile f = parse(copy);
        for (const auto& [name, view] : f.tensors()) {
          EXPECT_GE(view.data.data(), copy.data());
          EXPECT_LE(view.data.data() + view.data.size(), copy.data() + copy.size());
        }
      } catch (const Error&) {
      }
    }
  }
}

TEST(GgufFileTest, RefusesBadMagicAndVersions) {
  std::vector<std::byte> bytes = valid_spec().build();
  bytes[3] = std::byte{'X'};
  const auto e = parse_error(bytes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ErrorCode::kCorruptFile);
  EXPECT_NE(std::string(e->what()).find("magic"), std::string::npos) << e->what();
  for (const uint32_t version : {0u, 1u, 4u, 0xffffffffu}) {
    FileSpec spec = valid_spec();
    spec.version = version;
    expect_error(spec, ErrorCode::kUnsupported, "version " + std::to_string(version));
  }
}

TEST(GgufFileTest, RefusesUnsupportedTensorTypes) {
  FileSpec spec = valid_spec();
  spec.tensors[1].type = kIQ2_XXS;
  spec.tensors[1].ne = {256, 1};
  expect_error(spec, ErrorCode::kUnsupported,
               "tensor 'q8' has type IQ2_XXS, which is not supported (supported: F32, F16, BF16, "
               "Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K)");
  spec.tensors[1].type = kQ5_0;
  expect_error(spec, ErrorCode::kUnsupported, "tensor 'q8' has type Q5_0,");
  spec.tensors[1].type = 31;  // retired by ggml
  expect_error(spec, ErrorCode::kUnsupported, "tensor 'q8' has type unknown id 31,");
  spec.tensors[1].type = 1000;
  expect_error(spec, ErrorCode::kUnsupported, "unknown id 1000");
}

TEST(GgufFileTest, RefusesBadTensorPlacement) {
  FileSpec spec = valid_spec();
  spec.tensors[1].offset = 40;  // inside the data, but not a multiple of 32
  expect_error(spec, ErrorCode::kCorruptFile, "tensor 'q8' has data offset 40, not a multiple");
  spec = valid_spec();
  spec.tensors[2].offset = 160;  // 160 + 144 bytes (+ padding) > 288
  expect_error(spec, ErrorCode::kCorruptFile, "tensor 'blk.0.q4k'");
  spec.tensors[2].offset = uint64_t{1} << 63;
  expect_error(spec, ErrorCode::kCorruptFile, "tensor 'blk.0.q4k'");
  spec = valid_spec();
  spec.data.pop_back();  // the last tensor's padding cut short
  expect_error(spec, ErrorCode::kCorruptFile, "tensor 'blk.0.q4k'");
  spec = valid_spec();
  spec.tensors[1].ne = {48, 2};  // not whole Q8_0 blocks
  expect_error(spec, ErrorCode::kCorruptFile, "not a multiple of the block size 32");
  spec = valid_spec();
  spec.tensors[0].ne = {uint64_t{1} << 32, uint64_t{1} << 32};
  expect_error(spec, ErrorCode::kCorruptFile, "overflows");
  spec.tensors[0].ne = {0, ~uint64_t{0}};  // no elements, but a dimension int64 cannot hold
  expect_error(spec, ErrorCode::kCorruptFile, "overflows");
  for (const size_t dims : {0u, 5u}) {
    spec = valid_spec();
    spec.tensors[0].ne.assign(dims, 1);
    expect_error(spec, ErrorCode::kCorruptFile, std::to_string(dims) + " dimensions");
  }
}

TEST(GgufFileTest, RefusesDuplicates) {
  FileSpec spec = valid_spec();
  spec.tensors[2].name = "f32";
  expect_error(spec, ErrorCode::kCorruptFile, "duplicate tensor name 'f32'");
  spec = valid_spec();
  spec.kvs.push_back(scalar("u8", GgufType::kU8, 1, 1));
  expect_error(spec, ErrorCode::kCorruptFile, "duplicate metadata key 'u8'");
}

// Counts and lengths that cannot fit in the file are refused before anything is allocated
// for them (the test would run out of memory or time otherwise).
TEST(GgufFileTest, RefusesHugeCounts) {
  for (const uint64_t huge : {uint64_t{1} << 40, uint64_t{1} << 62, ~uint64_t{0}}) {
    FileSpec spec = valid_spec();
    spec.tensor_count = huge;
    expect_error(spec, ErrorCode::kCorruptFile, "tensor count");
    spec = valid_spec();
    spec.kv_count = huge;
    expect_error(spec, ErrorCode::kCorruptFile, "metadata count");
    spec = valid_spec();
    spec.kvs.push_back(array_kv("many", GgufType::kString, huge, Bytes{}.str("x")));
    expect_error(spec, ErrorCode::kCorruptFile, "'many'");
    spec = valid_spec();
    spec.kvs.push_back(array_kv("many", GgufType::kU64, huge, Bytes{}.u64(1)));
    expect_error(spec, ErrorCode::kCorruptFile, "'many'");
    spec = valid_spec();
    spec.kvs.push_back({"long", GgufType::kString, Bytes{}.u64(huge)});
    expect_error(spec, ErrorCode::kCorruptFile, "'long'");
    spec = valid_spec();
    Bytes raw;
    raw.u64(huge);  // a key length
    spec.kvs.insert(spec.kvs.begin(), Kv{"", GgufType::kU8, {}});
    std::vector<std::byte> bytes = spec.build();
    std::memcpy(bytes.data() + 24, raw.b.data(), 8);  // the first key's length field
    const auto e = parse_error(bytes);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), ErrorCode::kCorruptFile);
  }
}

TEST(GgufFileTest, RefusesBadMetadata) {
  FileSpec spec = valid_spec();
  spec.kvs.push_back(scalar("bad", static_cast<GgufType>(13), 0, 1));
  expect_error(spec, ErrorCode::kCorruptFile, "'bad' has unknown value type 13");
  spec = valid_spec();
  spec.kvs.push_back(array_kv("nested", GgufType::kArray, 1, Bytes{}.u32(4).u64(1).u32(7)));
  expect_error(spec, ErrorCode::kUnsupported, "'nested' is an array of arrays");
  spec = valid_spec();
  spec.kvs.push_back(scalar("big", GgufType::kU64, ~uint64_t{0}, 8));
  expect_error(spec, ErrorCode::kUnsupported, "'big' holds u64 18446744073709551615");
  spec = valid_spec();
  spec.kvs.push_back(array_kv("bigs", GgufType::kU64, 2, Bytes{}.u64(1).u64(~uint64_t{0})));
  expect_error(spec, ErrorCode::kUnsupported, "element 1 of metadata 'bigs'");
}

TEST(GgufFileTest, HonoursGeneralAlignment) {
  FileSpec spec = valid_spec();
  spec.alignment = 256;
  spec.kvs.push_back(scalar("general.alignment", GgufType::kU32, 256, 4));
  spec.tensors = {{"a", {8}, kF32, 0}, {"b", {8}, kF32, 256}};
  spec.data = random_bytes(512, 2);
  std::vector<std::byte> bytes = spec.build();
  const GgufFile f = parse(bytes);
  EXPECT_EQ(f.find_tensor("b")->data.data(), bytes.data() + bytes.size() - 256);
  spec.tensors[1].offset = 32;  // fine by the default alignment, not by this one
  expect_error(spec, ErrorCode::kCorruptFile, "not a multiple of the alignment 256");

  for (const uint32_t bad : {0u, 3u, 48u}) {
    spec = valid_spec();
    spec.kvs.push_back(scalar("general.alignment", GgufType::kU32, bad, 4));
    expect_error(spec, ErrorCode::kCorruptFile, "not a nonzero power of two");
  }
  spec = valid_spec();
  spec.kvs.push_back(scalar("general.alignment", GgufType::kU64, 32, 8));
  expect_error(spec, ErrorCode::kCorruptFile, "'general.alignment' must be u32, found u64");
}

TEST(GgufFileTest, ReadsAFileWithoutTensors) {
  FileSpec spec = valid_spec();
  spec.tensors.clear();
  spec.data.clear();
  spec.alignment = 1;  // nothing after the metadata, not even padding
  const std::vector<std::byte> bytes = spec.build();
  const GgufFile f = parse(bytes);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get_int("u8"), 200);
}

class GgufOnDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("gguf_file_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, const std::vector<std::byte>& bytes) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(GgufOnDiskTest, OpenMapsTheFile) {
  const std::vector<std::byte> bytes = valid_spec().build();
  const auto path = write("model.gguf", bytes);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.path(), path);
  const TensorView* q8 = f.find_tensor("q8");
  ASSERT_NE(q8, nullptr);
  EXPECT_EQ(q8->file, path);
  const GgufFile parsed = parse(bytes);
  const TensorView* in_memory = parsed.find_tensor("q8");
  ASSERT_EQ(q8->data.size(), in_memory->data.size());
  EXPECT_EQ(std::memcmp(q8->data.data(), in_memory->data.data(), q8->data.size()), 0);
  EXPECT_TRUE(is_gguf_file(path));
}

TEST_F(GgufOnDiskTest, ErrorsNameTheFile) {
  try {
    GgufFile::open(dir_ / "missing.gguf");
    ADD_FAILURE() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  std::vector<std::byte> bytes = valid_spec().build();
  bytes.erase(bytes.end() - 100, bytes.end());
  const auto path = write("short.gguf", bytes);
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "opened a truncated file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptFile);
    EXPECT_EQ(std::string(e.what()).rfind(path.string() + ": ", 0), 0u) << e.what();
  }
}

TEST_F(GgufOnDiskTest, IsGgufFileLooksAtTheMagic) {
  EXPECT_TRUE(is_gguf_file(
      write("tiny", {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}})));
  EXPECT_FALSE(is_gguf_file(write("short", {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}})));
  EXPECT_FALSE(is_gguf_file(
      write("other", {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'G'}})));
  EXPECT_FALSE(is_gguf_file(write("empty", {})));
  EXPECT_FALSE(is_gguf_file(dir_));
  EXPECT_FALSE(is_gguf_file(dir_ / "missing"));
}

}  // namespace
}  // namespace llm
