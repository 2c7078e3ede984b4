#include "engine/backend/cuda_backend.h"
// (cuda_backend.h brings kernels/cuda/cuda_api.h before these.)
#include <algorithm>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "engine/backend/backend_common.h"
#include "engine/backend/cuda_status.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/kv_cache.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/quant_matmul.h"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/sampling.h"
#include "llm/error.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {
namespace {

// Elements converted per host chunk in upload (bounds the host staging memory).
constexpr size_t kUploadChunk = size_t{1} << 22;

// cuBLAS's own workspace is allocated lazily, which a graph capture forbids, and cuBLASLt's is
// the caller's: one buffer serves both (their calls are ordered on the one stream). 32 MiB is
// what NVIDIA suggests for Hopper, more than the other architectures need.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

cudaDataType cuda_type(DType t) {
  switch (t) {
    case DType::kF32:
      return CUDA_R_32F;
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF16:
      return CUDA_R_16F;
    default:
      break;
  }
  throw Error(ErrorCode::kUnsupported, "cuda backend: " + std::string(dtype_name(t)) +
                                           " tensors have no cuBLAS float type");
}

// The cuBLAS type of an activation tensor (f32, bf16 or f16), naming it in the error otherwise.
cudaDataType activation_type(const Backend& be, const Tensor& t, const char* what) {
  expect(be, t.dtype == DType::kF32 || t.dtype == DType::kBF16 || t.dtype == DType::kF16,
         std::string(what) + " must be f32, bf16 or f16, got " + std::string(dtype_name(t.dtype)));
  return cuda_type(t.dtype);
}

}  // namespace

CudaBackend::CudaBackend(const CudaBackendOptions& options, std::string name)
    : name_(std::move(name)), options_(options) {
  expect(*this, options.decode_partition_tokens >= 32 && options.decode_partition_tokens % 32 == 0,
         "decode_partition_tokens must be a positive multiple of 32");
  expect(*this, options.tp_size >= 1 && options.tp_rank >= 0 && options.tp_rank < options.tp_size,
         "tensor-parallel rank " + std::to_string(options.tp_rank) + " of " +
             std::to_string(options.tp_size));
  bind();
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cublasCreate(&cublas_), "cublasCreate");
  check(cublasSetStream(cublas_, stream_), "cublasSetStream");
  check(cublasSetWorkspace(cublas_, scratch(cublas_workspace_, kCublasWorkspaceBytes),
                           kCublasWorkspaceBytes),
        "cublasSetWorkspace");
  gemm_ =
      std::make_unique<CudaGemm>(cublas_, stream_, cublas_workspace_.data, cublas_workspace_.bytes);
  if (options.tp_size > 1) {
    ncclUniqueId id;
    static_assert(sizeof id.internal == std::tuple_size_v<decltype(options.nccl_id)>);
    std::memcpy(id.internal, options.nccl_id.data(), sizeof id.internal);
    // Blocks until every rank has joined.
    check(ncclCommInitRank(&nccl_, options.tp_size, id, options.tp_rank),
          "ncclCommInitRank (rank " + std::to_string(options.tp_rank) + " of " +
              std::to_string(options.tp_size) + ")");
  }
}

CudaBackend::~CudaBackend() {
  // Nothing may throw here; errors at teardown have nowhere to go.
  try {
    bind();
  } catch (const Error&) {
  }
  cudaStreamSynchronize(stream_);
  for (const auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  if (nccl_ != nullptr) ncclCommDestroy(nccl_);
  cudaFree(gemm_input_.data);
  cudaFree(split_kv_.data);
  gemm_.reset();
  cublasDestroy(cublas_);
  cudaFree(cublas_workspace_.data);
  cudaStreamDestroy(stream_);
}

std::vector<std::unique_ptr<Backend>> CudaBackend::make_group(const CudaBackendOptions& options,
                                                              int size, const std::string& name) {
  // Checked first: a rank that cannot start would leave the others waiting in ncclCommInitRank.
  int devices = 0;
  check(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
  if (options.device + size > devices) {
    throw Error(ErrorCode::kUnsupported, "--tensor-parallel-size " + std::to_string(size) +
                                             ": one device per rank needs " +
                                             std::to_string(options.device + size) + " " + name +
                                             " devices, " + std::to_string(devices) + " present");
  }
  ncclUniqueId id;
  check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  std::vector<std::unique_ptr<Backend>> ranks(static_cast<size_t>(size));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  {
    std::vector<std::jthread> threads;
    for (int r = 0; r < size; ++r) {
      threads.emplace_back([&, r] {
        CudaBackendOptions o = options;
        o.device = options.device + r;
        o.tp_rank = r;
        o.tp_size = size;
        std::memcpy(o.nccl_id.data(), id.internal, o.nccl_id.size());
        try {
          ranks[static_cast<size_t>(r)] = std::make_unique<CudaBackend>(o, name);
        } catch (...) {
          errors[static_cast<size_t>(r)] = std::current_exception();
        }
      });
    }
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return ranks;
}

// The device each thread last bound, so the ops of a rank driven by one thread set it once.
// Every cudaSetDevice of this backend goes through here, which keeps the cache true.
thread_local int tl_bound_device = -1;

void CudaBackend::bind() const {
  if (tl_bound_device == options_.device) return;
  check(cudaSetDevice(options_.device), "cudaSetDevice(" + std::to_string(options_.device) + ")");
  tl_bound_device = options_.device;
}

Buffer CudaBackend::alloc(size_t bytes) {
  bind();
  if (bytes == 0) return Buffer(nullptr, 0, {});
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc of " + std::to_string(bytes) + " bytes");
  return Buffer(p, bytes, [](void* q) { cudaFree(q); });
}

Buffer CudaBackend::alloc_host(size_t bytes) {
  bind();
  if (bytes == 0) return Buffer(nullptr, 0, {});
  void* p = nullptr;
  check(cudaHostAlloc(&p, bytes, cudaHostAllocPortable),
        "cudaHostAlloc of " + std::to_string(bytes) + " bytes");
  return Buffer(p, bytes, [](void* q) { cudaFreeHost(q); });
}

// From pageable memory cudaMemcpyAsync returns once it has staged the source, so the caller may
// reuse it at once; from alloc_host's page-locked memory it returns at once and the copy reads
// the source later, in stream order (the caller keeps it until a later synchronisation).
void CudaBackend::copy_from_host(Tensor dst, const void* src) {
  bind();
  if (dst.nbytes() == 0) return;
  check(cudaMemcpyAsync(dst.data, src, dst.nbytes(), cudaMemcpyHostToDevice, stream_),
        "copy to device");
}

void CudaBackend::copy_to_host(void* dst, Tensor src) {
  bind();
  if (src.nbytes() == 0) return;
  check(cudaMemcpyAsync(dst, src.data, src.nbytes(), cudaMemcpyDeviceToHost, stream_),
        "copy to host");
  check(cudaStreamSynchronize(stream_), "copy to host");
}

void CudaBackend::upload(const HostTensor& src, Tensor dst) {
  bind();
  const auto n = static_cast<size_t>(upload_elements(*this, src, dst));
  const std::string what = "upload of '" + std::string(src.label) + "'";
  synchronize();  // earlier copies may still read a previous staging buffer
  if (src.dtype == dst.dtype) {
    check(cudaMemcpy(dst.data, src.bytes.data(), dst.nbytes(), cudaMemcpyHostToDevice), what);
    return;
  }
  // Converted on the host in chunks: the checkpoint is mapped host memory anyway, and this runs
  // once per weight at load time.
  const size_t out_size = dtype_size(dst.dtype);
  // [min(n, kUploadChunk) * out_size] bytes: one chunk in dst's dtype (kUploadChunk is a
  // multiple of every quantized block, so chunks start at block boundaries)
  std::vector<std::byte> staging(std::min(n, kUploadChunk) * out_size);
  for (size_t begin = 0; begin < n; begin += kUploadChunk) {
    const size_t count = std::min(kUploadChunk, n - begin);
    convert_floats(src.bytes.data() + dtype_row_bytes(src.dtype, static_cast<int64_t>(begin)),
                   src.dtype, staging.data(), dst.dtype, static_cast<int64_t>(count));
    check(cudaMemcpy(static_cast<std::byte*>(dst.data) + begin * out_size, staging.data(),
                     count * out_size, cudaMemcpyHostToDevice),
          what);
  }
}

std::optional<OwnedTensor> CudaBackend::prepare_linear_weight(const Tensor& w,
                                                              std::optional<DType> quantize_to) {
  // Row-major [N, K] is what cuBLAS and quant_matmul read: only --quantization changes a weight.
  if (!quantize_to || *quantize_to == w.dtype) return std::nullopt;
  expect(*this, w.ndim == 2, "linear weight must be 2-D");
  expect(*this, !dtype_is_quantized(w.dtype),
         "cannot requantize " + std::string(dtype_name(w.dtype)) + " weights");
  expect(*this, *quantize_to == DType::kQ8_0 || *quantize_to == DType::kQ4_0,
         "--quantization makes q8_0 or q4_0 weights, not " + std::string(dtype_name(*quantize_to)));
  const int64_t n = w.size(0), k = w.size(1);
  // On the host with the CPU backend's quantizer (gguf.quants.quantize's bytes), so both backends
  // hold the same blocks: rows [n, k] as f32, then n rows of quant_row_bytes, the last block of
  // a row padded with zeros when k is not a multiple of 32.
  std::vector<float> rows(static_cast<size_t>(n * k));  // [n, k] f32
  if (w.dtype == DType::kF32) {
    copy_to_host(rows.data(), w);
  } else {
    std::vector<std::byte> raw(w.nbytes());  // [n, k] of w.dtype
    copy_to_host(raw.data(), w);
    convert_floats(raw.data(), w.dtype, rows.data(), DType::kF32, n * k);
  }
  const auto row_bytes = static_cast<size_t>(quant_row_bytes(*quantize_to, k));
  std::vector<std::byte> blocks(static_cast<size_t>(n) * row_bytes);  // [n, row_bytes]
  for (int64_t r = 0; r < n; ++r) {
    cpu::quantize_row(*quantize_to, rows.data() + r * k, k,
                      blocks.data() + static_cast<size_t>(r) * row_bytes);
  }
  OwnedTensor q;
  q.buffer = alloc(blocks.size());
  q.tensor = w;
  q.tensor.data = q.buffer.data();
  q.tensor.dtype = *quantize_to;
  check(cudaMemcpy(q.buffer.data(), blocks.data(), blocks.size(), cudaMemcpyHostToDevice),
        "upload of a quantized weight");
  return q;
}

void CudaBackend::synchronize() {
  bind();
  check(cudaStreamSynchronize(stream_), "stream synchronize");
}

std::optional<MemoryInfo> CudaBackend::memory_info() const {
  bind();
  MemoryInfo info;
  check(cudaMemGetInfo(&info.free, &info.total), "cudaMemGetInfo");
  return info;
}

void CudaBackend::reserve_workspace(const WorkspaceLimits& l) {
  bind();
  // Only a caller whose activations differ from the weights' type needs it (the model's do not);
  // sized for 16-bit weights, it grows for f32 ones on first use.
  scratch(gemm_input_, static_cast<size_t>(l.max_tokens * l.max_in_features) * 2);
  scratch(split_kv_,
          decode_attention_workspace_bytes(l.max_seqs, l.num_heads, l.head_dim, l.max_seq_len,
                                           options_.decode_partition_tokens));
}

void* CudaBackend::scratch(Scratch& s, size_t bytes) {
  if (bytes > s.bytes) {
    synchronize();
    check(cudaFree(s.data), "cudaFree");
    s.data = nullptr;
    s.bytes = 0;
    check(cudaMalloc(&s.data, bytes), "cudaMalloc of " + std::to_string(bytes) + " scratch bytes");
    s.bytes = bytes;
  }
  return s.data;
}

void CudaBackend::check_launch(const char* op) {
  check(cudaGetLastError(), std::string("launch of ") + op);
}

void CudaBackend::embedding(Tensor table, Tensor ids, Tensor out) {
  bind();
  const cudaDataType out_type = activation_type(*this, out, "embedding output");
  if (dtype_is_quantized(table.dtype)) {
    expect_f32(*this, out, "a quantized table's embedding output");
    // A GGUF file's quantized table: the gathered rows dequantized (zeros for ids < 0).
    expect(*this,
           llm::cuda::quant_embedding(table.data, table.dtype, ids.as<int>(), ids.numel(),
                                      table.size(1), out.as<float>(), stream_),
           "embedding table dtype");
    check_launch("quant_embedding");
    return;
  }
  llm::cuda::embedding(table.data, cuda_type(table.dtype), ids.as<int>(), ids.numel(),
                       table.size(1), out.data, out_type, stream_);
  check_launch("embedding");
}

void CudaBackend::rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) {
  bind();
  expect_f32(*this, x, "rmsnorm input");
  expect_f32(*this, weight, "rmsnorm weight");
  llm::cuda::rmsnorm(x.as<float>(), weight.as<float>(), x.size(0), x.size(1), eps, out.data,
                     activation_type(*this, out, "rmsnorm output"), stream_);
  check_launch("rmsnorm");
}

void CudaBackend::gelu_tanh_mul(Tensor gate_up, Tensor out) {
  bind();
  const cudaDataType type = activation_type(*this, gate_up, "gelu_tanh_mul input");
  expect(*this, out.dtype == gate_up.dtype, "gelu_tanh_mul output of the input's dtype");
  llm::cuda::gelu_tanh_mul(gate_up.data, gate_up.size(0), gate_up.size(1) / 2, out.data, type,
                           stream_);
  check_launch("gelu_tanh_mul");
}

void CudaBackend::scale(Tensor x, float c) {
  bind();
  expect_f32(*this, x, "scale input");
  llm::cuda::scale(x.as<float>(), x.numel(), c, stream_);
  check_launch("scale");
}

void CudaBackend::softcap(Tensor x, float cap) {
  bind();
  expect_f32(*this, x, "softcap input");
  llm::cuda::softcap(x.as<float>(), x.numel(), cap, stream_);
  check_launch("softcap");
}

void CudaBackend::add_bias(Tensor x, Tensor bias) {
  bind();
  const cudaDataType type = activation_type(*this, x, "add_bias input");
  expect_f32(*this, bias, "bias");
  expect(*this, bias.numel() == x.size(1), "bias length");
  llm::cuda::add_bias(x.data, type, bias.as<float>(), x.size(0), x.size(1), stream_);
  check_launch("add_bias");
}

void CudaBackend::qk_norm(Tensor qkv, Tensor q_weight, Tensor k_weight, float eps,
                          const AttentionShape& s) {
  bind();
  const cudaDataType type = activation_type(*this, qkv, "qk_norm input");
  const int row_heads = s.num_heads + 2 * s.num_kv_heads;
  expect(*this, qkv.size(1) == static_cast<int64_t>(row_heads) * s.head_dim, "qk_norm qkv width");
  expect(*this, q_weight.numel() == s.head_dim && k_weight.numel() == s.head_dim,
         "qk_norm weights must be [head_dim]");
  llm::cuda::qk_norm(qkv.data, type, q_weight.as<float>(), k_weight.as<float>(), qkv.size(0),
                     row_heads, s.num_heads, s.num_kv_heads, s.head_dim, eps, stream_);
  check_launch("qk_norm");
}

void CudaBackend::add_rmsnorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
  bind();
  expect_f32(*this, residual, "residual");
  expect_f32(*this, delta, "residual delta");
  expect_f32(*this, weight, "rmsnorm weight");
  llm::cuda::add_rmsnorm(residual.as<float>(), delta.as<float>(), weight.as<float>(),
                         residual.size(0), residual.size(1), eps, out.data,
                         activation_type(*this, out, "add_rmsnorm output"), stream_);
  check_launch("add_rmsnorm");
}

// out[T, N] = x[T, K] . w[N, K]^T: quantized weights through kernels/cuda/quant_matmul.h, float
// ones through CudaGemm (cuda_gemm.h, which also says how the row-major problem maps to cuBLAS).
void CudaBackend::matmul(Tensor x, Tensor w, Tensor out) {
  bind();
  expect(*this, w.ndim == 2, "matmul weight must be 2-D");
  const int64_t T = x.size(0), K = x.size(1), N = w.size(0);
  expect(*this, w.size(1) == K && out.size(0) == T && out.size(1) == N,
         "matmul of x [" + std::to_string(T) + ", " + std::to_string(K) + "] by w [" +
             std::to_string(N) + ", " + std::to_string(w.size(1)) + "]");
  if (dtype_is_quantized(w.dtype)) {
    // GGUF blocks, dequantized inside the kernel (kernels/cuda/quant_matmul.h).
    expect_f32(*this, x, "matmul input (quantized weights)");
    expect_f32(*this, out, "matmul output (quantized weights)");
    if (T == 0) return;
    expect(
        *this,
        llm::cuda::quant_matmul(x.as<float>(), T, K, w.data, w.dtype, N, out.as<float>(), stream_),
        "matmul weight dtype");
    check_launch("quant_matmul");
    return;
  }
  gemm(x, w, out, /*accumulate=*/false);
}

bool CudaBackend::matmul_accumulate(Tensor x, Tensor w, Tensor out) {
  if (dtype_is_quantized(w.dtype)) return false;
  bind();
  expect(
      *this,
      w.ndim == 2 && w.size(1) == x.size(1) && out.size(0) == x.size(0) && out.size(1) == w.size(0),
      "matmul_accumulate shapes");
  expect_f32(*this, out, "matmul_accumulate output");
  gemm(x, w, out, /*accumulate=*/true);
  return true;
}

void CudaBackend::gemm(Tensor x, Tensor w, Tensor out, bool accumulate) {
  const int64_t T = x.size(0), K = x.size(1), N = w.size(0);
  const cudaDataType type = cuda_type(w.dtype);
  const cudaDataType x_type = activation_type(*this, x, "matmul input");
  const cudaDataType out_type = activation_type(*this, out, "matmul output");
  // The GEMM's outputs: f32, or the inputs' 16-bit type.
  expect(*this, out_type == CUDA_R_32F || out_type == type,
         "matmul output " + std::string(dtype_name(out.dtype)) + " for " +
             std::string(dtype_name(w.dtype)) + " weights");
  if (T == 0) return;
  const void* b = x.data;
  if (x_type != type) {
    // The GEMM takes A and B of one type: activations of another are converted first (the
    // model's are already the weights' type; this serves other callers).
    void* xin = scratch(gemm_input_, static_cast<size_t>(T * K) * dtype_size(w.dtype));
    convert(x.data, x_type, T * K, xin, type, stream_);
    check_launch("convert");
    b = xin;
  }
  check(gemm_->run(b, w.data, out.data, T, N, K, type, out_type, accumulate), "GEMM");
}

void CudaBackend::rope(Tensor qkv, Tensor positions, Tensor cos_sin, const AttentionShape& s) {
  bind();
  const cudaDataType type = activation_type(*this, qkv, "rope input");
  const int half = static_cast<int>(cos_sin.size(1));  // rotary_dim / 2
  expect(*this, 2 * half <= s.head_dim, "rope table wider than the head");
  llm::cuda::rope(qkv.data, type, qkv.size(0), qkv.size(1), positions.as<int>(),
                  cos_sin.as<float>(), s.num_heads, s.num_kv_heads, s.head_dim, half, stream_);
  check_launch("rope");
}

void CudaBackend::rope_kv_write(Tensor qkv, Tensor positions, Tensor cos_sin, Tensor slot_mapping,
                                Tensor k_cache, Tensor v_cache, const AttentionShape& s) {
  bind();
  const cudaDataType type = activation_type(*this, qkv, "rope input");
  expect(*this, k_cache.dtype == v_cache.dtype, "key and value caches of different types");
  const int half = static_cast<int>(cos_sin.size(1));  // rotary_dim / 2
  expect(*this, 2 * half <= s.head_dim, "rope table wider than the head");
  llm::cuda::rope_kv_write(qkv.data, type, qkv.size(0), qkv.size(1), positions.as<int>(),
                           cos_sin.as<float>(), slot_mapping.as<int>(), s.num_heads, s.num_kv_heads,
                           s.head_dim, half, s.block_size, k_cache.data, v_cache.data,
                           cuda_type(k_cache.dtype), stream_);
  check_launch("rope_kv_write");
}

void CudaBackend::kv_write(Tensor qkv, Tensor slot_mapping, Tensor k_cache, Tensor v_cache,
                           const AttentionShape& s) {
  bind();
  const cudaDataType type = activation_type(*this, qkv, "kv_write input");
  expect(*this, k_cache.dtype == v_cache.dtype, "key and value caches of different types");
  const int64_t q = static_cast<int64_t>(s.num_heads) * s.head_dim;
  const int64_t kv = static_cast<int64_t>(s.num_kv_heads) * s.head_dim;
  llm::cuda::kv_write(qkv.data, type, qkv.size(0), qkv.size(1), q, q + kv, slot_mapping.as<int>(),
                      s.num_kv_heads, s.head_dim, s.block_size, k_cache.data, v_cache.data,
                      cuda_type(k_cache.dtype), stream_);
  check_launch("kv_write");
}

void CudaBackend::attention(Tensor qkv, Tensor k_cache, Tensor v_cache, const AttentionBatch& b,
                            const AttentionShape& s, Tensor out) {
  bind();
  const cudaDataType act_type = activation_type(*this, qkv, "attention input");
  expect(*this, out.dtype == qkv.dtype, "attention output of the input's dtype");
  // 16-bit activations come with a cache of the same type (the kernels are instantiated per
  // cache type and read such activations as that type).
  expect(*this, act_type == CUDA_R_32F || qkv.dtype == k_cache.dtype,
         std::string(dtype_name(qkv.dtype)) + " attention input with a " +
             std::string(dtype_name(k_cache.dtype)) + " cache");
  expect(*this, s.head_dim % 2 == 0 && s.head_dim <= kMaxHeadDim,
         "head_dim " + std::to_string(s.head_dim) + " (must be even and at most " +
             std::to_string(kMaxHeadDim) + ")");
  expect(*this, s.num_kv_heads > 0 && s.num_heads % s.num_kv_heads == 0,
         "num_heads must be a multiple of num_kv_heads");
  auto p = attention_params<PagedAttentionParams>(qkv, k_cache, v_cache, b, s, out);
  p.cache_type = cuda_type(k_cache.dtype);
  p.act_type = act_type;
  // Decode rows (one new token) and prefill rows go to their own kernels; each skips the
  // other's sequences. A single prefill sequence needs no decode launch at all.
  if (!(b.num_seqs == 1 && b.max_query_len > 1)) {
    const int tokens = options_.decode_partition_tokens;
    void* ws = scratch(split_kv_, decode_attention_workspace_bytes(
                                      b.num_seqs, s.num_heads, s.head_dim, b.max_seq_len, tokens));
    decode_attention(p, tokens, static_cast<float*>(ws), stream_);
    check_launch("decode_attention");
  }
  prefill_attention(p, stream_);
  check_launch("prefill_attention");
}

void CudaBackend::silu_mul(Tensor gate_up, Tensor out) {
  bind();
  const cudaDataType type = activation_type(*this, gate_up, "silu_mul input");
  expect(*this, out.dtype == gate_up.dtype, "silu_mul output of the input's dtype");
  llm::cuda::silu_mul(gate_up.data, gate_up.size(0), gate_up.size(1) / 2, out.data, type, stream_);
  check_launch("silu_mul");
}

void CudaBackend::all_reduce_sum(Tensor x) {
  bind();
  expect_f32(*this, x, "all-reduce buffer");
  expect(*this, nccl_ != nullptr, "all-reduce on a backend that is not a tensor-parallel rank");
  check(ncclAllReduce(x.data, x.data, static_cast<size_t>(x.numel()), ncclFloat32, ncclSum, nccl_,
                      stream_),
        "ncclAllReduce");
}

void CudaBackend::all_gather(Tensor in, Tensor out) {
  bind();
  expect(*this, nccl_ != nullptr, "all-gather on a backend that is not a tensor-parallel rank");
  expect_gather(*this, in, out, options_.tp_size);
  check(ncclAllGather(in.data, out.data, static_cast<size_t>(in.numel()), ncclFloat32, nccl_,
                      stream_),
        "ncclAllGather");
}

bool CudaBackend::replay_graph(int64_t key, const std::function<void()>& record) {
  if (!options_.cuda_graphs) return false;
  bind();
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    // One eager run first, as vLLM warms up before capturing: scratch reaches its size for this
    // shape (capture forbids cudaMalloc) and errors surface with their own message. Running the
    // same work again in the graph is harmless: it recomputes the same values.
    record();
    synchronize();
    // Thread-local: tensor-parallel ranks are threads of one process, and a global-mode capture
    // on one would make another rank's cudaMalloc (its own eager warm-up run) fail.
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
          "cudaStreamBeginCapture");
    cudaGraph_t graph = nullptr;
    try {
      record();
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);  // ends the capture; the graph is unusable
      if (graph != nullptr) cudaGraphDestroy(graph);
      cudaGetLastError();
      throw;
    }
    check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(err, "cudaGraphInstantiate");
    it = graphs_.emplace(key, exec).first;
  }
  check(cudaGraphLaunch(it->second, stream_), "cudaGraphLaunch");
  return true;
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
