#include "engine/model/safetensors_stream_writer.h"

#include <cerrno>
#include <cstring>
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

}  // namespace

SafetensorsStreamWriter::SafetensorsStreamWriter(std::filesystem::path path,
                                                 const std::vector<TensorSpec>& tensors,
                                                 const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (const TensorSpec& t : tensors) {
    if (t.name == "__metadata__") invalid(path_, "'__metadata__' is reserved, not a tensor name");
    if (header.contains(t.name)) invalid(path_, "tensor '" + t.name + "' is given twice");
    uint64_t bytes = dtype_size(t.dtype);
    for (const int64_t d : t.shape) {
      if (d < 0) {
        invalid(path_,
                "tensor '" + t.name + "' has negative dimension in shape " + format_shape(t.shape));
      }
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
        invalid(path_,
                "tensor '" + t.name + "' shape " + format_shape(t.shape) + " overflows 64 bits");
      }
    }
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {expected_, expected_ + bytes}}};
    expected_ += bytes;
  }
  std::string text = header.dump();
  // Padding to 8 keeps the data section 8-byte aligned, as write_safetensors does.
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) {
    prefix[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
  }

  tmp_ = path_;
  tmp_ += ".tmp";
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (file_ == nullptr) io_error(tmp_, "cannot create", errno);
  put(prefix, sizeof(prefix));
  put(text.data(), text.size());
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() {
  abandon();
}

void SafetensorsStreamWriter::abandon() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(tmp_.c_str());
}

void SafetensorsStreamWriter::put(const void* p, size_t n) {
  if (n > 0 && std::fwrite(p, 1, n, file_) != n) {
    const int err = errno;
    abandon();
    io_error(tmp_, "write failed", err);
  }
}

void SafetensorsStreamWriter::append(std::span<const std::byte> data) {
  if (file_ == nullptr) invalid(path_, "append after the writer finished or failed");
  if (data.size() > expected_ - written_) {
    const uint64_t over = written_ + data.size() - expected_;
    abandon();
    invalid(path_, "tensor data exceeds the declared " + std::to_string(expected_) + " bytes by " +
                       std::to_string(over));
  }
  put(data.data(), data.size());
  written_ += data.size();
}

void SafetensorsStreamWriter::finish() {
  if (file_ == nullptr) invalid(path_, "finish after the writer finished or failed");
  if (written_ != expected_) {
    abandon();
    invalid(path_, "only " + std::to_string(written_) + " of the declared " +
                       std::to_string(expected_) + " bytes of tensor data were written");
  }
  std::FILE* f = file_;
  file_ = nullptr;
  if (std::fclose(f) != 0) {
    const int err = errno;
    std::remove(tmp_.c_str());
    io_error(tmp_, "write failed", err);
  }
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) {
    std::remove(tmp_.c_str());
    throw Error(ErrorCode::kInvalidArgument,
                path_.string() + ": cannot move " + tmp_.string() + " into place: " + ec.message());
  }
}

}  // namespace llm
