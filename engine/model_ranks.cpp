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

// What config.backend resolves to: "auto" is cuda when this build has CUDA and the runtime sees
// enough devices (one per rank of this process), else cpu. Asking for cuda without them fails.
std::string resolve_backend(const EngineConfig& c) {
  if (c.backend == "cpu" || c.backend == "simt") return c.backend;
  const int needed = c.tp_master.empty() ? c.tensor_parallel_size : 1;
#if defined(LLM_HAVE_CUDA_BACKEND)
  std::string why;
  const int devices = cuda_device_count(&why);
  if (devices >= needed) return "cuda";
  if (c.backend == "cuda") {
    throw Error(ErrorCode::kUnsupported,
                "--backend cuda: " + std::to_string(needed) + " CUDA device(s) needed, " +
                    (devices < 0 ? "none found (cudaGetDeviceCount: " + why + ")"
                                 : std::to_string(devices) + " found"));
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
  return o;
}

std::unique_ptr<Backend> make_backend(const EngineConfig& c, const std::string& kind) {
  if (kind == "simt") return make_simt_backend(cuda_options(c));
#if defined(LLM_HAVE_CUDA_BACKEND)
  if (kind == "cuda") return make_cuda_device_backend(cuda_options(c));
#endif
  return std::make_unique<CpuBackend>(c.threads);
}

// One backend per rank of a split model on this process's devices, joined by NCCL.
std::vector<std::unique_ptr<Backend>> make_device_ranks(const EngineConfig& c,
                                                        [[maybe_unused]] const std::string& kind) {
#if defined(LLM_HAVE_CUDA_BACKEND)
  if (kind == "cuda") {
    return make_cuda_device_backend_group(cuda_options(c), c.tensor_parallel_size);
  }
#endif
  return make_simt_backend_group(cuda_options(c), c.tensor_parallel_size);
}

// Bytes of the ModelRunner's per-step buffers (LlamaModel::make_workspace, the i32 metadata and
// the logits) for steps of up to max_tokens rows and max_seqs sequences.
int64_t runner_bytes(const ModelConfig& mc, const EngineConfig& c, int64_t max_blocks_per_seq) {
  const int64_t D = mc.hidden_size, Q = mc.q_size(), KV = mc.kv_size(), F = mc.intermediate_size;
  const int64_t per_token = 4 * D + 2 * Q + 2 * KV + 3 * F + 3;  // activations + ids/pos/slots
  const int64_t per_seq = mc.vocab_size + max_blocks_per_seq + 3;
  return 4 * (per_token * c.max_num_batched_tokens + per_seq * c.max_num_seqs);
}

// Blocks in the KV pool: c.num_blocks, or what the budget (kv_cache_memory, the device's memory
// when `device` reports it, else a share of host memory) holds at `per_block` bytes each.
// Throws kResourceExhausted when not one block fits.
int64_t kv_pool_blocks(const EngineConfig& c, const ModelConfig& mc, size_t per_block,
                       const Backend* device) {
  const int bs = c.block_size;
  const int64_t blocks_per_context = (mc.max_position_embeddings + bs - 1) / bs;
  int64_t num_blocks = c.num_blocks;
  if (num_blocks == 0) {
    int64_t budget = c.kv_cache_memory;
    const auto mem = device != nullptr ? device->memory_info() : std::nullopt;
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

// What every rank must agree on before loading, sent by rank 0 to processes that join it.
struct RankSetup {
  int64_t num_blocks;  // 0: each device sizes its pool, and the ranks take the smallest
  int64_t block_size, max_num_tokens, max_num_seqs, weight_dtype;
  int64_t cuda_ranks;  // 1: every process drives one CUDA device, joined by NCCL with nccl_id
  int64_t cuda_graphs;
  std::array<char, 128> nccl_id;
};

TensorParallelExecutor::Options executor_options(const RankSetup& s, const EngineConfig& c,
                                                 const ModelConfig& mc) {
  TensorParallelExecutor::Options o;
  o.weight_dtype = static_cast<DType>(s.weight_dtype);
  o.num_blocks = static_cast<int>(s.num_blocks);
  o.block_size = static_cast<int>(s.block_size);
  o.max_num_tokens = static_cast<int>(s.max_num_tokens);
  o.max_num_seqs = static_cast<int>(s.max_num_seqs);
  o.cuda_graphs = s.cuda_graphs != 0;
  // Only called when num_blocks is 0 (device ranks); c and mc outlive the executor's constructor.
  o.size_pool = [&c, &mc](const Backend& be, size_t per_block) {
    return kv_pool_blocks(c, mc, per_block, &be);
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
  o.cuda_graphs = s.cuda_graphs != 0;
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

ModelRanks::ModelRanks(EngineConfig& config, const Checkpoint& ck) : config_(config) {
  if (config_.tensor_parallel_size > 1) {
    create_tensor_parallel(ck);
  } else {
    create_single_rank(ck);
  }
}

ModelRanks::~ModelRanks() = default;

std::span<const float> ModelRanks::execute(std::span<const BatchEntry> batch) {
  return executor_ ? executor_->execute(batch) : runner_->execute(batch);
}

std::span<const int32_t> ModelRanks::execute_greedy(std::span<const BatchEntry> batch) {
  return runner_->execute_greedy(batch);
}

// One rank: the backend asked for, its model, cache and runner.
void ModelRanks::create_single_rank(const Checkpoint& ck) {
  const ModelConfig& mc = ck.config();
  backend_ = make_backend(config_, resolve_backend(config_));
  config_.backend = backend_->name();
  const DType wdtype = weight_dtype(config_, mc);
  const DType kv_dtype = backend_->kv_cache_dtype(wdtype);
  const int bs = config_.block_size;
  // Scratch for the largest step first, so the device budget accounts for it.
  backend_->reserve_workspace(
      {config_.max_num_batched_tokens,
       std::max<int64_t>({mc.hidden_size, mc.q_size(), mc.intermediate_size}), config_.max_num_seqs,
       mc.max_position_embeddings, mc.num_heads, mc.head_dim});
  model_ = std::make_unique<LlamaModel>(*backend_, ck, wdtype);
  config_.num_blocks =
      kv_pool_blocks(config_, mc, KvCache::bytes_per_block(mc, bs, kv_dtype), backend_.get());
  kv_cache_ =
      std::make_unique<KvCache>(*backend_, mc, static_cast<int>(config_.num_blocks), bs, kv_dtype);
  runner_ =
      std::make_unique<ModelRunner>(*backend_, *model_, *kv_cache_, config_.max_num_batched_tokens,
                                    config_.max_num_seqs, config_.cuda_graphs);
}

// A split model: the same scheduler and sampler over an executor whose ranks are threads here
// (CPU ranks, or one device each), or rank 0 of processes joining at tp_master.
void ModelRanks::create_tensor_parallel(const Checkpoint& ck) {
  const ModelConfig& mc = ck.config();
  const int size = config_.tensor_parallel_size, bs = config_.block_size;
  const std::string kind = resolve_backend(config_);
  config_.backend = kind;
  RankSetup setup{0,
                  bs,
                  config_.max_num_batched_tokens,
                  config_.max_num_seqs,
                  static_cast<int64_t>(weight_dtype(config_, mc)),
                  0,
                  config_.cuda_graphs ? 1 : 0,
                  {}};
  const TensorParallelShard shard0 = TensorParallelShard::make(mc, 0, size);  // validates
  std::vector<std::unique_ptr<Communicator>> comms;
  if (kind != "cpu" && config_.tp_master.empty()) {
    // Device ranks in this process: each pool is sized once its rank's weights are resident.
    std::vector<std::unique_ptr<Backend>> devices = make_device_ranks(config_, kind);
    executor_ = std::make_unique<TensorParallelExecutor>(
        ck, executor_options(setup, config_, mc), InProcessCommunicator::create_group(size),
        [&devices](Communicator* comm) {
          return std::move(devices[static_cast<size_t>(comm->rank())]);
        });
  } else if (kind != "cpu") {
    // CUDA ranks as processes: NCCL's unique id travels with the setup over the rendezvous,
    // and this process is rank 0 on its first device.
    setup.cuda_ranks = 1;
#if defined(LLM_HAVE_CUDA_BACKEND)
    setup.nccl_id = make_nccl_unique_id();
#endif
    comms.push_back(std::make_unique<SocketCommunicator>(0, size, config_.tp_master));
    comms[0]->broadcast(&setup, sizeof setup, 0);
    std::unique_ptr<Backend> device = make_process_cuda_rank(config_, setup, 0);
    executor_ = std::make_unique<TensorParallelExecutor>(
        ck, executor_options(setup, config_, mc), std::move(comms),
        [&device](Communicator*) { return std::move(device); });
  } else {
    // Every rank holds its KV heads of every block (replicated heads count once per rank).
    setup.num_blocks = kv_pool_blocks(
        config_, mc, size * KvCache::bytes_per_block(shard0.local_config(mc), bs, DType::kF32),
        nullptr);
    if (config_.tp_master.empty()) {
      comms = InProcessCommunicator::create_group(size);
    } else {
      comms.push_back(std::make_unique<SocketCommunicator>(0, size, config_.tp_master));
      comms[0]->broadcast(&setup, sizeof setup, 0);
    }
    const int threads = threads_per_rank(config_, static_cast<int>(comms.size()));
    executor_ = std::make_unique<TensorParallelExecutor>(
        ck, executor_options(setup, config_, mc), std::move(comms),
        [threads](Communicator* comm) { return std::make_unique<CpuBackend>(threads, comm); });
  }
  config_.num_blocks = executor_->num_blocks();
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
  std::unique_ptr<Backend> device;
  if (setup.cuda_ranks != 0) device = make_process_cuda_rank(config, setup, config.tp_rank);
  const int threads = threads_per_rank(config, 1);
  TensorParallelExecutor executor(
      ck, executor_options(setup, config, ck.config()), std::move(comms),
      [&device, threads](Communicator* comm) -> std::unique_ptr<Backend> {
        if (device) return std::move(device);
        return std::make_unique<CpuBackend>(threads, comm);
      });
  executor.serve();
}

}  // namespace llm
