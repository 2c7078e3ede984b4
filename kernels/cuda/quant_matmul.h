// Host entry points of the dequantizing CUDA kernels for GGUF's block-quantized weights (Q8_0,
// Q4_0, Q4_1, Q4_K, Q5_K, Q6_K; device pointers, asynchronous on `stream`).
//
// A quantized weight [N, K] is row-major GGUF blocks (kernels/quant_decode.h): row n is
// ceil(K / B) consecutive blocks of B = 32 (Q8_0, Q4_0, Q4_1) or 256 (K-quants) elements,
// row_bytes = ceil(K / B) * block bytes apart. A GGUF file's K is a multiple of B; a weight
// quantized here (--quantization) may end in a block padded with zeros, as the CPU's is. Each
// element reads back exactly as kernels/cpu/quant_blocks.cpp's dequantize_blocks gives it.
#pragma once

#include "kernels/cuda/cuda_api.h"
#include "llm/dtype.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// Bytes of one row of K elements of the quantized `type`, padded to whole blocks.
inline long long quant_row_bytes(DType type, long long K) {
  const long long block = dtype_block_elems(type);
  return (K + block - 1) / block * static_cast<long long>(dtype_block_bytes(type));
}

// out[t, n] = sum_k x[t, k] * dequant(w)[n, k], f32 products and sums; x [T, K] f32, w [N, K]
// of the quantized `type` (layout above), out [T, N] f32. T = 1 runs as a GEMV that reads each
// weight byte once; larger T reuses every dequantized weight across a tile of 8 tokens.
// Returns false, launching nothing, when `type` is not block-quantized.
bool quant_matmul(const float* x, long long T, long long K, const void* w, DType type, long long N,
                  float* out, cudaStream_t stream);

// out[i, :] = dequant(table)[ids[i], :]; table [rows, dim] of the quantized `type`, ids
// [num_ids] i32, out [num_ids, dim] f32. ids[i] < 0 gives a zero row (a token whose row
// another tensor-parallel rank holds). Returns false when `type` is not block-quantized.
bool quant_embedding(const void* table, DType type, const int* ids, long long num_ids,
                     long long dim, float* out, cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
