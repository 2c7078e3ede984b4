// Executor: the ranks of one model that live in this process, and how a step reaches them. A
// rank (Executor::Rank) is a backend with its share of the weights, its KV heads of every block
// and a runner; an unsplit model is one rank with no communicator, and its steps run in place.
// A model split Megatron-style (TensorParallelShard) has N ranks: rank 0, when local, drives;
// each step is sent to the others through the communicator before rank 0 runs its own share.
// Other local ranks each own a thread and execute every step they receive, joining the
// collectives of the forward pass. A rank in another process (ModelRanks::serve) does the same
// with a TCP communicator. There is still one scheduler and one sampler: the driver's, fed the
// gathered logits.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "engine/model_runner.h"
#include "engine/parallel/communicator.h"

namespace llm {

class Executor {
 public:
  // Makes a rank's backend, connected to the others through `comm` (which outlives it; null for
  // an unsplit model).
  using BackendFactory = std::function<std::unique_ptr<Backend>(Communicator* comm)>;

  struct Options {
    DType weight_dtype = DType::kF32;  // the KV cache's is the backend's choice for it
    std::optional<DType> quantize_to;  // --quantization: float linear weights become this
    // The same on every rank: one block table indexes all of them. 0: size_pool decides.
    int64_t num_blocks = 0;
    // With num_blocks 0: the blocks a rank's backend holds once its weights are loaded, at
    // bytes_per_block each (the pool is the smallest over all ranks).
    std::function<int64_t(const Backend& backend, size_t bytes_per_block)> size_pool;
    int block_size = 16;
    int max_num_tokens = 0;
    int max_num_seqs = 0;
    bool cuda_graphs = false;
  };

  // One communicator per local rank (their rank() say which), or one null communicator for an
  // unsplit model. Loads every local rank's slices and sizes the pool; throws llm::Error (the
  // model cannot be split this way, a tensor is missing, not one block fits) before any thread
  // starts.
  Executor(const Checkpoint& checkpoint, const Options& options,
           std::vector<std::unique_ptr<Communicator>> comms, const BackendFactory& make_backend);
  // The driver tells every rank to stop; local rank threads are joined.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Driver only: runs one step on every rank; returns the whole [L, vocab] logits.
  std::span<const float> execute(std::span<const BatchEntry> batch) {
    return step(batch).logits;
  }
  // Driver only: runs one step on every rank, reading back only the argmax ids when every row
  // that wants logits is greedy (ModelRunner::step).
  StepOutput step(std::span<const BatchEntry> batch);
  // Non-driver process: runs the steps the driver sends until it says stop.
  void serve();

  // KV blocks in every rank's pool.
  int64_t num_blocks() const { return num_blocks_; }
  // Bytes of weights the local ranks hold, all of them and the matmuls' (LlamaModel's).
  size_t weight_bytes() const;
  size_t matmul_weight_bytes() const;
  // Bytes of the KV pools of the local ranks.
  size_t kv_cache_bytes() const;
  const LlamaModel& model(int local_rank) const {
    return *ranks_[static_cast<size_t>(local_rank)]->model;
  }

 private:
  struct Rank {
    std::unique_ptr<Communicator> comm;  // null: the model is not split
    std::unique_ptr<Backend> backend;
    std::unique_ptr<LlamaModel> model;
    std::unique_ptr<KvCache> cache;
    std::unique_ptr<ModelRunner> runner;
    int size() const { return comm ? comm->size() : 1; }
  };
  // The pool every rank can hold: options.num_blocks, or the smallest size_pool over the ranks
  // of this process and (for a rank in a process of its own) over the other processes.
  int64_t size_pool(const Options& options) const;
  void worker(Rank& rank);

  std::vector<std::unique_ptr<Rank>> ranks_;
  bool driver_ = false;  // ranks_[0] is global rank 0
  int64_t num_blocks_ = 0;
  std::vector<int32_t> message_;  // the driver's encoded step
  std::vector<std::thread> threads_;
};

// Every step as the ranks exchange it: [n, then per entry: tokens, computed, table length,
// flags (1: wants_logits, 2: long_rope), the tokens, the table]; n = -1 means stop.
void encode_step(std::span<const BatchEntry> batch, std::vector<int32_t>& out);
// Fills `out` with entries viewing `message` (which must outlive them); false means stop.
bool decode_step(const std::vector<int32_t>& message, std::vector<BatchEntry>& out);

}  // namespace llm
