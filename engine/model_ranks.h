// ModelRanks: the model side of an engine, built from its config: the ranks of an Executor,
// one for an unsplit model, or N that are threads of this process (CPU ranks, or one device
// each joined by NCCL) or processes joining rank 0 over TCP (this process is rank 0;
// ModelRanks::serve runs each of the others). It picks the backend, the communicators and the
// KV pool's budget; the engine loop only runs steps through it.
#pragma once

#include <memory>
#include <span>

#include "engine/model/checkpoint.h"
#include "engine/parallel/executor.h"
#include "llm/engine.h"

namespace llm {

class ModelRanks {
 public:
  // Picks the backend, loads the weights from `checkpoint` (which may release them afterwards)
  // and sizes the KV pool. Throws llm::Error.
  ModelRanks(const EngineConfig& config, const Checkpoint& checkpoint);

  // One step on every rank (ModelRunner::step).
  StepOutput step(std::span<const BatchEntry> batch) { return executor_->step(batch); }

  // What the config resolved to: the backend ("auto" made concrete) and the blocks in the pool.
  const std::string& backend_name() const { return backend_name_; }
  int64_t num_blocks() const { return executor_->num_blocks(); }
  size_t weight_bytes() const { return executor_->weight_bytes(); }
  size_t matmul_weight_bytes() const { return executor_->matmul_weight_bytes(); }
  size_t kv_cache_bytes() const { return executor_->kv_cache_bytes(); }

  // A process holding rank config.tp_rank >= 1: joins rank 0 at config.tp_master, loads its
  // slices and runs the steps rank 0 sends until it stops.
  static void serve(const EngineConfig& config);

 private:
  std::string backend_name_;
  std::unique_ptr<Executor> executor_;
};

}  // namespace llm
