// Prints what our GGUF reader makes of a file, as JSON, for make_gguf_cases.py to compare with
// what the `gguf` package wrote:
//   gguf_dump FILE
// {"is_gguf", "version", "metadata": [{"key", "type", "value"} or {"key", "type": "array",
// "element_type", "values"}], "tensors": [{"name", "dtype", "shape", "nbytes", "sha256"}]}.
// Keys, names and string values are hex (GGUF strings need not be UTF-8); floats that JSON
// cannot hold are "nan", "inf", "-inf". Every value is read through the typed getters. On
// llm::Error: {"error": {"code", "message"}} and exit status 1.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/gguf_file.h"
#include "llm/error.h"

namespace {

using json = nlohmann::json;

std::string hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (const std::byte b : bytes) {
    s += kDigits[static_cast<unsigned>(b) >> 4];
    s += kDigits[static_cast<unsigned>(b) & 15];
  }
  return s;
}

std::string hex(std::string_view s) {
  return hex(std::as_bytes(std::span(s.data(), s.size())));
}

// FIPS 180-4 SHA-256: the reference states tensors by hash, and the project links no crypto
// library.
std::string sha256(std::span<const std::byte> data) {
  static constexpr uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  const auto block = [&](const uint8_t* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = uint32_t{p[4 * i]} << 24 | uint32_t{p[4 * i + 1]} << 16 | uint32_t{p[4 * i + 2]} << 8 |
             p[4 * i + 3];
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 =
          hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    const uint32_t add[8] = {a, b, c, d, e, f, g, hh};
    for (int i = 0; i < 8; ++i) h[i] += add[i];
  };
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  size_t full = data.size() / 64 * 64;
  for (size_t i = 0; i < full; i += 64) block(bytes + i);
  // The tail, 0x80, zeros, and the length in bits, big-endian: one or two more blocks.
  std::array<uint8_t, 128> tail{};
  const size_t rest = data.size() - full;
  std::copy(bytes + full, bytes + data.size(), tail.begin());
  tail[rest] = 0x80;
  const size_t tail_len = rest + 9 <= 64 ? 64 : 128;
  const uint64_t bits = uint64_t{data.size()} * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  for (size_t i = 0; i < tail_len; i += 64) block(tail.data() + i);
  std::array<std::byte, 32> digest;
  for (int i = 0; i < 32; ++i) digest[i] = static_cast<std::byte>(h[i / 4] >> (24 - 8 * (i % 4)));
  return hex(digest);
}

json number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return x;
}

json describe_value(const llm::GgufFile& file, const std::string& key, const llm::GgufValue& v) {
  json out = {{"key", hex(key)}, {"type", llm::gguf_type_name(v.type)}};
  using llm::GgufType;
  if (v.type == GgufType::kArray) {
    out["element_type"] = llm::gguf_type_name(v.element_type);
    json values = json::array();
    // Named first: a range-for over *get_ints(key) would iterate a destroyed temporary.
    if (v.element_type == GgufType::kString) {
      const std::vector<std::string_view> strings = file.get_strings(key).value();
      for (const std::string_view s : strings) values.push_back(hex(s));
    } else if (v.element_type == GgufType::kF32 || v.element_type == GgufType::kF64) {
      const std::vector<double> floats = file.get_floats(key).value();
      for (const double x : floats) values.push_back(number(x));
    } else {
      const std::vector<int64_t> ints = file.get_ints(key).value();
      for (const int64_t x : ints) {
        values.push_back(v.element_type == GgufType::kBool ? json(x != 0) : json(x));
      }
    }
    out["values"] = std::move(values);
  } else if (v.type == GgufType::kString) {
    out["value"] = hex(*file.get_string(key));
  } else if (v.type == GgufType::kBool) {
    out["value"] = *file.get_bool(key);
  } else if (v.is_integer()) {
    out["value"] = *file.get_int(key);
  } else {
    out["value"] = number(*file.get_float(key));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  json out;
  out["is_gguf"] = llm::is_gguf_file(argv[1]);
  try {
    const llm::GgufFile file = llm::GgufFile::open(argv[1]);
    out["version"] = file.version();
    json metadata = json::array();
    for (const auto& [key, value] : file.metadata()) {
      metadata.push_back(describe_value(file, key, value));
    }
    out["metadata"] = std::move(metadata);
    json tensors = json::array();
    for (const auto& [name, view] : file.tensors()) {
      if (file.find_tensor(name) != &view) throw std::logic_error("find_tensor disagrees");
      tensors.push_back({{"name", hex(name)},
                         {"dtype", llm::dtype_name(view.dtype)},
                         {"shape", view.shape},
                         {"nbytes", view.data.size()},
                         {"sha256", sha256(view.data)}});
    }
    out["tensors"] = std::move(tensors);
  } catch (const llm::Error& e) {
    out["error"] = {{"code", llm::error_code_name(e.code())}, {"message", e.what()}};
  }
  // Messages quote names from the file, which need not be UTF-8.
  std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return out.contains("error") ? 1 : 0;
}
