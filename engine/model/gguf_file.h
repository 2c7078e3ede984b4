// One GGUF file (llama.cpp's format, versions 2 and 3), memory-mapped: the metadata key/values,
// the tensor table, and each tensor's bytes viewed in place (no copy until a backend uploads).
//
// Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the
// metadata (string key, u32 value type, value), the tensor infos (string name, u32 dims, u64
// ne[dims] innermost first, u32 ggml type, u64 offset into the data section), padding to
// general.alignment (default 32), then the data section. Strings are u64 length + bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/mapped_file.h"
#include "engine/model/safetensors_file.h"  // TensorView

namespace llm {

// GGUF's metadata value types (gguf_type in ggml's gguf.h).
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

std::string_view gguf_type_name(GgufType t);  // "u32", "string", "array", ...

// One metadata value. Strings and array contents point into the file's bytes.
struct GgufValue {
  GgufType type = GgufType::kU8;
  // Scalars: the value in the widest form of its kind (bool as 0/1 in `integer`).
  int64_t integer = 0;      // u8..i64, bool (u64 values above INT64_MAX are refused at parse)
  double number = 0.0;      // f32, f64
  std::string_view string;  // kString
  // kArray: element type and count; strings listed, numbers left as raw little-endian bytes.
  GgufType element_type = GgufType::kU8;
  uint64_t count = 0;
  std::vector<std::string_view> strings;  // element_type kString
  std::span<const std::byte> raw;         // numeric elements, count * element size bytes

  bool is_integer() const;  // u8..i64 or bool
  bool is_number() const;   // is_integer() or f32/f64
};

class GgufFile {
 public:
  // Maps `path` and parses it. Throws llm::Error naming the file: kNotFound, kCorruptFile
  // (bad magic, truncated, sizes or offsets that overrun the file, misaligned data, duplicate
  // names, absurd counts), kUnsupported (version other than 2 or 3; a tensor whose ggml type the
  // engine has no DType for, naming the tensor and the type, e.g. "IQ2_XXS").
  static GgufFile open(const std::filesystem::path& path);
  // The same on bytes already in memory, which must outlive the result (fuzzing, tests);
  // `name` stands for the file in messages.
  static GgufFile parse(std::span<const std::byte> bytes, const std::filesystem::path& name);
  // A temporary buffer would be gone before the views into it are used.
  static GgufFile parse(std::vector<std::byte>&& bytes, const std::filesystem::path& name) = delete;

  uint32_t version() const { return version_; }
  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;  // nullptr when absent

  // Typed reads of metadata: nullopt when the key is absent; llm::Error kCorruptFile naming
  // the key and both types when it holds another type. get_int accepts every integer type,
  // get_float every number type, the array getters arrays of the matching element kind.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::vector<std::string_view>> get_strings(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_ints(std::string_view key) const;
  std::optional<std::vector<double>> get_floats(std::string_view key) const;

  // Tensors by their GGUF name ("blk.0.attn_q.weight"). Shapes are row-major (GGUF's ne
  // reversed: a [out, in] weight has ne = {in, out}); dtype may be a quantized type, whose
  // blocks run along the last dimension; `data` is exactly the tensor's bytes.
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(const std::string& name) const;  // nullptr when absent

 private:
  GgufFile() = default;
  std::optional<MappedFile> file_;  // absent for parse()
  std::filesystem::path path_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::map<std::string, TensorView> tensors_;
};

// Whether `path` names a GGUF file (a regular file starting with the magic "GGUF").
bool is_gguf_file(const std::filesystem::path& path);

}  // namespace llm
