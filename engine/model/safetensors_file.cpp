#include "engine/model/safetensors_file.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "llm/error.h"

namespace llm {
namespace {

using json = nlohmann::json;

constexpr size_t kLengthPrefixBytes = 8;

// Safetensors dtypes we recognise but cannot compute with; anything else is "unknown".
constexpr std::string_view kOtherKnownDtypes[] = {
    "BOOL", "U8",      "I8",      "I16",     "U16",     "I32",     "U32", "I64", "U64",
    "F64",  "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "C64",
};

std::optional<DType> supported_dtype(std::string_view name) {
  if (name == "F32") return DType::kF32;
  if (name == "BF16") return DType::kBF16;
  if (name == "F16") return DType::kF16;
  return std::nullopt;
}

// A JSON value as it appears in a message, shortened so a huge array cannot flood the terminal.
std::string excerpt(const json& j) {
  std::string s = j.dump();
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

// nlohmann's messages start with "[json.exception.parse_error.101] ", which means nothing to a
// user; the rest ("parse error at line 1, column 7: ...") is worth keeping.
std::string json_error_text(const json::exception& e) {
  std::string s = e.what();
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find("] ");
    if (close != std::string::npos) s.erase(0, close + 2);
  }
  return s;
}

[[noreturn]] void corrupt(const std::filesystem::path& path, const std::string& what) {
  throw Error(ErrorCode::kCorruptFile, path.string() + ": " + what);
}

// A valid header nests three levels deep; a hostile one could nest millions, which nlohmann
// parses fine but then destroys and prints recursively.
constexpr int kMaxHeaderDepth = 8;

class HeaderParser {
 public:
  HeaderParser(const std::filesystem::path& path, std::span<const std::byte> data)
      : path_(path), data_(data) {}

  TensorView parse_entry(const std::string& name, const json& entry) const {
    if (!entry.is_object()) {
      corrupt("header entry for tensor '" + name + "' is not a JSON object (found " +
              entry.type_name() + ")");
    }
    TensorView view;
    view.name = name;
    view.file = path_;
    view.dtype = parse_dtype(name, field(name, entry, "dtype"));
    view.shape = parse_shape(name, field(name, entry, "shape"));
    const auto [begin, end] = parse_offsets(name, field(name, entry, "data_offsets"));

    // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) about "[" + std::string&&.
    std::string offsets = "[";
    offsets.append(std::to_string(begin)).append(", ").append(std::to_string(end)).append("]");
    if (begin > end) {
      corrupt("tensor '" + name + "' has data_offsets " + offsets + ": begin is after end");
    }
    if (end > data_.size()) {
      corrupt("tensor '" + name + "' has data_offsets " + offsets +
              " but the data section is only " + std::to_string(data_.size()) +
              " bytes (truncated file or wrong header)");
    }
    // Unsigned and checked: a shape like [2^40, 2^40] must be reported, not wrap to a small size.
    uint64_t bytes = dtype_size(view.dtype);
    for (const int64_t d : view.shape) {
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
        corrupt("tensor '" + name + "' has shape " + format_shape(view.shape) +
                " whose byte size overflows 64 bits");
      }
    }
    if (bytes != end - begin) {
      corrupt("tensor '" + name + "' has shape " + format_shape(view.shape) + " of " +
              std::string(safetensors_dtype_name(view.dtype)) + " (" + std::to_string(bytes) +
              " bytes) but data_offsets " + offsets + " span " + std::to_string(end - begin) +
              " bytes");
    }
    view.data = data_.subspan(begin, end - begin);
    return view;
  }

  [[noreturn]] void corrupt(const std::string& what) const { llm::corrupt(path_, what); }

 private:
  const json& field(const std::string& name, const json& entry, const char* key) const {
    const auto it = entry.find(key);
    if (it == entry.end()) corrupt("tensor '" + name + "' has no '" + key + "' field");
    return *it;
  }

  DType parse_dtype(const std::string& name, const json& j) const {
    if (!j.is_string()) {
      corrupt("tensor '" + name + "': 'dtype' must be a string, found " + excerpt(j));
    }
    const std::string& s = j.get_ref<const std::string&>();
    if (const auto dtype = supported_dtype(s)) return *dtype;
    for (const std::string_view known : kOtherKnownDtypes) {
      if (s == known) {
        throw Error(ErrorCode::kUnsupported,
                    path_.string() + ": tensor '" + name + "' has dtype " + s +
                        ", which is not supported (supported: F32, BF16, F16)");
      }
    }
    throw Error(ErrorCode::kUnsupported, path_.string() + ": tensor '" + name +
                                             "' has unknown dtype '" + s +
                                             "' (supported: F32, BF16, F16)");
  }

  std::vector<int64_t> parse_shape(const std::string& name, const json& j) const {
    std::vector<int64_t> shape;
    const bool ints =
        j.is_array() && std::all_of(j.begin(), j.end(), [](const json& d) {
          return d.is_number_integer() &&
                 (!d.is_number_unsigned() ||
                  d.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
        });
    if (!ints) {
      corrupt("tensor '" + name + "': 'shape' must be an array of integers, found " + excerpt(j));
    }
    for (const json& d : j) shape.push_back(d.get<int64_t>());
    for (const int64_t d : shape) {
      if (d < 0) {
        corrupt("tensor '" + name + "' has negative dimension " + std::to_string(d) + " in shape " +
                format_shape(shape));
      }
    }
    return shape;
  }

  std::pair<uint64_t, uint64_t> parse_offsets(const std::string& name, const json& j) const {
    if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() ||
        !j[1].is_number_unsigned()) {
      corrupt("tensor '" + name +
              "': 'data_offsets' must be [begin, end] with non-negative integers, found " +
              excerpt(j));
    }
    return {j[0].get<uint64_t>(), j[1].get<uint64_t>()};
  }

  const std::filesystem::path& path_;
  std::span<const std::byte> data_;
};

}  // namespace

int64_t TensorView::num_elements() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string_view safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
    case DType::kI32:
      return "I32";
    default:
      break;  // quantized types exist in GGUF files only
  }
  return "?";
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile st(MappedFile::open(path));
  const std::span<const std::byte> bytes = st.file_.bytes();
  if (bytes.size() < kLengthPrefixBytes) {
    corrupt(path, "file is " + std::to_string(bytes.size()) +
                      " bytes, too short for a safetensors header (at least 8)");
  }
  uint64_t header_len = 0;  // little-endian on disk, whatever the host
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
    header_len |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  }
  if (header_len > bytes.size() - kLengthPrefixBytes) {
    corrupt(path, "header length " + std::to_string(header_len) + " exceeds file size " +
                      std::to_string(bytes.size()) + " (only " +
                      std::to_string(bytes.size() - kLengthPrefixBytes) +
                      " bytes follow the 8-byte length field)");
  }
  const auto* text = reinterpret_cast<const char*>(bytes.data() + kLengthPrefixBytes);
  const auto limit_depth = [&](int depth, json::parse_event_t, json&) {
    if (depth > kMaxHeaderDepth) {
      corrupt(path, "header nests deeper than " + std::to_string(kMaxHeaderDepth) + " levels");
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, text + header_len, limit_depth);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    corrupt(path, "header is not valid JSON: " + json_error_text(e));
  }
  if (!header.is_object()) {
    corrupt(path, std::string("header is not a JSON object (found ") + header.type_name() + ")");
  }

  const HeaderParser parser(path, bytes.subspan(kLengthPrefixBytes + header_len));
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        parser.corrupt(std::string("'__metadata__' must be a JSON object, found ") +
                       entry.type_name());
      }
      continue;
    }
    st.tensors_.emplace(name, parser.parse_entry(name, entry));
  }
  return st;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace llm
