// Specification of checkpoint reading: config.json -> ModelConfig, safetensors parsing and
// validation, sharded checkpoints and tensor lookup. Which model directories load and which are
// refused, with what message, is in checkpoint_directories_test.cpp.
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
#include "tests/unit/checkpoint_test_support.h"

namespace llm::checkpoint_test {
namespace {

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
}  // namespace llm::checkpoint_test
