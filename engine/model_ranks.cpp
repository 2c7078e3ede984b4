#include "engine/model_ranks.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/backend/cpu_backend.h"
#include "engine/backend/cuda_backend_factory.h"
#include "engine/parallel/in_process_communicator.h"
#include "engine/parallel/socket_communicator.h"
#include "engine/scheduler.h"
#include "llm/error.h"

namespace llm {
namespace {

constexpr int64_t kDefaultKvCap = int64_t{4} << 30;

int64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return int64_t{2} << 30;
}

// The weights' dtype: the one asked for, or the checkpoint's own for "auto".
DType weight_dtype(const EngineConfig& c, const ModelConfig& mc) {
  return c.dtype == "auto" ? mc.torch_dtype : *dtype_from_name(c.dtype);
}

// What --quantization turns float linear weights into (nullopt: they stay float).
std::optional<DType> quantize_to(const EngineConfig& c) {
  if (c.quantization == "int8") return DType::kQ8_0;
  if (c.quantization == "int4") return DType::kQ4_0;
  return std::nullopt;
}

// What config.backend resolves to: "auto" is cuda when this build has CUDA and the runtime sees
// enough devices (one per rank of this process), else cpu. Asking for cuda without them fails.
std::string resolve_backend(const EngineConfig& c) {
  if (c.backend == "cpu" || c.backend == "simt") return c.backend;
  const int needed = c.tp_master.empty() ? c.tensor_parallel_size : 1;
#if defined(LLM_HAVE_CUDA_BACKEND)
  if (c.backend == "auto" && !cuda_driver_present()) return "cpu";
  std::string why;
  const int devices = cuda_device_count(&why);
  if (devices >= needed) return "cuda";
  if (c.backend == "cuda") {
    throw Error(
        ErrorCode::kUnsupported,
        "--backend cuda: " + std::to_string(needed) + " CUDA device(s) needed, " +
            (devices < 0 ? "none found (" + why + ")" : std::to_string(devices) + " found"));
  }
#else
  (void)needed;
  if (c.backend == "cuda") {
    throw Error(ErrorCode::kUnsupported,
                "--backend cuda: this build has no CUDA (nvcc was not found at build time)");
  }
#endif
  return "cpu";
}

CudaBackendOptions cuda_options(const EngineConfig& c) {
  CudaBackendOptions o;
  o.cuda_graphs = c.cuda_graphs;
  o.device_sampling = c.device_sampling;
  return o;
}

// The device backends (cuda, or simt in the emulator) of the ranks in this process: one, or
// one per rank of a split model, joined by NCCL.
std::vector<std::unique_ptr<Backend>> make_devices(const EngineConfig& c, const std::string& kind) {
  std::vector<std::unique_ptr<Backend>> devices;
  const int n = c.tensor_parallel_size;
#if defined(LLM_HAVE_CUDA_BACKEND)
  if (kind == "cuda" && n == 1) devices.push_back(make_cuda_device_backend(cuda_options(c)));
  if (kind == "cuda" && n > 1) devices = make_cuda_device_backend_group(cuda_options(c), n);
#endif
  if (kind == "simt" && n == 1) devices.push_back(make_simt_backend(cuda_options(c)));
  if (kind == "simt" && n > 1) devices = make_simt_backend_group(cuda_options(c), n);
  return devices;
}

// The most tokens a step of this engine's scheduler can hold (the rows of every activation).
int max_step_tokens(const EngineConfig& c) {
  return SchedulerConfig{c.max_num_seqs, c.max_num_batched_tokens, c.max_prefill_tokens_per_step}
      .max_step_tokens();
}

// Bytes of the ModelRunner's per-step buffers (LlamaModel::make_workspace, the i32 metadata and
// the logits) for steps of up to max_tokens rows and max_seqs sequences.
int64_t runner_bytes(const ModelConfig& mc, const EngineConfig& c, int64_t max_blocks_per_seq) {
  const int64_t D = mc.hidden_size, Q = mc.q_size(), KV = mc.kv_size(), F = mc.intermediate_size;
  const int64_t per_token = 4 * D + 2 * Q + 2 * KV + 3 * F + 3;  // activations + ids/pos/slots
  const int64_t per_seq = mc.vocab_size + max_blocks_per_seq + 3;
  return 4 * (per_token * max_step_tokens(c) + per_seq * c.max_num_seqs);
}

// Blocks in the KV pool: c.num_blocks, or what the budget (kv_cache_memory, the device's memory
// when `backend` reports it, else a share of host memory) holds at `per_block` bytes each.
// Throws kResourceExhausted when not one block fits.
int64_t kv_pool_blocks(const EngineConfig& c, const ModelConfig& mc, size_t per_block,
                       const Backend& backend) {
  const int bs = c.block_size;
  const int64_t blocks_per_context = (mc.max_position_embeddings + bs - 1) / bs;
  int64_t num_blocks = c.num_blocks;
  if (num_blocks == 0) {
    int64_t budget = c.kv_cache_memory;
    const auto mem = backend.memory_info();
    if (budget <= 0 && mem) {
      // What this process may use, less what is already in use (weights, scratch, anything
      // else on the device), less the runner's buffers allocated after the cache.
      const int64_t used = static_cast<int64_t>(mem->total - mem->free);
      const int64_t activations = runner_bytes(mc, c, blocks_per_context);
      budget = static_cast<int64_t>(c.gpu_memory_utilization * static_cast<double>(mem->total)) -
               used - activations;
      if (budget < static_cast<int64_t>(per_block)) {
        throw Error(
            ErrorCode::kResourceExhausted,
            "not enough device memory for the KV cache: " + std::to_string(mem->total >> 20) +
                " MiB total x " + std::to_string(c.gpu_memory_utilization) +
                " (--gpu-memory-utilization) leaves nothing after " + std::to_string(used >> 20) +
                " MiB in use and " + std::to_string(activations >> 20) + " MiB of activations");
      }
    } else if (budget <= 0) {
      budget = std::min<int64_t>(
          kDefaultKvCap, static_cast<int64_t>(c.kv_cache_fraction *
                                              static_cast<double>(available_memory_bytes())));
    }
    // More blocks than every sequence at full context would only feed the prefix cache.
    num_blocks = std::min<int64_t>(budget / static_cast<int64_t>(per_block),
                                   2 * c.max_num_seqs * blocks_per_context);
  }
  if (num_blocks < 1) {
    throw Error(ErrorCode::kResourceExhausted,
                "the KV cache budget holds no block of " + std::to_string(bs) + " tokens");
  }
  return num_blocks;
}

// What every rank must agree on before loading: rank 0's settings, sent to the processes that
// join it, which take them over their own (ModelRanks::serve).
struct RankSetup {
  int64_t num_blocks;  // 0: each rank sizes its pool from the budget below; all take the smallest
  int64_t kv_cache_memory;
  double kv_cache_fraction, gpu_memory_utilization;
  int64_t block_size, max_num_batched_tokens, max_num_seqs, max_prefill_tokens_per_step;
  int64_t weight_dtype;  // rank 0's, "auto" resolved
  int64_t cuda_ranks;    // 1: every process drives one CUDA device, joined by NCCL with nccl_id
  int64_t cuda_graphs;
  int64_t quantization;  // -1: none, else the DType float linear weights are quantized to
  std::array<char, 128> nccl_id;

  static RankSetup of(const EngineConfig& c, const ModelConfig& mc) {
    return {c.num_blocks,
            c.kv_cache_memory,
            c.kv_cache_fraction,
            c.gpu_memory_utilization,
            c.block_size,
            c.max_num_batched_tokens,
            c.max_num_seqs,
            c.max_prefill_tokens_per_step,
            static_cast<int64_t>(llm::weight_dtype(c, mc)),
            0,
            c.cuda_graphs ? 1 : 0,
            quantize_to(c) ? static_cast<int64_t>(*quantize_to(c)) : -1,
            {}};
  }
  void apply(EngineConfig& c) const {
    c.num_blocks = num_blocks;
    c.kv_cache_memory = kv_cache_memory;
    c.kv_cache_fraction = kv_cache_fraction;
    c.gpu_memory_utilization = gpu_memory_utilization;
    c.block_size = static_cast<int>(block_size);
    c.max_num_batched_tokens = static_cast<int>(max_num_batched_tokens);
    c.max_num_seqs = static_cast<int>(max_num_seqs);
    c.max_prefill_tokens_per_step = static_cast<int>(max_prefill_tokens_per_step);
    c.dtype = dtype_name(static_cast<DType>(weight_dtype));
    c.cuda_graphs = cuda_graphs != 0;
    c.quantization = quantization < 0                                   ? "none"
                     : static_cast<DType>(quantization) == DType::kQ8_0 ? "int8"
                                                                        : "int4";
  }
};

// How every rank is built from a config (rank 0's settings, for ranks in other processes).
Executor::Options executor_options(const EngineConfig& c, const ModelConfig& mc) {
  Executor::Options o;
  o.weight_dtype = weight_dtype(c, mc);
  o.num_blocks = c.num_blocks;
  o.block_size = c.block_size;
  o.max_num_tokens = max_step_tokens(c);
  o.max_num_seqs = c.max_num_seqs;
  o.cuda_graphs = c.cuda_graphs;
  o.quantize_to = quantize_to(c);
  // c and mc outlive the executor's constructor, the only caller. Ranks in host memory share
  // it: each counts its share of a block once per rank of the model.
  o.size_pool = [&c, &mc](const Backend& be, size_t per_block) {
    const size_t sharing = be.memory_info() ? 1 : static_cast<size_t>(c.tensor_parallel_size);
    return kv_pool_blocks(c, mc, per_block * sharing, be);
  };
  return o;
}

// CPU threads for each of `local_ranks` ranks sharing this process's cores.
int threads_per_rank(const EngineConfig& c, int local_ranks) {
  const int total = c.threads > 0
                        ? c.threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, total / local_ranks);
}

// The CUDA backend of one rank that lives in a process of its own: device tp_rank modulo the
// devices this process sees (rank r on device r on one node; equal nodes repeat the pattern).
std::unique_ptr<Backend> make_process_cuda_rank(const EngineConfig& c, const RankSetup& s,
                                                int rank) {
#if defined(LLM_HAVE_CUDA_BACKEND)
  CudaBackendOptions o = cuda_options(c);
  std::string why;
  const int devices = cuda_device_count(&why);
  if (devices < 1) {
    throw Error(ErrorCode::kUnsupported, "tensor-parallel rank " + std::to_string(rank) +
                                             ": rank 0 runs CUDA ranks but " +
                                             "this process sees no CUDA device (" + why + ")");
  }
  o.device = rank % devices;
  o.tp_rank = rank;
  o.tp_size = c.tensor_parallel_size;
  o.nccl_id = s.nccl_id;
  return make_cuda_device_backend(o);
#else
  (void)c;
  (void)s;
  throw Error(ErrorCode::kUnsupported, "tensor-parallel rank " + std::to_string(rank) +
                                           ": rank 0 runs CUDA ranks but this build has no CUDA");
#endif
}

}  // namespace

ModelRanks::ModelRanks(const EngineConfig& config, const Checkpoint& ck)
    : backend_name_(resolve_backend(config)) {
  const ModelConfig& mc = ck.config();
  const int size = config.tensor_parallel_size;
  const std::string& kind = backend_name_;
  // A split that cannot work fails here, before any rank waits for another.
  if (size > 1) TensorParallelShard::make(mc, 0, size);
  RankSetup setup = RankSetup::of(config, mc);
  std::vector<std::unique_ptr<Communicator>> comms;
  if (size == 1) {
    comms.emplace_back();  // no communicator: the model is not split
  } else if (config.tp_master.empty()) {
    comms = InProcessCommunicator::create_group(size);
  } else {
    // Ranks as processes: this one is rank 0 and sends the setup over the rendezvous (with
    // NCCL's unique id when every process drives a CUDA device).
    setup.cuda_ranks = kind == "cpu" ? 0 : 1;
#if defined(LLM_HAVE_CUDA_BACKEND)
    if (setup.cuda_ranks != 0) setup.nccl_id = make_nccl_unique_id();
#endif
    comms.push_back(std::make_unique<SocketCommunicator>(0, size, config.tp_master));
    comms[0]->broadcast(&setup, sizeof setup, 0);
  }
  std::vector<std::unique_ptr<Backend>> devices;  // none: CPU ranks
  if (setup.cuda_ranks != 0) {
    devices.push_back(make_process_cuda_rank(config, setup, 0));
  } else {
    devices = make_devices(config, kind);
  }
  const int threads = threads_per_rank(config, static_cast<int>(comms.size()));
  executor_ = std::make_unique<Executor>(
      ck, executor_options(config, mc), std::move(comms),
      [&devices, threads](Communicator* comm) -> std::unique_ptr<Backend> {
        if (devices.empty()) return std::make_unique<CpuBackend>(threads, comm);
        // One device per local rank, in rank order (the only one when unsplit or a process).
        const size_t i = devices.size() == 1 ? 0 : static_cast<size_t>(comm->rank());
        return std::move(devices[i]);
      });
}

void ModelRanks::serve(const EngineConfig& config) {
  if (config.tp_rank < 1 || config.tp_master.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "serving a tensor-parallel rank needs --tp-rank >= 1 and --tp-master HOST:PORT");
  }
  const Checkpoint ck = Checkpoint::open(config.model_dir);
  TensorParallelShard::make(ck.config(), config.tp_rank, config.tensor_parallel_size);
  std::vector<std::unique_ptr<Communicator>> comms;
  comms.push_back(std::make_unique<SocketCommunicator>(config.tp_rank, config.tensor_parallel_size,
                                                       config.tp_master));
  RankSetup setup{};
  comms[0]->broadcast(&setup, sizeof setup, 0);
  EngineConfig c = config;
  setup.apply(c);
  std::unique_ptr<Backend> device;
  if (setup.cuda_ranks != 0) device = make_process_cuda_rank(c, setup, c.tp_rank);
  const int threads = threads_per_rank(c, 1);
  Executor executor(ck, executor_options(c, ck.config()), std::move(comms),
                    [&device, threads](Communicator* comm) -> std::unique_ptr<Backend> {
                      if (device) return std::move(device);
                      return std::make_unique<CpuBackend>(threads, comm);
                    });
  executor.serve();
}

}  // namespace llm
