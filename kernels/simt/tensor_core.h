// The emulator's tensor-core and asynchronous-copy instructions: mma.sync m16n8k16, ldmatrix
// and cp.async with its commit and wait groups, as PTX defines them. kernels/cuda/mma.h wraps
// them (and the real PTX under nvcc) in device functions; kernels call those, not these.
// Included through kernels/simt/simt.h.
//
// What the emulator checks that a GPU does not report:
//   - mma.sync and ldmatrix are .aligned: every lane of the warp must execute the same
//     instruction. A warp that reaches one with lanes missing fails the launch
//     (cudaErrorLaunchFailure) and its results are NaN / 0xFFFF poison.
//   - ldmatrix rows and cp.async destinations must lie in the block's dynamic shared memory and
//     be 16-byte aligned (cp.async: aligned to its size); anything else fails the launch.
//   - A cp.async copy lands only when its thread waits for its group: until then the destination
//     reads 0xFF bytes (NaN in f32, bf16 and f16), so a missing wait, or a wait for the wrong
//     group, reads poison.
//   - Shared-memory bank conflicts of ldmatrix are counted (shared_bank_conflicts()), so a test
//     can require a layout without them.
#pragma once

#include <cstdint>

namespace llm::simt {

enum class MmaInput : std::uint8_t { kBf16, kF16 };

// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32 d, a, b, c (d = a * b + c),
// a: 4 registers of 2 halves, b: 2, c and d: 4 floats (PTX's fragment layouts).
void mma_m16n8k16(MmaInput type, float* d, const std::uint32_t* a, const std::uint32_t* b,
                  const float* c);

// ldmatrix.sync.aligned.m8n8.x{1,2,4}{,.trans}.shared.b16 regs, [row]: `count` 8x8 matrices of
// 16-bit elements; lanes 8i..8i+7 give the row addresses of matrix i.
void ldmatrix(int count, bool trans, std::uint32_t* regs, const void* row);

// cp.async.{ca,cg}.shared.global [dst], [src], bytes, src_bytes: copies src_bytes (<= bytes) and
// fills the rest of `bytes` with zeros. bytes is 4, 8 or 16.
void cp_async(void* dst, const void* src, int bytes, int src_bytes);
void cp_async_commit_group();
// cp.async.wait_group n: the thread's copies land except those of its `n` newest groups.
void cp_async_wait_group(int n);

// ldmatrix wavefronts beyond one per 8x8 matrix, since the process started (a count of bank
// conflicts: rows of one matrix in the same 16-byte bank group of a 128-byte line).
std::uint64_t shared_bank_conflicts();

}  // namespace llm::simt
