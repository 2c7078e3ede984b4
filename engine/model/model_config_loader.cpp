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
#include "engine/model/gguf_model.h"
#include "engine/model/mapped_file.h"
#include "llm/error.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kSupportedArchitectures =
    "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM, "
    "Gemma2ForCausalLM, Gemma3ForCausalLM";
// model_type -> architecture, for configs that carry only model_type.
constexpr std::pair<const char*, const char*> kModelTypes[] = {
    {"llama", "LlamaForCausalLM"},       {"mistral", "MistralForCausalLM"},
    {"qwen2", "Qwen2ForCausalLM"},       {"qwen3", "Qwen3ForCausalLM"},
    {"phi3", "Phi3ForCausalLM"},         {"gemma2", "Gemma2ForCausalLM"},
    {"gemma3_text", "Gemma3ForCausalLM"}};

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
                  "(supported: llama, mistral, qwen2, qwen3, phi3, gemma2, gemma3_text)");
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
  c.fused_projections = c.architecture == "Phi3ForCausalLM";
  if (c.architecture.starts_with("Gemma")) {
    c.norm_weight_offset = 1.0f;
    c.sandwich_norms = c.scale_embeddings = c.gelu_mlp = true;
    c.attn_logit_softcap = static_cast<float>(f.number("attn_logit_softcapping", 0.0));
    c.final_logit_softcap = static_cast<float>(f.number("final_logit_softcapping", 0.0));
    if (c.architecture == "Gemma3ForCausalLM") {
      c.qk_norm = true;
      c.rope_local_theta = static_cast<float>(f.number("rope_local_base_freq", 10000.0));
    }
  }
}

// Which layers attend within a sliding window, as transformers decides: `layer_types` when the
// config lists them; else Mistral slides everywhere when sliding_window is set, Qwen from layer
// max_window_layers on when use_sliding_window is true (its sliding_window applies only then),
// and Llama has no window at all.
void read_sliding_window(const JsonFile& f, ModelConfig& c) {
  const bool qwen = c.architecture.starts_with("Qwen");
  if (f.get("sliding_window") == nullptr || (qwen && !f.boolean("use_sliding_window", false))) {
    return;
  }
  const int window = f.positive_int("sliding_window");
  std::vector<bool> sliding(static_cast<size_t>(c.num_layers), false);
  if (const json* types = f.get("layer_types")) {
    if (!types->is_array() || types->size() != sliding.size()) {
      f.corrupt("field 'layer_types' must list one type per layer, found " + excerpt(*types));
    }
    for (size_t l = 0; l < sliding.size(); ++l) {
      const json& t = (*types)[l];
      if (t != "sliding_attention" && t != "full_attention") {
        f.unsupported("layer type " + excerpt(t) +
                      " is not supported (supported: full_attention, sliding_attention)");
      }
      sliding[l] = t == "sliding_attention";
    }
  } else if (qwen) {
    const int64_t first = std::max<int64_t>(0, f.optional_int("max_window_layers").value_or(c.num_layers));
    for (int64_t l = first; l < c.num_layers; ++l) sliding[static_cast<size_t>(l)] = true;
  } else if (c.architecture == "MistralForCausalLM" || c.architecture == "Phi3ForCausalLM") {
    sliding.assign(sliding.size(), true);
  } else if (c.architecture == "Gemma2ForCausalLM") {
    for (size_t l = 0; l < sliding.size(); l += 2) sliding[l] = true;  // even layers slide
  } else if (c.architecture == "Gemma3ForCausalLM") {
    const int pattern = f.positive_int("sliding_window_pattern", 6);  // every pattern-th is global
    for (size_t l = 0; l < sliding.size(); ++l)
      sliding[l] = (l + 1) % static_cast<size_t>(pattern) != 0;
  } else {
    return;  // LlamaForCausalLM reads no sliding_window
  }
  c.sliding_window = window;
  c.sliding_layers = std::move(sliding);
}

void reject_unsupported_features(const JsonFile& f, const std::string& architecture) {
  if (f.boolean("mlp_bias", false)) {
    f.unsupported("mlp_bias is true; MLP projections with biases are not supported");
  }
  // Gemma's MLP is GeGLU with the tanh GELU (named hidden_activation there), the others' SwiGLU.
  const bool gemma = architecture.starts_with("Gemma");
  const char* expected = gemma ? "gelu_pytorch_tanh" : "silu";
  for (const char* key : {"hidden_act", "hidden_activation"}) {
    if (key == std::string("hidden_act") && gemma && f.get("hidden_activation") != nullptr)
      continue;
    if (const std::optional<std::string> act = f.string(key); act && *act != expected) {
      f.unsupported(std::string(key) + " '" + *act + "' is not supported (supported: " + expected +
                    (gemma ? " for Gemma" : "") + ")");
    }
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
  json type = p->contains("rope_type") ? p->at("rope_type") : p->value("type", json("default"));
  // Phi-3's older spellings of longrope (transformers renames them the same way).
  if (type == "su" || (type == "yarn" && p->contains("long_factor"))) type = "longrope";
  const std::vector<std::string> supported = {"default", "linear", "dynamic",
                                              "llama3",  "yarn",   "longrope"};
  if (!type.is_string() ||
      std::find(supported.begin(), supported.end(), type.get<std::string>()) == supported.end()) {
    f.unsupported(
        std::string(name) + " " + excerpt(*p) +
        " is not supported (RoPE types: default, linear, dynamic, llama3, yarn, longrope)");
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
  if (r.type == "longrope") {
    // transformers takes the pretrained length from the config's top level when it is there
    // (Phi-3), and then the factor as the ratio of the two lengths.
    auto factors = [&](const char* key) {
      const json* v = p->contains(key) ? &p->at(key) : nullptr;
      if (v == nullptr || !v->is_array() || v->empty() ||
          !std::all_of(v->begin(), v->end(), [](const json& x) { return x.is_number(); })) {
        f.corrupt(std::string("field '") + name + "." + key + "' must be a list of numbers");
      }
      return v->get<std::vector<double>>();
    };
    r.short_factor = factors("short_factor");
    r.long_factor = factors("long_factor");
    r.attention_factor = number("attention_factor", 0.0);
    const int max_pos = f.positive_int("max_position_embeddings", 2048);
    if (const std::optional<int64_t> orig = f.optional_int("original_max_position_embeddings")) {
      r.original_max_position_embeddings = static_cast<int>(*orig);
      r.factor = static_cast<double>(max_pos) / static_cast<double>(*orig);
    } else {
      r.original_max_position_embeddings = max_pos;
      r.factor = number("factor", 1.0);
    }
    if (r.original_max_position_embeddings <= 0) {
      f.corrupt("field 'original_max_position_embeddings' must be positive");
    }
    return r;
  }
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
  if (is_gguf_file(model_dir)) return GgufModel::open(model_dir).config();
  const JsonFile f(model_dir / "config.json");
  ModelConfig c;
  c.architecture = architecture(f);
  reject_unsupported_features(f, c.architecture);
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
  // RoPE rotates pairs of the first rotary_dim dimensions (transformers truncates the product).
  const double partial = f.number("partial_rotary_factor", 1.0);
  c.rotary_dim = static_cast<int>(c.head_dim * partial);
  if (partial == 1.0 && c.head_dim % 2 != 0) {
    f.corrupt("head_dim " + std::to_string(c.head_dim) + " is odd; rotary embeddings need it even");
  }
  if (!(partial > 0 && partial <= 1) || c.rotary_dim % 2 != 0 || c.rotary_dim == 0) {
    f.corrupt("head_dim " + std::to_string(c.head_dim) + " x partial_rotary_factor " +
              std::to_string(partial) + " must give an even number of rotated dimensions");
  }
  if (static_cast<int64_t>(c.num_heads) * c.head_dim > INT_MAX) {
    f.corrupt("num_attention_heads x head_dim (" + std::to_string(c.num_heads) + " x " +
              std::to_string(c.head_dim) + ") is too large");
  }
  c.max_position_embeddings = f.positive_int("max_position_embeddings", 2048);

  read_sliding_window(f, c);

  c.rms_norm_eps = static_cast<float>(f.number("rms_norm_eps", 1e-6));
  if (!(c.rms_norm_eps >= 0.0f) || !std::isfinite(c.rms_norm_eps)) {
    f.corrupt("field 'rms_norm_eps' must be a small non-negative number, found " +
              std::to_string(c.rms_norm_eps));
  }
  c.rope_theta = static_cast<float>(f.number("rope_theta", 10000.0));
  c.rope_scaling = read_rope_scaling(f, c.rope_theta);
  for (const auto* factors : {&c.rope_scaling.short_factor, &c.rope_scaling.long_factor}) {
    if (!factors->empty() && factors->size() != static_cast<size_t>(c.rotary_dim / 2)) {
      f.corrupt("longrope needs " + std::to_string(c.rotary_dim / 2) +
                " short_factor and long_factor entries (rotary_dim / 2), found " +
                std::to_string(factors->size()));
    }
  }
  if (!(c.rope_theta > 0.0f) || !std::isfinite(c.rope_theta)) {
    f.corrupt("field 'rope_theta' must be a positive number, found " +
              std::to_string(c.rope_theta));
  }
  // transformers' default differs by family: Gemma ties unless told otherwise.
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", c.architecture.starts_with("Gemma"));
  if (c.architecture.starts_with("Gemma")) {
    const double scalar = f.number("query_pre_attn_scalar", c.head_dim);
    if (!(scalar > 0)) f.corrupt("field 'query_pre_attn_scalar' must be positive");
    c.attention_scale = static_cast<float>(1.0 / std::sqrt(scalar));
  }
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
