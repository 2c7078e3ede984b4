// Writes a .safetensors file whose tensors are produced piece by piece, so a checkpoint far
// larger than memory (a 7B model in f32 is 27 GB) can be written with a small buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "llm/dtype.h"

namespace llm {

struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
};

// The header (same layout as write_safetensors) is written by the constructor; then the data of
// every tensor, in the given order, is appended in pieces of any size; finish() checks that
// exactly the declared bytes came and moves the file into place. Until then it lives beside
// `path` with a ".tmp" suffix, and is removed if the writer is destroyed unfinished.
// Throws llm::Error: kInvalidArgument (duplicate or reserved name, negative dimension, too much
// or too little data, I/O failure), kResourceExhausted (disk full).
class SafetensorsStreamWriter {
 public:
  SafetensorsStreamWriter(std::filesystem::path path, const std::vector<TensorSpec>& tensors,
                          const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsStreamWriter();
  SafetensorsStreamWriter(const SafetensorsStreamWriter&) = delete;
  SafetensorsStreamWriter& operator=(const SafetensorsStreamWriter&) = delete;

  void append(std::span<const std::byte> data);
  void finish();

  uint64_t bytes_expected() const { return expected_; }
  uint64_t bytes_written() const { return written_; }

 private:
  void put(const void* p, size_t n);
  void abandon();

  std::filesystem::path path_;
  std::filesystem::path tmp_;
  std::FILE* file_ = nullptr;
  uint64_t expected_ = 0;
  uint64_t written_ = 0;
};

}  // namespace llm
