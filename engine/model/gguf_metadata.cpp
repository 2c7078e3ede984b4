// GGUF metadata: type names, value kinds and the typed getters of GgufFile.
#include <string>

#include "engine/model/gguf_file.h"
#include "engine/model/gguf_values.h"
#include "llm/error.h"

namespace llm {

using gguf_detail::decode_integer;
using gguf_detail::decode_number;
using gguf_detail::is_integer_type;
using gguf_detail::scalar_size;

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kU8:
      return "u8";
    case GgufType::kI8:
      return "i8";
    case GgufType::kU16:
      return "u16";
    case GgufType::kI16:
      return "i16";
    case GgufType::kU32:
      return "u32";
    case GgufType::kI32:
      return "i32";
    case GgufType::kF32:
      return "f32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kU64:
      return "u64";
    case GgufType::kI64:
      return "i64";
    case GgufType::kF64:
      return "f64";
  }
  return "?";
}

bool GgufValue::is_integer() const {
  return is_integer_type(type);
}
bool GgufValue::is_number() const {
  return scalar_size(type) > 0;
}
const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {

// "u32", or "array of string": how a value's type appears in messages.
std::string describe_type(const GgufValue& v) {
  if (v.type != GgufType::kArray) return std::string(gguf_type_name(v.type));
  return "array of " + std::string(gguf_type_name(v.element_type));
}

[[noreturn]] void wrong_type(const std::filesystem::path& path, std::string_view key,
                             const GgufValue& v, std::string_view wanted) {
  throw Error(ErrorCode::kCorruptFile, path.string() + ": metadata '" + std::string(key) +
                                           "' holds " + describe_type(v) + ", expected " +
                                           std::string(wanted));
}

bool is_array_of(const GgufValue& v, bool (*kind)(GgufType)) {
  return v.type == GgufType::kArray && kind(v.element_type);
}
bool is_number_type(GgufType t) {
  return scalar_size(t) > 0;
}
bool is_string_type(GgufType t) {
  return t == GgufType::kString;
}

}  // namespace

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != GgufType::kString) wrong_type(path_, key, *v, "string");
  return std::string(v->string);
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_integer()) wrong_type(path_, key, *v, "an integer");
  return v->integer;
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) wrong_type(path_, key, *v, "a number");
  return v->is_integer() ? static_cast<double>(v->integer) : v->number;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != GgufType::kBool) wrong_type(path_, key, *v, "bool");
  return v->integer != 0;
}

std::optional<std::vector<std::string_view>> GgufFile::get_strings(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!is_array_of(*v, is_string_type)) wrong_type(path_, key, *v, "array of string");
  return v->strings;
}

std::optional<std::vector<int64_t>> GgufFile::get_ints(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!is_array_of(*v, is_integer_type)) wrong_type(path_, key, *v, "array of integers");
  const size_t size = scalar_size(v->element_type);
  std::vector<int64_t> out(static_cast<size_t>(v->count));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = decode_integer(v->element_type, &v->raw[i * size]);
  return out;
}

std::optional<std::vector<double>> GgufFile::get_floats(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!is_array_of(*v, is_number_type)) wrong_type(path_, key, *v, "array of numbers");
  const size_t size = scalar_size(v->element_type);
  std::vector<double> out(static_cast<size_t>(v->count));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = decode_number(v->element_type, &v->raw[i * size]);
  return out;
}

}  // namespace llm
