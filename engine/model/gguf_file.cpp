// Parsing a GGUF file: header, metadata, tensor infos, and the checks that keep every view
// inside the bytes (see gguf_file.h for the layout).
#include "engine/model/gguf_file.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "engine/model/gguf_values.h"
#include "llm/error.h"

namespace llm {
namespace {

using gguf_detail::decode_integer;
using gguf_detail::decode_number;
using gguf_detail::is_integer_type;
using gguf_detail::load_le;
using gguf_detail::scalar_size;

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
// The smallest encodings, used to refuse a count before looping over it: a metadata entry is
// at least an empty key (8), a value type (4) and a one-byte value; a tensor info at least an
// empty name (8), one dimension (4 + 8), a type (4) and an offset (8).
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

[[noreturn]] void fail(ErrorCode code, const std::filesystem::path& path, const std::string& what) {
  throw Error(code, path.string() + ": " + what);
}

// ggml's type ids and names (ggml.h's enum ggml_type); the gaps are ids ggml has retired.
std::string ggml_type_name(uint32_t id) {
  static constexpr std::string_view kNames[] = {
      "F32",     "F16",   "Q4_0",   "Q4_1",  "",      "",       "Q5_0", "Q5_1",    "Q8_0",
      "Q8_1",    "Q2_K",  "Q3_K",   "Q4_K",  "Q5_K",  "Q6_K",   "Q8_K", "IQ2_XXS", "IQ2_XS",
      "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8",   "I16",     "I32",
      "I64",     "F64",   "IQ1_M",  "BF16",  "",      "",       "",     "TQ1_0",   "TQ2_0",
      "",        "",      "",       "MXFP4", "NVFP4", "Q1_0",
  };
  if (id < std::size(kNames) && !kNames[id].empty()) return std::string(kNames[id]);
  return "unknown id " + std::to_string(id);
}

std::optional<DType> ggml_dtype(uint32_t id) {
  switch (id) {
    case 0:
      return DType::kF32;
    case 1:
      return DType::kF16;
    case 30:
      return DType::kBF16;
    case 8:
      return DType::kQ8_0;
    case 2:
      return DType::kQ4_0;
    case 3:
      return DType::kQ4_1;
    case 12:
      return DType::kQ4_K;
    case 13:
      return DType::kQ5_K;
    case 14:
      return DType::kQ6_K;
    default:
      return std::nullopt;
  }
}

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, const std::filesystem::path& path)
      : bytes_(bytes), path_(path) {}

  [[noreturn]] void corrupt(const std::string& what) const {
    fail(ErrorCode::kCorruptFile, path_, what);
  }
  [[noreturn]] void unsupported(const std::string& what) const {
    fail(ErrorCode::kUnsupported, path_, what);
  }

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  // The next n bytes, or a message saying which field the file ends inside. `what` is called
  // only then: a vocabulary of 150,000 strings should not build 150,000 messages.
  template <class Describe>
  std::span<const std::byte> take(uint64_t n, const Describe& what) {
    if (n > remaining()) {
      corrupt("truncated: " + std::string(what()) + " at byte " + std::to_string(pos_) + " needs " +
              std::to_string(n) + " bytes, only " + std::to_string(remaining()) + " remain");
    }
    const auto out = bytes_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  template <class Describe>
  uint32_t u32(const Describe& what) {
    return static_cast<uint32_t>(load_le(take(4, what).data(), 4));
  }
  template <class Describe>
  uint64_t u64(const Describe& what) {
    return load_le(take(8, what).data(), 8);
  }
  template <class Describe>
  std::string_view string(const Describe& what) {
    const uint64_t len = u64([&] { return "length of " + std::string(what()); });
    const auto s = take(len, [&] { return what() + " (" + std::to_string(len) + " bytes)"; });
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }

  GgufType value_type(const std::string& what) {
    const uint32_t t = u32([&] { return "value type of " + what; });
    if (t > static_cast<uint32_t>(GgufType::kF64)) {
      corrupt(what + " has unknown value type " + std::to_string(t));
    }
    return static_cast<GgufType>(t);
  }

  // u64 metadata is kept as int64 (GgufValue::integer); larger values have no faithful form.
  template <class Describe>
  void check_u64(GgufType t, const std::byte* p, const Describe& what) const {
    if (t == GgufType::kU64 && load_le(p, 8) > std::numeric_limits<int64_t>::max()) {
      unsupported(std::string(what()) + " holds u64 " + std::to_string(load_le(p, 8)) +
                  ", above the largest supported integer (2^63 - 1)");
    }
  }

  GgufValue value(std::string_view key) {
    const std::string what = "metadata '" + std::string(key) + "'";
    GgufValue v;
    v.type = value_type(what);
    if (v.type == GgufType::kString) {
      v.string = string([&] { return "value of " + what; });
    } else if (v.type == GgufType::kArray) {
      array(v, what);
    } else {
      const std::byte* p = take(scalar_size(v.type), [&] { return "value of " + what; }).data();
      check_u64(v.type, p, [&] { return what; });
      if (is_integer_type(v.type)) {
        v.integer = decode_integer(v.type, p);
      } else {
        v.number = decode_number(v.type, p);
      }
    }
    return v;
  }

  void array(GgufValue& v, const std::string& what) {
    v.element_type = value_type("elements of " + what);
    v.count = u64([&] { return "element count of " + what; });
    if (v.element_type == GgufType::kArray) {
      unsupported(what + " is an array of arrays, which is not supported");
    }
    const auto element = [&](uint64_t i) {
      return [&what, i] { return "element " + std::to_string(i) + " of " + what; };
    };
    if (v.element_type == GgufType::kString) {
      // Every string takes at least its 8-byte length: refuse an impossible count before
      // reserving room for it.
      if (v.count > remaining() / 8) {
        corrupt(what + " has " + std::to_string(v.count) + " strings, which cannot fit in the " +
                std::to_string(remaining()) + " bytes that remain");
      }
      v.strings.reserve(static_cast<size_t>(v.count));
      for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(string(element(i)));
      return;
    }
    const size_t size = scalar_size(v.element_type);
    if (v.count > remaining() / size) {
      corrupt(what + " has " + std::to_string(v.count) + " elements of " +
              std::string(gguf_type_name(v.element_type)) + " (" + std::to_string(size) +
              " bytes each), which cannot fit in the " + std::to_string(remaining()) +
              " bytes that remain");
    }
    v.raw = take(v.count * size, [&] { return "elements of " + what; });
    if (v.element_type == GgufType::kU64) {
      for (uint64_t i = 0; i < v.count; ++i) check_u64(v.element_type, &v.raw[i * 8], element(i));
    }
  }

  uint32_t alignment(const std::map<std::string, GgufValue, std::less<>>& metadata) const {
    const auto it = metadata.find("general.alignment");
    if (it == metadata.end()) return kDefaultAlignment;
    // llama.cpp reads it as u32 only; any other type is a writer bug, not a choice.
    if (it->second.type != GgufType::kU32) {
      corrupt("metadata 'general.alignment' must be u32, found " +
              std::string(gguf_type_name(it->second.type)));
    }
    const auto a = static_cast<uint32_t>(it->second.integer);
    if (!std::has_single_bit(a)) {
      corrupt("metadata 'general.alignment' is " + std::to_string(a) +
              ", not a nonzero power of two");
    }
    return a;
  }

  struct TensorInfo {
    TensorView view;
    uint64_t offset = 0;  // into the data section
    uint64_t nbytes = 0;
  };

  TensorInfo tensor_info(uint64_t index, uint32_t alignment) {
    TensorInfo info;
    TensorView& view = info.view;
    view.file = path_;
    view.name = string([&] { return "name of tensor " + std::to_string(index); });
    const std::string what = "tensor '" + view.name + "'";
    const uint32_t dims = u32([&] { return "dimension count of " + what; });
    if (dims < 1 || dims > kMaxDims) {
      corrupt(what + " has " + std::to_string(dims) + " dimensions (must be 1 to " +
              std::to_string(kMaxDims) + ")");
    }
    std::vector<uint64_t> ne(dims);
    for (uint32_t i = 0; i < dims; ++i) {
      ne[i] = u64([&] { return "dimension " + std::to_string(i) + " of " + what; });
    }
    const uint32_t type = u32([&] { return "type of " + what; });
    info.offset = u64([&] { return "data offset of " + what; });

    const std::optional<DType> dtype = ggml_dtype(type);
    if (!dtype) {
      unsupported(what + " has type " + ggml_type_name(type) +
                  ", which is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, "
                  "Q5_K, Q6_K)");
    }
    view.dtype = *dtype;
    const std::string shape = "ne " + format_ne(ne) + " of " + ggml_type_name(type);
    const auto block = static_cast<uint64_t>(dtype_block_elems(view.dtype));
    if (ne[0] % block != 0) {
      corrupt(what + " has " + shape + ": ne[0] is not a multiple of the block size " +
              std::to_string(block));
    }
    // Unsigned and checked: both the element count (TensorView::num_elements is int64) and
    // the byte size must be representable, or a hostile shape wraps to a small size.
    uint64_t elements = 1;
    uint64_t nbytes = 0;
    bool overflow = __builtin_mul_overflow(ne[0] / block, dtype_block_bytes(view.dtype), &nbytes);
    for (uint32_t i = 0; i < dims; ++i) {
      overflow |= __builtin_mul_overflow(elements, ne[i], &elements);
      if (i > 0) overflow |= __builtin_mul_overflow(nbytes, ne[i], &nbytes);
    }
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    for (const uint64_t d : ne) overflow |= d > kMax;  // a zero elsewhere hides it from `elements`
    if (overflow || elements > kMax) {
      corrupt(what + " has " + shape + ", whose size overflows 64 bits");
    }
    for (auto d = ne.rbegin(); d != ne.rend(); ++d) view.shape.push_back(static_cast<int64_t>(*d));
    if (info.offset % alignment != 0) {
      corrupt(what + " has data offset " + std::to_string(info.offset) +
              ", not a multiple of the alignment " + std::to_string(alignment));
    }
    info.nbytes = nbytes;
    return info;
  }

 private:
  static std::string format_ne(const std::vector<uint64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i > 0 ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
  }

  std::span<const std::byte> bytes_;
  const std::filesystem::path& path_;
  size_t pos_ = 0;
};

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) {
  MappedFile mapped = MappedFile::open(path);
  const std::span<const std::byte> bytes = mapped.bytes();
  GgufFile file = parse(bytes, path);
  file.file_.emplace(std::move(mapped));  // the mapping moves; the bytes stay where they are
  return file;
}

GgufFile GgufFile::parse(std::span<const std::byte> bytes, const std::filesystem::path& name) {
  GgufFile file;
  file.path_ = name;
  Parser p(bytes, file.path_);
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    p.corrupt("not a GGUF file (it does not start with the magic \"GGUF\")");
  }
  p.take(sizeof(kMagic), [] { return "magic"; });
  file.version_ = p.u32([] { return "version"; });
  if (file.version_ != 2 && file.version_ != 3) {
    p.unsupported("GGUF version " + std::to_string(file.version_) +
                  " is not supported (supported: 2, 3)");
  }
  const uint64_t tensor_count = p.u64([] { return "tensor count"; });
  const uint64_t kv_count = p.u64([] { return "metadata count"; });
  // Counts are checked against the room left before any loop runs on them: the message then
  // says what is wrong, not where the file happened to end.
  if (kv_count > p.remaining() / kMinKvBytes) {
    p.corrupt("metadata count " + std::to_string(kv_count) + " cannot fit in the " +
              std::to_string(p.remaining()) + " bytes after the header");
  }
  for (uint64_t i = 0; i < kv_count; ++i) {
    const std::string_view key =
        p.string([&] { return "key of metadata entry " + std::to_string(i); });
    if (file.metadata_.contains(key)) {
      p.corrupt("duplicate metadata key '" + std::string(key) + "'");
    }
    GgufValue value = p.value(key);
    file.metadata_.emplace(std::string(key), std::move(value));
  }
  const uint32_t alignment = p.alignment(file.metadata_);

  if (tensor_count > p.remaining() / kMinTensorInfoBytes) {
    p.corrupt("tensor count " + std::to_string(tensor_count) + " cannot fit in the " +
              std::to_string(p.remaining()) + " bytes after the metadata");
  }
  std::vector<Parser::TensorInfo> infos;
  infos.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) infos.push_back(p.tensor_info(i, alignment));

  // The data section starts at the next multiple of the alignment (no overflow: pos <= size).
  const uint64_t data_start = (uint64_t{p.pos()} + alignment - 1) / alignment * alignment;
  if (tensor_count > 0 && data_start > bytes.size()) {
    p.corrupt("truncated: the data section would start at byte " + std::to_string(data_start) +
              ", past the end of the file (" + std::to_string(bytes.size()) + " bytes)");
  }
  const uint64_t data_size = tensor_count > 0 ? bytes.size() - data_start : 0;
  for (Parser::TensorInfo& info : infos) {
    if (file.tensors_.contains(info.view.name)) {
      p.corrupt("duplicate tensor name '" + info.view.name + "'");
    }
    // Like llama.cpp, the padding after each tensor's bytes must be there too: a file cut
    // inside the last tensor's padding is as truncated as one cut inside its bytes.
    const uint64_t padded = info.nbytes + (alignment - info.nbytes % alignment) % alignment;
    if (padded < info.nbytes || info.offset > data_size || padded > data_size - info.offset) {
      p.corrupt("tensor '" + info.view.name + "' at offset " + std::to_string(info.offset) +
                " of the data section takes " + std::to_string(info.nbytes) + " bytes (padded to " +
                std::to_string(alignment) + "), but the data section is " +
                std::to_string(data_size) + " bytes (truncated file or wrong header)");
    }
    info.view.data = bytes.subspan(static_cast<size_t>(data_start + info.offset),
                                   static_cast<size_t>(info.nbytes));
    std::string key = info.view.name;
    file.tensors_.emplace(std::move(key), std::move(info.view));
  }
  return file;
}

const TensorView* GgufFile::find_tensor(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

bool is_gguf_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof(kMagic)] = {};
  return in.read(magic, sizeof(magic)) && std::memcmp(magic, kMagic, sizeof(kMagic)) == 0;
}

}  // namespace llm
