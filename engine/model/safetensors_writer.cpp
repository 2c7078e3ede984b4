#include "engine/model/safetensors_writer.h"

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

[[noreturn]] void io_error(const std::filesystem::path& path, const std::string& what, int err) {
  throw Error(
      err == ENOSPC || err == EDQUOT ? ErrorCode::kResourceExhausted : ErrorCode::kInvalidArgument,
      path.string() + ": " + what + ": " + std::strerror(err));
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (t.name == "__metadata__") invalid(path, "'__metadata__' is reserved, not a tensor name");
    if (header.contains(t.name)) invalid(path, "tensor '" + t.name + "' is given twice");
    uint64_t bytes = dtype_size(t.dtype);
    for (const int64_t d : t.shape) {
      if (d < 0) {
        invalid(path,
                "tensor '" + t.name + "' has negative dimension in shape " + format_shape(t.shape));
      }
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
        invalid(path,
                "tensor '" + t.name + "' shape " + format_shape(t.shape) + " overflows 64 bits");
      }
    }
    if (bytes != t.data.size()) {
      invalid(path, "tensor '" + t.name + "' has shape " + format_shape(t.shape) + " of " +
                        std::string(safetensors_dtype_name(t.dtype)) + " (" +
                        std::to_string(bytes) + " bytes) but " + std::to_string(t.data.size()) +
                        " bytes of data");
    }
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }

  std::string text = header.dump();
  // Padding to 8 keeps the data section 8-byte aligned in the file (and in a page-aligned mapping).
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) {
    prefix[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
  }

  // Write beside the target and rename, so a crash never leaves a truncated file under `path`.
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
    if (!f) io_error(tmp, "cannot create", errno);
    const auto put = [&](const void* p, size_t n) {
      if (n > 0 && std::fwrite(p, 1, n, f.get()) != n) {
        const int err = errno;
        f.reset();
        std::remove(tmp.c_str());
        io_error(tmp, "write failed", err);
      }
    };
    put(prefix, sizeof(prefix));
    put(text.data(), text.size());
    for (const TensorToWrite& t : tensors) put(t.data.data(), t.data.size());
    if (std::fclose(f.release()) != 0) {
      const int err = errno;
      std::remove(tmp.c_str());
      io_error(tmp, "write failed", err);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::kInvalidArgument,
                path.string() + ": cannot move " + tmp.string() + " into place: " + ec.message());
  }
}

}  // namespace llm
