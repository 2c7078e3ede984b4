// ModelRanks: the model side of an engine, built from its config. One rank (a backend, its
// weights, KV cache and runner) or a model split over ranks (TensorParallelExecutor) that are
// threads of this process (CPU ranks, or one device each joined by NCCL) or processes joining
// rank 0 over TCP (this process is rank 0; ModelRanks::serve runs each of the others). It picks
// the backend and sizes the KV pool; the engine loop only runs steps through it.
#pragma once

#include <memory>
#include <span>

#include "engine/backend/backend.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/checkpoint.h"
#include "engine/model/llama_model.h"
#include "engine/model_runner.h"
#include "engine/parallel/tensor_parallel_executor.h"
#include "llm/engine.h"

namespace llm {

class ModelRanks {
 public:
  // Loads the weights from `checkpoint` (which may release them afterwards). Sets
  // config.backend and config.num_blocks to what was built. Throws llm::Error.
  ModelRanks(EngineConfig& config, const Checkpoint& checkpoint);
  ~ModelRanks();
  ModelRanks(const ModelRanks&) = delete;
  ModelRanks& operator=(const ModelRanks&) = delete;

  // One step on every rank: [L, vocab] logits of the entries that want them, in entry order.
  std::span<const float> execute(std::span<const BatchEntry> batch);
  // Single-rank models also run steps whose rows all sample greedily, reading back only the
  // argmax ids (ModelRunner::execute_greedy).
  bool has_greedy_path() const { return runner_ != nullptr; }
  std::span<const int32_t> execute_greedy(std::span<const BatchEntry> batch);

  // A process holding rank config.tp_rank >= 1: joins rank 0 at config.tp_master, loads its
  // slices and runs the steps rank 0 sends until it stops.
  static void serve(const EngineConfig& config);

 private:
  void create_single_rank(const Checkpoint& ck);
  void create_tensor_parallel(const Checkpoint& ck);

  EngineConfig& config_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<KvCache> kv_cache_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<TensorParallelExecutor> executor_;  // instead of the four above when split
};

}  // namespace llm
