// TensorParallelExecutor: one model split over `size` in-process ranks (threads), Megatron
// style. Rank 0 runs on the caller's thread; every other rank owns a thread, a backend, its
// weight slices, its share of the KV cache heads and a runner, and executes each step the caller
// runs, joining the collectives inside the forward pass. There is still one scheduler and one
// sampler: the caller's, fed the gathered logits.
#pragma once

#include <barrier>
#include <functional>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "engine/model_runner.h"
#include "engine/parallel/communicator.h"

namespace llm {

class TensorParallelExecutor {
 public:
  // Makes rank `rank`'s backend, connected to the others through `comm` (which outlives it).
  using BackendFactory = std::function<std::unique_ptr<Backend>(int rank, Communicator* comm)>;

  struct Options {
    int size = 2;
    DType weight_dtype = DType::kF32;
    DType kv_dtype = DType::kF32;
    int num_blocks = 0;  // the same on every rank: one block table indexes all of them
    int block_size = 16;
    int max_num_tokens = 0;
    int max_num_seqs = 0;
  };

  // Loads every rank's slices. Throws llm::Error (the model cannot be split this way, a tensor
  // is missing, ...) before any thread starts.
  TensorParallelExecutor(const Checkpoint& checkpoint, const Options& options,
                         const BackendFactory& make_backend);
  ~TensorParallelExecutor();
  TensorParallelExecutor(const TensorParallelExecutor&) = delete;
  TensorParallelExecutor& operator=(const TensorParallelExecutor&) = delete;

  // Runs one step on every rank; returns the whole [L, vocab] logits (ModelRunner::execute).
  std::span<const float> execute(std::span<const BatchEntry> batch);

  int size() const { return static_cast<int>(ranks_.size()); }
  const LlamaModel& model(int rank) const { return *ranks_[static_cast<size_t>(rank)]->model; }

 private:
  struct Rank {
    std::unique_ptr<Communicator> comm;
    std::unique_ptr<Backend> backend;
    std::unique_ptr<LlamaModel> model;
    std::unique_ptr<KvCache> cache;
    std::unique_ptr<ModelRunner> runner;
  };
  void worker(Rank& rank);

  std::vector<std::unique_ptr<Rank>> ranks_;
  std::barrier<> step_;  // every rank meets here before each step, and once more to stop
  std::span<const BatchEntry> batch_;  // the step being run, written by rank 0 before the barrier
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace llm
