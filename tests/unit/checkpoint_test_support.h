// Shared by the checkpoint tests: file helpers, error matching, and a scratch-directory fixture.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/error.h"

namespace llm::checkpoint_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

inline const fs::path kStories = fs::path(LLM_SOURCE_DIR) / "models" / "stories260K";

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out) << path;
}

inline std::string length_prefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out;
}

// A safetensors file from a header given as text, for inputs the writer refuses to produce.
inline std::string raw_safetensors(const std::string& header, size_t data_bytes) {
  return length_prefix(header.size()) + header + std::string(data_bytes, '\x5a');
}

inline std::vector<std::byte> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xff);
  return out;
}

inline std::string as_string(std::span<const std::byte> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Runs f, which must throw llm::Error with `code` and a message containing every needle.
inline void expect_error(const std::function<void()>& f, ErrorCode code,
                         const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no llm::Error thrown; expected " << error_code_name(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << error_code_name(e.code()) << ": " << e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message \"" << e.what() << "\" does not mention \"" << needle << "\"";
    }
  }
}

// Each test gets a fresh directory of its own, removed afterwards.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) c = c == '/' ? '_' : c;  // parameterized tests are named "Loads/NullBos"
    dir_ = fs::temp_directory_path() / ("checkpoint_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path path(const std::string& name) const { return dir_ / name; }
  void write(const std::string& name, std::string_view bytes) const {
    write_file(path(name), bytes);
  }
  // Copies by content: the bundled files are read-only and tests overwrite their copies.
  void copy_from_stories(const std::string& name) const { write(name, read_file(kStories / name)); }
  json stories_config() const { return json::parse(read_file(kStories / "config.json")); }

  fs::path dir_;
};

}  // namespace llm::checkpoint_test
