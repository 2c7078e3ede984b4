#include "tests/backend/backend_harness.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "engine/backend/cpu_backend.h"
#include "engine/backend/cuda_backend_factory.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul.h"

namespace llm::test {
namespace {

constexpr int kSimtPartitionTokens = 64;

// A CPU backend whose kernels use `isa` (set for the process, so every case sets its own).
std::function<std::unique_ptr<Backend>()> cpu_backend(int threads, const char* isa) {
  return [threads, isa]() -> std::unique_ptr<Backend> {
    if (auto error = cpu::set_cpu_isa(isa)) throw std::runtime_error(*error);
    return std::make_unique<CpuBackend>(threads);
  };
}

// A CPU case for the ISA `isa`, skipped where this processor lacks it.
BackendCase cpu_case(std::string name, int threads, const char* isa) {
  BackendCase c{std::move(name), cpu_backend(threads, isa), DType::kF32};
  c.matmul_quantizes_input = true;
  c.matmul_rounds_input = [](DType t) {
    return t == DType::kBF16 &&
           cpu::preferred_layout(cpu::WeightType::kBF16) == cpu::PackedLayout::kBf16Pairs;
  };
  c.unavailable = [isa] {
    return cpu::cpu_isa_supported(isa) ? std::string()
                                       : "this processor has no " + std::string(isa) + " (" +
                                             cpu::cpu_features().describe() + ")";
  };
  return c;
}

}  // namespace

std::vector<BackendCase> backend_cases() {
  // Two CPU pool sizes with the best kernels this processor has: the same kernels cut across
  // threads differently must agree. Then every other ISA's kernels, where they can run.
  std::vector<BackendCase> cases = {
      cpu_case("cpu_1thread", 1, "auto"),      cpu_case("cpu_2threads", 2, "auto"),
      cpu_case("cpu_avx512", 2, "avx512"),     cpu_case("cpu_avx2", 2, "avx2"),
      cpu_case("cpu_portable", 1, "portable"),
  };
  // The CUDA backend in the emulator with a bf16 cache, and 64-token decode partitions so the
  // split-KV pass (and its combine kernel) runs from 65 tokens of context on.
  BackendCase simt{"simt",
                   [] {
                     return make_simt_backend({0, kSimtPartitionTokens});
                   },
                   DType::kBF16};
  simt.matmul_rounds_input = [](DType) { return true; };
  // kernels/cuda/prefill_attention_mma.cu's head sizes.
  const auto tensor_core_head = [](int hd) {
    return hd == 64 || hd == 80 || hd == 96 || hd == 128 || hd == 256;
  };
  simt.attention_rounds_query = tensor_core_head;
  cases.push_back(simt);
  // The other cache types the kernels take: f16 (tensor cores too) and f32 (the scalar prefill,
  // 4-byte loads in decode).
  BackendCase simt_f16 = simt;
  simt_f16.name = "simt_f16kv";
  simt_f16.kv_dtype = DType::kF16;
  cases.push_back(simt_f16);
  BackendCase simt_f32 = simt;
  simt_f32.name = "simt_f32kv";
  simt_f32.kv_dtype = DType::kF32;
  simt_f32.attention_rounds_query = [](int) { return false; };
  cases.push_back(simt_f32);
  // The model's activations on this backend: 16-bit beside a cache of the same type.
  BackendCase simt_bf16act = simt;
  simt_bf16act.name = "simt_bf16act";
  simt_bf16act.act_dtype = DType::kBF16;
  cases.push_back(simt_bf16act);
  BackendCase simt_f16act = simt_f16;
  simt_f16act.name = "simt_f16act";
  simt_f16act.act_dtype = DType::kF16;
  cases.push_back(simt_f16act);
  // The same source on a real device, when there is one.
  BackendCase cuda{"cuda", nullptr, DType::kBF16};
  cuda.matmul_rounds_input = [](DType) { return true; };
  cuda.matmul_batch_invariant = false;
  cuda.attention_rounds_query = tensor_core_head;
#if defined(LLM_HAVE_CUDA_BACKEND)
  cuda.make = [] { return make_cuda_device_backend({}); };
  cuda.unavailable = [] {
    std::string why;
    const int n = cuda_device_count(&why);
    return n > 0 ? std::string() : "no CUDA device (" + (n < 0 ? why : "0 devices") + ")";
  };
#else
  cuda.make = []() -> std::unique_ptr<Backend> { return nullptr; };
  cuda.unavailable = [] {
    return std::string("this build has no CUDA (nvcc was not found at build time)");
  };
#endif
  cases.push_back(cuda);
  BackendCase cuda_bf16act = cuda;
  cuda_bf16act.name = "cuda_bf16act";
  cuda_bf16act.act_dtype = DType::kBF16;
  cases.push_back(cuda_bf16act);
  return cases;
}

std::vector<float> random_floats(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

float round_to(DType t, float v) {
  switch (t) {
    case DType::kBF16:
      return cpu::bf16_to_f32(cpu::f32_to_bf16(v));
    case DType::kF16:
      return cpu::f16_to_f32(cpu::f32_to_f16(v));
    default:
      return v;
  }
}

std::vector<float> rounded(DType t, std::vector<float> v) {
  for (float& x : v) x = round_to(t, x);
  return v;
}

double unit_roundoff(DType t) {
  return t == DType::kBF16 ? 0x1p-8 : t == DType::kF16 ? 0x1p-11 : 0.0;
}

std::vector<uint8_t> encode(DType t, const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * dtype_size(t));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::kF32) {
      std::memcpy(&out[i * 4], &v[i], 4);
    } else {
      const uint16_t h = std::isnan(v[i])    ? (t == DType::kBF16 ? 0x7fc0 : 0x7e00)
                         : t == DType::kBF16 ? cpu::f32_to_bf16(v[i])
                                             : cpu::f32_to_f16(v[i]);
      std::memcpy(&out[i * 2], &h, 2);
    }
  }
  return out;
}

std::vector<float> decode(DType t, const std::vector<uint8_t>& b) {
  std::vector<float> out(b.size() / dtype_size(t));
  for (size_t i = 0; i < out.size(); ++i) {
    if (t == DType::kF32) {
      std::memcpy(&out[i], &b[i * 4], 4);
    } else {
      uint16_t h;
      std::memcpy(&h, &b[i * 2], 2);
      out[i] = t == DType::kBF16 ? cpu::bf16_to_f32(h) : cpu::f16_to_f32(h);
    }
  }
  return out;
}

namespace {

template <class T>
DeviceTensor make(Backend& be, const std::vector<T>& host, DType dtype,
                  std::initializer_list<int64_t> shape) {
  DeviceTensor d;
  d.buffer = be.alloc(host.size() * sizeof(T));
  d.tensor = d.buffer.view(dtype, shape);
  EXPECT_EQ(d.tensor.nbytes(), host.size() * sizeof(T));
  be.copy_from_host(d.tensor, host.data());
  return d;
}

}  // namespace

DeviceTensor to_backend(Backend& be, const std::vector<float>& host,
                        std::initializer_list<int64_t> shape, DType dtype) {
  if (dtype == DType::kF32) return make(be, host, DType::kF32, shape);
  return make(be, encode(dtype, host), dtype, shape);
}

DeviceTensor to_backend_i32(Backend& be, const std::vector<int32_t>& host,
                            std::initializer_list<int64_t> shape) {
  return make(be, host, DType::kI32, shape);
}

DeviceTensor poisoned(Backend& be, std::initializer_list<int64_t> shape, DType dtype) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return to_backend(be, std::vector<float>(static_cast<size_t>(n), NAN), shape, dtype);
}

std::vector<float> to_host(Backend& be, const Tensor& t) {
  std::vector<uint8_t> bytes(t.nbytes());
  be.synchronize();
  be.copy_to_host(bytes.data(), t);
  return decode(t.dtype, bytes);
}

DeviceWeight upload_weight(Backend& be, const std::vector<float>& host, int64_t rows, int64_t cols,
                           DType dtype, bool prepare) {
  DeviceWeight w;
  w.raw = be.alloc(host.size() * dtype_size(dtype));
  w.tensor = w.raw.view(dtype, {rows, cols});
  be.upload({std::as_bytes(std::span<const float>(host)), DType::kF32, "test.weight"}, w.tensor);
  if (prepare) {
    if (auto p = be.prepare_linear_weight(w.tensor)) {
      w.prepared = std::move(*p);
      w.tensor = w.prepared.tensor;
    }
  }
  return w;
}

DeviceWeight upload_quantized_weight(Backend& be, const std::vector<unsigned char>& blocks,
                                     int64_t rows, int64_t cols, DType dtype, bool prepare) {
  DeviceWeight w;
  w.raw = be.alloc(blocks.size());
  w.tensor = w.raw.view(dtype, {rows, cols});
  be.upload({std::as_bytes(std::span<const unsigned char>(blocks)), dtype, "test.weight"},
            w.tensor);
  if (prepare) {
    if (auto p = be.prepare_linear_weight(w.tensor)) {
      w.prepared = std::move(*p);
      w.tensor = w.prepared.tensor;
    }
  }
  return w;
}

std::vector<unsigned char> random_blocks(DType dtype, int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<unsigned char> bytes(dtype_row_bytes(dtype, cols) * static_cast<size_t>(rows));
  for (unsigned char& b : bytes) b = static_cast<unsigned char>(rng());
  // Byte offsets of the f16 fields: d, and Q4_1's m or the K-quants' dmin; Q6_K's d is last.
  const std::vector<size_t> f16_at = dtype == DType::kQ6_K ? std::vector<size_t>{208}
                                     : dtype == DType::kQ8_0 || dtype == DType::kQ4_0
                                         ? std::vector<size_t>{0}
                                         : std::vector<size_t>{0, 2};
  const size_t block = dtype_block_bytes(dtype);
  for (size_t at = 0; at < bytes.size(); at += block) {
    for (const size_t off : f16_at) {
      const uint64_t r = rng();
      const uint16_t exponent = r % 8 == 0 ? 0 : static_cast<uint16_t>(7 + (r >> 3) % 8);
      const auto h = static_cast<uint16_t>(((r >> 8) & 0x83ff) | (exponent << 10));
      std::memcpy(&bytes[at + off], &h, 2);
    }
  }
  return bytes;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want,
                  const std::vector<double>& scale, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = tol * scale[i] + 1e-6;
    const double err = std::abs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= bound)) {  // also catches NaN: an element the op never wrote
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", want " << want[i]
                    << " (bound " << bound << ")";
      return;
    }
  }
}

void expect_close_as(DType t, const std::vector<float>& got, const std::vector<double>& want,
                     const std::vector<double>& scale, double tol, const std::string& what) {
  std::vector<double> wide(scale.size());
  for (size_t i = 0; i < scale.size(); ++i) {
    wide[i] = tol * scale[i] + unit_roundoff(t) * std::abs(want[i]);
  }
  expect_close(got, want, wide, 1.0, what + " (" + std::string(dtype_name(t)) + ")");
}

}  // namespace llm::test
