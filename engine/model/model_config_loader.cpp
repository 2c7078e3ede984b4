// config.json (+ generation_config.json) -> ModelConfig. Strict on purpose: a field we do not
// understand and that changes the math (rope scaling, biases, another activation) is rejected
// rather than ignored, so an unsupported model fails at load time instead of producing
// plausible-looking garbage.
#include <algorithm>
#include <climits>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/checkpoint.h"
#include "engine/model/mapped_file.h"
#include "llm/error.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kSupportedArchitectures =
    "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM";
// model_type -> architecture, for configs that carry only model_type.
constexpr std::pair<const char*, const char*> kModelTypes[] = {{"llama", "LlamaForCausalLM"},
                                                               {"mistral", "MistralForCausalLM"},
                                                               {"qwen2", "Qwen2ForCausalLM"},
                                                               {"qwen3", "Qwen3ForCausalLM"}};

std::string excerpt(const json& j) {
  std::string s = j.dump();
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

// One parsed JSON object and the file it came from, so every message names that file.
class JsonFile {
 public:
  explicit JsonFile(fs::path path) : path_(std::move(path)) {
    const MappedFile file = MappedFile::open(path_);  // kNotFound "<path>: file not found"
    const auto* text = reinterpret_cast<const char*>(file.bytes().data());
    try {
      j_ = json::parse(text, text + file.bytes().size());
    } catch (const json::parse_error& e) {
      // Drop nlohmann's "[json.exception.parse_error.101] " tag; keep line and column.
      std::string what = e.what();
      const size_t tag_end = what.find("] ");
      if (what.starts_with("[") && tag_end != std::string::npos) what.erase(0, tag_end + 2);
      corrupt("not valid JSON: " + what);
    }
    if (!j_.is_object()) corrupt(std::string("expected a JSON object, found ") + j_.type_name());
  }

  [[noreturn]] void corrupt(const std::string& what) const {
    throw Error(ErrorCode::kCorruptFile, path_.string() + ": " + what);
  }
  [[noreturn]] void unsupported(const std::string& what) const {
    throw Error(ErrorCode::kUnsupported, path_.string() + ": " + what);
  }

  // The field's value, or nullptr when it is absent or null (Hugging Face writes None as null
  // and means "use the default" by it).
  const json* get(const std::string& key) const {
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<int64_t> optional_int(const std::string& key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) {
      corrupt("field '" + key + "' must be an integer, found " + excerpt(*v));
    }
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      corrupt("field '" + key + "' is " + excerpt(*v) + ", too large");
    }
    return v->get<int64_t>();
  }

  // A positive integer that fits an int (sizes and counts).
  int positive_int(const std::string& key, std::optional<int> fallback = std::nullopt) const {
    const std::optional<int64_t> v = optional_int(key);
    if (!v) {
      if (fallback) return *fallback;
      if (j_.contains(key)) corrupt("field '" + key + "' is null, expected a positive integer");
      corrupt("field '" + key + "' is missing");
    }
    if (*v <= 0) corrupt("field '" + key + "' must be positive, found " + std::to_string(*v));
    if (*v > INT_MAX) corrupt("field '" + key + "' is " + std::to_string(*v) + ", too large");
    return static_cast<int>(*v);
  }

  double number(const std::string& key, double fallback) const {
    const json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) corrupt("field '" + key + "' must be a number, found " + excerpt(*v));
    return v->get<double>();
  }

  bool boolean(const std::string& key, bool fallback) const {
    const json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) {
      corrupt("field '" + key + "' must be true or false, found " + excerpt(*v));
    }
    return v->get<bool>();
  }

  std::optional<std::string> string(const std::string& key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) corrupt("field '" + key + "' must be a string, found " + excerpt(*v));
    return v->get<std::string>();
  }

  // Token ids: one non-negative integer, or (when allow_list) a list of them, as eos_token_id
  // often is. Absent or null gives an empty list.
  std::vector<int> token_ids(const std::string& key, bool allow_list) const {
    const json* v = get(key);
    if (v == nullptr) return {};
    const auto is_id = [](const json& id) {
      return id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() <= INT_MAX;
    };
    if (is_id(*v)) return {v->get<int>()};
    if (allow_list && v->is_array() && std::all_of(v->begin(), v->end(), is_id)) {
      return v->get<std::vector<int>>();
    }
    corrupt("field '" + key + "' must be a token id" +
            (allow_list ? " or a list of token ids" : "") + " (non-negative integer" +
            (allow_list ? "s" : "") + "), found " + excerpt(*v));
  }

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  json j_;
};

std::string architecture(const JsonFile& f) {
  if (const json* archs = f.get("architectures")) {
    if (!archs->is_array()) {
      f.corrupt("field 'architectures' must be a list of strings, found " + excerpt(*archs));
    }
    std::string listed;
    for (const json& a : *archs) {
      if (!a.is_string()) {
        f.corrupt("field 'architectures' must be a list of strings, found " + excerpt(*archs));
      }
      const std::string& name = a.get_ref<const std::string&>();
      for (const auto& [type, arch] : kModelTypes) {
        if (name == arch) return name;
      }
      listed += (listed.empty() ? "'" : ", '") + name + "'";
    }
    if (!listed.empty()) {
      f.unsupported(std::string(archs->size() == 1 ? "architecture " : "architectures ") + listed +
                    (archs->size() == 1 ? " is" : " are") +
                    " not supported (supported: " + kSupportedArchitectures + ")");
    }
  }
  // Older or hand-written configs carry only model_type.
  const std::optional<std::string> type = f.string("model_type");
  for (const auto& [t, arch] : kModelTypes) {
    if (type == t) return arch;
  }
  if (type) {
    f.unsupported("model_type '" + *type + "' is not supported and 'architectures' is absent " +
                  "(supported: llama, mistral, qwen2, qwen3)");
  }
  f.unsupported(std::string("neither 'architectures' nor 'model_type' says which model this is ") +
                "(supported: " + kSupportedArchitectures + ")");
}

DType torch_dtype(const JsonFile& f) {
  // transformers >= 4.56 writes "dtype" where older versions wrote "torch_dtype".
  const std::string key =
      f.get("torch_dtype") == nullptr && f.get("dtype") != nullptr ? "dtype" : "torch_dtype";
  const std::optional<std::string> s = f.string(key);
  if (!s || *s == "float32") return DType::kF32;
  if (*s == "bfloat16") return DType::kBF16;
  if (*s == "float16") return DType::kF16;
  f.unsupported(key + " '" + *s + "' is not supported (supported: float32, bfloat16, float16)");
}

// The family hooks of ModelConfig, as transformers builds each architecture.
void read_family(const JsonFile& f, ModelConfig& c) {
  const bool attention_bias = f.boolean("attention_bias", false);
  c.qkv_bias = attention_bias || c.architecture == "Qwen2ForCausalLM";  // Qwen2: always
  c.o_bias = attention_bias && c.architecture != "Qwen2ForCausalLM";
  c.qk_norm = c.architecture == "Qwen3ForCausalLM";
  if (c.architecture.starts_with("Qwen") && f.boolean("use_sliding_window", false)) {
    f.unsupported("use_sliding_window is true; sliding-window layers are not supported yet");
  }
}

void reject_unsupported_features(const JsonFile& f) {
  if (f.boolean("mlp_bias", false)) {
    f.unsupported("mlp_bias is true; MLP projections with biases are not supported");
  }
  if (const std::optional<std::string> act = f.string("hidden_act"); act && *act != "silu") {
    f.unsupported("hidden_act '" + *act + "' is not supported (supported: silu)");
  }
  if (f.number("partial_rotary_factor", 1.0) != 1.0) {
    f.unsupported("partial_rotary_factor " + excerpt(*f.get("partial_rotary_factor")) +
                  " is not supported (rotary embeddings over the whole head only)");
  }
}

// RoPE's type and parameters, from rope_scaling (the Hub's form, with rope_theta beside it) or
// transformers 5's rope_parameters (theta inside). Every parameter a type needs must be there.
RopeScaling read_rope_scaling(const JsonFile& f, float& theta) {
  const char* name = f.get("rope_scaling") != nullptr ? "rope_scaling" : "rope_parameters";
  const json* p = f.get(name);
  if (p == nullptr) return {};
  if (!p->is_object())
    f.corrupt(std::string("field '") + name + "' must be an object, found " + excerpt(*p));
  const json type =
      p->contains("rope_type") ? p->at("rope_type") : p->value("type", json("default"));
  const std::vector<std::string> supported = {"default", "linear", "llama3", "yarn"};
  if (!type.is_string() ||
      std::find(supported.begin(), supported.end(), type.get<std::string>()) == supported.end()) {
    f.unsupported(std::string(name) + " " + excerpt(*p) +
                  " is not supported (RoPE types: default, linear, llama3, yarn)");
  }
  auto number = [&](const char* key, std::optional<double> fallback) {
    const json* v = p->contains(key) && !p->at(key).is_null() ? &p->at(key) : nullptr;
    if (v == nullptr && fallback) return *fallback;
    if (v == nullptr || !v->is_number() || !std::isfinite(v->get<double>())) {
      f.corrupt(std::string("field '") + name + "." + key + "' must be a number, found " +
                (v ? excerpt(*v) : "nothing"));
    }
    return v->get<double>();
  };
  RopeScaling r;
  r.type = type.get<std::string>();
  if (std::string(name) == "rope_parameters")
    theta = static_cast<float>(number("rope_theta", theta));
  if (r.type == "default") return r;
  r.factor = number("factor", std::nullopt);
  if (!(r.factor > 0))
    f.corrupt(std::string(name) + ".factor must be positive, found " + excerpt(p->at("factor")));
  r.original_max_position_embeddings = static_cast<int>(number(
      "original_max_position_embeddings", r.type == "llama3" ? std::nullopt : std::optional(0.0)));
  if (r.type == "llama3") {
    r.low_freq_factor = number("low_freq_factor", std::nullopt);
    r.high_freq_factor = number("high_freq_factor", std::nullopt);
    if (!(r.high_freq_factor > r.low_freq_factor) || !(r.original_max_position_embeddings > 0)) {
      f.corrupt(std::string(name) + " " + excerpt(*p) +
                ": llama3 RoPE needs high_freq_factor > low_freq_factor and a positive "
                "original_max_position_embeddings");
    }
  }
  if (r.type == "yarn") {
    r.beta_fast = number("beta_fast", 32.0);
    r.beta_slow = number("beta_slow", 1.0);
    r.attention_factor = number("attention_factor", 0.0);
    r.mscale = number("mscale", 0.0);
    r.mscale_all_dim = number("mscale_all_dim", 0.0);
    if (p->contains("truncate") && p->at("truncate").is_boolean())
      r.truncate = p->at("truncate").get<bool>();
  }
  return r;
}

void append_unique(std::vector<int>& ids, const std::vector<int>& more) {
  for (const int id : more) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
}

}  // namespace

ModelConfig load_model_config(const fs::path& model_dir) {
  const JsonFile f(model_dir / "config.json");
  ModelConfig c;
  c.architecture = architecture(f);
  reject_unsupported_features(f);
  read_family(f, c);

  c.hidden_size = f.positive_int("hidden_size");
  c.intermediate_size = f.positive_int("intermediate_size");
  c.num_layers = f.positive_int("num_hidden_layers");
  c.num_heads = f.positive_int("num_attention_heads");
  c.vocab_size = f.positive_int("vocab_size");
  c.num_kv_heads = f.positive_int("num_key_value_heads", c.num_heads);
  if (c.num_heads % c.num_kv_heads != 0) {
    f.corrupt("num_attention_heads (" + std::to_string(c.num_heads) +
              ") is not divisible by num_key_value_heads (" + std::to_string(c.num_kv_heads) + ")");
  }
  if (f.get("head_dim") != nullptr) {
    c.head_dim = f.positive_int("head_dim");
  } else if (c.hidden_size % c.num_heads != 0) {
    f.corrupt("hidden_size (" + std::to_string(c.hidden_size) +
              ") is not divisible by num_attention_heads (" + std::to_string(c.num_heads) +
              ") and head_dim is not given");
  } else {
    c.head_dim = c.hidden_size / c.num_heads;
  }
  // RoPE rotates pairs of dimensions.
  if (c.head_dim % 2 != 0) {
    f.corrupt("head_dim " + std::to_string(c.head_dim) + " is odd; rotary embeddings need it even");
  }
  if (static_cast<int64_t>(c.num_heads) * c.head_dim > INT_MAX) {
    f.corrupt("num_attention_heads x head_dim (" + std::to_string(c.num_heads) + " x " +
              std::to_string(c.head_dim) + ") is too large");
  }
  c.max_position_embeddings = f.positive_int("max_position_embeddings", 2048);

  // Mistral attends only to the last `sliding_window` positions. We run full causal attention,
  // which equals windowed attention as long as no sequence is longer than the window, so cap the
  // context at the window rather than implement the window in every attention kernel.
  // (Qwen configs carry a sliding_window that applies only with use_sliding_window.)
  if (f.get("sliding_window") != nullptr && !c.architecture.starts_with("Qwen")) {
    const int window = f.positive_int("sliding_window");
    c.max_position_embeddings = std::min(c.max_position_embeddings, window);
  }

  c.rms_norm_eps = static_cast<float>(f.number("rms_norm_eps", 1e-6));
  if (!(c.rms_norm_eps >= 0.0f) || !std::isfinite(c.rms_norm_eps)) {
    f.corrupt("field 'rms_norm_eps' must be a small non-negative number, found " +
              std::to_string(c.rms_norm_eps));
  }
  c.rope_theta = static_cast<float>(f.number("rope_theta", 10000.0));
  c.rope_scaling = read_rope_scaling(f, c.rope_theta);
  if (!(c.rope_theta > 0.0f) || !std::isfinite(c.rope_theta)) {
    f.corrupt("field 'rope_theta' must be a positive number, found " +
              std::to_string(c.rope_theta));
  }
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  c.torch_dtype = torch_dtype(f);

  if (const std::vector<int> bos = f.token_ids("bos_token_id", false); !bos.empty()) {
    c.bos_token_id = bos[0];
  }
  append_unique(c.eos_token_ids, f.token_ids("eos_token_id", true));

  // generation_config.json often lists more stop tokens (e.g. an end-of-turn id) than config.json.
  const fs::path gen_path = model_dir / "generation_config.json";
  std::error_code ec;
  if (fs::exists(gen_path, ec) || ec) {  // on a stat error, let the open report it
    const JsonFile gen(gen_path);
    append_unique(c.eos_token_ids, gen.token_ids("eos_token_id", true));
  }
  return c;
}

}  // namespace llm
