// Measures this machine's physical limits in-process, in about a second: the memory bandwidth
// that bounds single-stream decode (every weight is read once per step) and the f32 FMA peak
// that bounds batched prefill and decode.
#pragma once

#include <cstddef>
#include <memory>

namespace llm::bench {

struct MachineLimits {
  int threads = 1;                   // cores the all-core figures used
  double bandwidth_gb_per_s = 0;     // all cores reading a buffer far larger than the caches
  double bandwidth_1t_gb_per_s = 0;  // one core, the same read
  double gemm_gflop_per_s = 0;       // all cores, register-tiled f32 FMA on L1-resident tiles
  double gemm_1t_gflop_per_s = 0;    // one core, the same
  double kernel_matmul_gflop_per_s =
      0;                  // the engine's packed bf16 kernel, one thread, 64x1024x1024
  bool avx2_fma = false;  // whether the vector kernels ran (else portable loops)
  // all cores, register-tiled AVX-512 BF16 dot products (0 without the instruction): the peak
  // of the engine's bf16 kernel where it uses them
  double bf16_dot_gflop_per_s = 0;
};

// Best of several runs of each probe; `buffer_mib` sizes the bandwidth buffer.
MachineLimits measure_machine(int buffer_mib = 256);

// The bandwidth and FMA-peak probes on a buffer kept between calls. On a shared machine both
// limits move by 20% or more from one minute to the next, so a benchmark re-measures them right
// before each timed iteration and divides by what the machine allowed at that moment.
class LimitsProbe {
 public:
  explicit LimitsProbe(int buffer_mib = 256);
  ~LimitsProbe();
  LimitsProbe(const LimitsProbe&) = delete;
  LimitsProbe& operator=(const LimitsProbe&) = delete;

  int threads() const { return threads_; }
  bool avx2_fma() const { return avx2_; }
  // Best of `runs`; `threads` 0 means every core.
  double bandwidth_gb_per_s(int runs, int threads = 0);
  double gemm_gflop_per_s(int runs, int threads = 0);
  double bf16_dot_gflop_per_s(int runs, int threads = 0);  // 0 without AVX-512 BF16

  struct AlignedFree {
    void operator()(float* p) const;
  };
  using Floats = std::unique_ptr<float[], AlignedFree>;

 private:
  int threads_;
  bool avx2_;
  size_t floats_;
  Floats buffer_;  // [floats_] f32, far larger than the last-level cache
};

}  // namespace llm::bench
