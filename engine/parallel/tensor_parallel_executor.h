// TensorParallelExecutor: the ranks of one model split Megatron-style (TensorParallelShard)
// that live in this process. Rank 0, when local, drives: each execute() sends the step to the
// other ranks through the communicator and runs its own share. Other local ranks each own a
// thread, a backend, their weight slices, their KV heads and a runner, and execute every step
// they receive, joining the collectives of the forward pass. A rank in another process (see
// run_tensor_parallel_rank) does the same with a TCP communicator. There is still one scheduler
// and one sampler: the driver's, fed the gathered logits.
#pragma once

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
  // Makes a rank's backend, connected to the others through `comm` (which outlives it).
  using BackendFactory = std::function<std::unique_ptr<Backend>(Communicator* comm)>;

  struct Options {
    DType weight_dtype = DType::kF32;  // the KV cache's is the backend's choice for it
    // The same on every rank: one block table indexes all of them. 0: size_pool decides.
    int num_blocks = 0;
    // With num_blocks 0: the blocks a rank's backend holds once its weights are loaded (the
    // pool is the smallest over the local ranks).
    std::function<int64_t(const Backend& backend, size_t bytes_per_block)> size_pool;
    int block_size = 16;
    int max_num_tokens = 0;
    int max_num_seqs = 0;
    bool cuda_graphs = false;
  };

  // One communicator per local rank (their rank() say which). Loads every local rank's slices;
  // throws llm::Error (the model cannot be split this way, a tensor is missing, ...) before
  // any thread starts.
  TensorParallelExecutor(const Checkpoint& checkpoint, const Options& options,
                         std::vector<std::unique_ptr<Communicator>> comms,
                         const BackendFactory& make_backend);
  // The driver tells every rank to stop; local rank threads are joined.
  ~TensorParallelExecutor();
  TensorParallelExecutor(const TensorParallelExecutor&) = delete;
  TensorParallelExecutor& operator=(const TensorParallelExecutor&) = delete;

  // Driver only: runs one step on every rank; returns the whole [L, vocab] logits.
  std::span<const float> execute(std::span<const BatchEntry> batch);
  // Non-driver process: runs the steps the driver sends until it says stop.
  void serve();

  int num_local_ranks() const { return static_cast<int>(ranks_.size()); }
  // KV blocks in every rank's pool.
  int num_blocks() const { return num_blocks_; }
  const LlamaModel& model(int local_rank) const {
    return *ranks_[static_cast<size_t>(local_rank)]->model;
  }

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
  bool driver_ = false;  // ranks_[0] is global rank 0
  int num_blocks_ = 0;
  std::vector<int32_t> message_;  // the driver's encoded step
  std::vector<std::thread> threads_;
};

// Every step as the ranks exchange it: [n, then per entry: tokens, computed, table length,
// wants_logits, the tokens, the table]; n = -1 means stop.
void encode_step(std::span<const BatchEntry> batch, std::vector<int32_t>& out);
// Fills `out` with entries viewing `message` (which must outlive them); false means stop.
bool decode_step(const std::vector<int32_t>& message, std::vector<BatchEntry>& out);

}  // namespace llm
