// A read-only memory mapping of a whole file, unmapped on destruction (move-only).
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace llm {

class MappedFile {
 public:
  // Throws llm::Error (kNotFound / kCorruptFile) naming the path on failure.
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
};

}  // namespace llm
