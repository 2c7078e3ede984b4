// Backend conformance, part 3: matmul and embedding on GGUF's block-quantized weights (Q8_0,
// Q4_0, Q4_1, Q4_K, Q5_K, Q6_K) on every backend, against float64 of the weights as
// cpu::dequantize_blocks (GGUF's own dequantization) gives them; fresh random blocks and
// activations, outputs poisoned with NaN before each run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quant_matmul.h"
#include "tests/backend/backend_harness.h"

namespace llm::test {
namespace {

constexpr DType kQuantTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                                 DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

class BackendQuant : public BackendTest {};

// The activations the product sees: x itself, or its int8 blocks dequantized where the backend
// quantizes them (x [T, K] f32).
std::vector<double> seen_activations(const BackendCase& bc, const std::vector<float>& x, int64_t T,
                                     int64_t K) {
  std::vector<double> out(x.begin(), x.end());  // [T, K]
  if (!bc.matmul_quantizes_input) return out;
  cpu::QuantizedActivations q;
  cpu::quantize_activations(x.data(), K, T, K, q);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t k = 0; k < K; ++k) {
      out[static_cast<size_t>(t * K + k)] =
          static_cast<double>(q.q[static_cast<size_t>(t * q.blocks * 32 + k)]) *
          q.d[static_cast<size_t>(t * q.blocks + k / 32)];
    }
  }
  return out;
}

// |the offset term| of the 32 columns of `blocks` row `row` that hold column k: what a kernel
// adds apart from the scaled quants (Q4_1's m, the K-quants' dmin * min), 0 for the others.
double offset_term(DType type, const unsigned char* blocks, int64_t K, int64_t row, int64_t k) {
  const int64_t per_block = dtype_block_elems(type);
  const unsigned char* block = blocks + dtype_row_bytes(type, K) * static_cast<size_t>(row) +
                               static_cast<size_t>(k / per_block) * dtype_block_bytes(type);
  if (type == DType::kQ4_1) {
    uint16_t m;
    std::memcpy(&m, block + 2, 2);
    return std::fabs(cpu::f16_to_f32(m));
  }
  if (type == DType::kQ4_K || type == DType::kQ5_K) {
    const cpu::KQuantInts ints = cpu::decode_kquant(type, block);
    return std::fabs(ints.dmin) * ints.sc[8 + k % per_block / 32];
  }
  return 0.0;
}

// Expects out = x . deq^T for x [T, K] and the weight `dw` whose elements are deq [N, K]
// (offsets: offset_term of each element, [N, K]), then that each row alone gives its bits.
//
// Tolerance 1e-5 of sum_k (|w_k| + 2 |offset_k|) |x_k|. The CUDA kernels dot each 32-element
// sub-block in f32 (a chain of 32), add a lane's sub-blocks (K / 1024 of them, 2 here at most)
// and meet in a shuffle tree (5 levels): under 40 roundings, 40 * 2^-24 = 2.4e-6 of sum |w x|.
// The CPU's integer kernels are exact within a block and add one fma per block term, scales
// rounded once: (2 K / 32 + 1) 2^-24 <= 7.7e-6 (K <= 2048 here) of the sum with the offset
// terms, which the bound includes because those kernels add them apart from the quants
// (quant_matmul_kquant_test's bound). Both are worst cases; a wrong nibble, scale or row is off
// by the size of the result itself.
void expect_matmul(Backend& be, const BackendCase& bc, const DeviceWeight& dw,
                   const std::vector<float>& deq, const std::vector<double>& offsets, int64_t T,
                   int64_t K, int64_t N, uint64_t seed, const std::string& what) {
  const auto x = random_floats(static_cast<size_t>(T * K), seed);
  const std::vector<double> xs = seen_activations(bc, x, T, K);
  std::vector<double> want(static_cast<size_t>(T * N)), scale(want.size());
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) {
        const auto wk = static_cast<size_t>(n * K + k);
        const double xv = xs[static_cast<size_t>(t * K + k)];
        s += xv * deq[wk];
        a += (std::fabs(deq[wk]) + 2 * offsets[wk]) * std::fabs(xv);
      }
      want[static_cast<size_t>(t * N + n)] = s;
      scale[static_cast<size_t>(t * N + n)] = a;
    }
  }
  DeviceTensor dx = to_backend(be, x, {T, K});
  DeviceTensor out = poisoned(be, {T, N});
  be.matmul(dx.tensor, dw.tensor, out.tensor);
  const std::vector<float> batched = to_host(be, out.tensor);
  expect_close(batched, want, scale, 1e-5, what);
  if (!bc.matmul_batch_invariant) return;
  for (int64_t t : {int64_t{0}, T - 1}) {
    DeviceTensor one = poisoned(be, {1, N});
    be.matmul(dx.tensor.rows(t, 1), dw.tensor, one.tensor);
    const std::vector<float> alone = to_host(be, one.tensor);
    for (int64_t n = 0; n < N; ++n) {
      ASSERT_EQ(alone[static_cast<size_t>(n)], batched[static_cast<size_t>(t * N + n)])
          << what << " row " << t << " col " << n << " differs alone and batched";
    }
  }
}

std::string describe(DType type, int64_t T, int64_t K, int64_t N) {
  return "matmul " + std::string(dtype_name(type)) + " T=" + std::to_string(T) +
         " K=" + std::to_string(K) + " N=" + std::to_string(N);
}

// GGUF files' weights: every type, T = 1 (decode), 3 and 17 (a partial token tile), output
// counts that fill no tile of rows evenly, and a K long enough that lanes take several blocks.
TEST_P(BackendQuant, MatmulOnGgufBlocksMatchesFloat64OfTheDequantizedWeights) {
  struct Shape {
    int64_t T, K, N;
  };
  uint64_t seed = 500;
  for (const DType type : kQuantTypes) {
    ASSERT_TRUE(be().computes_on(type)) << be().name() << " " << dtype_name(type);
    const bool k_quant = dtype_block_elems(type) == 256;
    const Shape shapes[] = {{1, k_quant ? 256 : 64, 33},
                            {3, k_quant ? 512 : 96, 17},
                            {17, k_quant ? 256 : 288, 40},
                            {1, 2048, 9}};
    for (const Shape& s : shapes) {
      const std::vector<unsigned char> blocks = random_blocks(type, s.N, s.K, ++seed);
      std::vector<float> deq(static_cast<size_t>(s.N * s.K));  // [N, K]
      cpu::dequantize_blocks(type, blocks.data(), s.N * s.K, deq.data());
      std::vector<double> offsets(deq.size());  // [N, K]
      for (int64_t n = 0; n < s.N; ++n) {
        for (int64_t k = 0; k < s.K; ++k)
          offsets[static_cast<size_t>(n * s.K + k)] = offset_term(type, blocks.data(), s.K, n, k);
      }
      const DeviceWeight dw = upload_quantized_weight(be(), blocks, s.N, s.K, type);
      expect_matmul(be(), GetParam(), dw, deq, offsets, s.T, s.K, s.N, ++seed,
                    describe(type, s.T, s.K, s.N));
    }
  }
}

// --quantization: a float weight quantized by prepare_linear_weight (gguf.quants.quantize's
// blocks, cpu::quantize_row), K = 100 ending in a zero-padded block.
TEST_P(BackendQuant, MatmulOnWeightsQuantizedAtLoadMatchesFloat64) {
  const int64_t K = 100, N = 37;
  uint64_t seed = 700;
  for (const DType type : {DType::kQ8_0, DType::kQ4_0}) {
    const auto w = random_floats(static_cast<size_t>(N * K), ++seed, 0.5f);
    // The weight as its blocks hold it: each row quantized (padded to 128) and dequantized.
    const int64_t padded = cpu::quant_blocks_for(K) * cpu::kQK;
    std::vector<unsigned char> row_blocks(dtype_row_bytes(type, padded));
    std::vector<float> row(static_cast<size_t>(padded)), deq(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n) {
      cpu::quantize_row(type, w.data() + n * K, K, row_blocks.data());
      cpu::dequantize_blocks(type, row_blocks.data(), padded, row.data());
      std::copy(row.begin(), row.begin() + K, deq.begin() + n * K);
    }
    DeviceWeight dw = upload_weight(be(), w, N, K, DType::kF32, /*prepare=*/false);
    auto prepared = be().prepare_linear_weight(dw.tensor, type);
    ASSERT_TRUE(prepared.has_value()) << be().name() << " did not quantize to " << dtype_name(type);
    EXPECT_EQ(prepared->tensor.dtype, type);
    dw.prepared = std::move(*prepared);
    dw.tensor = dw.prepared.tensor;
    const std::vector<double> offsets(deq.size(), 0.0);  // Q8_0 and Q4_0 have none
    for (const int64_t T : {1, 5}) {
      expect_matmul(be(), GetParam(), dw, deq, offsets, T, K, N, ++seed,
                    describe(type, T, K, N) + " quantized at load");
    }
  }
}

// A GGUF file's quantized token table: each gathered row exactly as dequantize_blocks gives it.
TEST_P(BackendQuant, EmbeddingGathersDequantizedRowsOfEveryType) {
  const int64_t V = 20;
  // -1: a token another tensor-parallel rank's shard holds, which reads as a zero row.
  const std::vector<int32_t> ids = {7, 0, 19, -1, 7, 13};
  uint64_t seed = 900;
  for (const DType type : kQuantTypes) {
    const int64_t D = dtype_block_elems(type) == 256 ? 512 : 96;
    const std::vector<unsigned char> blocks = random_blocks(type, V, D, ++seed);
    std::vector<float> deq(static_cast<size_t>(V * D));  // [V, D]
    cpu::dequantize_blocks(type, blocks.data(), V * D, deq.data());
    const DeviceWeight table = upload_quantized_weight(be(), blocks, V, D, type, /*prepare=*/false);
    DeviceTensor did = to_backend_i32(be(), ids, {static_cast<int64_t>(ids.size())});
    DeviceTensor out = poisoned(be(), {static_cast<int64_t>(ids.size()), D});
    be().embedding(table.tensor, did.tensor, out.tensor);
    std::vector<double> want, scale(ids.size() * static_cast<size_t>(D), 0.0);
    for (const int32_t id : ids) {
      for (int64_t i = 0; i < D; ++i)
        want.push_back(id < 0 ? 0.0 : deq[static_cast<size_t>(id * D + i)]);
    }
    expect_close(to_host(be(), out.tensor), want, scale, 0,
                 "embedding " + std::string(dtype_name(type)));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendQuant, ::testing::ValuesIn(backend_cases()),
                         BackendCaseName());

}  // namespace
}  // namespace llm::test
