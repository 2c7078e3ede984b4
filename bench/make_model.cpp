// llm-make-model: writes a Hugging Face layout checkpoint (Llama, Qwen2, Qwen3 or Gemma 3) of a
// realistic shape with seeded random weights, so benchmarks run at real sizes without downloading a model. The weights are
// streamed to disk a chunk at a time: a 7B model in f32 (27 GB) needs no more memory than a
// small one.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <string>
#include <vector>

#include "bench/progress.h"
#include "cli/main_support.h"
#include "engine/model/safetensors_stream_writer.h"
#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Shape {
  int dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0, context = 0;
  bool tied = false;  // llama2.c's TinyStories models share the embedding with the output head
  // Which tensors and config.json: llama | qwen2 (q/k/v biases) | qwen3 (q/k norms) | gemma3
  // (sandwich norms, q/k norms, GeGLU, sliding layers).
  std::string family = "llama";
  int head_dim = 0;  // 0: dim / heads
  double rope_theta = 10000.0;
  int hd() const { return head_dim > 0 ? head_dim : dim / heads; }
};

struct Options {
  std::string shape;
  std::string dtype;
  std::string out;
  std::string tokenizer = LLM_DEFAULT_TOKENIZER;
  uint64_t seed = 0;
  Shape custom;  // flags that override the named shape's fields (0: keep)
  std::string family;  // overrides the shape's family (empty: keep)
  bool tie = false;
};

Shape resolve_shape(const Options& o) {
  Shape s;
  // The published configs' shapes (hidden, layers, heads, KV heads, MLP, vocabulary, context).
  if (o.shape == "stories15m") {
    s = {288, 6, 6, 6, 768, 32000, 256, true};
  } else if (o.shape == "tinyllama-1.1b") {
    s = {2048, 22, 32, 4, 5632, 32000, 2048, false};
  } else if (o.shape == "llama-7b") {
    s = {4096, 32, 32, 32, 11008, 32000, 4096, false};
  } else if (o.shape == "llama3.2-1b") {
    s = {2048, 16, 32, 8, 8192, 128256, 131072, true, "llama", 64, 500000.0};
  } else if (o.shape == "qwen2.5-0.5b") {
    s = {896, 24, 14, 2, 4864, 151936, 32768, true, "qwen2", 64, 1000000.0};
  } else if (o.shape == "qwen3-0.6b") {
    s = {1024, 28, 16, 8, 3072, 151936, 40960, true, "qwen3", 128, 1000000.0};
  } else if (o.shape == "gemma3-1b") {
    s = {1152, 26, 4, 1, 6912, 262144, 32768, true, "gemma3", 256, 1000000.0};
  } else if (o.shape != "CUSTOM") {
    throw po::error("--shape must be stories15m, tinyllama-1.1b, llama-7b, llama3.2-1b, "
                    "qwen2.5-0.5b, qwen3-0.6b, gemma3-1b or CUSTOM, not '" + o.shape + "'");
  }
  const Shape& c = o.custom;
  for (auto [field, flag] : {std::pair{&Shape::dim, "dim"},
                             {&Shape::layers, "layers"},
                             {&Shape::heads, "heads"},
                             {&Shape::ffn, "ffn"},
                             {&Shape::vocab, "vocab"}}) {
    if (c.*field < 0) throw po::error(std::string("--") + flag + " must be positive");
    if (c.*field > 0) s.*field = c.*field;
    if (s.*field == 0) throw po::error(std::string("--shape CUSTOM needs --") + flag);
  }
  if (c.kv_heads > 0) s.kv_heads = c.kv_heads;
  if (s.kv_heads == 0) s.kv_heads = s.heads;
  if (c.context > 0) s.context = c.context;
  if (s.context == 0) s.context = 2048;
  if (o.tie) s.tied = true;
  if (!o.family.empty()) {
    if (o.family != "llama" && o.family != "qwen2" && o.family != "qwen3" && o.family != "gemma3") {
      throw po::error("--family must be llama, qwen2, qwen3 or gemma3, not '" + o.family + "'");
    }
    s.family = o.family;
  }
  if (s.head_dim == 0 && (s.dim % s.heads != 0 || (s.dim / s.heads) % 2 != 0)) {
    throw po::error("--dim must be a multiple of --heads with an even head size");
  }
  if (s.heads % s.kv_heads != 0) throw po::error("--heads must be a multiple of --kv-heads");
  return s;
}

llm::DType parse_dtype(const std::string& s) {
  if (s == "f32") return llm::DType::kF32;
  if (s == "bf16") return llm::DType::kBF16;
  if (s == "f16") return llm::DType::kF16;
  throw po::error("--dtype must be f32, bf16 or f16, not '" + s + "'");
}

const char* torch_dtype_name(llm::DType t) {
  return t == llm::DType::kBF16 ? "bfloat16" : t == llm::DType::kF16 ? "float16" : "float32";
}

uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fff + ((x >> 16) & 1);  // round to nearest even; our values are finite
  return static_cast<uint16_t>(x >> 16);
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  if (exp <= 0) {  // subnormal in f16 (0.02 * N(0,1) reaches there now and then)
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    const int shift = 14 - exp;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // a carry into the exponent is right
  return static_cast<uint16_t>(h);
}

// splitmix64: tiny, fast, and seeded per tensor so a tensor's values do not depend on how
// the others were chunked.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
};

struct TensorPlan {
  llm::TensorSpec spec;
  bool is_norm = false;
};

std::vector<TensorPlan> plan_tensors(const Shape& s, llm::DType dtype) {
  const int64_t D = s.dim, F = s.ffn, V = s.vocab, hd = s.hd();
  const int64_t Q = s.heads * hd, KV = s.kv_heads * hd;
  std::vector<TensorPlan> t;
  const auto add = [&](std::string name, std::vector<int64_t> shape) {
    const bool norm = name.find("norm") != std::string::npos;  // biases are random, norms 1
    t.push_back({{std::move(name), dtype, std::move(shape)}, norm});
  };
  add("model.embed_tokens.weight", {V, D});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {D});
    add(p + "self_attn.q_proj.weight", {Q, D});
    add(p + "self_attn.k_proj.weight", {KV, D});
    add(p + "self_attn.v_proj.weight", {KV, D});
    if (s.family == "qwen2") {
      add(p + "self_attn.q_proj.bias", {Q});
      add(p + "self_attn.k_proj.bias", {KV});
      add(p + "self_attn.v_proj.bias", {KV});
    }
    if (s.family == "qwen3" || s.family == "gemma3") {
      add(p + "self_attn.q_norm.weight", {hd});
      add(p + "self_attn.k_norm.weight", {hd});
    }
    add(p + "self_attn.o_proj.weight", {D, Q});
    add(p + "post_attention_layernorm.weight", {D});
    if (s.family == "gemma3") {
      add(p + "pre_feedforward_layernorm.weight", {D});
      add(p + "post_feedforward_layernorm.weight", {D});
    }
    add(p + "mlp.gate_proj.weight", {F, D});
    add(p + "mlp.up_proj.weight", {F, D});
    add(p + "mlp.down_proj.weight", {D, F});
  }
  add("model.norm.weight", {D});
  if (!s.tied) add("lm_head.weight", {V, D});
  return t;
}

void write_weights(const fs::path& path, const std::vector<TensorPlan>& plan, llm::DType dtype,
                   uint64_t seed) {
  std::vector<llm::TensorSpec> specs;
  for (const TensorPlan& p : plan) specs.push_back(p.spec);
  llm::SafetensorsStreamWriter writer(path, specs, {{"format", "pt"}});
  llm::bench::Progress progress("writing " + path.filename().string(),
                                static_cast<int64_t>(writer.bytes_expected() >> 20), "MiB");
  constexpr int64_t kChunk = 1 << 20;  // elements generated and written at a time
  std::vector<float> values(kChunk);
  std::vector<std::byte> bytes(kChunk * 4);
  const size_t esize = llm::dtype_size(dtype);
  for (size_t ti = 0; ti < plan.size(); ++ti) {
    int64_t n = 1;
    for (const int64_t d : plan[ti].spec.shape) n *= d;
    Rng rng{seed * 0x100000001b3ull + ti};
    for (int64_t done = 0; done < n; done += kChunk) {
      const int64_t m = std::min(kChunk, n - done);
      if (plan[ti].is_norm) {
        std::fill_n(values.begin(), m, 1.0f);
      } else {
        for (int64_t i = 0; i < m; i += 2) {  // Box-Muller: two normals per pair of uniforms
          const double r = 0.02 * std::sqrt(-2.0 * std::log(rng.uniform()));
          const double a = 2.0 * std::numbers::pi * rng.uniform();
          values[i] = static_cast<float>(r * std::cos(a));
          if (i + 1 < m) values[i + 1] = static_cast<float>(r * std::sin(a));
        }
      }
      for (int64_t i = 0; i < m; ++i) {
        if (dtype == llm::DType::kF32) {
          std::memcpy(&bytes[i * 4], &values[i], 4);
        } else {
          const uint16_t h =
              dtype == llm::DType::kBF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
          std::memcpy(&bytes[i * 2], &h, 2);
        }
      }
      writer.append(std::span(bytes.data(), static_cast<size_t>(m) * esize));
      progress.update(static_cast<int64_t>(writer.bytes_written() >> 20));
    }
  }
  writer.finish();
  progress.done();
}

// config.json as transformers writes it for the family (the fields the engine reads).
json config_json(const Shape& s, llm::DType dtype) {
  static const std::map<std::string, std::pair<const char*, const char*>> kArch = {
      {"llama", {"LlamaForCausalLM", "llama"}},
      {"qwen2", {"Qwen2ForCausalLM", "qwen2"}},
      {"qwen3", {"Qwen3ForCausalLM", "qwen3"}},
      {"gemma3", {"Gemma3ForCausalLM", "gemma3_text"}}};
  const auto& [arch, type] = kArch.at(s.family);
  json c = {{"architectures", {arch}},
            {"model_type", type},
            {"hidden_size", s.dim},
            {"intermediate_size", s.ffn},
            {"num_hidden_layers", s.layers},
            {"num_attention_heads", s.heads},
            {"num_key_value_heads", s.kv_heads},
            {"head_dim", s.hd()},
            {"vocab_size", s.vocab},
            {"max_position_embeddings", s.context},
            {"rms_norm_eps", s.family == "gemma3" ? 1e-6 : 1e-5},
            {"rope_theta", s.rope_theta},
            {"tie_word_embeddings", s.tied},
            {"bos_token_id", 1},
            {"eos_token_id", 2},
            {"torch_dtype", torch_dtype_name(dtype)}};
  if (s.family == "gemma3") {
    // Five sliding layers to one global, as gemma-3-1b.
    json types = json::array();
    for (int l = 0; l < s.layers; ++l) {
      types.push_back((l + 1) % 6 == 0 ? "full_attention" : "sliding_attention");
    }
    c.update({{"hidden_activation", "gelu_pytorch_tanh"},
              {"query_pre_attn_scalar", 256},
              {"sliding_window", 512},
              {"layer_types", types},
              {"rope_local_base_freq", 10000.0}});
  } else {
    c["hidden_act"] = "silu";
  }
  if (s.family == "llama") c.update({{"attention_bias", false}, {"mlp_bias", false}});
  if (s.family == "qwen2") c["use_sliding_window"] = false;
  if (s.rope_theta == 500000.0) {  // Llama 3.2's long-context RoPE
    c["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 32.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
  }
  return c;
}

void write_json(const fs::path& path, const json& j) {
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  if (!f) throw llm::Error(llm::ErrorCode::kInvalidArgument, path.string() + ": write failed");
}

int run(const Options& o) {
  const Shape s = resolve_shape(o);
  const llm::DType dtype = parse_dtype(o.dtype);
  const fs::path out = o.out;
  fs::path tok = o.tokenizer;
  // A directory with a tokenizer.json (Llama 3, Qwen): that and its tokenizer_config.json.
  const bool hf = fs::is_directory(tok) && fs::is_regular_file(tok / "tokenizer.json");
  if (fs::is_directory(tok) && !hf) tok /= "tokenizer.model";
  if (!hf && !fs::is_regular_file(tok)) {
    throw llm::Error(llm::ErrorCode::kNotFound, tok.string() + ": tokenizer model not found");
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) {
    throw llm::Error(llm::ErrorCode::kInvalidArgument,
                     out.string() + ": cannot create directory: " + ec.message());
  }
  if (hf) {
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      if (fs::exists(tok / f)) fs::copy_file(tok / f, out / f, fs::copy_options::overwrite_existing);
    }
  } else {
  fs::copy_file(tok, out / "tokenizer.model", fs::copy_options::overwrite_existing);
  write_json(out / "tokenizer_config.json", {{"tokenizer_class", "LlamaTokenizer"},
                                             {"add_bos_token", true},
                                             {"add_eos_token", false},
                                             {"bos_token", "<s>"},
                                             {"eos_token", "</s>"},
                                             {"unk_token", "<unk>"},
                                             {"pad_token", nullptr},
                                             {"model_max_length", s.context},
                                             {"clean_up_tokenization_spaces", false},
                                             {"legacy", true}});
  write_json(out / "special_tokens_map.json",
             {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}});
  }
  // Refuse now rather than let the engine reject prompts later: every id the tokenizer can
  // produce must have an embedding row.
  const int tok_vocab = llm::Tokenizer::load(out).vocab_size();
  if (tok_vocab > s.vocab) {
    throw llm::Error(llm::ErrorCode::kInvalidArgument,
                     "--vocab " + std::to_string(s.vocab) + " is smaller than the tokenizer's " +
                         std::to_string(tok_vocab) + " pieces (" + tok.string() + ")");
  }

  write_json(out / "config.json", config_json(s, dtype));
  write_json(
      out / "generation_config.json",
      {{"bos_token_id", 1}, {"eos_token_id", 2}, {"max_length", s.context}, {"do_sample", false}});
  const std::vector<TensorPlan> plan = plan_tensors(s, dtype);
  int64_t params = 0;
  for (const TensorPlan& p : plan) {
    int64_t n = 1;
    for (const int64_t d : p.spec.shape) n *= d;
    params += n;
  }
  write_weights(out / "model.safetensors", plan, dtype, o.seed);
  std::cout << "wrote " << out.string() << ": " << params << " parameters, "
            << llm::dtype_name(dtype) << ", dim " << s.dim << ", " << s.layers << " layers, "
            << s.heads << "/" << s.kv_heads << " heads, ffn " << s.ffn << ", vocab " << s.vocab
            << ", context " << s.context << (s.tied ? ", tied embeddings" : "") << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  po::options_description d(
      "llm-make-model: write a checkpoint with seeded random weights\nOptions");
  d.add_options()("help,h", "show this help")(
      "shape", po::value(&o.shape)->required(),
      "stories15m | tinyllama-1.1b | llama-7b | llama3.2-1b | qwen2.5-0.5b | qwen3-0.6b | "
      "gemma3-1b | CUSTOM (CUSTOM needs --dim --layers --heads --ffn --vocab)")("dtype", po::value(&o.dtype)->default_value("f32"), "f32 | bf16 | f16")(
      "out", po::value(&o.out)->required(), "output directory (created)")(
      "seed", po::value(&o.seed)->default_value(0), "weight seed")(
      "tokenizer", po::value(&o.tokenizer)->default_value(o.tokenizer),
      "SentencePiece tokenizer.model, or a directory holding one or a tokenizer.json")(
      "dim", po::value(&o.custom.dim), "hidden size (overrides the shape's)")(
      "layers", po::value(&o.custom.layers), "decoder layers")("heads", po::value(&o.custom.heads),
                                                               "attention heads")(
      "kv-heads", po::value(&o.custom.kv_heads), "key/value heads (default: --heads)")(
      "ffn", po::value(&o.custom.ffn), "MLP intermediate size")(
      "vocab", po::value(&o.custom.vocab), "vocabulary size (>= the tokenizer's)")(
      "context", po::value(&o.custom.context), "max_position_embeddings (CUSTOM default 2048)")(
      "tie-embeddings", po::bool_switch(&o.tie), "share the embedding with the output head")(
      "family", po::value(&o.family), "llama | qwen2 | qwen3 | gemma3 (overrides the shape's)");
  const auto check = [&] {
    resolve_shape(o);
    parse_dtype(o.dtype);
  };
  if (auto code = llm::parse_command_line("llm-make-model", argc, argv, d, check)) return *code;
  return llm::run_guarded("llm-make-model", [&] { return run(o); });
}
