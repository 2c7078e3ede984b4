// OpenBLAS and oneDNN in `llm-bench gemm`, so the choice between them and the engine's own
// kernels (issue 10) rests on a measurement anyone can repeat. Compiled in only with
// -DLLM_BENCH_LIBRARIES=ON (bench/compare_gemm.sh); the engine itself links neither.
#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include "bench/gemm_impl.h"
#include "kernels/cpu/cpu_kernels.h"
#include "llm/error.h"

#ifdef LLM_BENCH_LIBRARIES
#include <cblas.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace llm::bench {

#ifndef LLM_BENCH_LIBRARIES

std::vector<std::string> library_gemm_names() {
  return {};
}

std::unique_ptr<GemmImpl> make_library_gemm(const std::string& name, int) {
  throw Error(ErrorCode::kInvalidArgument,
              "no GEMM implementation '" + name +
                  "' in this build (OpenBLAS and oneDNN need -DLLM_BENCH_LIBRARIES=ON; see "
                  "bench/compare_gemm.sh)");
}

std::string gemm_libraries_info() {
  return "OpenBLAS and oneDNN not built in (-DLLM_BENCH_LIBRARIES=ON)";
}

#else

namespace {

struct Shape {
  int64_t n = 0;
  int64_t k = 0;
};

// cblas_sgemm on f32 weights (cblas_sgemv for one row). (Debian's OpenBLAS is built without
// BUILD_BFLOAT16, so it has no cblas_sbgemm to compare with the bf16 kernels.)
class OpenBlasGemm final : public GemmImpl {
 public:
  explicit OpenBlasGemm(int threads) { openblas_set_num_threads(threads); }

  size_t add_weight(const float* w, int64_t n, int64_t k) override {
    weights_.emplace_back(w, w + static_cast<size_t>(n * k));
    shapes_.push_back({n, k});
    return shapes_.size() - 1;
  }

  void run(size_t i, const float* x, int64_t T, float* out) override {
    const auto [n, k] = shapes_[i];
    const auto M = static_cast<blasint>(T), N = static_cast<blasint>(n),
               K = static_cast<blasint>(k);
    if (T == 1) {  // what a caller would use for one row: sgemm packs W on every call
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, weights_[i].data(), K, x, 1, 0.0f, out,
                  1);
      return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, weights_[i].data(), K,
                0.0f, out, N);
  }

  double weight_bytes() const override { return 4; }
  std::string chosen_kernel() const override {
    return std::string("OpenBLAS core ") + openblas_get_corename();
  }

 private:
  std::vector<Shape> shapes_;
  std::vector<std::vector<float> > weights_;
};

// oneDNN's matmul primitive. The weights stay row-major W [n, k], which oneDNN reads as its
// [k, n] weights in format "ba"; bf16 runs bf16 x bf16 -> f32 (oneDNN 2.x has no f32 x bf16).
class OneDnnGemm final : public GemmImpl {
 public:
  OneDnnGemm(bool bf16, int threads)
      : bf16_(bf16), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    omp_set_num_threads(threads);
  }

  size_t add_weight(const float* w, int64_t n, int64_t k) override {
    const size_t count = static_cast<size_t>(n * k);
    const auto desc = dnnl::memory::desc({k, n}, dtype(), dnnl::memory::format_tag::ba);
    dnnl::memory m(desc, engine_);
    if (bf16_) {
      const auto narrow = to_bf16(w, count);
      std::copy(narrow.begin(), narrow.end(), static_cast<uint16_t*>(m.get_data_handle()));
    } else {
      std::copy(w, w + count, static_cast<float*>(m.get_data_handle()));
    }
    weights_.push_back(std::move(m));
    shapes_.push_back({n, k});
    return shapes_.size() - 1;
  }

  void run(size_t i, const float* x, int64_t T, float* out) override {
    const auto [n, k] = shapes_[i];
    const auto key = std::make_tuple(n, k, T);
    auto it = primitives_.find(key);
    if (it == primitives_.end()) {
      const dnnl::matmul::desc d(
          dnnl::memory::desc({T, k}, dtype(), dnnl::memory::format_tag::ab), weights_[i].get_desc(),
          dnnl::memory::desc({T, n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab));
      dnnl::matmul::primitive_desc pd;
      try {
        pd = dnnl::matmul::primitive_desc(d, engine_);
      } catch (const dnnl::error& e) {
        throw Error(ErrorCode::kUnsupported, std::string("oneDNN has no ") +
                                                 (bf16_ ? "bf16" : "f32") +
                                                 " matmul for this CPU (" + e.what() + ")");
      }
      kernel_ = pd.impl_info_str();
      it = primitives_.emplace(key, Primitive{dnnl::matmul(pd), pd}).first;
    }
    const Primitive& p = it->second;
    void* src = const_cast<float*>(x);
    if (bf16_) {
      x16_.resize(static_cast<size_t>(T * k));
      for (size_t j = 0; j < x16_.size(); ++j) x16_[j] = cpu::f32_to_bf16(x[j]);
      src = x16_.data();
    }
    dnnl::memory src_m(p.pd.src_desc(), engine_, src), dst_m(p.pd.dst_desc(), engine_, out);
    p.matmul.execute(
        stream_, {{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, weights_[i]}, {DNNL_ARG_DST, dst_m}});
    stream_.wait();
  }

  double weight_bytes() const override { return bf16_ ? 2 : 4; }
  bool rounds_activations_to_bf16() const override { return bf16_; }
  std::string chosen_kernel() const override { return "oneDNN " + kernel_; }

 private:
  struct Primitive {
    dnnl::matmul matmul;
    dnnl::matmul::primitive_desc pd;
  };
  dnnl::memory::data_type dtype() const {
    return bf16_ ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  }

  bool bf16_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::vector<Shape> shapes_;
  std::vector<dnnl::memory> weights_;
  std::map<std::tuple<int64_t, int64_t, int64_t>, Primitive> primitives_;
  std::vector<uint16_t> x16_;
  std::string kernel_;
};

}  // namespace

std::vector<std::string> library_gemm_names() {
  return {"openblas-sgemm", "onednn-f32", "onednn-bf16"};
}

std::unique_ptr<GemmImpl> make_library_gemm(const std::string& name, int threads) {
  if (name == "openblas-sgemm") return std::make_unique<OpenBlasGemm>(threads);
  if (name == "onednn-f32") return std::make_unique<OneDnnGemm>(false, threads);
  if (name == "onednn-bf16") return std::make_unique<OneDnnGemm>(true, threads);
  throw Error(ErrorCode::kInvalidArgument, "no GEMM implementation '" + name + "'");
}

std::string gemm_libraries_info() {
  const dnnl_version_t* v = dnnl_version();
  return std::string(openblas_get_config()) + "; oneDNN " + std::to_string(v->major) + "." +
         std::to_string(v->minor) + "." + std::to_string(v->patch) +
         (v->cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : "");
}

#endif

}  // namespace llm::bench
