// GGUF files against the Hugging Face checkpoints they were made from. tests/gguf/hf_to_gguf.py
// (the `gguf` package's writer and quantizers, laid out as llama.cpp's converter lays them out)
// turns each tiny checkpoint of tests/data/arch into GGUF files at test time, then:
// - an f32 GGUF file must give the same logits as its checkpoint, bit for bit, at every position
//   (same weights once names, Llama's q/k interleaving, Gemma's 1 + w norms and the RoPE factor
//   tensors are undone), and so stay within 2e-4 of transformers' float64 goldens;
// - a Q8_0 or Q4_0 file runs the integer kernels; its logits are compared with the f32 forward of
//   its dequantized weights (the "twin" the script writes with gguf.quants.dequantize). What
//   separates them is the int8 quantization of the activations, so the bound is relative to the
//   logits' size; greedy tokens must agree wherever the twin's top-2 margin exceeds twice the
//   largest difference seen (the kernels themselves are checked against float64 exactly, in
//   quant_matmul_test);
// - --quantization int8 / int4 on the checkpoint equals a GGUF file quantized that way, bit for
//   bit;
// - the CUDA backend (in the SIMT emulator) computes a Q8_0 or Q4_0 file as the CPU computes its
//   dequantized twin in f32, and quantizes a checkpoint as the CPU and gguf do;
// - a file the engine cannot serve fails at load, naming the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/backend/cpu_backend.h"
#include "engine/backend/cuda_backend_factory.h"
#include "engine/model_runner.h"
#include "llm/error.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
const std::string kArch = std::string(LLM_SOURCE_DIR) + "/tests/data/arch/";

// A fresh directory for this process's files, removed at exit.
const fs::path& work_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("gguf_model_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] { fs::remove_all(work_dir()); });
    return d;
  }();
  return dir;
}

// Converts tests/data/arch/NAME to NAME_TYPE.gguf (and its dequantized twin directory);
// `flag`: quantized as the engine's --quantization would (float table, int8 head).
fs::path convert(const std::string& name, const std::string& type, bool flag = false) {
  const std::string stem = name + "_" + type + (flag ? "_flag" : "");
  const fs::path out = work_dir() / (stem + ".gguf");
  const fs::path twin = work_dir() / (stem + "_twin");
  if (!fs::exists(out)) {
    const std::string cmd = std::string(LLM_SOURCE_DIR) + "/.venv/bin/python " + LLM_SOURCE_DIR +
                            "/tests/gguf/hf_to_gguf.py " + kArch + name + " " + out.string() +
                            " --type " + type + " --twin " + twin.string() +
                            (flag ? " --like-quantization-flag" : "");
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  }
  return out;
}

// Every position's logits of `ids`, one token per step, on the CPU backend (or, with `simt`, the
// CUDA backend in the emulator), f32 weights and cache.
std::vector<std::vector<float>> all_logits(const Checkpoint& ck, const std::vector<int32_t>& ids,
                                           std::optional<DType> quantize_to = std::nullopt,
                                           bool simt = false) {
  const std::unique_ptr<Backend> be =
      simt ? make_simt_backend({.device = 0, .decode_partition_tokens = 64})
           : std::unique_ptr<Backend>(std::make_unique<CpuBackend>(1));
  Backend& backend = *be;
  LlamaModel model(backend, ck, DType::kF32, 0, 1, quantize_to);
  KvCache cache(backend, ck.config(), 16, 16, backend.kv_cache_dtype(DType::kF32));
  ModelRunner runner(backend, model, cache, 64, 2);
  std::vector<int32_t> table;
  for (int b = 0; b < 16; ++b) table.push_back((b * 7 + 3) % 16);
  const RopeScaling& rope = ck.config().rope_scaling;
  const size_t long_after = rope.type == "longrope"
                                ? static_cast<size_t>(rope.original_max_position_embeddings)
                                : SIZE_MAX;
  std::vector<std::vector<float>> out;
  for (size_t pos = 0; pos < ids.size(); ++pos) {
    BatchEntry e{std::span<const int32_t>(ids).subspan(pos, 1), static_cast<int>(pos), table, true};
    e.long_rope = std::max(ids.size(), pos + 1) > long_after;
    const auto logits = runner.execute({&e, 1});
    out.emplace_back(logits.begin(), logits.end());
  }
  return out;
}

std::vector<int32_t> prompt_of(const std::string& name) {
  std::ifstream in(kArch + "goldens.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto g = nlohmann::json::parse(line);
    if (g["case"] == name) return g["prompt_token_ids"].get<std::vector<int32_t>>();
  }
  throw std::runtime_error("no golden for " + name);
}

// Cases hf_to_gguf.py can express (yarn's mscale has no GGUF key the engine reads).
const char* const kCases[] = {"llama",         "llama_head_dim", "llama_tied",
                              "llama_linear",  "llama3_rope",    "llama_yarn",
                              "qwen2",         "qwen3",          "mistral_window",
                              "qwen2_window",  "phi3",           "phi3_partial_rotary",
                              "phi3_longrope", "gemma2",         "gemma3"};

class GgufF32 : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufF32, LogitsEqualTheCheckpointsBitForBit) {
  const std::string& name = GetParam();
  const Checkpoint gguf = Checkpoint::open(convert(name, "f32"));
  const Checkpoint hf = Checkpoint::open(kArch + name);
  EXPECT_EQ(gguf.config().sliding_layers, hf.config().sliding_layers);
  EXPECT_EQ(gguf.config().tie_word_embeddings, hf.config().tie_word_embeddings);
  const std::vector<int32_t> ids = prompt_of(name);
  const auto got = all_logits(gguf, ids);
  const auto want = all_logits(hf, ids);
  ASSERT_EQ(got.size(), want.size());
  for (size_t p = 0; p < got.size(); ++p) ASSERT_EQ(got[p], want[p]) << name << " position " << p;
}

INSTANTIATE_TEST_SUITE_P(
    Families, GgufF32,
    ::testing::ValuesIn(std::vector<std::string>(std::begin(kCases), std::end(kCases))),
    [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

struct QuantCase {
  std::string name, type;
};
class GgufQuantized : public ::testing::TestWithParam<QuantCase> {};

TEST_P(GgufQuantized, LogitsFollowTheDequantizedWeights) {
  const QuantCase& qc = GetParam();
  const fs::path file = convert(qc.name, qc.type);
  const Checkpoint gguf = Checkpoint::open(file);
  const Checkpoint twin = Checkpoint::open(work_dir() / (qc.name + "_" + qc.type + "_twin"));
  const std::vector<int32_t> ids = prompt_of(qc.name);
  const auto got = all_logits(gguf, ids);
  const auto want = all_logits(twin, ids);
  double worst = 0, largest = 0;
  for (size_t p = 0; p < got.size(); ++p) {
    for (size_t v = 0; v < got[p].size(); ++v) {
      worst = std::max(worst, static_cast<double>(std::abs(got[p][v] - want[p][v])));
      largest = std::max(largest, static_cast<double>(std::abs(want[p][v])));
    }
  }
  // int8 activations carry up to half a step of amax / 127 per element: 0.4% of a block's
  // largest value, much more than that for its small elements, and Gemma's norms amplify it
  // (measured: 1.4% to 3.3% of the largest logit, 7.6% for Gemma 3 at Q8_0, against 0.4% to
  // 2.3% for bf16 activations in arch_reference_test). 10% still fails on any real mistake: a
  // wrong scale, row or nibble order is off by the size of the logits themselves.
  const double bound = 0.10 * largest;
  EXPECT_LE(worst, bound) << qc.name << " " << qc.type;
  std::cout << qc.name << " " << qc.type << ": max |logit - dequantized twin| " << worst
            << " (largest logit " << largest << ")\n";
  size_t checked = 0;
  for (size_t p = 0; p < got.size(); ++p) {
    std::vector<float> sorted = want[p];
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
    if (sorted[0] - sorted[1] <= 2 * worst) continue;
    ++checked;
    EXPECT_EQ(std::max_element(got[p].begin(), got[p].end()) - got[p].begin(),
              std::max_element(want[p].begin(), want[p].end()) - want[p].begin())
        << qc.name << " " << qc.type << " position " << p;
  }
  std::cout << "  greedy compared at " << checked << " of " << got.size() << " positions\n";
}

std::vector<QuantCase> quant_cases() {
  std::vector<QuantCase> out;
  for (const char* name : {"llama", "llama_tied", "qwen2", "qwen3", "phi3", "gemma3"}) {
    for (const char* type : {"q8_0", "q4_0"}) out.push_back({name, type});
  }
  // Q4_0 with Q8_0 value and up projections: the fused q/k/v and gate/up weights have parts of
  // two types (CpuBackend::prepare_mixed_linear_weight).
  for (const char* name : {"llama", "qwen2", "gemma3"}) out.push_back({name, "mixed"});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Families, GgufQuantized, ::testing::ValuesIn(quant_cases()),
                         [](const ::testing::TestParamInfo<QuantCase>& info) {
                           return info.param.name + "_" + info.param.type;
                         });

// A fused weight whose parts have different quantized types stays quantized (rather than
// dequantized to the float dtype): the mixed file's matmul weights are smaller than the all-Q8_0
// file's, which they could not be with its q/k/v and gate/up held as f32.
TEST(GgufModel, FusedWeightsOfMixedTypesStayQuantized) {
  auto matmul_bytes = [](const std::string& type) {
    const Checkpoint ck = Checkpoint::open(convert("llama", type));
    CpuBackend backend(1);
    return LlamaModel(backend, ck, DType::kF32, 0, 1).matmul_weight_bytes();
  };
  const size_t q8 = matmul_bytes("q8_0"), q4 = matmul_bytes("q4_0"), mixed = matmul_bytes("mixed");
  EXPECT_LT(q4, mixed);
  EXPECT_LT(mixed, q8);
}

// --quantization int8 / int4 on a float checkpoint quantizes exactly as gguf.quants.quantize:
// the same logits, bit for bit, as a GGUF file quantized that way.
TEST(GgufModel, QuantizationFlagEqualsTheGgufQuantizer) {
  for (const char* name : {"llama", "qwen2", "gemma3"}) {
    for (const auto& [type, dtype] : {std::pair{"q8_0", DType::kQ8_0}, {"q4_0", DType::kQ4_0}}) {
      const Checkpoint gguf = Checkpoint::open(convert(name, type, /*flag=*/true));
      const Checkpoint hf = Checkpoint::open(kArch + name);
      const std::vector<int32_t> ids = prompt_of(name);
      EXPECT_EQ(all_logits(hf, ids, dtype), all_logits(gguf, ids)) << name << " " << type;
    }
  }
}

// The CUDA backend keeps a Q8_0 or Q4_0 file's blocks (its token table too) and multiplies f32
// activations by the dequantized weights: the CPU's f32 forward of the dequantized twin, but for
// the order of f32 sums (matmul, attention, norms), which moves logits of size ~1 by ~1e-6 per
// op; 1e-4 of the largest logit leaves room for that through the layers and still fails on a
// wrong block, nibble or scale. The --quantization path on the checkpoint gives the file's bits.
TEST(GgufModel, SimtComputesQuantizedFilesAsTheirDequantizedTwin) {
  const std::string name = "llama";
  const std::vector<int32_t> ids = prompt_of(name);
  for (const auto& [type, dtype] : {std::pair{"q8_0", DType::kQ8_0}, {"q4_0", DType::kQ4_0}}) {
    const auto got = all_logits(Checkpoint::open(convert(name, type)), ids, std::nullopt, true);
    const auto want = all_logits(Checkpoint::open(work_dir() / (name + "_" + type + "_twin")), ids);
    ASSERT_EQ(got.size(), want.size());
    double worst = 0, largest = 0;
    for (size_t p = 0; p < got.size(); ++p) {
      for (size_t v = 0; v < got[p].size(); ++v) {
        worst = std::max(worst, static_cast<double>(std::abs(got[p][v] - want[p][v])));
        largest = std::max(largest, static_cast<double>(std::abs(want[p][v])));
      }
    }
    EXPECT_LE(worst, 1e-4 * largest) << type;
    std::cout << name << " " << type << " on simt: max |logit - dequantized twin on cpu| " << worst
              << " (largest logit " << largest << ")\n";
    // --quantization on simt: the blocks of the GGUF file made like the flag, so the same logits.
    const Checkpoint flagged = Checkpoint::open(convert(name, type, /*flag=*/true));
    EXPECT_EQ(all_logits(Checkpoint::open(kArch + name), ids, dtype, true),
              all_logits(flagged, ids, std::nullopt, true))
        << type;
  }
}

// A GGUF file whose metadata names a family the engine does not have fails at load.
TEST(GgufModel, UnknownArchitectureIsRefusedByName) {
  const fs::path file = work_dir() / "unknown_arch.gguf";
  const std::string cmd =
      std::string(LLM_SOURCE_DIR) +
      "/.venv/bin/python -c \"import gguf, numpy as np; w = gguf.GGUFWriter('" + file.string() +
      "', 'mamba'); w.add_tensor('token_embd.weight', np.ones((4, 32), np.float32)); " +
      "w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  try {
    Checkpoint::open(file);
    FAIL() << "a mamba file loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("'mamba'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llm
