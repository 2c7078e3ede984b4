// Engine: the one entry point every front end uses (server, batch runner, CLI, benchmarks).
// It owns the model, the KV cache and the scheduler, and runs steps on its own thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "llm/model_config.h"
#include "llm/request.h"
#include "llm/request_stream.h"

namespace llm {

class Tokenizer;

struct EngineConfig {
  std::filesystem::path model_dir;
  int block_size = 16;                // tokens per KV block
  int64_t num_blocks = 0;             // > 0: exactly this many blocks
  int64_t kv_cache_memory = 0;        // > 0: bytes for the KV pool (when num_blocks is 0)
  double kv_cache_fraction = 0.25;    // else: this fraction of available memory (capped at 4 GiB)
  int max_num_seqs = 64;              // sequences per step
  int max_num_batched_tokens = 2048;  // tokens per step (prefill chunks + decodes)
  // Prompt tokens per step, all requests together (decodes are not counted; 0: no limit but
  // max_num_batched_tokens). Small: first tokens early and steady streams while a wave of
  // prompts is prefilled; large: fewer, bigger steps (see docs/DESIGN.md, "Scheduling").
  int max_prefill_tokens_per_step = 256;
  int max_queue = 0;                  // > 0: submit fails with kResourceExhausted beyond it
  bool enable_prefix_caching = true;
  int threads = 0;  // CPU threads for the model, the caller included (0: one per core)
  // CPU kernels: auto (the best this processor has) | avx512 | avx2 | portable. Process-wide:
  // the CPU backends of every engine in the process use the last one set.
  std::string cpu_isa = "auto";
  std::string dtype = "auto";  // weights: f32 | bf16 | f16 | auto (the checkpoint's torch_dtype)
  // none | int8 | int4: float linear weights quantized as they load (GGUF's Q8_0 / Q4_0 blocks;
  // int4 keeps the output head at int8). A GGUF file's quantized weights need no flag.
  std::string quantization = "none";
  // cpu | cuda | simt (the CUDA backend run by the host emulator: slow, for tests and debugging)
  // | auto (cuda when the build has CUDA and a device is present, else cpu)
  std::string backend = "auto";
  // Device backends: the share of the device's memory the engine may use; the KV pool gets what
  // the weights and the step's activations leave of it (unless num_blocks/kv_cache_memory say).
  double gpu_memory_utilization = 0.9;
  // Device backends: decode steps replayed as CUDA graphs, one per batch-size bucket.
  bool cuda_graphs = false;
  // Device backends: sample rows on the device where their parameters allow (the same tokens
  // as the host sampler for the same seed); off, every non-greedy row is sampled on the host.
  bool device_sampling = true;
  // Tensor parallelism: the model split over this many ranks, Megatron-style. Alone, the ranks
  // are threads of this process: CPU ranks, or one device each (cuda, simt) joined by NCCL. With
  // tp_master ("HOST:PORT", CPU backend) they are processes: rank 0 (this engine) listens there
  // and ranks 1.. (serve_rank) join it.
  int tensor_parallel_size = 1;
  int tp_rank = 0;
  std::string tp_master;
};

// A snapshot of the engine's counters.
struct EngineStats {
  int running = 0;              // sequences holding KV blocks
  int waiting = 0;              // sequences queued (including preempted ones)
  int64_t num_preemptions = 0;  // total since start
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;          // referenced by a live sequence
  int64_t prefix_cache_queries = 0;    // prompt tokens looked up in the prefix cache
  int64_t prefix_cache_hits = 0;       // of those, tokens found cached
  int64_t prompt_tokens_computed = 0;  // prompt (and recomputed) tokens run through the model
  int64_t generation_tokens = 0;       // tokens sampled
  int64_t num_steps = 0;
  double grammar_mask_seconds = 0;  // structured output: time spent computing token masks
  // Bytes of weights this process holds as loaded (quantized ones at their real size), and of
  // those the matmul weights a decode step streams.
  int64_t weight_bytes = 0;
  int64_t matmul_weight_bytes = 0;
  int64_t kv_cache_bytes = 0;  // the KV pool's
  double prefix_cache_hit_rate() const {
    return prefix_cache_queries ? static_cast<double>(prefix_cache_hits) / prefix_cache_queries
                                : 0.0;
  }
};

class Engine {
 public:
  // Loads the model and tokenizer and starts the engine thread. Throws llm::Error.
  static std::unique_ptr<Engine> create(const EngineConfig& config);
  // For config.tp_rank > 0: joins rank 0 at config.tp_master, loads this rank's slices and
  // runs the steps rank 0 sends until it stops. Throws llm::Error.
  static void serve_rank(const EngineConfig& config);
  virtual ~Engine() = default;

  // Validates and queues a request. Throws llm::Error: kInvalidArgument (bad parameters, empty
  // prompt, prompt or prompt + max_tokens beyond the context, ids outside the vocabulary),
  // kResourceExhausted (the waiting queue is full). Thread-safe.
  virtual std::shared_ptr<RequestStream> submit(Request request) = 0;
  // Finishes a request with reason kAbort and frees its blocks at the next step boundary.
  // Unknown or finished ids are ignored. Thread-safe.
  virtual void abort(const std::string& request_id) = 0;
  // Aborts every request submitted so far (shutdown after the grace period). Thread-safe.
  virtual void abort_all() = 0;
  virtual EngineStats stats() const = 0;

  virtual const ModelConfig& model_config() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  // The config as given (never rewritten); what "auto" and the budgets resolved to is below
  // and in stats() (kv_blocks_total).
  virtual const EngineConfig& config() const = 0;
  // The backend the engine runs on: cpu, cuda or simt.
  virtual const std::string& backend_name() const = 0;
};

}  // namespace llm
