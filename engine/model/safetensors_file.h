// One memory-mapped .safetensors file: its JSON header parsed and checked against the file size,
// tensor bytes viewed in place (no copy until a backend uploads them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/mapped_file.h"
#include "llm/dtype.h"

namespace llm {

// Where one tensor lives inside a mapped file. `data` points into the mapping of `file`.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, as stored: Linear weights are [out_features, in_features]
  std::span<const std::byte> data;
  std::filesystem::path file;  // for error messages

  int64_t num_elements() const;
};

// "[2, 3]": how shapes appear in error messages.
std::string format_shape(const std::vector<int64_t>& shape);

// The dtype's name in a safetensors header ("F32", "BF16", "F16", "I32").
std::string_view safetensors_dtype_name(DType dtype);

class SafetensorsFile {
 public:
  // Maps `path` and validates the header. Throws llm::Error naming the file and the problem:
  // kNotFound (missing), kCorruptFile (short file, bad header length, malformed JSON, offsets
  // that overrun the data or disagree with shape x dtype), kUnsupported (a dtype other than
  // F32/BF16/F16).
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;  // nullptr when absent

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)) {}
  MappedFile file_;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace llm
