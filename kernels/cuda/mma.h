// Tensor-core and asynchronous-copy building blocks for sm_80 and later, as device functions:
// mma.sync m16n8k16 (bf16 or f16 in, f32 accumulate), ldmatrix and cp.async. Under nvcc they are
// the PTX instructions; in the host emulator (LLM_SIMT) they are kernels/simt/tensor_core.h's
// emulations, which check what a GPU leaves undefined (see there).
//
// Fragment layouts (PTX ISA, "mma.m16n8k16"; lane l, g = l / 4, t = l % 4):
//   A 16x16 row-major, uint32_t a[4]: {row g, cols 2t..2t+1}, {row g+8, cols 2t..}, {row g,
//     cols 2t+8..}, {row g+8, cols 2t+8..}
//   B 16x8 "col", uint32_t b[2]: {rows 2t..2t+1 of col g}, {rows 2t+8..2t+9 of col g}
//   C/D 16x8 f32, float d[4]: (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)
// ldmatrix: lanes 8i..8i+7 give the 16-byte row addresses of 8x8 matrix i; register i of lane l
// receives row l/4, elements 2(l%4) and 2(l%4)+1 (with .trans: column l/4, rows 2(l%4) and +1).
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// Two 16-bit values of type T in one register, `lo` in the low half (the lower index).
template <typename T>
__device__ inline std::uint32_t pack2(float lo, float hi) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return std::uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(lo))} |
           (std::uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(hi))} << 16);
  } else {
    return std::uint32_t{__half_as_ushort(__float2half_rn(lo))} |
           (std::uint32_t{__half_as_ushort(__float2half_rn(hi))} << 16);
  }
}

// d = a * b + c, with a and b of type T (__nv_bfloat16 or __half).
template <typename T>
__device__ inline void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4],
                                    const std::uint32_t (&b)[2], const float (&c)[4]) {
#if defined(LLM_SIMT)
  ::llm::simt::mma_m16n8k16(
      std::is_same_v<T, __nv_bfloat16> ? ::llm::simt::MmaInput::kBf16 : ::llm::simt::MmaInput::kF16,
      d, a, b, c);
#else
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
          "f"(c[2]), "f"(c[3]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
          "f"(c[2]), "f"(c[3]));
  }
#endif
}

#if !defined(LLM_SIMT)
__device__ inline unsigned shared_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
#endif

// ldmatrix .x4 / .x2 / .x1, without and with .trans; `row` is this lane's row address.
template <bool kTrans>
__device__ inline void ldmatrix_x4(std::uint32_t (&r)[4], const void* row) {
#if defined(LLM_SIMT)
  ::llm::simt::ldmatrix(4, kTrans, r, row);
#else
  if constexpr (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
  }
#endif
}
template <bool kTrans>
__device__ inline void ldmatrix_x2(std::uint32_t (&r)[2], const void* row) {
#if defined(LLM_SIMT)
  ::llm::simt::ldmatrix(2, kTrans, r, row);
#else
  if constexpr (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(shared_address(row)));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(shared_address(row)));
  }
#endif
}
template <bool kTrans>
__device__ inline void ldmatrix_x1(std::uint32_t& r, const void* row) {
#if defined(LLM_SIMT)
  ::llm::simt::ldmatrix(1, kTrans, &r, row);
#else
  if constexpr (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
                 : "=r"(r)
                 : "r"(shared_address(row)));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n"
                 : "=r"(r)
                 : "r"(shared_address(row)));
  }
#endif
}

// cp.async.cg of 16 bytes from global to shared memory; when !valid nothing is read (src may be
// any pointer) and the 16 bytes are zeros. The copy lands at the cp_async_wait that covers its
// group, and other threads see it after a __syncthreads that follows that wait.
__device__ inline void cp_async_16(void* smem, const void* gmem, bool valid) {
#if defined(LLM_SIMT)
  ::llm::simt::cp_async(smem, gmem, 16, valid ? 16 : 0);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(smem)),
               "l"(gmem), "r"(valid ? 16 : 0));
#endif
}
__device__ inline void cp_async_commit() {
#if defined(LLM_SIMT)
  ::llm::simt::cp_async_commit_group();
#else
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
// Waits until at most kPending of this thread's newest groups are still in flight.
template <int kPending>
__device__ inline void cp_async_wait() {
#if defined(LLM_SIMT)
  ::llm::simt::cp_async_wait_group(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
#endif
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
