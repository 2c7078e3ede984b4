// Shared pieces of the backend conformance suite: which backends it runs on, host<->backend
// tensor helpers, seeded random data, and rounding to 16-bit types for the float64 references.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/backend.h"

namespace llm::test {

// One backend under test. The tolerances say what the backend keeps in reduced precision.
struct BackendCase {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
  DType kv_dtype = DType::kF32;  // what its KV cache stores (the reference rounds K/V to it)
  // What the ops' activations are in this case (the model's Backend::activation_dtype): inputs
  // are rounded to it, outputs stored in it, and the reference allows one rounding to it.
  DType act_dtype = DType::kF32;
  // Whether matmul rounds the f32 activations to the weight's dtype before the product (a 16-bit
  // GEMM takes both operands in one type; the CPU's AVX-512 BF16 kernel does for bf16 weights);
  // the reference rounds x the same way. Asked after make(), which may choose the kernels.
  std::function<bool(DType weights)> matmul_rounds_input = [](DType) { return false; };
  // Whether matmul with block-quantized weights quantizes the activations to int8 blocks first
  // (the CPU's integer kernels, kernels/cpu/quant_matmul.h); the reference then multiplies the
  // dequantized weights by the activations cpu::quantize_activations gives. Else the kernel
  // takes the f32 activations as they are (the CUDA backend's dequantizing kernels).
  bool matmul_quantizes_input = false;
  // A row's product does not depend on the other rows in the batch (bit for bit). cuBLAS on a
  // real GPU picks kernels (tiling, split-K) by shape, so it makes no such promise.
  bool matmul_batch_invariant = true;
  // Whether prefill attention with this head size rounds the scaled queries (and the softmax
  // weights) to the cache's 16-bit type for tensor cores; the reference then rounds q * scale
  // the same way, and the weights' rounding (2^-9 relative each) is in the tolerance.
  std::function<bool(int head_dim)> attention_rounds_query = [](int) { return false; };
  // Non-empty when this backend cannot run here (no device): the tests skip, saying why.
  std::function<std::string()> unavailable = [] { return std::string(); };
};

std::vector<BackendCase> backend_cases();

// How GoogleTest (and so CTest's test names) prints a case: its name, not its bytes.
inline void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

// Skips the current test, visibly, when its backend cannot run on this machine.
#define LLM_SKIP_IF_UNAVAILABLE(bc)                                          \
  do {                                                                       \
    if (const std::string why = (bc).unavailable(); !why.empty()) {          \
      GTEST_SKIP() << (bc).name << " backend unavailable: " << why;          \
    }                                                                        \
  } while (0)

// A test of one backend case: skipped when it cannot run here, else be() is a fresh backend.
class BackendTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    LLM_SKIP_IF_UNAVAILABLE(GetParam());
    be_ = GetParam().make();
  }
  Backend& be() { return *be_; }
  std::unique_ptr<Backend> be_;
};

// Prints a case's name for parameterised test names.
struct BackendCaseName {
  std::string operator()(const ::testing::TestParamInfo<BackendCase>& info) const {
    return info.param.name;
  }
};

// Uniform values in [-scale, scale], never all zero, from a seed.
std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f);

// The value `v` takes once stored as `t` (identity for f32).
float round_to(DType t, float v);
std::vector<float> rounded(DType t, std::vector<float> v);

// Unit roundoff of storing a value as `t`: |stored - v| <= unit_roundoff(t) * |v| (0 for f32,
// whose rounding the f32 tolerances already cover).
double unit_roundoff(DType t);

// Elements as stored: f32 bits, or 16-bit patterns (NaN stays NaN), and back to f32.
std::vector<uint8_t> encode(DType t, const std::vector<float>& v);
std::vector<float> decode(DType t, const std::vector<uint8_t>& b);

// Backend memory holding a host array; the Buffer keeps it alive.
struct DeviceTensor {
  Buffer buffer;
  Tensor tensor;
};
// `host` stored as `dtype` (rounded to it).
DeviceTensor to_backend(Backend& be, const std::vector<float>& host,
                        std::initializer_list<int64_t> shape, DType dtype = DType::kF32);
DeviceTensor to_backend_i32(Backend& be, const std::vector<int32_t>& host,
                            std::initializer_list<int64_t> shape);
// An output of this shape and dtype, filled with NaN so elements an op fails to write show up.
DeviceTensor poisoned(Backend& be, std::initializer_list<int64_t> shape, DType dtype = DType::kF32);
// A tensor's elements (f32, bf16 or f16) as f32.
std::vector<float> to_host(Backend& be, const Tensor& t);

// A weight [rows, cols] uploaded as `dtype` through Backend::upload and then prepared for
// matmul, as LlamaModel does.
struct DeviceWeight {
  Buffer raw;
  OwnedTensor prepared;  // empty buffer when the backend kept the raw layout
  Tensor tensor;
};
DeviceWeight upload_weight(Backend& be, const std::vector<float>& host, int64_t rows, int64_t cols,
                           DType dtype, bool prepare = true);

// A weight [rows, cols] of the block-quantized `dtype` from GGUF blocks `blocks` (rows of
// dtype_row_bytes(dtype, cols)), uploaded as they are and then prepared for matmul.
DeviceWeight upload_quantized_weight(Backend& be, const std::vector<unsigned char>& blocks,
                                     int64_t rows, int64_t cols, DType dtype, bool prepare = true);

// `rows` rows of `cols` elements of random valid `dtype` blocks: random bytes, with finite f16
// scales (and mins) of either sign from 2^-8 to 1, one in eight subnormal or zero.
std::vector<unsigned char> random_blocks(DType dtype, int64_t rows, int64_t cols, uint64_t seed);

// Expects |got - want| <= tol * scale[i] + 1e-6 everywhere (scale: the sum of absolute terms
// that made the value, so the bound follows the conditioning); names the first bad element.
void expect_close(const std::vector<float>& got, const std::vector<double>& want,
                  const std::vector<double>& scale, double tol, const std::string& what);
// The same for an output stored as `t`: the bound also allows its one rounding,
// unit_roundoff(t) * |want[i]|.
void expect_close_as(DType t, const std::vector<float>& got, const std::vector<double>& want,
                     const std::vector<double>& scale, double tol, const std::string& what);

}  // namespace llm::test
