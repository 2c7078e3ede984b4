#include "engine/backend/backend_common.h"

#include <array>
#include <cstring>
#include <string>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/quant_blocks.h"
#include "llm/error.h"

namespace llm {

void expect(const Backend& be, bool ok, const std::string& what) {
  if (!ok) throw Error(ErrorCode::kUnsupported, be.name() + " backend: " + what);
}

void expect_f32(const Backend& be, const Tensor& t, const char* what) {
  if (t.dtype != DType::kF32) {
    expect(be, false, std::string(what) + " must be f32, got " + std::string(dtype_name(t.dtype)));
  }
}

void expect_gather(const Backend& be, const Tensor& in, const Tensor& out, int ranks) {
  expect_f32(be, in, "all_gather input");
  expect(be, out.numel() == in.numel() * ranks,
         "all_gather output of " + out.shape_string() + " for " + std::to_string(ranks) +
             " ranks of " + in.shape_string());
}

int64_t upload_elements(const Backend& be, const HostTensor& src, const Tensor& dst) {
  const int64_t n = dst.numel();
  const int64_t block = dtype_block_elems(src.dtype);
  if (n % block != 0 || src.bytes.size() != dtype_row_bytes(src.dtype, n)) {
    throw Error(ErrorCode::kInternal, "upload of '" + std::string(src.label) +
                                          "': " + std::to_string(src.bytes.size()) + " bytes of " +
                                          std::string(dtype_name(src.dtype)) +
                                          " into a tensor of " + std::to_string(n) + " elements");
  }
  expect(be, src.dtype != DType::kI32 && dst.dtype != DType::kI32,
         "integer weights are not supported ('" + std::string(src.label) + "')");
  expect(be, !dtype_is_quantized(dst.dtype) || dst.dtype == src.dtype,
         "cannot convert " + std::string(dtype_name(src.dtype)) + " to " +
             std::string(dtype_name(dst.dtype)) + " ('" + std::string(src.label) + "')");
  return n;
}

void convert_floats(const void* src, DType from, void* dst, DType to, int64_t n) {
  if (from == DType::kI32 || to == DType::kI32) {
    throw Error(ErrorCode::kInternal, "convert_floats: integers are not floats");
  }
  const auto* in = static_cast<const std::byte*>(src);
  auto* out = static_cast<std::byte*>(dst);
  if (dtype_is_quantized(from)) {
    // Block by block through f32: [block] floats on the stack.
    const int64_t block = dtype_block_elems(from);
    std::array<float, 256> values;
    for (int64_t b = 0; b < n / block; ++b) {
      cpu::dequantize_blocks(from, in + static_cast<size_t>(b) * dtype_block_bytes(from), block,
                             values.data());
      convert_floats(values.data(), DType::kF32,
                     out + static_cast<size_t>(b * block) * dtype_size(to), to, block);
    }
    return;
  }
  const size_t in_size = dtype_size(from), out_size = dtype_size(to);
  for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
    float f;
    uint16_t h;
    if (from == DType::kF32) {
      std::memcpy(&f, in + i * in_size, sizeof f);
    } else {
      std::memcpy(&h, in + i * in_size, sizeof h);
      f = from == DType::kBF16 ? cpu::bf16_to_f32(h) : cpu::f16_to_f32(h);
    }
    if (to == DType::kF32) {
      std::memcpy(out + i * out_size, &f, sizeof f);
    } else {
      h = to == DType::kBF16 ? cpu::f32_to_bf16(f) : cpu::f32_to_f16(f);
      std::memcpy(out + i * out_size, &h, sizeof h);
    }
  }
}

}  // namespace llm
