#include "engine/model/safetensors_writer.h"

#include "engine/model/safetensors_stream_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/model/safetensors_file.h"
#include "llm/error.h"

namespace llm {
namespace {

using json = nlohmann::json;

[[noreturn]] void invalid(const std::filesystem::path& path, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, path.string() + ": " + what);
}



}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // The streaming writer owns the format, the checks on names and shapes, and the
  // write-beside-then-rename; this is the all-in-memory convenience on top of it.
  std::vector<TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const TensorToWrite& t : tensors) specs.push_back({t.name, t.dtype, t.shape});
  SafetensorsStreamWriter writer(path, specs, metadata);
  for (const TensorToWrite& t : tensors) {
    uint64_t bytes = dtype_size(t.dtype);
    for (const int64_t d : t.shape) bytes *= static_cast<uint64_t>(d);  // checked by the writer
    if (bytes != t.data.size()) {
      invalid(path, "tensor '" + t.name + "' has shape " + format_shape(t.shape) + " of " +
                        std::string(safetensors_dtype_name(t.dtype)) + " (" +
                        std::to_string(bytes) + " bytes) but " + std::to_string(t.data.size()) +
                        " bytes of data");
    }
  }
  for (const TensorToWrite& t : tensors) writer.append(t.data);
  writer.finish();
}

}  // namespace llm
