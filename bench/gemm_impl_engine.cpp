// The engine's own matrix products in `llm-bench gemm`: CpuBackend::matmul over weights that
// CpuBackend::prepare_linear_weight packed, exactly as a model step runs them.
#include <vector>

#include "bench/gemm_impl.h"
#include "engine/backend/cpu_backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul.h"
#include "llm/error.h"

namespace llm::bench {
namespace {

class EngineGemm final : public GemmImpl {
 public:
  EngineGemm(bool bf16, int threads) : bf16_(bf16), backend_(threads) {}

  size_t add_weight(const float* w, int64_t n, int64_t k) override {
    std::vector<uint16_t> narrow;
    const void* src = w;
    if (bf16_) {
      narrow = to_bf16(w, static_cast<size_t>(n * k));
      src = narrow.data();
    }
    // prepare_linear_weight only reads the row-major source.
    const Tensor row_major(const_cast<void*>(src), bf16_ ? DType::kBF16 : DType::kF32, {n, k});
    auto packed = backend_.prepare_linear_weight(row_major);
    if (!packed) throw Error(ErrorCode::kInternal, "the CPU backend did not pack a weight");
    weights_.push_back(std::move(*packed));
    return weights_.size() - 1;
  }

  void run(size_t i, const float* x, int64_t T, float* out) override {
    const Tensor& w = weights_[i].tensor;
    const int64_t n = w.size(0), k = w.size(1);
    backend_.matmul(Tensor(const_cast<float*>(x), DType::kF32, {T, k}), w,
                    Tensor(out, DType::kF32, {T, n}));
  }

  double weight_bytes() const override { return bf16_ ? 2 : 4; }
  bool rounds_activations_to_bf16() const override {
    return bf16_ && cpu::preferred_layout(cpu::WeightType::kBF16) == cpu::PackedLayout::kBf16Pairs;
  }
  std::string chosen_kernel() const override {
    return backend_.matmul_kernel(bf16_ ? DType::kBF16 : DType::kF32);
  }

 private:
  bool bf16_;
  CpuBackend backend_;
  std::vector<OwnedTensor> weights_;
};

}  // namespace

std::vector<uint16_t> to_bf16(const float* w, size_t n) {
  std::vector<uint16_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = cpu::f32_to_bf16(w[i]);
  return out;
}

std::unique_ptr<GemmImpl> make_engine_gemm(bool bf16, int threads) {
  return std::make_unique<EngineGemm>(bf16, threads);
}

std::vector<std::string> gemm_impl_names() {
  std::vector<std::string> names = {"engine-f32", "engine-bf16"};
  for (auto& n : library_gemm_names()) names.push_back(n);
  return names;
}

std::unique_ptr<GemmImpl> make_gemm_impl(const std::string& name, int threads) {
  if (name == "engine-f32") return make_engine_gemm(false, threads);
  if (name == "engine-bf16") return make_engine_gemm(true, threads);
  return make_library_gemm(name, threads);
}

}  // namespace llm::bench
