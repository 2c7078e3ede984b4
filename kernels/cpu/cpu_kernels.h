// CPU math for one decoder step, f32: norms, RoPE, cache writes, activations, conversions, and
// the row-major reference matmul (the fast one is packed_matmul.h). Plain loops with a fixed
// reduction order per output element, so a row's result never depends on how many rows are in the
// batch. Layouts are those documented in engine/backend/backend.h.
#pragma once

#include <cstdint>

namespace llm::cpu {

// Dot product of two length-n vectors, summed in a fixed order (8 interleaved partial sums).
float dot(const float* a, const float* b, int64_t n);

// out[t, :] = table[ids[t], :], table [rows, dim]; a negative id gives a zero row.
void embedding(const float* table, const int32_t* ids, int64_t num_tokens, int64_t dim, float* out);
// The same from a 16-bit table (bf16 when `bf16`, else f16), widened to f32.
void embedding_16(const uint16_t* table, bool bf16, const int32_t* ids, int64_t num_tokens,
                  int64_t dim, float* out);

// out[t] = x[t] / rms(x[t]) * w
void rmsnorm(const float* x, const float* w, int64_t num_tokens, int64_t dim, float eps,
             float* out);

// residual[t] += delta[t]; out[t] = rmsnorm(residual[t]) * w
void add_rmsnorm(float* residual, const float* delta, const float* w, int64_t num_tokens,
                 int64_t dim, float eps, float* out);

// out[T, N] = x[T, K] . w[N, K]^T
void matmul(const float* x, const float* w, int64_t T, int64_t K, int64_t N, float* out);

// Rotate-half RoPE on `num_heads` heads starting at column `col0` of each row of `x`
// (row stride `ld`): pairs (i, i + half) for i < half, where 2 * half <= head_dim are the
// rotated dimensions; cos_sin [max_pos, half, 2].
void rope(float* x, int64_t ld, int64_t col0, const int32_t* positions, int64_t num_tokens,
          int num_heads, int head_dim, int half, const float* cos_sin);

// k/v heads of qkv rows -> cache [num_blocks, num_kv_heads, block_size, head_dim] at slots.
void kv_write(const float* qkv, int64_t ld, int64_t k_col0, int64_t v_col0,
              const int32_t* slot_mapping, int64_t num_tokens, int num_kv_heads, int head_dim,
              int block_size, float* k_cache, float* v_cache);

// out[t, f] = silu(gate_up[t, f]) * gate_up[t, F + f]
void silu_mul(const float* gate_up, int64_t num_tokens, int64_t F, float* out);
// out[t, f] = gelu_tanh(gate_up[t, f]) * gate_up[t, F + f] (PyTorch's approximate="tanh").
void gelu_tanh_mul(const float* gate_up, int64_t num_tokens, int64_t F, float* out);
// x[i] = cap * tanh(x[i] / cap) for i < n.
void softcap(float* x, int64_t n, float cap);
// x[t] += bias for num_tokens rows of dim.
void add_bias(float* x, const float* bias, int64_t num_tokens, int64_t dim);
// In place on num_tokens rows of row_heads heads of head_dim: rmsnorm of heads [0, num_q) with
// q_w, of heads [num_q, num_q + num_k) with k_w; the rest (values) untouched.
void qk_norm(float* qkv, const float* q_w, const float* k_w, int64_t num_tokens, int row_heads,
             int num_q, int num_k, int64_t head_dim, float eps);

// Conversions used when uploading checkpoints. To 16 bits: round to nearest, ties to even;
// NaN stays NaN, f16 overflow becomes infinity.
float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float f);
uint16_t f32_to_f16(float f);

}  // namespace llm::cpu
