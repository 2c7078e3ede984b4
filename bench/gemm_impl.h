// The matrix-product implementations `llm-bench gemm` compares at a model's shapes: the engine's
// own packed kernels and, in a build configured with -DLLM_BENCH_LIBRARIES=ON, OpenBLAS and
// oneDNN. Every one computes out[T, n] = x[T, k] . W[n, k]^T with f32 activations and output.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llm::bench {

// One implementation holding a set of weights in its own format.
class GemmImpl {
 public:
  virtual ~GemmImpl() = default;

  // Takes row-major f32 w [n, k] and keeps it the way this implementation multiplies it
  // (packed, converted to bf16, reordered). Returns the weight's index for run().
  virtual size_t add_weight(const float* w, int64_t n, int64_t k) = 0;

  // out [T, n] (row-major) = x [T, k] (row-major) . W_i^T.
  virtual void run(size_t i, const float* x, int64_t T, float* out) = 0;

  // Bytes per weight element as held (2 for bf16): what a T = 1 product must stream.
  virtual double weight_bytes() const = 0;

  // What the library chose for the last run (oneDNN's implementation name), if it says.
  virtual std::string chosen_kernel() const { return {}; }

  // Whether the product rounds x to bf16 before multiplying (a bf16 GEMM, or the engine's AVX-512
  // BF16 kernel): the float64 reference then rounds x too, so the error shown is the kernel's.
  virtual bool rounds_activations_to_bf16() const { return false; }
};

// The implementations this build has, by name: "engine-f32", "engine-bf16", and with the
// libraries "openblas-sgemm", "onednn-f32", "onednn-bf16".
std::vector<std::string> gemm_impl_names();

// A new implementation running on `threads` threads (the engine's own pool, OpenBLAS's
// threads or oneDNN's OpenMP team). Throws llm::Error for a name this build lacks.
std::unique_ptr<GemmImpl> make_gemm_impl(const std::string& name, int threads);

// w rounded to bf16 (nearest, ties to even), as every bf16 implementation holds its weights.
std::vector<uint16_t> to_bf16(const float* w, size_t n);

// Whether the build carries OpenBLAS and oneDNN, and their versions, for the report.
std::string gemm_libraries_info();

// Engine kernels (gemm_impl_engine.cpp) and libraries (gemm_impl_libraries.cpp).
std::unique_ptr<GemmImpl> make_engine_gemm(bool bf16, int threads);
std::unique_ptr<GemmImpl> make_library_gemm(const std::string& name, int threads);
std::vector<std::string> library_gemm_names();

}  // namespace llm::bench
