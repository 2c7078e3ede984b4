// Writes .safetensors files: for tests now, and for the tool that makes synthetic checkpoints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "llm/dtype.h"

namespace llm {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;  // row-major, exactly product(shape) * dtype_size(dtype) bytes
};

// Writes the standard layout: u64 little-endian header length, the JSON header padded with
// spaces to a multiple of 8 bytes, then every tensor's bytes back to back in the given order.
// The file appears under `path` only once complete (written beside it, then renamed).
// Throws llm::Error: kInvalidArgument (duplicate or reserved name, negative dimension, data
// size that disagrees with the shape), kResourceExhausted / kInvalidArgument on I/O failure.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace llm
