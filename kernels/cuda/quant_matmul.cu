// Dequantizing matmul and embedding gather for GGUF's block-quantized weights: each weight is
// decoded to f32 with kernels/quant_decode.h's formulas (the CPU's dequantize_blocks, bit for
// bit) right before it is used, and the products and sums are f32.
//
// Work split: a group of `lanes` threads (a power of two, at most a warp) owns one output row n;
// lane l decodes the 32-element sub-blocks l, l + lanes, ... of the row (a Q8_0/Q4_0/Q4_1 block,
// or one eighth of a K-quant super-block) and dots each with the tile's tokens; the group's
// partial sums meet through warp shuffles. The group is as wide as the row has sub-blocks, up to
// 32: short rows (stories260K's K = 64 is two sub-blocks) would leave most of a warp idle, and
// the emulator pays for every thread it runs. T = 1 is the GEMV (each weight byte is read by one
// warp, once); for T > 1 a thread keeps kTokenTile accumulators and uses each decoded weight
// for all of them, so a row is read once per kTokenTile tokens.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/quant_matmul.h"
// (launch.h and quant_matmul.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"
#include "kernels/quant_decode.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

namespace {

constexpr int kTokenTile = 8;  // tokens per thread when T > 1
constexpr int kMaxThreads = 128;
constexpr int kSub = quant::kSub;

}  // namespace

// y [32] = sub-block s of a row of Blocks (the row's elements [32 s, 32 s + 32)).
template <class Block>
__device__ inline void dequant_row_sub(const unsigned char* row, long long s, float* y) {
  constexpr int subs = quant::kSubsPerBlock<Block>;
  const Block& b = reinterpret_cast<const Block*>(row)[s / subs];
  quant::dequant_sub(b, static_cast<int>(s % subs), y);
}

// Grid: x over groups of blockDim.x / lanes rows, y over tiles of kTile tokens.
// x [T, K] f32, w [N, row_bytes] blocks, out [T, N] f32.
template <class Block, int kTile>
__global__ void quant_matmul_kernel(const float* x, long long T, long long K,
                                    const unsigned char* w, long long row_bytes, long long N,
                                    int lanes, float* out) {
  const int lane = static_cast<int>(threadIdx.x) % lanes;
  const long long n =
      static_cast<long long>(blockIdx.x) * (blockDim.x / lanes) + threadIdx.x / lanes;
  const long long t0 = static_cast<long long>(blockIdx.y) * kTile;
  const int tokens = T - t0 < kTile ? static_cast<int>(T - t0) : kTile;  // same in the warp
  float acc[kTile];  // [kTile]: this lane's share of out[t0 + t, n]
  for (int t = 0; t < kTile; ++t) acc[t] = 0.0f;
  if (n < N) {
    const unsigned char* row = w + n * row_bytes;
    const long long subs = (K + kSub - 1) / kSub;
    float y[kSub];  // [32]: the decoded sub-block
    for (long long s = lane; s < subs; s += lanes) {
      dequant_row_sub<Block>(row, s, y);
      const long long k0 = s * kSub;
      const int valid = K - k0 < kSub ? static_cast<int>(K - k0) : kSub;  // a padded last block
      for (int t = 0; t < kTile; ++t) {  // fixed trip counts keep acc in registers too
        if (t >= tokens) break;
        const float* xs = x + (t0 + t) * K + k0;
        float part = 0.0f;  // one sub-block's dot, then added: short f32 chains
        // A fixed trip count (nvcc unrolls it and keeps y in registers); columns past K, a
        // padded last block, count as x = 0.
        for (int i = 0; i < kSub; ++i) part += (i < valid ? xs[i] : 0.0f) * y[i];
        acc[t] += part;
      }
    }
  }
  // Every lane of the warp takes part in the shuffles, rows past N included, and `tokens` is the
  // same for all of them: the mask is the whole warp, and `width` keeps each group's sums apart.
  for (int t = 0; t < kTile; ++t) {
    if (t >= tokens) break;
    float v = acc[t];
    for (int o = lanes / 2; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o, lanes);
    if (lane == 0 && n < N) out[(t0 + t) * N + n] = v;
  }
}

// One block per gathered row; threads over its sub-blocks. table [rows, row_bytes] blocks,
// ids [gridDim.x], out [gridDim.x, dim] f32.
template <class Block>
__global__ void quant_embedding_kernel(const unsigned char* table, long long row_bytes,
                                       const int* ids, long long dim, float* out) {
  const long long r = blockIdx.x;
  const int id = ids[r];
  const long long subs = (dim + kSub - 1) / kSub;
  float y[kSub];  // [32]
  for (long long s = threadIdx.x; s < subs; s += blockDim.x) {
    const long long k0 = s * kSub;
    const int valid = dim - k0 < kSub ? static_cast<int>(dim - k0) : kSub;
    if (id >= 0) dequant_row_sub<Block>(table + id * row_bytes, s, y);
    for (int i = 0; i < kSub; ++i) {
      if (i < valid) out[r * dim + k0 + i] = id >= 0 ? y[i] : 0.0f;
    }
  }
}

namespace {

// Threads for `work` threads' worth of work: whole warps, 32..kMaxThreads.
int threads_for(long long work) {
  const long long t = (work + 31) / 32 * 32;
  return static_cast<int>(t < 32 ? 32 : (t > kMaxThreads ? kMaxThreads : t));
}

template <class Block>
void launch_matmul(const float* x, long long T, long long K, const void* w, long long row_bytes,
                   long long N, float* out, cudaStream_t stream) {
  const long long subs = (K + kSub - 1) / kSub;
  int lanes = 1;
  while (lanes < subs && lanes < 32) lanes *= 2;
  const int threads = threads_for(N * lanes);
  const long long rows_per_block = threads / lanes;
  const auto row_blocks = static_cast<unsigned>((N + rows_per_block - 1) / rows_per_block);
  const auto* wb = static_cast<const unsigned char*>(w);
  if (T == 1) {
    auto* k = &quant_matmul_kernel<Block, 1>;
    LLM_LAUNCH(k, dim3(row_blocks, 1), threads, 0, stream, x, T, K, wb, row_bytes, N, lanes, out);
  } else {
    const auto tiles = static_cast<unsigned>((T + kTokenTile - 1) / kTokenTile);
    auto* k = &quant_matmul_kernel<Block, kTokenTile>;
    LLM_LAUNCH(k, dim3(row_blocks, tiles), threads, 0, stream, x, T, K, wb, row_bytes, N, lanes,
               out);
  }
}

template <class Block>
void launch_embedding(const void* table, long long row_bytes, const int* ids, long long num_ids,
                      long long dim, float* out, cudaStream_t stream) {
  auto* k = &quant_embedding_kernel<Block>;
  LLM_LAUNCH(k, static_cast<unsigned>(num_ids), threads_for((dim + kSub - 1) / kSub), 0, stream,
             static_cast<const unsigned char*>(table), row_bytes, ids, dim, out);
}

template <class B>
struct BlockTag {
  using type = B;
};

// Calls f(BlockTag<Block>{}) with the block struct of `type` (a generic lambda: nvcc compiles
// this file as C++17); false for a type that is not block-quantized.
template <class F>
bool with_block(DType type, F&& f) {
  switch (type) {
    case DType::kQ8_0:
      f(BlockTag<quant::BlockQ8_0>{});
      return true;
    case DType::kQ4_0:
      f(BlockTag<quant::BlockQ4_0>{});
      return true;
    case DType::kQ4_1:
      f(BlockTag<quant::BlockQ4_1>{});
      return true;
    case DType::kQ4_K:
      f(BlockTag<quant::BlockQ4_K>{});
      return true;
    case DType::kQ5_K:
      f(BlockTag<quant::BlockQ5_K>{});
      return true;
    case DType::kQ6_K:
      f(BlockTag<quant::BlockQ6_K>{});
      return true;
    default:
      return false;
  }
}

}  // namespace

bool quant_matmul(const float* x, long long T, long long K, const void* w, DType type, long long N,
                  float* out, cudaStream_t stream) {
  if (!dtype_is_quantized(type)) return false;
  if (T == 0 || N == 0) return true;
  const long long row_bytes = quant_row_bytes(type, K);
  return with_block(type, [&](auto tag) {
    launch_matmul<typename decltype(tag)::type>(x, T, K, w, row_bytes, N, out, stream);
  });
}

bool quant_embedding(const void* table, DType type, const int* ids, long long num_ids,
                     long long dim, float* out, cudaStream_t stream) {
  if (!dtype_is_quantized(type)) return false;
  if (num_ids == 0) return true;
  const long long row_bytes = quant_row_bytes(type, dim);
  return with_block(type, [&](auto tag) {
    launch_embedding<typename decltype(tag)::type>(table, row_bytes, ids, num_ids, dim, out,
                                                   stream);
  });
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
