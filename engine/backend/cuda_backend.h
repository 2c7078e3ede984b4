// CudaBackend: the Backend on a CUDA device. Weights keep the checkpoint layout ([N, K]
// row-major) in f32, bf16 or f16. Activations between GEMMs are of the weights' type where that
// is 16-bit (activation_dtype), so the GEMMs (cuBLASLt) read them as they are and write their
// output in that type, with f32 compute; the output projections add into the f32 residual stream
// inside the GEMM (beta = 1). Block-quantized weights (a GGUF file's, or --quantization's) stay
// GGUF's row-major blocks and are dequantized inside kernels/cuda/quant_matmul.cu's kernels, on f32
// activations. The KV cache stores the weight type. All work is queued on one stream. A split
// model's ranks each own a device and sum or gather through NCCL on that stream; decode steps can
// be replayed as CUDA graphs.
//
// The same source builds twice (see kernels/cuda/cuda_api.h): against the CUDA runtime, cuBLAS
// and NCCL (llm_backend_cuda) and against the host SIMT emulator (llm_backend_simt); the inline
// namespace keeps the two classes apart in one binary.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda_backend_factory.h"
#include "engine/backend/cuda_gemm.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/sampling.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

class CudaBackend final : public Backend {
 public:
  // `name`: "cuda", or "simt" for the emulator build.
  CudaBackend(const CudaBackendOptions& options, std::string name);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return name_; }

  Buffer alloc(size_t bytes) override;
  Buffer alloc_host(size_t bytes) override;  // cudaHostAlloc: page-locked
  void copy_from_host(Tensor dst, const void* src) override;
  void copy_to_host(void* dst, Tensor src) override;
  void upload(const HostTensor& src, Tensor dst) override;
  void synchronize() override;
  std::optional<MemoryInfo> memory_info() const override;
  void reserve_workspace(const WorkspaceLimits& limits) override;
  // The weights' own type: f32 models keep an exact f32 cache, 16-bit ones halve it.
  DType kv_cache_dtype(DType weight_dtype) const override { return weight_dtype; }
  // The weights' own type too when it is 16-bit: the GEMMs then read activations as they are and
  // write them rounded once (f32 accumulation inside every kernel and GEMM).
  DType activation_dtype(DType weight_dtype) const override {
    return weight_dtype == DType::kBF16 || weight_dtype == DType::kF16 ? weight_dtype : DType::kF32;
  }
  // Every block-quantized type: kernels/cuda/quant_matmul.h dequantizes GGUF's blocks as it
  // multiplies, and gathers embedding rows from them.
  bool computes_on(DType t) const override { return dtype_is_quantized(t); }
  // Only quantization (--quantization: Q8_0 or Q4_0, with the CPU backend's quantizer) makes a
  // new weight; float and quantized weights are used as they were uploaded.
  std::optional<OwnedTensor> prepare_linear_weight(
      const Tensor& w, std::optional<DType> quantize_to = std::nullopt) override;

  void embedding(Tensor table, Tensor ids, Tensor out) override;
  void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) override;
  void add_rmsnorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) override;
  void matmul(Tensor x, Tensor w, Tensor out) override;
  // The GEMM with beta = 1 into the f32 residual (float weights; not block-quantized ones).
  bool matmul_accumulate(Tensor x, Tensor w, Tensor out) override;
  void rope(Tensor qkv, Tensor positions, Tensor cos_sin, const AttentionShape& shape) override;
  void rope_kv_write(Tensor qkv, Tensor positions, Tensor cos_sin, Tensor slot_mapping,
                     Tensor k_cache, Tensor v_cache, const AttentionShape& shape) override;
  void kv_write(Tensor qkv, Tensor slot_mapping, Tensor k_cache, Tensor v_cache,
                const AttentionShape& shape) override;
  void attention(Tensor qkv, Tensor k_cache, Tensor v_cache, const AttentionBatch& batch,
                 const AttentionShape& shape, Tensor out) override;
  void silu_mul(Tensor gate_up, Tensor out) override;
  void gelu_tanh_mul(Tensor gate_up, Tensor out) override;
  void scale(Tensor x, float c) override;
  void softcap(Tensor x, float cap) override;
  void add_bias(Tensor x, Tensor bias) override;
  void qk_norm(Tensor qkv, Tensor q_weight, Tensor k_weight, float eps,
               const AttentionShape& shape) override;

  void all_reduce_sum(Tensor x) override;
  void all_gather(Tensor in, Tensor out) override;
  bool replay_graph(int64_t key, const std::function<void()>& record) override;
  // Through kernels/cuda/sampling.h, on logits [rows, vocab] f32.
  bool argmax(Tensor logits, Tensor ids) override;
  bool sample(Tensor logits, std::span<const RowSampling> rows, Tensor ids, Tensor lp_values,
              Tensor lp_ids) override;

  // One backend per rank of a model split over `size` devices (rank r on device r): NCCL's
  // unique id is made here and every rank joins on its own thread, as ncclCommInitRank needs.
  static std::vector<std::unique_ptr<Backend>> make_group(const CudaBackendOptions& options,
                                                          int size, const std::string& name);

 private:
  // Device scratch that only grows: at most once per new maximum, which reserve_workspace
  // reaches before the first step. Growing waits for the stream, as the old memory may be in use.
  struct Scratch {
    void* data = nullptr;
    size_t bytes = 0;
  };
  void* scratch(Scratch& s, size_t bytes);
  void check_launch(const char* op);
  // out (+)= x . w^T through cuBLASLt (float weights); accumulate: beta = 1, C = D = out.
  void gemm(Tensor x, Tensor w, Tensor out, bool accumulate);
  // Makes this backend's device current on the calling thread: ranks are driven from several
  // threads, and CUDA's current device is per thread.
  void bind() const;

  std::string name_;
  CudaBackendOptions options_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<CudaGemm> gemm_;  // matmul's float GEMMs (cuBLASLt)
  // x converted to the weight dtype when the two differ: [T, K] of the weight dtype
  Scratch gemm_input_;
  Scratch sample_rows_;        // sample()'s per-row parameters (kernels/cuda/sampling.h)
  Scratch penalty_tokens_;     // sample()'s penalised token ids and output counts
  Scratch penalised_logits_;   // sample()'s logits after penalties [rows, vocab]
  // sample()'s host-side staging of the same: per-row parameters; every row's penalised ids,
  // then every row's output counts.
  std::vector<llm::cuda::SampleRow> sample_rows_host_;
  std::vector<int32_t> penalty_tokens_host_;
  Scratch split_kv_;           // decode_attention's partial outputs (kernels/cuda/attention.h)
  Scratch cublas_workspace_;   // given to cuBLAS so a captured GEMM never allocates
  ncclComm_t nccl_ = nullptr;  // with tp_size > 1
  std::map<int64_t, cudaGraphExec_t> graphs_;  // replay_graph's, by key
};

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
