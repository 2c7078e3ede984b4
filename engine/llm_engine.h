// LlmEngine: the Engine implementation. Front ends submit from any thread; one loop thread owns
// every Sequence, the scheduler, the KV cache and the model, and runs steps while there is work.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/grammar/grammar_compiler.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/model/checkpoint.h"
#include "engine/model_ranks.h"
#include "engine/output_processor.h"
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
  const std::string& backend_name() const override { return ranks_->backend_name(); }

 private:
  void loop();
  void admit(std::unique_ptr<RequestState> request);
  void abort_request(RequestState& request);
  void run_step();
  // Every completion ends here, with exactly one finishing event: on a stop, at its length, on
  // an abort, or when the engine shuts down.
  void finish(Sequence& seq, FinishReason reason, CompletionEvent ev);
  void release_parked(RequestState& request);
  void publish_stats();

  EngineConfig config_;
  Checkpoint checkpoint_;
  Tokenizer tokenizer_;
  std::unique_ptr<ModelRanks> ranks_;  // backend(s), weights, KV cache, runner(s)
  std::unique_ptr<KvCacheManager> kv_manager_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<OutputProcessor> output_;
  std::unique_ptr<GrammarCompiler> grammars_;  // structured output; used by submitting threads
  std::vector<int32_t> eos_ids_;
  int long_rope_after_ = 0;  // longrope: sequences longer than this use the long factors

  // Engine-thread state: every admitted request, by id.
  std::unordered_map<std::string, std::unique_ptr<RequestState>> requests_;
  int64_t next_seq_id_ = 0;
  std::vector<BatchEntry> entries_;
  // The penalties' token lists of the step's device-sampled rows (RowSampling::penalty_ids and
  // penalty_counts point into them): each row's distinct prompt and output tokens, then their
  // output counts; and a vocabulary-sized count array, all zero between rows.
  std::vector<int32_t> penalty_ids_, penalty_counts_, token_counts_;
  // Appends q's lists; returns where they start.
  size_t add_penalty_tokens(const Sequence& q);
  std::vector<std::pair<size_t, size_t>> penalty_starts_;  // (entry, where its lists start)
  std::vector<TokenMatcher*> step_matchers_;  // [constrained rows] of this step
  std::vector<uint32_t> step_masks_;          // [constrained rows, mask words] their masks
  EngineStats counters_;

  // Shared with submitting threads.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RequestState>> inbox_;
  std::vector<std::string> aborts_;
  bool stopping_ = false;
  std::string failure_;  // set when a step failed: the engine no longer runs
  bool abort_all_ = false;
  int64_t next_request_number_ = 0;
  EngineStats stats_;

  std::thread thread_;
};

}  // namespace llm
