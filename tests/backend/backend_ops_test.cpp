// Backend conformance, part 1: every op but attention on every backend, against float64 host
// references on fresh random inputs, outputs poisoned with NaN before each run.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "llm/error.h"
#include "tests/backend/backend_harness.h"

namespace llm::test {
namespace {

class BackendOps : public BackendTest {};

struct MatmulCase {
  int64_t T, K, N;
  DType dtype;
};

TEST_P(BackendOps, MatmulMatchesFloat64ForEveryWeightTypeAndRaggedShape) {
  const MatmulCase cases[] = {
      {1, 64, 48, DType::kF32},    {3, 100, 33, DType::kF32},    {7, 288, 768, DType::kBF16},
      {13, 257, 17, DType::kBF16}, {1, 2048, 256, DType::kBF16}, {37, 96, 130, DType::kF16},
      {6, 512, 64, DType::kF16},   {64, 128, 160, DType::kBF16},
  };
  uint64_t seed = 100;
  const DType act = GetParam().act_dtype;
  for (const MatmulCase& c : cases) {
    const std::string what = "matmul T=" + std::to_string(c.T) + " K=" + std::to_string(c.K) +
                             " N=" + std::to_string(c.N) + " " + std::string(dtype_name(c.dtype));
    const auto x = rounded(act, random_floats(static_cast<size_t>(c.T * c.K), ++seed));
    const auto w = random_floats(static_cast<size_t>(c.N * c.K), ++seed, 0.5f);
    const auto wq = rounded(c.dtype, w);  // the weight the backend actually holds
    // The activations the product actually sees.
    const auto xq = GetParam().matmul_rounds_input(c.dtype) ? rounded(c.dtype, x) : x;
    std::vector<double> want(static_cast<size_t>(c.T * c.N)), scale(want.size());
    for (int64_t t = 0; t < c.T; ++t) {
      for (int64_t n = 0; n < c.N; ++n) {
        double s = 0, a = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          const double p = static_cast<double>(xq[static_cast<size_t>(t * c.K + k)]) *
                           wq[static_cast<size_t>(n * c.K + k)];
          s += p;
          a += std::abs(p);
        }
        want[static_cast<size_t>(t * c.N + n)] = s;
        scale[static_cast<size_t>(t * c.N + n)] = a;
      }
    }
    // Outputs in the activations' type where the model has them so (16-bit weights of that type).
    const DType out_type = act == c.dtype ? act : DType::kF32;
    DeviceTensor dx = to_backend(be(), x, {c.T, c.K}, act);
    const DeviceWeight dw = upload_weight(be(), w, c.N, c.K, c.dtype);
    DeviceTensor out = poisoned(be(), {c.T, c.N}, out_type);
    be().matmul(dx.tensor, dw.tensor, out.tensor);
    expect_close_as(out_type, to_host(be(), out.tensor), want, scale, 1e-5, what);

    if (!GetParam().matmul_batch_invariant) continue;
    // Batch invariance: each row alone gives bit-identical results to the row in the batch.
    const std::vector<float> batched = to_host(be(), out.tensor);
    for (int64_t t : {int64_t{0}, c.T - 1}) {
      DeviceTensor one = poisoned(be(), {1, c.N}, out_type);
      be().matmul(dx.tensor.rows(t, 1), dw.tensor, one.tensor);
      const std::vector<float> alone = to_host(be(), one.tensor);
      for (int64_t n = 0; n < c.N; ++n) {
        ASSERT_EQ(alone[static_cast<size_t>(n)], batched[static_cast<size_t>(t * c.N + n)])
            << what << " row " << t << " col " << n << " differs alone and batched";
      }
    }
  }
}

// Host staging memory (page-locked on devices): aligned, and copies to and from it round-trip,
// the upload reading it after copy_from_host returned (asynchronous from page-locked memory).
TEST_P(BackendOps, HostStagingMemoryRoundTrips) {
  const size_t n = 10007;
  Buffer host = be().alloc_host(n * sizeof(float)), back = be().alloc_host(n * sizeof(float));
  ASSERT_NE(host.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(host.data()) % 64, 0u);
  const std::vector<float> values = random_floats(n, 77);
  std::copy(values.begin(), values.end(), static_cast<float*>(host.data()));
  Buffer dev = be().alloc(n * sizeof(float));
  const Tensor t = dev.view(DType::kF32, {static_cast<int64_t>(n)});
  be().copy_from_host(t, host.data());
  be().copy_to_host(back.data(), t);
  be().synchronize();
  const auto* got = static_cast<const float*>(back.data());
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], values[i]) << i;
}

TEST_P(BackendOps, RmsnormAndFusedResidualAdd) {
  const int64_t T = 5, D = 96;
  const float eps = 1e-5f;
  const auto x = random_floats(T * D, 1), delta = random_floats(T * D, 2), w = random_floats(D, 3);
  std::vector<double> want(T * D), want_res(T * D), scale(T * D, 1.0);
  for (int fused = 0; fused < 2; ++fused) {
    for (int64_t t = 0; t < T; ++t) {
      double ss = 0;
      for (int64_t i = 0; i < D; ++i) {
        const double r = static_cast<double>(x[t * D + i]) + (fused ? delta[t * D + i] : 0.0);
        want_res[t * D + i] = r;
        ss += r * r;
      }
      const double inv = 1.0 / std::sqrt(ss / D + eps);
      for (int64_t i = 0; i < D; ++i) want[t * D + i] = want_res[t * D + i] * inv * w[i];
    }
    DeviceTensor dx = to_backend(be(), x, {T, D}), dd = to_backend(be(), delta, {T, D});
    const DType act = GetParam().act_dtype;
    DeviceTensor dw = to_backend(be(), w, {D}), out = poisoned(be(), {T, D}, act);
    if (fused) {
      be().add_rmsnorm(dx.tensor, dd.tensor, dw.tensor, eps, out.tensor);
      expect_close(to_host(be(), dx.tensor), want_res, scale, 1e-6, "add_rmsnorm residual");
    } else {
      be().rmsnorm(dx.tensor, dw.tensor, eps, out.tensor);
    }
    expect_close_as(act, to_host(be(), out.tensor), want, scale, 1e-5,
                    fused ? "add_rmsnorm" : "rmsnorm");
  }
}

TEST_P(BackendOps, EmbeddingGathersRowsOfEveryTableType) {
  const int64_t V = 50, D = 40;
  // -1: a token another tensor-parallel rank's shard holds, which reads as a zero row.
  const std::vector<int32_t> ids = {7, 0, 49, -1, 7, 23};
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    const auto table = random_floats(V * D, 4);
    const auto tq = rounded(dt, table);
    DeviceWeight dtable = upload_weight(be(), table, V, D, dt, /*prepare=*/false);
    DeviceTensor did = to_backend_i32(be(), ids, {static_cast<int64_t>(ids.size())});
    // Rows gathered into the activations' type (the rows for the logits are activations).
    const DType act = GetParam().act_dtype;
    DeviceTensor out = poisoned(be(), {static_cast<int64_t>(ids.size()), D}, act);
    be().embedding(dtable.tensor, did.tensor, out.tensor);
    std::vector<double> want, scale(ids.size() * D, 0.0);
    for (int32_t id : ids) {
      for (int64_t i = 0; i < D; ++i) want.push_back(id < 0 ? 0.0 : round_to(act, tq[id * D + i]));
    }
    expect_close(to_host(be(), out.tensor), want, scale, 0,
                 "embedding " + std::string(dtype_name(dt)));
  }
}

// Whole heads, and (partial_rotary_factor, Phi-3/Phi-4) only their first `rotary` dimensions.
TEST_P(BackendOps, RopeRotatesQueryAndKeyHeadsOnly) {
  const int heads = 4, kv_heads = 2, hd = 16, T = 6, max_pos = 64;
  const int64_t width = (heads + 2 * kv_heads) * hd;
  const DType act = GetParam().act_dtype;
  const auto qkv = rounded(act, random_floats(T * width, 5));
  const std::vector<int32_t> pos = {0, 1, 5, 63, 2, 40};
  for (const int rotary : {hd, hd / 2}) {
    const int half = rotary / 2;
    std::vector<float> cs(static_cast<size_t>(max_pos * half * 2));
    for (int p = 0; p < max_pos; ++p) {
      for (int i = 0; i < half; ++i) {
        const double a = p * std::pow(10000.0, -2.0 * i / rotary);
        cs[(p * half + i) * 2] = static_cast<float>(std::cos(a));
        cs[(p * half + i) * 2 + 1] = static_cast<float>(std::sin(a));
      }
    }
    std::vector<double> want(qkv.begin(), qkv.end()), scale(want.size(), 1.0);
    for (int t = 0; t < T; ++t) {
      for (int h = 0; h < heads + kv_heads; ++h) {  // value heads stay as they are
        for (int i = 0; i < half; ++i) {
          const double a = pos[t] * std::pow(10000.0, -2.0 * i / rotary);
          const size_t b = static_cast<size_t>(t * width + h * hd);
          const double x1 = qkv[b + i], x2 = qkv[b + i + half];
          want[b + i] = x1 * std::cos(a) - x2 * std::sin(a);
          want[b + i + half] = x2 * std::cos(a) + x1 * std::sin(a);
        }
      }
    }
    DeviceTensor d = to_backend(be(), qkv, {T, width}, act);
    DeviceTensor dp = to_backend_i32(be(), pos, {T}),
                 dcs = to_backend(be(), cs, {max_pos, half, 2});
    AttentionShape shape{heads, kv_heads, hd, 16, 0.25f};
    be().rope(d.tensor, dp.tensor, dcs.tensor, shape);
    expect_close_as(act, to_host(be(), d.tensor), want, scale, 1e-6,
                    "rope over " + std::to_string(rotary) + " of " + std::to_string(hd));
  }
}

TEST_P(BackendOps, SiluMul) {
  const int64_t T = 3, F = 77;
  const DType act = GetParam().act_dtype;
  const auto gu = rounded(act, random_floats(T * 2 * F, 6, 4.0f));
  std::vector<double> want(T * F), scale(T * F);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t f = 0; f < F; ++f) {
      const double g = gu[t * 2 * F + f], u = gu[t * 2 * F + F + f];
      want[t * F + f] = g / (1 + std::exp(-g)) * u;
      scale[t * F + f] = std::abs(want[t * F + f]);
    }
  }
  DeviceTensor d = to_backend(be(), gu, {T, 2 * F}, act), out = poisoned(be(), {T, F}, act);
  be().silu_mul(d.tensor, out.tensor);
  expect_close_as(act, to_host(be(), out.tensor), want, scale, 1e-5, "silu_mul");
}

// Gemma's MLP activation (PyTorch's gelu approximate="tanh") and its two elementwise scalings.
TEST_P(BackendOps, GeluTanhMulScaleAndSoftcap) {
  const int64_t T = 3, F = 53;
  const DType act = GetParam().act_dtype;
  const auto gu = rounded(act, random_floats(T * 2 * F, 12, 4.0f));
  std::vector<double> want(T * F), scale(T * F);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t f = 0; f < F; ++f) {
      const double x = gu[t * 2 * F + f], u = gu[t * 2 * F + F + f];
      const double gelu =
          0.5 * x * (1 + std::tanh(std::sqrt(2 / 3.141592653589793) * (x + 0.044715 * x * x * x)));
      want[t * F + f] = gelu * u;
      scale[t * F + f] = std::abs(x * u) + 1e-3;
    }
  }
  DeviceTensor d = to_backend(be(), gu, {T, 2 * F}, act), out = poisoned(be(), {T, F}, act);
  be().gelu_tanh_mul(d.tensor, out.tensor);
  expect_close_as(act, to_host(be(), out.tensor), want, scale, 1e-5, "gelu_tanh_mul");

  const auto x = random_floats(T * F, 13, 20.0f);
  std::vector<double> scaled(x.size()), capped(x.size()), ones(x.size(), 1.0);
  for (size_t i = 0; i < x.size(); ++i) {
    scaled[i] = static_cast<double>(x[i]) * 33.9411f;
    capped[i] = 3.0 * std::tanh(x[i] / 3.0);
  }
  DeviceTensor dx = to_backend(be(), x, {T, F});
  be().scale(dx.tensor, 33.9411f);
  expect_close(to_host(be(), dx.tensor), scaled, std::vector<double>(x.size(), 34.0), 1e-6,
               "scale");
  DeviceTensor dc = to_backend(be(), x, {T, F});
  be().softcap(dc.tensor, 3.0f);
  expect_close(to_host(be(), dc.tensor), capped, ones, 1e-6, "softcap");
}

TEST_P(BackendOps, AddBiasToEveryRow) {
  const int64_t T = 4, N = 70;
  const DType act = GetParam().act_dtype;
  const auto x = rounded(act, random_floats(T * N, 7)), bias = random_floats(N, 8);
  std::vector<double> want(T * N), scale(T * N, 1.0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t n = 0; n < N; ++n) want[t * N + n] = static_cast<double>(x[t * N + n]) + bias[n];
  }
  DeviceTensor d = to_backend(be(), x, {T, N}, act), db = to_backend(be(), bias, {N});
  be().add_bias(d.tensor, db.tensor);
  expect_close_as(act, to_host(be(), d.tensor), want, scale, 1e-6, "add_bias");
}

// Qwen3's per-head norm: every query head with one weight, every key head with another, the
// value heads untouched.
TEST_P(BackendOps, QkNormNormalisesEachQueryAndKeyHead) {
  const int heads = 4, kv_heads = 2, hd = 24, T = 5;
  const int64_t width = (heads + 2 * kv_heads) * hd;
  const float eps = 1e-6f;
  const DType act = GetParam().act_dtype;
  const auto qkv = rounded(act, random_floats(T * width, 9, 3.0f));
  const auto qw = random_floats(hd, 10), kw = random_floats(hd, 11);
  std::vector<double> want(qkv.begin(), qkv.end()), scale(want.size(), 1.0);
  for (int t = 0; t < T; ++t) {
    for (int h = 0; h < heads + kv_heads; ++h) {
      const size_t b = static_cast<size_t>(t * width + h * hd);
      double ss = 0;
      for (int i = 0; i < hd; ++i) ss += static_cast<double>(qkv[b + i]) * qkv[b + i];
      const double inv = 1.0 / std::sqrt(ss / hd + eps);
      for (int i = 0; i < hd; ++i) want[b + i] = qkv[b + i] * inv * (h < heads ? qw[i] : kw[i]);
    }
  }
  DeviceTensor d = to_backend(be(), qkv, {T, width}, act);
  DeviceTensor dq = to_backend(be(), qw, {hd}), dk = to_backend(be(), kw, {hd});
  AttentionShape shape{heads, kv_heads, hd, 16, 0.25f};
  be().qk_norm(d.tensor, dq.tensor, dk.tensor, eps, shape);
  expect_close_as(act, to_host(be(), d.tensor), want, scale, 1e-5, "qk_norm");
}

// Activations of a type a backend does not take are refused by name before anything runs, and
// the backend goes on computing: the CPU takes f32 only; the CUDA backend 16-bit activations only
// of its weights' type (GEMM output) and its cache's (attention).
TEST_P(BackendOps, ActivationTypesItCannotTakeAreRefusedByName) {
  const int64_t T = 2, K = 32, N = 16;
  const auto x = random_floats(T * K, 31), w = random_floats(N * K, 32, 0.5f);
  const DeviceWeight w32 = upload_weight(be(), w, N, K, DType::kF32);
  auto refused = [](const std::function<void()>& op, const std::string& message) {
    try {
      op();
      ADD_FAILURE() << "accepted, expected: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  if (be().activation_dtype(DType::kBF16) == DType::kF32) {
    DeviceTensor xb = to_backend(be(), x, {T, K}, DType::kBF16), out = poisoned(be(), {T, N});
    refused([&] { be().matmul(xb.tensor, w32.tensor, out.tensor); },
            "matmul input must be f32, got bf16");
  } else {
    DeviceTensor xf = to_backend(be(), x, {T, K});
    DeviceTensor outb = poisoned(be(), {T, N}, DType::kBF16);
    refused([&] { be().matmul(xf.tensor, w32.tensor, outb.tensor); },
            "matmul output bf16 for f32 weights");
    // bf16 queries beside an f32 cache (the model never pairs them).
    const AttentionShape shape{2, 1, 16, 4, 0.25f};
    DeviceTensor qkv = to_backend(be(), random_floats(T * 64, 33), {T, 64}, DType::kBF16);
    DeviceTensor cache = poisoned(be(), {2, 1, 4, 16});
    DeviceTensor attn_out = poisoned(be(), {T, 32}, DType::kBF16);
    refused(
        [&] {
          be().attention(qkv.tensor, cache.tensor, cache.tensor, AttentionBatch{}, shape,
                         attn_out.tensor);
        },
        "bf16 attention input with a f32 cache");
  }
  // Nothing was left half done: the same backend multiplies correctly.
  DeviceTensor xf = to_backend(be(), x, {T, K}), out = poisoned(be(), {T, N});
  be().matmul(xf.tensor, w32.tensor, out.tensor);
  std::vector<double> want(static_cast<size_t>(T * N)), scale(want.size());
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(x[static_cast<size_t>(t * K + k)]) *
                         w[static_cast<size_t>(n * K + k)];
        want[static_cast<size_t>(t * N + n)] += p;
        scale[static_cast<size_t>(t * N + n)] += std::abs(p);
      }
    }
  }
  expect_close(to_host(be(), out.tensor), want, scale, 1e-5, "matmul after the refusals");
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendOps, ::testing::ValuesIn(backend_cases()),
                         BackendCaseName());

}  // namespace
}  // namespace llm::test
