// mma.sync, ldmatrix and cp.async in the emulator (see tensor_core.h for what is checked).
//
// Fragment layouts, from the PTX ISA ("Matrix fragments for mma.m16n8k16"): lane l is in group
// g = l / 4 with index t = l % 4 inside it.
//   A (16x16, row-major), 4 registers of 2 halves: reg 0 row g, cols 2t, 2t+1; reg 1 row g+8,
//     cols 2t, 2t+1; reg 2 row g, cols 2t+8, 2t+9; reg 3 row g+8, cols 2t+8, 2t+9.
//   B (16x8, "col"), 2 registers: reg 0 rows 2t, 2t+1 of col g; reg 1 rows 2t+8, 2t+9 of col g.
//   C, D (16x8 f32), 4 floats: rows g, g, g+8, g+8; cols 2t, 2t+1, 2t, 2t+1.
// The lower half of a register holds the lower column (A) or row (B) index.
// ldmatrix ("Warp-level matrix load instruction: ldmatrix"): register i of lane l holds row l/4,
// elements 2(l%4) and 2(l%4)+1 of matrix i; with .trans, elements (2(l%4), l/4) and
// (2(l%4)+1, l/4).

#include <cstdio>
#include <cstring>

#include "kernels/cuda/cuda_api.h"
#include "kernels/simt/async_copy.h"

namespace llm::simt {
namespace {

std::atomic<std::uint64_t> g_bank_conflicts{0};

float half_to_f32(MmaInput type, std::uint16_t bits) {
  if (type == MmaInput::kBf16) return std::bit_cast<float>(std::uint32_t{bits} << 16);
  __half_raw raw;
  raw.x = bits;
  return __half2float(__half(raw));
}

std::uint16_t half_of(std::uint32_t reg, int which) {
  return static_cast<std::uint16_t>(which == 0 ? reg & 0xffffu : reg >> 16);
}

void report_partial_warp(const char* what, unsigned present, unsigned warp) {
  std::fprintf(stderr,
               "simt: %s in block (%u,%u,%u) warp %u reached by lanes 0x%08x only; it is .aligned "
               "(every lane of the warp must execute it)\n",
               what, blockIdx.x, blockIdx.y, blockIdx.z, warp, present);
  record_launch_error(cudaErrorLaunchFailure);
}

struct MmaLane {
  MmaInput type;
  float* d;
  const std::uint32_t* a;
  const std::uint32_t* b;
  const float* c;
};

void mma_collective(void* const lanes[32], unsigned present, unsigned warp) {
  if (present != 0xffffffffu) {
    report_partial_warp("mma.sync", present, warp);
    for (int l = 0; l < 32; ++l) {
      if (auto* m = static_cast<MmaLane*>(lanes[l])) {
        for (int i = 0; i < 4; ++i) m->d[i] = std::numeric_limits<float>::quiet_NaN();
      }
    }
    return;
  }
  const MmaInput type = static_cast<MmaLane*>(lanes[0])->type;
  float a[16][16], b[16][8], c[16][8];
  for (int l = 0; l < 32; ++l) {
    const auto* m = static_cast<MmaLane*>(lanes[l]);
    const int g = l / 4, t = l % 4;
    for (int reg = 0; reg < 4; ++reg) {
      const int row = g + 8 * (reg & 1), col = 2 * t + 8 * (reg >> 1);
      for (int h = 0; h < 2; ++h) a[row][col + h] = half_to_f32(type, half_of(m->a[reg], h));
    }
    for (int reg = 0; reg < 2; ++reg) {
      for (int h = 0; h < 2; ++h)
        b[2 * t + 8 * reg + h][g] = half_to_f32(type, half_of(m->b[reg], h));
    }
    for (int i = 0; i < 4; ++i) c[g + 8 * (i / 2)][2 * t + i % 2] = m->c[i];
  }
  for (int l = 0; l < 32; ++l) {
    const auto* m = static_cast<MmaLane*>(lanes[l]);
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
      // Products of two 16-bit floats are exact in f32; the sum is f32 in k order.
      float acc = c[row][col];
      for (int k = 0; k < 16; ++k) acc = std::fma(a[row][k], b[k][col], acc);
      m->d[i] = acc;
    }
  }
}

struct LdmatrixLane {
  int count;
  bool trans;
  std::uint32_t* regs;
  const void* row;
};

void ldmatrix_collective(void* const lanes[32], unsigned present, unsigned warp) {
  const auto* first = static_cast<LdmatrixLane*>(lanes[__builtin_ctz(present)]);
  const int count = first->count;
  const bool trans = first->trans;
  bool ok = present == 0xffffffffu;
  if (!ok) report_partial_warp("ldmatrix", present, warp);
  for (int l = 0; ok && l < 32; ++l) {
    const auto* m = static_cast<LdmatrixLane*>(lanes[l]);
    if (m->count != count || m->trans != trans) {
      std::fprintf(stderr, "simt: ldmatrix in warp %u: lanes disagree on .x%d/.trans\n", warp,
                   count);
      record_launch_error(cudaErrorLaunchFailure);
      ok = false;
    }
  }
  // The 8x8 matrices as 16-bit patterns, read through the row addresses of lanes 0..8*count-1.
  std::uint16_t mat[4][8][8];
  for (int i = 0; ok && i < count; ++i) {
    int bank_groups[8] = {};
    int worst = 0;
    for (int r = 0; r < 8; ++r) {
      const void* row = static_cast<LdmatrixLane*>(lanes[8 * i + r])->row;
      if (reinterpret_cast<std::uintptr_t>(row) % 16 != 0 || !in_dynamic_shared_memory(row, 16)) {
        std::fprintf(stderr,
                     "simt: ldmatrix in block (%u,%u,%u) warp %u: row address %p of lane %d is "
                     "not 16-byte aligned shared memory\n",
                     blockIdx.x, blockIdx.y, blockIdx.z, warp, row, 8 * i + r);
        record_launch_error(cudaErrorLaunchFailure);
        ok = false;
        break;
      }
      std::memcpy(mat[i][r], row, 16);
      // 32 banks of 4 bytes: a 16-byte row covers one of 8 bank groups. Rows that share a group
      // (at different addresses) take one more wavefront each.
      bool same_as_earlier = false;
      for (int e = 0; e < r; ++e) {
        same_as_earlier |= static_cast<LdmatrixLane*>(lanes[8 * i + e])->row == row;
      }
      if (!same_as_earlier) {
        const int group = static_cast<int>((reinterpret_cast<std::uintptr_t>(row) / 16) % 8);
        worst = std::max(worst, ++bank_groups[group]);
      }
    }
    if (worst > 1) g_bank_conflicts.fetch_add(static_cast<std::uint64_t>(worst - 1));
  }
  for (int l = 0; l < 32; ++l) {
    auto* m = static_cast<LdmatrixLane*>(lanes[l]);
    if (m == nullptr) continue;
    for (int i = 0; i < m->count; ++i) {
      if (!ok) {
        m->regs[i] = 0xffffffffu;
        continue;
      }
      const int r = l / 4, c = 2 * (l % 4);
      const std::uint16_t lo = trans ? mat[i][c][r] : mat[i][r][c];
      const std::uint16_t hi = trans ? mat[i][c + 1][r] : mat[i][r][c + 1];
      m->regs[i] = std::uint32_t{lo} | (std::uint32_t{hi} << 16);
    }
  }
}

void land(detail::AsyncCopies::Copy& c) {
  std::memcpy(c.dst, c.data.data(), static_cast<std::size_t>(c.bytes));
}

}  // namespace

void mma_m16n8k16(MmaInput type, float* d, const std::uint32_t* a, const std::uint32_t* b,
                  const float* c) {
  MmaLane lane{type, d, a, b, c};
  // d may alias c (d = a * b + d): every lane's c is read before any d is written.
  detail::warp_collective(&mma_collective, &lane);
}

void ldmatrix(int count, bool trans, std::uint32_t* regs, const void* row) {
  LdmatrixLane lane{count, trans, regs, row};
  detail::warp_collective(&ldmatrix_collective, &lane);
}

void cp_async(void* dst, const void* src, int bytes, int src_bytes) {
  const auto where = reinterpret_cast<std::uintptr_t>(dst);
  if ((bytes != 4 && bytes != 8 && bytes != 16) || src_bytes < 0 || src_bytes > bytes ||
      where % static_cast<unsigned>(bytes) != 0 ||
      (src_bytes > 0 &&
       reinterpret_cast<std::uintptr_t>(src) % static_cast<unsigned>(bytes) != 0) ||
      !in_dynamic_shared_memory(dst, static_cast<std::size_t>(bytes))) {
    std::fprintf(stderr,
                 "simt: cp.async in block (%u,%u,%u) thread (%u,%u,%u): %d bytes (%d from the "
                 "source) from %p to %p: the destination must be shared memory and both aligned "
                 "to the size (4, 8 or 16)\n",
                 blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z, bytes,
                 src_bytes, src, dst);
    record_launch_error(cudaErrorLaunchFailure);
    return;
  }
  detail::AsyncCopies& state = detail::current_async_copies();
  detail::AsyncCopies::Copy copy;
  copy.dst = dst;
  copy.bytes = bytes;
  copy.group = state.committed;
  std::memcpy(copy.data.data(), src, static_cast<std::size_t>(src_bytes));
  // Until the wait, the destination holds poison.
  std::memset(dst, 0xFF, static_cast<std::size_t>(bytes));
  state.pending.push_back(copy);
}

void cp_async_commit_group() {
  ++detail::current_async_copies().committed;
}

void cp_async_wait_group(int n) {
  detail::AsyncCopies& state = detail::current_async_copies();
  std::erase_if(state.pending, [&](detail::AsyncCopies::Copy& c) {
    if (c.group >= state.committed - n) return false;  // uncommitted, or among the n newest
    land(c);
    return true;
  });
}

std::uint64_t shared_bank_conflicts() {
  return g_bank_conflicts.load();
}

}  // namespace llm::simt
