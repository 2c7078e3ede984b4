#include "engine/model/gguf_model.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

#include "llm/error.h"

namespace llm {
namespace {

[[noreturn]] void corrupt(const GgufFile& f, const std::string& what) {
  throw Error(ErrorCode::kCorruptFile, f.path().string() + ": " + what);
}

[[noreturn]] void unsupported(const GgufFile& f, const std::string& what) {
  throw Error(ErrorCode::kUnsupported, f.path().string() + ": " + what);
}

// general.architecture -> the transformers architecture the model definition knows.
struct Family {
  const char* gguf;
  const char* architecture;
};
constexpr Family kFamilies[] = {
    {"llama", "LlamaForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"},   {"qwen3", "Qwen3ForCausalLM"},
    {"phi3", "Phi3ForCausalLM"},   {"gemma2", "Gemma2ForCausalLM"}, {"gemma3", "Gemma3ForCausalLM"},
};

// Typed reads of "<arch>.<key>" with the file named in every message.
class Hparams {
 public:
  Hparams(const GgufFile& f, std::string arch) : f_(f), arch_(std::move(arch)) {}

  int positive(const std::string& key) const {
    const std::optional<int64_t> v = f_.get_int(arch_ + "." + key);
    if (!v) corrupt(f_, "metadata '" + arch_ + "." + key + "' is missing");
    return checked(key, *v);
  }
  int positive(const std::string& key, int fallback) const {
    const std::optional<int64_t> v = f_.get_int(arch_ + "." + key);
    return v ? checked(key, *v) : fallback;
  }
  double number(const std::string& key, double fallback) const {
    return f_.get_float(arch_ + "." + key).value_or(fallback);
  }
  std::optional<double> number(const std::string& key) const {
    return f_.get_float(arch_ + "." + key);
  }
  std::optional<std::string> string(const std::string& key) const {
    return f_.get_string(arch_ + "." + key);
  }

 private:
  int checked(const std::string& key, int64_t v) const {
    if (v <= 0 || v > INT_MAX) {
      corrupt(f_, "metadata '" + arch_ + "." + key + "' must be a positive int, found " +
                      std::to_string(v));
    }
    return static_cast<int>(v);
  }
  const GgufFile& f_;
  std::string arch_;
};

// A 1-D f32 tensor's values (RoPE factors), checked against the expected length.
std::vector<double> f32_values(const GgufFile& f, const std::string& name, int64_t expected) {
  const TensorView* t = f.find_tensor(name);
  if (t == nullptr) return {};
  if (t->dtype != DType::kF32 || t->shape.size() != 1 || t->shape[0] != expected) {
    corrupt(f, "tensor '" + name + "' must be f32 [" + std::to_string(expected) + "], found " +
                   std::string(dtype_name(t->dtype)) + " " + format_shape(t->shape));
  }
  std::vector<float> values(static_cast<size_t>(expected));
  std::memcpy(values.data(), t->data.data(), values.size() * sizeof(float));
  return {values.begin(), values.end()};
}

void read_rope(const GgufFile& f, const Hparams& hp, const std::string& arch, ModelConfig& c) {
  c.rope_theta = static_cast<float>(hp.number("rope.freq_base", 10000.0));
  if (!(c.rope_theta > 0.0f) || !std::isfinite(c.rope_theta)) {
    corrupt(f, "metadata '" + arch + ".rope.freq_base' must be a positive number");
  }
  const int half = c.rotary_dim / 2;
  RopeScaling& s = c.rope_scaling;
  const std::string type = hp.string("rope.scaling.type").value_or("none");
  s.original_max_position_embeddings = hp.positive("rope.scaling.original_context_length", 0);
  if (type == "linear") {
    s.type = "linear";
    s.factor = hp.number("rope.scaling.factor", 1.0);
  } else if (type == "yarn") {
    s.type = "yarn";
    s.factor = hp.number("rope.scaling.factor", 1.0);
    s.attention_factor = hp.number("rope.scaling.yarn_attn_factor", 0.0);
    s.beta_fast = hp.number("rope.scaling.yarn_beta_fast", 32.0);
    s.beta_slow = hp.number("rope.scaling.yarn_beta_slow", 1.0);
  } else if (type != "none") {
    unsupported(f, "RoPE scaling type '" + type +
                       "' is not supported (supported: none, linear, "
                       "yarn; Llama 3's and Phi-3's scaling come as factor tensors)");
  }
  if (!(s.factor > 0)) corrupt(f, "metadata '" + arch + ".rope.scaling.factor' must be positive");
  // Llama 3.x: the converter stores the scaled frequencies as one divisor per frequency.
  if (std::vector<double> divisors = f32_values(f, "rope_freqs.weight", half); !divisors.empty()) {
    if (s.type != "default") unsupported(f, "rope_freqs.weight together with RoPE scaling " + type);
    s.type = "freq_factors";
    s.short_factor = std::move(divisors);
  }
  // Phi-3 longrope: short factors while a sequence fits the original context, long ones after.
  std::vector<double> lng = f32_values(f, "rope_factors_long.weight", half);
  std::vector<double> shrt = f32_values(f, "rope_factors_short.weight", half);
  if (!lng.empty() || !shrt.empty()) {
    if (lng.empty() || shrt.empty()) {
      corrupt(f, "longrope needs both rope_factors_long.weight and rope_factors_short.weight");
    }
    if (s.type != "default") unsupported(f, "RoPE factor tensors together with scaling " + s.type);
    s.type = "longrope";
    s.long_factor = std::move(lng);
    s.short_factor = std::move(shrt);
    if (s.original_max_position_embeddings <= 0) {
      corrupt(f, "longrope needs '" + arch + ".rope.scaling.original_context_length'");
    }
    s.factor = static_cast<double>(c.max_position_embeddings) / s.original_max_position_embeddings;
    s.attention_factor = hp.number("rope.scaling.attn_factor", 0.0);
  }
}

// The layers that slide, as llama.cpp decides (its load_swa_pattern): the per-layer flags when
// the file lists them, else the family's period (Gemma 2: every other layer, starting with the
// first; Gemma 3: five of every six), else every layer (Mistral, Phi-3). Llama and Qwen files
// carry a window only when their model slides (llama.cpp's converter writes none otherwise).
void read_sliding_window(const GgufFile& f, const Hparams& hp, const std::string& arch,
                         ModelConfig& c) {
  const int window = hp.positive("attention.sliding_window", arch == "gemma2" ? 4096 : 0);
  if (window == 0) return;
  std::vector<bool> sliding(static_cast<size_t>(c.num_layers), true);
  const std::string pattern_key = arch + ".attention.sliding_window_pattern";
  const GgufValue* pattern = f.find(pattern_key);
  if (pattern != nullptr && pattern->type == GgufType::kArray) {
    const std::optional<std::vector<int64_t>> flags = f.get_ints(pattern_key);
    if (!flags || flags->size() != sliding.size()) {
      corrupt(f, "metadata '" + pattern_key + "' must list one flag per layer");
    }
    for (size_t l = 0; l < sliding.size(); ++l) sliding[l] = (*flags)[l] != 0;
  } else if (arch == "gemma2" || arch == "gemma3" || pattern != nullptr) {
    const int64_t period = f.get_int(pattern_key)
                               .value_or(arch == "gemma2"   ? 2
                                         : arch == "gemma3" ? 6
                                                            : 1);
    if (period < 0) corrupt(f, "metadata '" + pattern_key + "' must not be negative");
    for (size_t l = 0; l < sliding.size(); ++l) {
      sliding[l] = period <= 1 || static_cast<int64_t>(l) % period < period - 1;
    }
  }
  c.sliding_window = window;
  c.sliding_layers = std::move(sliding);
}

// End-of-generation ids: the file's eos, eot and eom tokens, and the control tokens llama.cpp
// also stops at by their text (its vocabulary loader's list for the families served here).
std::vector<int> stop_ids(const GgufVocab& v, const std::vector<int64_t>& extra) {
  std::vector<int> ids;
  auto add = [&](int64_t id) {
    if (id >= 0 && id < static_cast<int64_t>(v.tokens.size()) &&
        std::find(ids.begin(), ids.end(), id) == ids.end()) {
      ids.push_back(static_cast<int>(id));
    }
  };
  add(v.eos_id);
  for (int64_t id : extra) add(id);
  static constexpr const char* kStopTexts[] = {"<|eot_id|>",      "<|im_end|>", "<|end|>",
                                               "<end_of_turn>",   "<|eom_id|>", "<|endoftext|>",
                                               "<|end_of_text|>", "<EOT>"};
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const bool control = id < v.token_types.size() && v.token_types[id] == 3;
    if (!control) continue;
    for (const char* text : kStopTexts) {
      if (v.tokens[id] == text) add(static_cast<int64_t>(id));
    }
  }
  return ids;
}

GgufVocab read_vocab(const GgufFile& f) {
  GgufVocab v;
  v.model = f.get_string("tokenizer.ggml.model").value_or("");
  if (v.model.empty()) corrupt(f, "metadata 'tokenizer.ggml.model' is missing: no tokenizer");
  v.pre = f.get_string("tokenizer.ggml.pre").value_or("");
  const auto tokens = f.get_strings("tokenizer.ggml.tokens");
  if (!tokens || tokens->empty()) corrupt(f, "metadata 'tokenizer.ggml.tokens' is missing");
  v.tokens.assign(tokens->begin(), tokens->end());
  if (const auto scores = f.get_floats("tokenizer.ggml.scores")) {
    v.scores.assign(scores->begin(), scores->end());
  }
  if (const auto types = f.get_ints("tokenizer.ggml.token_type")) {
    v.token_types.assign(types->begin(), types->end());
  }
  if (const auto merges = f.get_strings("tokenizer.ggml.merges")) {
    v.merges.assign(merges->begin(), merges->end());
  }
  auto id = [&](const char* key) {
    const std::optional<int64_t> i = f.get_int(key);
    if (!i) return -1;
    if (*i < 0 || *i >= static_cast<int64_t>(v.tokens.size())) {
      corrupt(f, "metadata '" + std::string(key) + "' = " + std::to_string(*i) +
                     " is outside the vocabulary of " + std::to_string(v.tokens.size()));
    }
    return static_cast<int>(*i);
  };
  v.bos_id = id("tokenizer.ggml.bos_token_id");
  v.eos_id = id("tokenizer.ggml.eos_token_id");
  v.unknown_id = id("tokenizer.ggml.unknown_token_id");
  v.padding_id = id("tokenizer.ggml.padding_token_id");
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token");
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token");
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix");
  v.chat_template = f.get_string("tokenizer.chat_template").value_or("");
  return v;
}

// GGUF tensor names -> transformers' (the per-layer suffixes; Gemma's norms differ).
struct Rename {
  const char* gguf;
  const char* hf;
};
constexpr Rename kLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_qkv.weight", "self_attn.qkv_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_output.bias", "self_attn.o_proj.bias"},
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

std::optional<std::string> hf_name(const std::string& name, const ModelConfig& c) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  if (!name.starts_with("blk.")) return std::nullopt;
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return std::nullopt;
  const std::string layer = name.substr(4, dot - 4), rest = name.substr(dot + 1);
  const std::string prefix = "model.layers." + layer + ".";
  const bool gemma = c.sandwich_norms;
  if (rest == "ffn_up.weight") {
    return prefix + (c.fused_projections ? "mlp.gate_up_proj.weight" : "mlp.up_proj.weight");
  }
  if (rest == "ffn_norm.weight") {
    return prefix +
           (gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight");
  }
  if (rest == "post_attention_norm.weight") return prefix + "post_attention_layernorm.weight";
  if (rest == "post_ffw_norm.weight") return prefix + "post_feedforward_layernorm.weight";
  for (const Rename& r : kLayerNames) {
    if (rest == r.gguf) return prefix + r.hf;
  }
  return std::nullopt;
}

}  // namespace

GgufModel GgufModel::open(const std::filesystem::path& path) {
  return from_file(GgufFile::open(path));
}

GgufModel GgufModel::from_file(GgufFile file) {
  GgufModel m(std::move(file));
  const GgufFile& f = m.file_;
  const std::string arch = f.get_string("general.architecture").value_or("");
  const Family* family = nullptr;
  for (const Family& fam : kFamilies) {
    if (arch == fam.gguf) family = &fam;
  }
  if (family == nullptr) {
    unsupported(f, "architecture '" + arch +
                       "' is not supported (supported: llama, qwen2, qwen3, phi3, gemma2, gemma3)");
  }
  const Hparams hp(f, arch);
  ModelConfig& c = m.config_;
  c.architecture = family->architecture;
  c.hidden_size = hp.positive("embedding_length");
  c.intermediate_size = hp.positive("feed_forward_length");
  c.num_layers = hp.positive("block_count");
  c.num_heads = hp.positive("attention.head_count");
  c.num_kv_heads = hp.positive("attention.head_count_kv", c.num_heads);
  if (c.num_heads % c.num_kv_heads != 0) {
    corrupt(f, "attention.head_count (" + std::to_string(c.num_heads) +
                   ") is not a multiple of attention.head_count_kv (" +
                   std::to_string(c.num_kv_heads) + ")");
  }
  if (c.hidden_size % c.num_heads != 0 && f.find(arch + ".attention.key_length") == nullptr) {
    corrupt(f, "embedding_length is not divisible by attention.head_count and no key_length");
  }
  c.head_dim = hp.positive("attention.key_length", c.hidden_size / c.num_heads);
  if (hp.positive("attention.value_length", c.head_dim) != c.head_dim) {
    unsupported(f, "attention.value_length different from key_length is not supported");
  }
  c.rotary_dim = hp.positive("rope.dimension_count", c.head_dim);
  if (c.rotary_dim % 2 != 0 || c.rotary_dim > c.head_dim) {
    corrupt(f, "rope.dimension_count " + std::to_string(c.rotary_dim) +
                   " must be even and at most the head size " + std::to_string(c.head_dim));
  }
  c.max_position_embeddings = hp.positive("context_length", 2048);
  c.rms_norm_eps = static_cast<float>(hp.number("attention.layer_norm_rms_epsilon", 1e-5));
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.o_bias = f.find_tensor("blk.0.attn_output.bias") != nullptr;
  c.qk_norm = f.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  c.fused_projections = arch == "phi3";
  if (arch == "gemma2" || arch == "gemma3") {
    c.sandwich_norms = c.scale_embeddings = c.gelu_mlp = true;
    c.norm_weight_offset = 0;  // the converter stored 1 + w
    c.attn_logit_softcap = static_cast<float>(hp.number("attn_logit_softcapping", 0.0));
    c.final_logit_softcap = static_cast<float>(hp.number("final_logit_softcapping", 0.0));
    // GGUF keeps no query_pre_attn_scalar; llama.cpp uses Gemma's own rule (gemma_pytorch's
    // config): hidden / heads for the 27B models (46 and 62 layers), else the head size.
    // A file may say it outright (attention.scale; tests/gguf/hf_to_gguf.py writes it).
    const bool is_27b = c.num_layers == (arch == "gemma2" ? 46 : 62);
    c.attention_scale = static_cast<float>(hp.number(
        "attention.scale",
        1.0 / std::sqrt(static_cast<double>(is_27b ? c.hidden_size / c.num_heads : c.head_dim))));
    if (arch == "gemma3") {
      c.rope_local_theta = static_cast<float>(hp.number("rope.freq_base_swa", 10000.0));
    }
  }
  read_rope(f, hp, arch, c);
  read_sliding_window(f, hp, arch, c);

  const TensorView* embed = f.find_tensor("token_embd.weight");
  if (embed == nullptr || embed->shape.size() != 2) {
    corrupt(f, "tensor 'token_embd.weight' is missing or not 2-D");
  }
  c.vocab_size = static_cast<int>(embed->shape[0]);
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  // Floats the engine keeps of a quantized file (what it cannot compute on quantized) in bf16.
  const DType t = embed->dtype;
  c.torch_dtype = dtype_is_quantized(t) ? DType::kBF16 : t;

  m.vocab_ = read_vocab(f);
  c.bos_token_id = m.vocab_.bos_id;
  std::vector<int64_t> extra_stops;
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (const std::optional<int64_t> id = f.get_int(key)) extra_stops.push_back(*id);
  }
  c.eos_token_ids = stop_ids(m.vocab_, extra_stops);

  for (const auto& [name, view] : f.tensors()) {
    const std::optional<std::string> hf = hf_name(name, c);
    if (!hf) continue;  // RoPE factors (read above) and tensors no family here uses
    TensorView v = view;
    v.name = *hf;
    // Llama: undo the converter's interleaving of each head's rows (permute() in
    // convert_hf_to_gguf.py): GGUF row 2i + j of a head is transformers' row j * d/2 + i.
    const bool q = hf->ends_with("q_proj.weight") || hf->ends_with("q_proj.bias");
    const bool k = hf->ends_with("k_proj.weight") || hf->ends_with("k_proj.bias");
    if (arch == "llama" && (q || k)) {
      const int heads = q ? c.num_heads : c.num_kv_heads;
      const int64_t rows = v.shape[0];
      if (rows % (2 * heads) != 0) corrupt(f, "tensor '" + name + "' rows do not split into heads");
      const int64_t d = rows / heads, half = d / 2;
      const size_t row_bytes = v.data.size() / static_cast<size_t>(rows);
      std::vector<std::byte>& out = m.owned_.emplace_back(v.data.size());
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t i = 0; i < half; ++i) {
          for (int64_t j = 0; j < 2; ++j) {
            const int64_t from = h * d + 2 * i + j, to = h * d + j * half + i;
            std::memcpy(out.data() + static_cast<size_t>(to) * row_bytes,
                        v.data.data() + static_cast<size_t>(from) * row_bytes, row_bytes);
          }
        }
      }
      v.data = out;
    }
    m.tensors_.emplace(*hf, std::move(v));
  }
  return m;
}

}  // namespace llm
