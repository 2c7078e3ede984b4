// Bytes as a GGUF file through GgufFile::parse (what GgufFile::open runs on the mapping;
// libFuzzer's buffer is exactly the input, so ASan reports any read past it). A file either fails
// with llm::Error or parses with every tensor's bytes inside the input and sized by its shape and
// dtype, every string inside the input, and every value readable through its own getter.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "engine/model/gguf_file.h"
#include "llm/error.h"

namespace {

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool inside(std::string_view s, std::span<const std::byte> whole) {
  return inside(std::as_bytes(std::span(s.data(), s.size())), whole);
}

void check_tensor(const llm::TensorView& view, std::span<const std::byte> input) {
  if (view.shape.empty() || view.shape.size() > 4 || !inside(view.data, input)) std::abort();
  uint64_t rows = 1;
  for (size_t i = 0; i < view.shape.size(); ++i) {
    if (view.shape[i] < 0) std::abort();
    if (i + 1 < view.shape.size()) rows *= static_cast<uint64_t>(view.shape[i]);
  }
  const int64_t row = view.shape.back();
  if (row % llm::dtype_block_elems(view.dtype) != 0 ||
      rows * llm::dtype_row_bytes(view.dtype, row) != view.data.size()) {
    std::abort();
  }
  unsigned sum = 0;  // touch the first and last byte
  if (!view.data.empty()) {
    sum += static_cast<unsigned>(view.data.front()) + static_cast<unsigned>(view.data.back());
  }
  if (sum > 510) std::abort();
}

// Each value must read through the getter for its type; a getter for another kind must throw.
void check_value(const llm::GgufFile& file, const std::string& key, const llm::GgufValue& v,
                 std::span<const std::byte> input) {
  using llm::GgufType;
  if (file.find(key) != &v) std::abort();
  if (v.type == GgufType::kString) {
    if (!inside(v.string, input) || file.get_string(key)->size() != v.string.size()) std::abort();
  } else if (v.type == GgufType::kArray) {
    if (v.element_type == GgufType::kString) {
      if (v.strings.size() != v.count || file.get_strings(key)->size() != v.count) std::abort();
      for (const std::string_view s : v.strings) {
        if (!inside(s, input)) std::abort();
      }
    } else {
      if (!inside(v.raw, input) || file.get_floats(key)->size() != v.count) std::abort();
      const bool integers = v.element_type != GgufType::kF32 && v.element_type != GgufType::kF64;
      if (integers && file.get_ints(key)->size() != v.count) std::abort();
    }
  } else if (v.is_integer()) {
    if (*file.get_int(key) != v.integer || *file.get_float(key) != static_cast<double>(v.integer))
      std::abort();
    try {
      file.get_strings(key);
      std::abort();
    } catch (const llm::Error&) {
    }
  } else {
    file.get_float(key);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  try {
    const llm::GgufFile file = llm::GgufFile::parse(input, "fuzz.gguf");
    if (file.version() != 2 && file.version() != 3) std::abort();
    for (const auto& [name, view] : file.tensors()) {
      if (file.find_tensor(name) != &view || view.name != name) std::abort();
      check_tensor(view, input);
    }
    for (const auto& [key, value] : file.metadata()) check_value(file, key, value, input);
  } catch (const llm::Error&) {
  }
  return 0;
}
