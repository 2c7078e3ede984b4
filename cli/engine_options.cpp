#include "cli/engine_options.h"

#include <cctype>

namespace po = boost::program_options;

namespace llm {

EngineConfig EngineFlags::resolve(const std::string& model_dir) const {
  EngineConfig c = config;
  c.model_dir = model_dir;
  c.enable_prefix_caching = !no_prefix_caching;
  return c;
}

void add_runtime_options(po::options_description& d, EngineConfig& c) {
  d.add_options()("threads", po::value(&c.threads)->default_value(c.threads),
                  "CPU threads, this one included (0: one per core)")(
      "cpu-isa", po::value(&c.cpu_isa)->default_value(c.cpu_isa),
      "CPU kernels: auto (the best this processor has) | avx512 | avx2 | portable")(
      "dtype", po::value(&c.dtype)->default_value(c.dtype),
      "weight dtype: auto (the checkpoint's) | f32 | bf16 | f16")(
      "quantization", po::value(&c.quantization)->default_value(c.quantization),
      "none | int8 | int4: quantize the linear weights as they load (block-wise, GGUF's Q8_0 / "
      "Q4_0; int4 keeps the output head at int8). CPU backend")(
      "backend", po::value(&c.backend)->default_value(c.backend),
      "cpu | cuda | simt (CUDA code in the host emulator: slow) | auto (cuda when a device is "
      "present)")(
      "gpu-memory-utilization",
      po::value(&c.gpu_memory_utilization)->default_value(c.gpu_memory_utilization),
      "share of device memory to use, the KV cache taking what weights and activations leave")(
      "cuda-graphs", po::bool_switch(&c.cuda_graphs),
      "device backends: replay decode steps as CUDA graphs, one per batch-size bucket (1, 2, 4, "
      "... max-num-seqs)")(
      "tensor-parallel-size",
      po::value(&c.tensor_parallel_size)->default_value(c.tensor_parallel_size),
      "split the model over this many ranks (CPU threads, or one CUDA device each joined by NCCL); "
      "it must divide the attention heads, the key/value heads (or be a multiple of them) and the "
      "MLP size; the vocabulary is cut in ceil(vocab / N)-row shards, the last padded")(
      "tp-rank", po::value(&c.tp_rank)->default_value(c.tp_rank),
      "this process's rank when ranks are processes (1..N-1 join rank 0 and only compute)")(
      "tp-master", po::value(&c.tp_master)->default_value(c.tp_master),
      "HOST:PORT where rank 0 listens for the other ranks (multi-process / multi-node)");
}

void add_engine_options(po::options_description& d, EngineFlags& f) {
  EngineConfig& c = f.config;
  add_runtime_options(d, c);
  d.add_options()
      ("max-num-seqs", po::value(&c.max_num_seqs)->default_value(c.max_num_seqs), "sequences per step")
      ("max-num-batched-tokens", po::value(&c.max_num_batched_tokens)->default_value(c.max_num_batched_tokens), "tokens per step (prefill chunks + decodes)")
      ("max-prefill-tokens-per-step", po::value(&c.max_prefill_tokens_per_step)->default_value(c.max_prefill_tokens_per_step), "prompt tokens per step, all requests together (0: up to --max-num-batched-tokens). Lower: earlier first tokens and steadier streams under load; higher: fewer, larger steps")
      ("kv-cache-memory", po::value(&c.kv_cache_memory)->default_value(0), "bytes for the KV cache (0: a fraction of free memory)")
      ("num-blocks", po::value(&c.num_blocks)->default_value(0), "exact number of KV blocks (overrides --kv-cache-memory)")
      ("block-size", po::value(&c.block_size)->default_value(c.block_size), "tokens per KV block")
      ("no-prefix-caching", po::bool_switch(&f.no_prefix_caching), "disable automatic prefix caching");
}

po::variables_map parse_flags(int argc, char** argv, const po::options_description& d) {
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, d), vm);
  // LLM_MAX_NUM_SEQS -> max-num-seqs; variables naming no flag are ignored.
  po::store(po::parse_environment(d, [&d](const std::string& env) -> std::string {
              if (env.rfind("LLM_", 0) != 0) return "";
              std::string name = env.substr(4);
              for (char& ch : name) ch = ch == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
              return d.find_nothrow(name, false) ? name : "";
            }),
            vm);
  return vm;
}

}  // namespace llm
