// LlmEngine: the Engine implementation. Front ends submit from any thread; one loop thread owns
// every Sequence, the scheduler, the KV cache and the model, and runs steps while there is work.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/model/checkpoint.h"
#include "engine/model/llama_model.h"
#include "engine/model_runner.h"
#include "engine/output_processor.h"
#include "engine/parallel/tensor_parallel_executor.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "llm/engine.h"
#include "tokenizer/tokenizer.h"

namespace llm {

class LlmEngine final : public Engine {
 public:
  explicit LlmEngine(const EngineConfig& config);
  ~LlmEngine() override;

  std::shared_ptr<RequestStream> submit(Request request) override;
  void abort(const std::string& request_id) override;
  void abort_all() override;
  EngineStats stats() const override;
  const ModelConfig& model_config() const override { return checkpoint_.config(); }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  const EngineConfig& config() const override { return config_; }

 private:
  // The n sequences of one request, owned here from submit until the last one finishes.
  struct RequestGroup {
    std::shared_ptr<RequestState> state;
    std::vector<std::unique_ptr<Sequence>> seqs;
    std::vector<Sequence*> parked;  // completions 1..n-1 wait for completion 0's prefill
    int num_finished = 0;
  };

  void loop();
  void admit(std::unique_ptr<RequestGroup> group);
  void run_step();
  void finish(Sequence* seq, FinishReason reason, CompletionEvent ev);
  void release_parked(RequestGroup& group);
  void publish_stats();
  // The model side of the constructor: backend(s), weights, KV cache, runner or executor.
  void create_single_rank(const ModelConfig& mc);
  void create_tensor_parallel(const ModelConfig& mc);
  // Blocks in the KV pool: config_.num_blocks, or what the budget (kv_cache_memory, the
  // device's memory when `device` reports it, else a share of host memory) holds at
  // `per_block` bytes each. Throws kResourceExhausted when not one block fits.
  int64_t kv_pool_blocks(size_t per_block, const Backend* device);

  EngineConfig config_;
  Checkpoint checkpoint_;
  Tokenizer tokenizer_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<KvCache> kv_cache_;
  std::unique_ptr<KvCacheManager> kv_manager_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<TensorParallelExecutor> executor_;  // instead of the four above when split
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<OutputProcessor> output_;
  std::vector<int32_t> eos_ids_;

  // Engine-thread state.
  std::unordered_map<std::string, std::unique_ptr<RequestGroup>> groups_;
  std::unordered_map<const Sequence*, RequestGroup*> group_of_;
  int64_t next_seq_id_ = 0;
  std::vector<BatchEntry> entries_;
  EngineStats counters_;

  // Shared with submitting threads.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RequestGroup>> inbox_;
  std::vector<std::string> aborts_;
  bool stopping_ = false;
  std::string failure_;  // set when a step failed: the engine no longer runs
  bool abort_all_ = false;
  int64_t next_request_number_ = 0;
  EngineStats stats_;

  std::thread thread_;
};

}  // namespace llm
