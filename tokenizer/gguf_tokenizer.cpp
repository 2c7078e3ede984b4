#include "tokenizer/gguf_tokenizer.h"

#include <algorithm>
#include <array>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "llm/error.h"
#include "tokenizer/hf/hf_tokenizer.h"
#include "tokenizer/sentencepiece_backend.h"
#include "tokenizer/sentencepiece_proto.h"

namespace llm {
namespace {

const std::string kWhere = "GGUF tokenizer";

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type, SentencePiece's piece types).
constexpr int32_t kNormal = 1;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kUnused = 5;
constexpr int32_t kByte = 6;

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorCode::kCorruptFile, kWhere + ": " + what);
}
[[noreturn]] void unsupported(const std::string& what) {
  throw Error(ErrorCode::kUnsupported, kWhere + ": " + what + " is not supported");
}

// The vocabulary after the checks every model needs, with llama.cpp's defaults filled in.
struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  TokenId bos = -1;
  TokenId eos = -1;
  bool add_bos = false;
  bool add_eos = false;
};

void check_special_id(const char* key, int32_t id, size_t n) {
  if (id < -1 || (id >= 0 && static_cast<size_t>(id) >= n)) {
    corrupt(std::string("tokenizer.ggml.") + key + " " + std::to_string(id) +
            " is outside the vocabulary of " + std::to_string(n) + " tokens");
  }
}

// llama.cpp's default when the file names no such token: a fixed id, if the vocabulary has it.
TokenId id_or(int32_t id, int32_t fallback, size_t n) {
  if (id >= 0) return id;
  return static_cast<size_t>(fallback) < n ? fallback : -1;
}

Vocab check(const GgufVocab& v, bool default_add_bos, int32_t default_bos, int32_t default_eos) {
  const size_t n = v.tokens.size();
  if (n == 0) corrupt("tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(1) << 30) corrupt("tokenizer.ggml.tokens has too many tokens");
  if (!v.scores.empty() && v.scores.size() != n) {
    corrupt("tokenizer.ggml.scores has " + std::to_string(v.scores.size()) + " entries for " +
            std::to_string(n) + " tokens");
  }
  if (!v.token_types.empty() && v.token_types.size() != n) {
    corrupt("tokenizer.ggml.token_type has " + std::to_string(v.token_types.size()) +
            " entries for " + std::to_string(n) + " tokens");
  }
  check_special_id("bos_token_id", v.bos_id, n);
  check_special_id("eos_token_id", v.eos_id, n);
  check_special_id("unknown_token_id", v.unknown_id, n);
  check_special_id("padding_token_id", v.padding_id, n);

  Vocab out;
  out.tokens = v.tokens;
  out.types = v.token_types.empty() ? std::vector<int32_t>(n, kNormal) : v.token_types;
  std::unordered_map<std::string_view, size_t> seen;
  seen.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    if (out.types[id] < kNormal || out.types[id] > kByte) {
      corrupt("tokenizer.ggml.token_type[" + std::to_string(id) + "] is " +
              std::to_string(out.types[id]) + ", not a token type (1..6)");
    }
    // As llama.cpp: an empty token can never be matched, but it must still be distinct.
    if (out.tokens[id].empty()) out.tokens[id] = "[EMPTY_" + std::to_string(id) + "]";
    const auto [it, fresh] = seen.emplace(out.tokens[id], id);
    if (!fresh) {
      corrupt("token \"" + out.tokens[id] + "\" appears twice (ids " + std::to_string(it->second) +
              " and " + std::to_string(id) + ")");
    }
  }

  out.bos = id_or(v.bos_id, default_bos, n);
  out.eos = id_or(v.eos_id, default_eos, n);
  // A default never asks for a token the vocabulary lacks; the file's own flag must be honoured.
  out.add_bos = v.add_bos.value_or(default_add_bos && out.bos >= 0);
  out.add_eos = v.add_eos.value_or(false);
  if (out.add_bos && out.bos < 0) corrupt("add_bos_token is set but there is no BOS token");
  if (out.add_eos && out.eos < 0) corrupt("add_eos_token is set but there is no EOS token");
  return out;
}

// ---- "gpt2": byte-level BPE ----

// What a gpt2 vocabulary's pre-tokenizer name stands for: the Hugging Face pipeline of the models
// that carry it. llama.cpp approximates some of these (its Llama 3 and Qwen2 patterns spell
// (?i:'s) as '[sS], which misses Unicode case folding such as "'ſ"; it skips Qwen2's NFC);
// the originals are used here, since they define the ids the model was trained on.
struct BpeFlavor {
  std::unique_ptr<hf::Normalizer> normalizer;
  std::unique_ptr<hf::PreTokenizer> pre_tokenizer;
  bool ignore_merges = false;
  bool default_add_bos = false;
};

std::unique_ptr<hf::PreTokenizer> split_then_byte_level(std::span<const char* const> patterns) {
  std::vector<std::unique_ptr<hf::PreTokenizer>> steps;
  for (const char* pattern : patterns) {
    steps.push_back(hf::make_split(hf::make_regex(pattern, kWhere + " pre-tokenizer"), "",
                                   hf::SplitBehavior::kIsolated, /*invert=*/false));
  }
  steps.push_back(hf::make_byte_level(/*add_prefix_space=*/false, /*use_regex=*/false));
  return hf::make_sequence(std::move(steps));
}

BpeFlavor bpe_flavor(const std::string& pre) {
  BpeFlavor f;
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe") {
    const std::array<const char*, 1> patterns = {hf::kLlama3Pattern};
    f.pre_tokenizer = split_then_byte_level(patterns);
    f.ignore_merges = true;
    f.default_add_bos = true;
  } else if (pre == "qwen2") {
    const std::array<const char*, 1> patterns = {hf::kQwen2Pattern};
    f.normalizer = hf::make_unicode_normalizer(hf::UnicodeForm::kNfc);
    f.pre_tokenizer = split_then_byte_level(patterns);
  } else if (pre == "gpt-2") {
    f.pre_tokenizer = hf::make_byte_level(/*add_prefix_space=*/false, /*use_regex=*/true);
  } else if (pre == "smollm") {
    // SmolLM's tokenizer.json: single digits first, then GPT-2's byte-level split.
    std::vector<std::unique_ptr<hf::PreTokenizer>> steps;
    steps.push_back(hf::make_digits(/*individual_digits=*/true));
    steps.push_back(hf::make_byte_level(/*add_prefix_space=*/false, /*use_regex=*/true));
    f.pre_tokenizer = hf::make_sequence(std::move(steps));
  } else if (pre == "default") {
    // llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT: no Hugging Face tokenizer has it, so its regex
    // list is taken as llama.cpp runs it, each pattern splitting the pieces of the one before.
    static const char* const kDefault[] = {
        R"([\p{P}\$\+<=>\^~\|]+)",
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
        R"(\p{N}+)",
        R"([0-9][0-9][0-9])",
    };
    f.pre_tokenizer = split_then_byte_level(kDefault);
  } else {
    unsupported("pre-tokenizer \"" + pre +
                "\" (tokenizer.ggml.pre; implemented: llama-bpe, llama3, llama-v3, qwen2, "
                "gpt-2, smollm, default)");
  }
  return f;
}

std::unique_ptr<TokenizerBackend> make_gpt2(const GgufVocab& raw) {
  if (raw.pre.empty()) {
    // llama.cpp guesses "default" here and warns that the output may be wrong; refusing is safer.
    unsupported("a gpt2 vocabulary without tokenizer.ggml.pre");
  }
  BpeFlavor flavor = bpe_flavor(raw.pre);
  // llama.cpp's defaults for a gpt2 vocabulary that names no BOS / EOS: id 11 (GPT-2's ",").
  const Vocab v = check(raw, flavor.default_add_bos, 11, 11);

  HfPipeline p;
  p.normalizer = std::move(flavor.normalizer);
  p.pre_tokenizer = std::move(flavor.pre_tokenizer);
  p.decoder = hf::make_byte_level_decoder();
  p.decoder_is_byte_level = true;
  p.min_vocab_size = static_cast<int>(v.tokens.size());

  std::vector<std::pair<std::string, TokenId>> model_vocab;
  model_vocab.reserve(v.tokens.size());
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const TokenId tid = static_cast<TokenId>(id);
    // Unused tokens (the converter's [PAD<id>] padding) decode to nothing in llama.cpp, as ids
    // past a tokenizer.json vocabulary do in `tokenizers`; leaving them out does both.
    if (v.types[id] == kUnused) continue;
    model_vocab.emplace_back(v.tokens[id], tid);
    if (v.types[id] == kControl || v.types[id] == kUserDefined) {
      // Matched in the raw text before the pre-tokenizer, as llama.cpp's special-token partition
      // and `tokenizers`' added vocabulary do; control tokens are special (skipped in decode).
      hf::AddedToken added;
      added.content = v.tokens[id];
      added.id = tid;
      added.special = v.types[id] == kControl;
      added.normalized = false;
      p.added_tokens.push_back(std::move(added));
    }
  }

  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(raw.merges.size());
  for (size_t i = 0; i < raw.merges.size(); ++i) {
    const std::string& m = raw.merges[i];
    // As llama.cpp: split at the first space after the first byte.
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) {
      corrupt("tokenizer.ggml.merges[" + std::to_string(i) + "] \"" + m + "\" is not \"a b\"");
    }
    merges.emplace_back(m.substr(0, space), m.substr(space + 1));
  }
  hf::BpeOptions options;
  options.ignore_merges = flavor.ignore_merges;
  p.model = std::make_unique<hf::BpeModel>(std::move(model_vocab), merges, std::move(options),
                                           kWhere + " (tokenizer.ggml.merges)");

  std::vector<TokenId> before, after;
  if (v.add_bos) before.push_back(v.bos);
  if (v.add_eos) after.push_back(v.eos);
  p.post_processor = hf::make_template(std::move(before), std::move(after));
  return std::make_unique<HfTokenizer>(std::move(p), v.bos, v.eos);
}

// ---- "llama": SentencePiece BPE over scores ----

std::unique_ptr<TokenizerBackend> make_llama(const GgufVocab& raw) {
  // llama.cpp's defaults for an SPM vocabulary: <s> = 1, </s> = 2, BOS added.
  const Vocab v = check(raw, /*default_add_bos=*/true, 1, 2);
  const std::vector<float> scores =
      raw.scores.empty() ? std::vector<float>(v.tokens.size(), 0.0f) : raw.scores;
  SpmModelSpec spec;
  spec.pieces = v.tokens;
  spec.scores = scores;
  spec.types = v.types;
  spec.add_dummy_prefix = raw.add_space_prefix.value_or(true);
  spec.byte_fallback = std::find(v.types.begin(), v.types.end(), kByte) != v.types.end();
  return SentencePieceBackend::from_serialized_proto(serialize_spm_bpe_model(spec), kWhere, v.bos,
                                                     v.eos, v.add_bos, v.add_eos);
}

}  // namespace

std::unique_ptr<TokenizerBackend> make_gguf_backend(const GgufVocab& vocab) {
  if (vocab.model == "gpt2") return make_gpt2(vocab);
  if (vocab.model == "llama") return make_llama(vocab);
  if (vocab.model.empty()) corrupt("tokenizer.ggml.model is missing");
  unsupported("tokenizer model \"" + vocab.model +
              "\" (tokenizer.ggml.model; implemented: llama, gpt2)");
}

}  // namespace llm
