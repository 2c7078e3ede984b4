#include "engine/backend/backend_common.h"

#include <cstring>
#include <string>

#include "kernels/cpu/cpu_kernels.h"
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
  const int64_t n = static_cast<int64_t>(src.bytes.size() / dtype_size(src.dtype));
  if (src.bytes.size() != static_cast<size_t>(dst.numel()) * dtype_size(src.dtype)) {
    throw Error(ErrorCode::kInternal,
                "upload of '" + std::string(src.label) + "': " + std::to_string(n) +
                    " elements into a tensor of " + std::to_string(dst.numel()));
  }
  expect(be, src.dtype != DType::kI32 && dst.dtype != DType::kI32,
         "integer weights are not supported ('" + std::string(src.label) + "')");
  return n;
}

void convert_floats(const void* src, DType from, void* dst, DType to, int64_t n) {
  if (from == DType::kI32 || to == DType::kI32) {
    throw Error(ErrorCode::kInternal, "convert_floats: integers are not floats");
  }
  const auto* in = static_cast<const std::byte*>(src);
  auto* out = static_cast<std::byte*>(dst);
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
