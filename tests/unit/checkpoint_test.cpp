// Specification of checkpoint reading: config.json -> ModelConfig, safetensors parsing and
// validation, sharded checkpoints, and the messages users see when a file is wrong.
#include "engine/model/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/model/mapped_file.h"
#include "engine/model/safetensors_file.h"
#include "engine/model/safetensors_writer.h"
#include "llm/error.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kStories = fs::path(LLM_SOURCE_DIR) / "models" / "stories260K";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out) << path;
}

std::string length_prefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out;
}

// A safetensors file from a header given as text, for inputs the writer refuses to produce.
std::string raw_safetensors(const std::string& header, size_t data_bytes) {
  return length_prefix(header.size()) + header + std::string(data_bytes, '\x5a');
}

std::vector<std::byte> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xff);
  return out;
}

std::string as_string(std::span<const std::byte> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Runs f, which must throw llm::Error with `code` and a message containing every needle.
void expect_error(const std::function<void()>& f, ErrorCode code,
                  const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no llm::Error thrown; expected " << error_code_name(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << error_code_name(e.code()) << ": " << e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message \"" << e.what() << "\" does not mention \"" << needle << "\"";
    }
  }
}

// Each test gets a fresh directory of its own, removed afterwards.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) c = c == '/' ? '_' : c;  // parameterized tests are named "Loads/NullBos"
    dir_ = fs::temp_directory_path() / ("checkpoint_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path path(const std::string& name) const { return dir_ / name; }
  void write(const std::string& name, std::string_view bytes) const {
    write_file(path(name), bytes);
  }
  // Copies by content: the bundled files are read-only and tests overwrite their copies.
  void copy_from_stories(const std::string& name) const { write(name, read_file(kStories / name)); }
  json stories_config() const { return json::parse(read_file(kStories / "config.json")); }

  fs::path dir_;
};

// --- The bundled stories260K checkpoint ---------------------------------------------------------

TEST(StoriesCheckpointTest, ConfigMatchesTheModel) {
  const Checkpoint ck = Checkpoint::open(kStories);
  const ModelConfig& c = ck.config();
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int>{2, 1}));  // config.json's 2, then generation's 1
  EXPECT_EQ(c.torch_dtype, DType::kF32);
  EXPECT_EQ(c.q_size(), 64);
  EXPECT_EQ(c.kv_size(), 32);
}

TEST(StoriesCheckpointTest, TensorsHaveTheirShapes) {
  const Checkpoint ck = Checkpoint::open(kStories);
  const SafetensorsFile file = SafetensorsFile::open(kStories / "model.safetensors");
  EXPECT_EQ(file.tensors().size(), 47u);          // 9 per layer x 5, embedding, final norm
  EXPECT_FALSE(ck.has_tensor("lm_head.weight"));  // tied to the embedding
  EXPECT_TRUE(ck.has_tensor("model.embed_tokens.weight"));
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"model.embed_tokens.weight", {512, 64}},
      {"model.norm.weight", {64}},
      {"model.layers.0.self_attn.q_proj.weight", {64, 64}},
      {"model.layers.0.self_attn.k_proj.weight", {32, 64}},
      {"model.layers.3.self_attn.v_proj.weight", {32, 64}},
      {"model.layers.4.self_attn.o_proj.weight", {64, 64}},
      {"model.layers.2.mlp.gate_proj.weight", {172, 64}},
      {"model.layers.1.mlp.up_proj.weight", {172, 64}},
      {"model.layers.4.mlp.down_proj.weight", {64, 172}},
      {"model.layers.4.post_attention_layernorm.weight", {64}},
  };
  for (const auto& [name, shape] : expected) {
    const TensorView& t = ck.tensor(name, shape);
    EXPECT_EQ(t.dtype, DType::kF32) << name;
    EXPECT_EQ(t.data.size(), static_cast<size_t>(t.num_elements()) * 4) << name;
    EXPECT_EQ(t.file, kStories / "model.safetensors") << name;
  }
}

// Values are checked against an independent read: the header parsed with nlohmann from bytes
// read through std::ifstream, then the floats read at the offsets it gives.
TEST(StoriesCheckpointTest, ValuesMatchTheFileBytes) {
  const fs::path file = kStories / "model.safetensors";
  std::ifstream in(file, std::ios::binary);
  unsigned char prefix[8];
  in.read(reinterpret_cast<char*>(prefix), 8);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t{prefix[i]} << (8 * i);
  std::string header_text(header_len, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_len));
  const json header = json::parse(header_text);
  const auto float_at = [&](const std::string& name, size_t index) {
    float v = 0;
    in.seekg(static_cast<std::streamoff>(
        8 + header_len + header[name]["data_offsets"][0].get<uint64_t>() + 4 * index));
    in.read(reinterpret_cast<char*>(&v), 4);
    EXPECT_TRUE(in);
    return v;
  };

  const Checkpoint ck = Checkpoint::open(kStories);
  struct Probe {
    std::string name;
    std::vector<int64_t> shape;
    size_t index;
    float expected;  // as printed by Python's struct.unpack('<f')
  };
  const std::vector<Probe> probes = {
      {"model.norm.weight", {64}, 0, 2.4583089351654053f},
      {"model.embed_tokens.weight", {512, 64}, 0, -0.29474878311157227f},
      {"model.embed_tokens.weight", {512, 64}, 511 * 64 + 63, -0.424032598733902f},
      {"model.layers.4.mlp.down_proj.weight", {64, 172}, 64 * 172 - 1, -0.0035068716388195753f},
  };
  for (const Probe& p : probes) {
    const TensorView& t = ck.tensor(p.name, p.shape);
    float ours = 0;
    std::memcpy(&ours, t.data.data() + 4 * p.index, 4);
    EXPECT_EQ(ours, float_at(p.name, p.index)) << p.name << "[" << p.index << "]";
    EXPECT_FLOAT_EQ(ours, p.expected) << p.name << "[" << p.index << "]";
  }

  // Zero-copy: the views sit in one mapping laid out exactly like the file.
  const TensorView& a = ck.tensor("model.embed_tokens.weight", {512, 64});
  const TensorView& b = ck.tensor("model.norm.weight", {64});
  EXPECT_EQ(b.data.data() - a.data.data(),
            header["model.norm.weight"]["data_offsets"][0].get<std::ptrdiff_t>() -
                header["model.embed_tokens.weight"]["data_offsets"][0].get<std::ptrdiff_t>());
}

// --- MappedFile -------------------------------------------------------------------------------

using MappedFileTest = ScratchDirTest;

TEST_F(MappedFileTest, MapsWholeFileAndMoves) {
  write("a.bin", "hello");
  write("empty.bin", "");
  MappedFile a = MappedFile::open(path("a.bin"));
  EXPECT_EQ(as_string(a.bytes()), "hello");
  EXPECT_EQ(a.path(), path("a.bin"));
  EXPECT_TRUE(MappedFile::open(path("empty.bin")).bytes().empty());

  MappedFile b = std::move(a);
  EXPECT_EQ(as_string(b.bytes()), "hello");
  EXPECT_TRUE(a.bytes().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  MappedFile c = MappedFile::open(path("empty.bin"));
  c = std::move(b);
  EXPECT_EQ(as_string(c.bytes()), "hello");
}

TEST_F(MappedFileTest, RejectsMissingFilesAndDirectories) {
  expect_error([&] { MappedFile::open(path("nope.bin")); }, ErrorCode::kNotFound,
               {path("nope.bin").string() + ": file not found"});
  fs::create_directory(path("sub"));
  expect_error([&] { MappedFile::open(path("sub")); }, ErrorCode::kCorruptFile,
               {path("sub").string() + ": is a directory"});
  if (::geteuid() != 0) {  // root reads anything
    write("secret.bin", "x");
    fs::permissions(path("secret.bin"), fs::perms::none);
    expect_error([&] { MappedFile::open(path("secret.bin")); }, ErrorCode::kNotFound,
                 {"secret.bin", "cannot open: Permission denied"});
  }
}

// --- Safetensors: round trip and malformed files ----------------------------------------------

using SafetensorsTest = ScratchDirTest;

TEST_F(SafetensorsTest, WriterRoundTripsEveryDtype) {
  const auto f32 = random_bytes(3 * 5 * 4, 1);
  const auto bf16 = random_bytes(7 * 2, 2);
  const auto f16 = random_bytes(2 * 3 * 4 * 2, 3);
  const auto scalar = random_bytes(4, 4);
  const std::vector<TensorToWrite> tensors = {
      {"w.f32", DType::kF32, {3, 5}, f32},    {"w.bf16", DType::kBF16, {7}, bf16},
      {"w.f16", DType::kF16, {2, 3, 4}, f16}, {"scalar", DType::kF32, {}, scalar},
      {"empty", DType::kF16, {0, 8}, {}},
  };
  write_safetensors(path("t.safetensors"), tensors, {{"format", "pt"}});

  const SafetensorsFile file = SafetensorsFile::open(path("t.safetensors"));
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const TensorToWrite& w : tensors) {
    const TensorView* r = file.find(w.name);
    ASSERT_NE(r, nullptr) << w.name;
    EXPECT_EQ(r->dtype, w.dtype) << w.name;
    EXPECT_EQ(r->shape, w.shape) << w.name;
    EXPECT_EQ(as_string(r->data), as_string(w.data)) << w.name;
  }
  EXPECT_EQ(file.find("__metadata__"), nullptr);

  // The layout other readers expect: 8-byte aligned data section, metadata kept.
  const std::string bytes = read_file(path("t.safetensors"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  const json header = json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["__metadata__"], json({{"format", "pt"}}));
  EXPECT_EQ(header["w.bf16"]["dtype"], "BF16");
  EXPECT_EQ(bytes.size(), 8 + n + f32.size() + bf16.size() + f16.size() + scalar.size());
  EXPECT_FALSE(fs::exists(path("t.safetensors.tmp")));
}

TEST_F(SafetensorsTest, WriterRejectsInconsistentTensors) {
  const auto data = random_bytes(12, 5);
  expect_error(
      [&] {
        write_safetensors(path("t.safetensors"), {{"x", DType::kF32, {2, 2}, data}});
      },
      ErrorCode::kInvalidArgument, {"t.safetensors", "tensor 'x'", "16 bytes", "12 bytes"});
  expect_error(
      [&] {
        write_safetensors(path("t.safetensors"),
                          {{"x", DType::kF32, {3}, data}, {"x", DType::kF32, {3}, data}});
      },
      ErrorCode::kInvalidArgument, {"tensor 'x' is given twice"});
  EXPECT_FALSE(fs::exists(path("t.safetensors")));
}

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
    {"SlidingWindowCapsContext", config_with(R"({"sliding_window": 256})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.max_position_embeddings, 256); }},
    {"SlidingWindowBeyondContext", config_with(R"({"sliding_window": 4096})"),
     [](const ModelConfig& c) { EXPECT_EQ(c.max_position_embeddings, 512); }},
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
                         "(supported: LlamaForCausalLM, MistralForCausalLM)"},
    {"UnsupportedModelType", config(R"({"model_type": "gpt2"})", {"architectures"}),
     kUnsupported, cfg + "model_type 'gpt2' is not supported"},
    {"NoArchitectureAtAll", config("{}", {"architectures", "model_type"}),
     kUnsupported, cfg + "neither 'architectures' nor 'model_type'"},
    {"RopeScaling", config(R"({"rope_scaling": {"type": "linear", "factor": 2.0}})"),
     kUnsupported, cfg + R"(rope_scaling {"factor":2.0,"type":"linear"} is not supported)"},
    {"RopeScalingWithOddType", config(R"({"rope_scaling": {"rope_type": 3}})"),
     kUnsupported, cfg + R"(rope_scaling {"rope_type":3} is not supported)"},
    {"Llama3RopeParameters", config(R"({"rope_parameters": {"rope_type": "llama3"}})"),
     kUnsupported, cfg + R"(rope_parameters {"rope_type":"llama3"} is not supported)"},
    {"AttentionBias", config(R"({"attention_bias": true})"),
     kUnsupported, cfg + "attention_bias is true"},
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

// --- Tensor lookup ----------------------------------------------------------------------------

using CheckpointTest = ScratchDirTest;

TEST_F(CheckpointTest, WrongShape) {
  copy_from_stories("config.json");
  copy_from_stories("model.safetensors");
  const Checkpoint ck = Checkpoint::open(dir_);
  expect_error(
      [&] {
        ck.tensor("model.layers.0.self_attn.k_proj.weight", {64, 32});
      },
      ErrorCode::kCorruptFile,
      {"tensor 'model.layers.0.self_attn.k_proj.weight' in " + path("model.safetensors").string() +
       " has shape [32, 64], expected [64, 32]"});
}

TEST_F(CheckpointTest, MissingTensor) {
  copy_from_stories("config.json");
  copy_from_stories("model.safetensors");
  const Checkpoint ck = Checkpoint::open(dir_);
  EXPECT_FALSE(ck.has_tensor("lm_head.weight"));
  expect_error(
      [&] {
        ck.tensor("lm_head.weight", {512, 64});
      },
      ErrorCode::kCorruptFile, {"tensor 'lm_head.weight' is missing from " + dir_.string()});
}

// --- Sharded checkpoints ----------------------------------------------------------------------

// Splits stories260K into two shards plus an index, the way Hugging Face saves large models.
class ShardedCheckpointTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    copy_from_stories("config.json");
    copy_from_stories("generation_config.json");
    const SafetensorsFile single = SafetensorsFile::open(kStories / "model.safetensors");
    std::vector<TensorToWrite> shards[2];
    json weight_map = json::object();
    for (const auto& [name, t] : single.tensors()) {
      // The embedding and layers 0-2 in the first shard, the rest in the second.
      const bool first = name.starts_with("model.embed") || name.starts_with("model.layers.0.") ||
                         name.starts_with("model.layers.1.") || name.starts_with("model.layers.2.");
      shards[first ? 0 : 1].push_back({name, t.dtype, t.shape, t.data});
      weight_map[name] = first ? kShard1 : kShard2;
    }
    write_safetensors(path(kShard1), shards[0], {{"format", "pt"}});
    write_safetensors(path(kShard2), shards[1], {{"format", "pt"}});
    index_ = {{"metadata", {{"total_size", 1040128}}}, {"weight_map", weight_map}};
    write_index();
  }
  void write_index() const { write("model.safetensors.index.json", index_.dump(2)); }

  static constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
  static constexpr const char* kShard2 = "model-00002-of-00002.safetensors";
  json index_;
};

TEST_F(ShardedCheckpointTest, GivesTheSameTensorsAsTheSingleFile) {
  const Checkpoint sharded = Checkpoint::open(dir_);
  const Checkpoint single = Checkpoint::open(kStories);
  EXPECT_EQ(sharded.config().eos_token_ids, single.config().eos_token_ids);
  const SafetensorsFile reference = SafetensorsFile::open(kStories / "model.safetensors");
  ASSERT_EQ(reference.tensors().size(), 47u);
  for (const auto& [name, t] : reference.tensors()) {
    ASSERT_TRUE(sharded.has_tensor(name)) << name;
    const TensorView& s = sharded.tensor(name, t.shape);
    EXPECT_EQ(s.dtype, t.dtype) << name;
    EXPECT_EQ(as_string(s.data), as_string(single.tensor(name, t.shape).data)) << name;
  }
  EXPECT_EQ(sharded.tensor("model.layers.2.mlp.up_proj.weight", {172, 64}).file, path(kShard1));
  EXPECT_EQ(sharded.tensor("model.norm.weight", {64}).file, path(kShard2));
  EXPECT_FALSE(sharded.has_tensor("lm_head.weight"));
}

TEST_F(ShardedCheckpointTest, MissingShard) {
  fs::remove(path(kShard2));
  expect_error([&] { Checkpoint::open(dir_); }, ErrorCode::kNotFound,
               {path(kShard2).string() + ": shard listed in " +
                path("model.safetensors.index.json").string() + " not found"});
}

TEST_F(ShardedCheckpointTest, IndexNamesATensorItsShardLacks) {
  index_["weight_map"]["lm_head.weight"] = kShard2;
  write_index();
  expect_error([&] { Checkpoint::open(dir_); }, ErrorCode::kCorruptFile,
               {path("model.safetensors.index.json").string() +
                ": weight_map puts tensor 'lm_head.weight' in '" + kShard2 + "', but " +
                path(kShard2).string() + " has no such tensor"});
}

TEST(ErrorCodeTest, EveryCodeHasADistinctName) {
  const std::vector<ErrorCode> codes = {ErrorCode::kInvalidArgument,   ErrorCode::kNotFound,
                                        ErrorCode::kCorruptFile,       ErrorCode::kUnsupported,
                                        ErrorCode::kResourceExhausted, ErrorCode::kInternal};
  std::set<std::string> names;
  for (const ErrorCode c : codes) names.insert(error_code_name(c));
  EXPECT_EQ(names.size(), codes.size());
  EXPECT_STREQ(error_code_name(ErrorCode::kNotFound), "not_found");
}

}  // namespace
}  // namespace llm
