// Measures this machine's physical limits in-process, in about a second: the memory bandwidth
// that bounds single-stream decode (every weight is read once per step) and the f32 FMA peak
// that bounds batched prefill and decode.
#pragma once

namespace llm::bench {

struct MachineLimits {
  int threads = 1;                       // cores the all-core figures used
  double bandwidth_gb_per_s = 0;         // all cores reading a buffer far larger than the caches
  double bandwidth_1t_gb_per_s = 0;      // one core, the same read
  double gemm_gflop_per_s = 0;           // all cores, register-tiled f32 FMA on L1-resident tiles
  double gemm_1t_gflop_per_s = 0;        // one core, the same
  double kernel_matmul_gflop_per_s = 0;  // the engine's packed bf16 kernel, one thread, 64x1024x1024
  bool avx2_fma = false;                 // whether the vector kernels ran (else portable loops)
};

// Best of several runs of each probe; `buffer_mib` sizes the bandwidth buffer.
MachineLimits measure_machine(int buffer_mib = 256);

}  // namespace llm::bench
