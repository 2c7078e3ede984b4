// Tensor parallelism with in-process ranks, on the CPU backend and on the CUDA backend in the
// emulator (one emulated device per rank, NCCL collectives): stories260K (8 heads, 4 KV heads)
// split 2 and 4 ways gives the single-rank greedy tokens and logits within 1e-4, each rank
// holds about 1/N of the weights, and impossible splits fail naming the numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/backend/cpu_backend.h"
#include "engine/backend/cuda_backend_factory.h"
#include "engine/parallel/in_process_communicator.h"
#include "engine/parallel/executor.h"
#include "llm/error.h"

namespace llm {
namespace {

const std::string kModel = std::string(LLM_SOURCE_DIR) + "/models/stories260K";
constexpr int kBlocks = 64, kBlockSize = 16;

// `backend`: "cpu", or "simt" for the CUDA backend's ranks in the emulator.
Executor make_executor(const Checkpoint& ck, int size,
                                     const std::string& backend = "cpu", bool cuda_graphs = false) {
  Executor::Options o;
  o.num_blocks = kBlocks;
  o.block_size = kBlockSize;
  o.max_num_tokens = 256;
  o.max_num_seqs = 4;
  o.cuda_graphs = cuda_graphs;
  if (backend == "simt") {
    CudaBackendOptions options;
    options.cuda_graphs = cuda_graphs;
    auto devices = std::make_shared<std::vector<std::unique_ptr<Backend>>>(
        make_simt_backend_group(options, size));
    return Executor(ck, o, InProcessCommunicator::create_group(size),
                                  [devices](Communicator* comm) {
                                    return std::move((*devices)[static_cast<size_t>(comm->rank())]);
                                  });
  }
  return Executor(
      ck, o, InProcessCommunicator::create_group(size),
      [](Communicator* comm) { return std::make_unique<CpuBackend>(1, comm); });
}

struct Trace {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;  // one row per step
};

// Greedy decoding through any step function: the prompt in one prefill, then `steps` decodes.
template <class Step>
Trace greedy(Step step, const std::vector<int32_t>& prompt, int steps) {
  std::vector<int32_t> table;
  for (int b = 0; b < 32; ++b) table.push_back((b * 37 + 11) % kBlocks);
  std::vector<int32_t> seq = prompt;
  Trace t;
  int computed = 0;
  for (int i = 0; i <= steps; ++i) {
    const std::span<const int32_t> fresh =
        std::span<const int32_t>(seq).subspan(static_cast<size_t>(computed));
    BatchEntry e{fresh, computed, table, true};
    const std::span<const float> logits = step(std::span<const BatchEntry>(&e, 1));
    computed = static_cast<int>(seq.size());
    t.logits.emplace_back(logits.begin(), logits.end());
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    seq.push_back(static_cast<int32_t>(best));
    t.tokens.push_back(static_cast<int32_t>(best));
  }
  return t;
}

std::vector<std::vector<int32_t>> reference_prompts(size_t count) {
  std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/greedy.jsonl");
  std::vector<std::vector<int32_t>> prompts;
  for (std::string line; std::getline(in, line) && prompts.size() < count;) {
    prompts.push_back(nlohmann::json::parse(line)["prompt_token_ids"].get<std::vector<int32_t>>());
  }
  return prompts;
}

// Splits 2 and 4 ways on `backend` against one rank of the same backend: greedy tokens equal,
// logits within `tolerance`.
void expect_splits_match_one_rank(const std::string& backend, size_t num_prompts, int steps,
                                  double tolerance, bool cuda_graphs = false) {
  const Checkpoint ck = Checkpoint::open(kModel);
  const auto prompts = reference_prompts(num_prompts);
  Executor one = make_executor(ck, 1, backend);
  for (int size : {2, 4}) {
    Executor split = make_executor(ck, size, backend, cuda_graphs);
    double worst = 0;
    for (const auto& prompt : prompts) {
      const Trace a = greedy([&](auto b) { return one.execute(b); }, prompt, steps);
      const Trace b = greedy([&](auto b) { return split.execute(b); }, prompt, steps);
      ASSERT_EQ(a.tokens, b.tokens) << "tensor-parallel size " << size;
      for (size_t s = 0; s < a.logits.size(); ++s) {
        ASSERT_EQ(a.logits[s].size(), b.logits[s].size());
        for (size_t v = 0; v < a.logits[s].size(); ++v) {
          worst = std::max(worst, static_cast<double>(std::abs(a.logits[s][v] - b.logits[s][v])));
        }
      }
    }
    EXPECT_LE(worst, tolerance) << backend << " size " << size;
    std::cout << backend << (cuda_graphs ? " (CUDA graphs)" : "") << " tensor-parallel size "
              << size << ": max |logit - single rank| " << worst << "\n";
  }
}

TEST(TensorParallel, SplitTwoAndFourWaysMatchesOneRank) {
  expect_splits_match_one_rank("cpu", 3, 24, 1e-4);
}

// The CUDA backend's ranks, each on its own emulated device, summing and gathering with NCCL.
TEST(TensorParallel, EmulatedDevicesSplitTwoAndFourWaysMatchOneRank) {
  expect_splits_match_one_rank("simt", 2, 24, 1e-4);
}

// The same with decode steps replayed as CUDA graphs: the NCCL all-reduces are captured too.
TEST(TensorParallel, EmulatedDevicesWithCudaGraphsMatchOneRank) {
  expect_splits_match_one_rank("simt", 2, 24, 1e-4, /*cuda_graphs=*/true);
}

TEST(TensorParallel, EachRankHoldsAboutOneNthOfTheWeights) {
  const Checkpoint ck = Checkpoint::open(kModel);
  for (const std::string backend : {"cpu", "simt"}) {
    // The backend's own layout of the whole model (the CPU's panels pad rows to 16).
    const double whole = static_cast<double>(make_executor(ck, 1, backend).model(0).weight_bytes());
    for (int size : {2, 4}) {
      Executor split = make_executor(ck, size, backend);
      for (int r = 0; r < size; ++r) {
        const double share = static_cast<double>(split.model(r).weight_bytes()) / whole;
        std::cout << backend << " size " << size << " rank " << r << ": "
                  << split.model(r).weight_bytes() << " of " << whole << " bytes (" << share
                  << ")\n";
        // Only the RMSNorm weights (replicated) and the vocabulary shard's padding add to 1/N.
        EXPECT_GE(share, 1.0 / size) << backend << " rank " << r;
        EXPECT_LE(share, 1.05 / size) << backend << " rank " << r;
      }
    }
  }
}

TEST(TensorParallel, ImpossibleSplitsNameTheNumbers) {
  const Checkpoint ck = Checkpoint::open(kModel);
  auto message = [&](int size) {
    try {
      make_executor(ck, size);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(3).find("--tensor-parallel-size 3: must divide the model's 8 attention heads"),
            std::string::npos)
      << message(3);
  // One device per rank, checked before any rank waits for the others in ncclCommInitRank.
  try {
    make_simt_backend_group({}, 9);
    ADD_FAILURE() << "9 ranks on 8 emulated devices";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "--tensor-parallel-size 9: one device per rank needs 9 simt devices, 8 present"),
              std::string::npos)
        << e.what();
  }
  // A stories15m-like config: 6 heads cannot be split 4 ways.
  ModelConfig c = ck.config();
  c.num_heads = c.num_kv_heads = 6;
  EXPECT_THROW(TensorParallelShard::make(c, 0, 4), Error);
  // 8 heads over 2 KV heads, split 4 ways: each rank keeps the one KV head its queries read.
  c.num_heads = 8;
  c.num_kv_heads = 2;
  for (int r = 0; r < 4; ++r) {
    const TensorParallelShard s = TensorParallelShard::make(c, r, 4);
    EXPECT_EQ(s.num_heads, 2);
    EXPECT_EQ(s.num_kv_heads, 1);
    EXPECT_EQ(s.first_kv_head, r / 2);
  }
}

}  // namespace
}  // namespace llm
