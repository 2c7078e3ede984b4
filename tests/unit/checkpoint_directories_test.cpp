// Specification of which model directories load and which are refused, and with what message:
// config.json variants that are accepted, and one bad directory per case (missing or corrupt
// files, malformed safetensors headers, inconsistent shards).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "engine/model/checkpoint.h"
#include "llm/error.h"
#include "tests/unit/checkpoint_test_support.h"

namespace llm::checkpoint_test {
namespace {

// --- config.json variants that load -----------------------------------------------------------

const std::string& stories_file(const std::string& name) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, read_file(kStories / name)).first;
  return it->second;
}

// stories260K's config.json with keys set (`set` is JSON text, null allowed) and keys removed.
std::string config_with(const std::string& set, const std::vector<std::string>& erase = {}) {
  json j = json::parse(stories_file("config.json"));
  const json changes = json::parse(set);
  for (const auto& [k, v] : changes.items()) j[k] = v;
  for (const std::string& k : erase) j.erase(k);
  return j.dump(2);
}

struct AcceptedConfigCase {
  std::string name;
  std::string config;
  std::function<void(const ModelConfig&)> check;
};
void PrintTo(const AcceptedConfigCase& c, std::ostream* os) {
  *os << c.name;
}

// clang-format off
const std::vector<AcceptedConfigCase>& accepted_configs() {
  static const std::vector<AcceptedConfigCase> cases = {
    {"KvHeadsDefaultToHeads", config_with("{}", {"num_key_value_heads"}),
     [](const ModelConfig& c) { EXPECT_EQ(c.num_kv_heads, 8); }},
    {"NullHeadDimIsHiddenOverHeads", config_with(R"({"head_dim": null, "hidden_size": 128})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.head_dim, 16); }},
    {"ExplicitHeadDimWins", config_with(R"({"head_dim": 16})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.q_size(), 128); }},
    {"MistralByModelType", config_with(R"({"model_type": "mistral"})", {"architectures"}),
     [](const ModelConfig& c) { EXPECT_EQ(c.architecture, "MistralForCausalLM"); }},
    {"FirstSupportedArchitecture",
     config_with(R"({"architectures": ["Foo", "MistralForCausalLM"]})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.architecture, "MistralForCausalLM"); }},
    // A window is per layer and leaves the context alone; Llama reads none (as transformers).
    {"MistralSlidesEveryLayer",
     config_with(R"({"architectures": ["MistralForCausalLM"], "sliding_window": 256})"),
     [](const ModelConfig& c) {
       EXPECT_EQ(c.max_position_embeddings, 512);
       EXPECT_EQ(c.window_of(0), 256);
       EXPECT_EQ(c.window_of(c.num_layers - 1), 256);
     }},
    {"LlamaIgnoresSlidingWindow", config_with(R"({"sliding_window": 4096})"),
     [](const ModelConfig& c) {
       EXPECT_EQ(c.max_position_embeddings, 512);
       EXPECT_EQ(c.window_of(0), 0);
     }},
    {"QwenSlidesFromMaxWindowLayers",
     config_with(R"({"architectures": ["Qwen2ForCausalLM"], "use_sliding_window": true,
                    "sliding_window": 64, "max_window_layers": 1})"),
     [](const ModelConfig& c) {
       EXPECT_EQ(c.window_of(0), 0);
       EXPECT_EQ(c.window_of(1), 64);
     }},
    {"QwenWindowOnlyWithUseSlidingWindow",
     config_with(R"({"architectures": ["Qwen2ForCausalLM"], "sliding_window": 64})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.window_of(1), 0); }},
    {"NullSlidingWindow", config_with(R"({"sliding_window": null})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.max_position_embeddings, 512); }},
    {"Bfloat16", config_with(R"({"torch_dtype": "bfloat16"})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.torch_dtype, DType::kBF16); }},
    {"Float16InNewDtypeField", config_with(R"({"dtype": "float16"})", {"torch_dtype"}),
     [](const ModelConfig& c) { EXPECT_EQ(c.torch_dtype, DType::kF16); }},
    {"EosListMergedWithoutDuplicates", config_with(R"({"eos_token_id": [7, 2, 7]})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.eos_token_ids, (std::vector<int>{7, 2, 1})); }},
    {"NullBos", config_with(R"({"bos_token_id": null})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.bos_token_id, -1); }},
    {"DefaultRopeScalingIsNoScaling", config_with(R"({"rope_scaling": {"rope_type": "default"}})"),
     [](const ModelConfig& c) { EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f); }},
    {"RopeThetaInRopeParameters",
     config_with(R"({"rope_parameters": {"rope_type": "default", "rope_theta": 5e5}})",
                 {"rope_theta"}),
     [](const ModelConfig& c) { EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f); }},
    {"Defaults",
     config_with("{}", {"architectures", "num_key_value_heads", "head_dim", "rms_norm_eps",
                        "rope_theta", "max_position_embeddings", "tie_word_embeddings",
                        "bos_token_id", "eos_token_id", "torch_dtype", "hidden_act"}),
     [](const ModelConfig& c) {
       EXPECT_EQ(c.architecture, "LlamaForCausalLM");  // from model_type
       EXPECT_EQ(c.num_kv_heads, 8);
       EXPECT_EQ(c.head_dim, 8);
       EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
       EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
       EXPECT_EQ(c.max_position_embeddings, 2048);
       EXPECT_FALSE(c.tie_word_embeddings);
       EXPECT_EQ(c.bos_token_id, -1);
       EXPECT_EQ(c.eos_token_ids, (std::vector<int>{2, 1}));  // generation_config.json's
       EXPECT_EQ(c.torch_dtype, DType::kF32);
     }},
  };
  return cases;
}
// clang-format on

class AcceptedConfigTest : public ScratchDirTest,
                           public ::testing::WithParamInterface<AcceptedConfigCase> {};

TEST_P(AcceptedConfigTest, Loads) {
  write("config.json", GetParam().config);
  copy_from_stories("generation_config.json");
  GetParam().check(load_model_config(dir_));
}

INSTANTIATE_TEST_SUITE_P(Cases, AcceptedConfigTest, ::testing::ValuesIn(accepted_configs()),
                         [](const auto& info) { return info.param.name; });

// --- Bad model directories: one per case, opened with Checkpoint::open ------------------------

struct BadDirCase {
  std::string name;
  std::map<std::string, std::string> files;  // written into a fresh directory
  ErrorCode code;
  std::string message;    // must appear in the error; "{dir}" stands for the directory
  std::string open = "";  // what to open, relative to the directory
};
void PrintTo(const BadDirCase& c, std::ostream* os) {
  *os << c.name;
}

using Files = std::map<std::string, std::string>;

// A directory with stories260K's config.json and `safetensors` as model.safetensors.
Files weights(const std::string& safetensors) {
  return {{"config.json", stories_file("config.json")}, {"model.safetensors", safetensors}};
}

// A directory with stories260K's config.json and `text` as model.safetensors.index.json.
Files index_file(const std::string& text) {
  return {{"config.json", stories_file("config.json")}, {"model.safetensors.index.json", text}};
}

// A safetensors file with one tensor "t" whose header entry is made of the given JSON texts.
std::string one_tensor(const std::string& dtype, const std::string& shape,
                       const std::string& offsets, size_t data_bytes) {
  return raw_safetensors(R"({"t": {"dtype": )" + dtype + R"(, "shape": )" + shape +
                             R"(, "data_offsets": )" + offsets + "}}",
                         data_bytes);
}

// clang-format off
const std::vector<BadDirCase>& bad_dirs() {
  constexpr auto kNotFound = ErrorCode::kNotFound;
  constexpr auto kCorrupt = ErrorCode::kCorruptFile;
  constexpr auto kUnsupported = ErrorCode::kUnsupported;
  const std::string cfg = "{dir}/config.json: ";
  const std::string gen = "{dir}/generation_config.json: ";
  const std::string st = "{dir}/model.safetensors: ";
  const std::string idx = "{dir}/model.safetensors.index.json: ";
  const std::string& stories = stories_file("model.safetensors");
  const auto config = [](const std::string& set, const std::vector<std::string>& erase = {}) {
    return Files{{"config.json", config_with(set, erase)}};
  };
  const auto generation = [](const std::string& text) {
    return Files{{"config.json", stories_file("config.json")}, {"generation_config.json", text}};
  };
  static const std::vector<BadDirCase> cases = {
    // The directory itself.
    {"MissingDirectory", {},
     kNotFound, "model directory '{dir}/absent' does not exist", "absent"},
    {"FileInsteadOfDirectory", {{"file", "x"}},
     kNotFound, "model directory '{dir}/file' is not a directory", "file"},
    {"MissingConfig", {{"model.safetensors", stories}},
     kNotFound, cfg + "file not found"},
    {"MissingWeights", config("{}"),
     kNotFound, "no model.safetensors or model.safetensors.index.json in '{dir}'"},

    // config.json
    {"ConfigNotJson", Files{{"config.json", "{\"hidden_size\": 64,\n \"vocab_size\": }"}},
     kCorrupt, cfg + "not valid JSON: parse error at line 2, column 16"},
    {"ConfigNotObject", Files{{"config.json", "[1, 2]"}},
     kCorrupt, cfg + "expected a JSON object, found array"},
    {"MissingField", config("{}", {"hidden_size"}),
     kCorrupt, cfg + "field 'hidden_size' is missing"},
    {"StringForInteger", config(R"({"hidden_size": "64"})"),
     kCorrupt, cfg + "field 'hidden_size' must be an integer, found \"64\""},
    {"FloatForInteger", config(R"({"vocab_size": 512.5})"),
     kCorrupt, cfg + "field 'vocab_size' must be an integer, found 512.5"},
    {"NullRequiredField", config(R"({"vocab_size": null})"),
     kCorrupt, cfg + "field 'vocab_size' is null, expected a positive integer"},
    {"ZeroLayers", config(R"({"num_hidden_layers": 0})"),
     kCorrupt, cfg + "field 'num_hidden_layers' must be positive, found 0"},
    {"NegativeSize", config(R"({"intermediate_size": -4})"),
     kCorrupt, cfg + "field 'intermediate_size' must be positive, found -4"},
    {"TooLarge", config(R"({"vocab_size": 1099511627776})"),
     kCorrupt, cfg + "field 'vocab_size' is 1099511627776, too large"},
    {"HeadsNotDivisibleByKvHeads", config(R"({"num_key_value_heads": 3})"),
     kCorrupt, cfg + "num_attention_heads (8) is not divisible by num_key_value_heads (3)"},
    {"HiddenNotDivisibleByHeads", config(R"({"hidden_size": 68})", {"head_dim"}),
     kCorrupt, cfg + "hidden_size (68) is not divisible by num_attention_heads (8) "
                     "and head_dim is not given"},
    {"OddHeadDim", config(R"({"head_dim": 7})"),
     kCorrupt, cfg + "head_dim 7 is odd"},
    {"BoolAsString", config(R"({"tie_word_embeddings": "yes"})"),
     kCorrupt, cfg + "field 'tie_word_embeddings' must be true or false, found \"yes\""},
    {"EosAsString", config(R"({"eos_token_id": "2"})"),
     kCorrupt, cfg + "field 'eos_token_id' must be a token id or a list of token ids "
                     "(non-negative integers), found \"2\""},
    {"NegativeEos", config(R"({"eos_token_id": [2, -1]})"),
     kCorrupt, cfg + "field 'eos_token_id' must be a token id or a list of token ids "
                     "(non-negative integers), found [2,-1]"},
    {"BosList", config(R"({"bos_token_id": [1]})"),
     kCorrupt, cfg + "field 'bos_token_id' must be a token id (non-negative integer), found [1]"},
    {"ArchitecturesNotAList", config(R"({"architectures": "LlamaForCausalLM"})"),
     kCorrupt, cfg + "field 'architectures' must be a list of strings"},
    {"NegativeSlidingWindow", config(R"({"sliding_window": -1})"),
     kCorrupt, cfg + "field 'sliding_window' must be positive, found -1"},
    {"UnsupportedArchitecture", config(R"({"architectures": ["GPT2LMHeadModel"]})"),
     kUnsupported, cfg + "architecture 'GPT2LMHeadModel' is not supported "
                         "(supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
                         "Phi3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM)"},
    {"UnsupportedModelType", config(R"({"model_type": "gpt2"})", {"architectures"}),
     kUnsupported, cfg + "model_type 'gpt2' is not supported"},
    {"NoArchitectureAtAll", config("{}", {"architectures", "model_type"}),
     kUnsupported, cfg + "neither 'architectures' nor 'model_type'"},
    // Qwen2-VL's multimodal RoPE: a type transformers' text models do not compute either.
    {"MropeScaling", config(R"({"rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}})"),
     kUnsupported, cfg + R"(rope_scaling {"mrope_section":[16,24,24],"type":"mrope"} is not supported)"},
    {"RopeScalingWithOddType", config(R"({"rope_scaling": {"rope_type": 3}})"),
     kUnsupported, cfg + R"(rope_scaling {"rope_type":3} is not supported)"},
    {"Llama3RopeParametersWithoutFactor", config(R"({"rope_parameters": {"rope_type": "llama3"}})"),
     kCorrupt, cfg + "field 'rope_parameters.factor' must be a number, found nothing"},
    {"LinearRopeScalingWithZeroFactor",
     config(R"({"rope_scaling": {"rope_type": "linear", "factor": 0}})"), kCorrupt,
     cfg + "rope_scaling.factor must be positive, found 0"},
    {"LongropeFactorsOfTheWrongLength",
     config(R"({"rope_scaling": {"type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}})"),
     kCorrupt, cfg + "longrope needs 4 short_factor and long_factor entries (rotary_dim / 2), found 1"},
    {"PartialRotaryGivingAnOddWidth", config(R"({"partial_rotary_factor": 0.375})"), kCorrupt,
     cfg + "head_dim 8 x partial_rotary_factor 0.375000 must give an even number of rotated "
           "dimensions"},
    {"UnknownLayerType",
     config(R"({"architectures": ["Qwen2ForCausalLM"], "use_sliding_window": true,
                "sliding_window": 8, "layer_types": ["chunked_attention", "full_attention",
                "full_attention", "full_attention", "full_attention"]})"),
     kUnsupported, cfg + "layer type \"chunked_attention\" is not supported"},
    {"MlpBias", config(R"({"mlp_bias": true})"),
     kUnsupported, cfg + "mlp_bias is true"},
    {"GeluActivation", config(R"({"hidden_act": "gelu"})"),
     kUnsupported, cfg + "hidden_act 'gelu' is not supported (supported: silu)"},
    {"Float64", config(R"({"torch_dtype": "float64"})"),
     kUnsupported, cfg + "torch_dtype 'float64' is not supported "
                         "(supported: float32, bfloat16, float16)"},

    // generation_config.json
    {"GenerationConfigNotJson", generation("{\"eos_token_id\": [2,"),
     kCorrupt, gen + "not valid JSON"},
    {"GenerationEosAsString", generation(R"({"eos_token_id": "</s>"})"),
     kCorrupt, gen + "field 'eos_token_id' must be a token id"},

    // model.safetensors
    {"TruncatedRealFile", weights(stories.substr(0, stories.size() / 2)),
     kCorrupt, st + "tensor 'model.layers.2.mlp.down_proj.weight' has data_offsets "
                    "[632320, 676352] but the data section is only 517636 bytes "
                    "(truncated file or wrong header)"},
    {"TruncatedInHeader", weights(stories.substr(0, 100)),
     kCorrupt, st + "header length 4848 exceeds file size 100 "
                    "(only 92 bytes follow the 8-byte length field)"},
    {"EmptyFile", weights(""),
     kCorrupt, st + "file is 0 bytes, too short for a safetensors header (at least 8)"},
    {"ShorterThanLengthField", weights("abcde"),
     kCorrupt, st + "file is 5 bytes"},
    {"HeaderLengthBeyondFile", weights(length_prefix(999999) + "0123456789"),
     kCorrupt, st + "header length 999999 exceeds file size 18"},
    {"HeaderNotJson", weights(raw_safetensors("{\"t\": [", 0)),
     kCorrupt, st + "header is not valid JSON: parse error at line 1, column 8"},
    // Found by tests/fuzz/safetensors_fuzz: nlohmann reports this as out_of_range, not a parse error.
    {"HeaderNumberOverflow", weights(raw_safetensors(R"({"t": {"dtype": "F32", "shape": [1e999]}})", 0)),
     kCorrupt, st + "header is not valid JSON: number overflow parsing '1e999'"},
    {"HeaderNotObject", weights(raw_safetensors("[1, 2]", 0)),
     kCorrupt, st + "header is not a JSON object (found array)"},
    {"HeaderNestedTooDeep", weights(raw_safetensors(std::string(1000, '[') + "]", 0)),
     kCorrupt, st + "header nests deeper than 8 levels"},
    {"EntryNotObject", weights(raw_safetensors(R"({"t": 3})", 0)),
     kCorrupt, st + "header entry for tensor 't' is not a JSON object (found number)"},
    {"MissingShape", weights(raw_safetensors(R"({"t": {"dtype": "F32", "data_offsets": [0,4]}})",
                                             4)),
     kCorrupt, st + "tensor 't' has no 'shape' field"},
    {"MissingDtype", weights(raw_safetensors(R"({"t": {"shape": [1], "data_offsets": [0,4]}})", 4)),
     kCorrupt, st + "tensor 't' has no 'dtype' field"},
    {"MissingOffsets", weights(raw_safetensors(R"({"t": {"dtype": "F32", "shape": [1]}})", 4)),
     kCorrupt, st + "tensor 't' has no 'data_offsets' field"},
    {"DtypeNotString", weights(one_tensor("4", "[1]", "[0, 4]", 4)),
     kCorrupt, st + "tensor 't': 'dtype' must be a string, found 4"},
    {"ShapeNotIntegers", weights(one_tensor(R"("F32")", R"([1, "2"])", "[0, 8]", 8)),
     kCorrupt, st + R"(tensor 't': 'shape' must be an array of integers, found [1,"2"])"},
    {"NegativeDimension", weights(one_tensor(R"("F32")", "[2, -2]", "[0, 16]", 16)),
     kCorrupt, st + "tensor 't' has negative dimension -2 in shape [2, -2]"},
    {"OffsetsNotAPair", weights(one_tensor(R"("F32")", "[1]", "[0]", 4)),
     kCorrupt, st + "tensor 't': 'data_offsets' must be [begin, end] with non-negative "
                    "integers, found [0]"},
    {"BeginAfterEnd", weights(one_tensor(R"("F32")", "[1]", "[8, 4]", 8)),
     kCorrupt, st + "tensor 't' has data_offsets [8, 4]: begin is after end"},
    {"OffsetsOverrunFile", weights(one_tensor(R"("F32")", "[100]", "[0, 400]", 16)),
     kCorrupt, st + "tensor 't' has data_offsets [0, 400] but the data section is only 16 bytes"},
    {"SizeDisagreesWithShape", weights(one_tensor(R"("F32")", "[2, 3]", "[0, 20]", 20)),
     kCorrupt, st + "tensor 't' has shape [2, 3] of F32 (24 bytes) but data_offsets [0, 20] "
                    "span 20 bytes"},
    // 4 * (2^62 + 1) * 4 bytes wraps to 16 in 64 bits: it must not pass as a 16-byte tensor.
    {"HugeShapeDoesNotWrap",
     weights(one_tensor(R"("F32")", "[4611686018427387905, 4]", "[0, 16]", 16)),
     kCorrupt, st + "tensor 't' has shape [4611686018427387905, 4] whose byte size overflows"},
    {"MetadataNotObject", weights(raw_safetensors(R"({"__metadata__": [1]})", 0)),
     kCorrupt, st + "'__metadata__' must be a JSON object, found array"},
    {"DtypeI64", weights(one_tensor(R"("I64")", "[1]", "[0, 8]", 8)),
     kUnsupported, st + "tensor 't' has dtype I64, which is not supported "
                        "(supported: F32, BF16, F16)"},
    {"DtypeF64", weights(one_tensor(R"("F64")", "[1]", "[0, 8]", 8)),
     kUnsupported, st + "tensor 't' has dtype F64, which is not supported"},
    {"DtypeF8", weights(one_tensor(R"("F8_E4M3")", "[1]", "[0, 1]", 1)),
     kUnsupported, st + "tensor 't' has dtype F8_E4M3, which is not supported"},
    {"UnknownDtype", weights(one_tensor(R"("Q4_K")", "[1]", "[0, 1]", 1)),
     kUnsupported, st + "tensor 't' has unknown dtype 'Q4_K' (supported: F32, BF16, F16)"},

    // model.safetensors.index.json
    {"IndexNotJson", index_file("{\"weight_map\": {"),
     kCorrupt, idx + "not valid JSON"},
    {"IndexWithoutWeightMap", index_file(R"({"metadata": {}})"),
     kCorrupt, idx + "field 'weight_map' is missing"},
    {"WeightMapNotObject", index_file(R"({"weight_map": []})"),
     kCorrupt, idx + "field 'weight_map' must map tensor names to shard files, found []"},
    {"EmptyWeightMap", index_file(R"({"weight_map": {}})"),
     kCorrupt, idx + "field 'weight_map' is empty"},
    {"ShardNotAString", index_file(R"({"weight_map": {"model.norm.weight": 2}})"),
     kCorrupt, idx + "weight_map entry for tensor 'model.norm.weight' must name a file in the "
                     "model directory, found 2"},
    {"ShardOutsideDirectory",
     index_file(R"({"weight_map": {"model.norm.weight": "../x.safetensors"}})"),
     kCorrupt, idx + "weight_map entry for tensor 'model.norm.weight' must name a file in the "
                     "model directory, found \"../x.safetensors\""},
  };
  return cases;
}
// clang-format on

class BadDirTest : public ScratchDirTest, public ::testing::WithParamInterface<BadDirCase> {};

TEST_P(BadDirTest, IsRejectedWithAPreciseMessage) {
  for (const auto& [name, contents] : GetParam().files) write(name, contents);
  std::string message = GetParam().message;
  for (size_t at; (at = message.find("{dir}")) != std::string::npos;) {
    message.replace(at, 5, dir_.string());
  }
  const fs::path target = GetParam().open.empty() ? dir_ : dir_ / GetParam().open;
  expect_error([&] { Checkpoint::open(target); }, GetParam().code, {message});
}

INSTANTIATE_TEST_SUITE_P(Cases, BadDirTest, ::testing::ValuesIn(bad_dirs()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace llm::checkpoint_test
