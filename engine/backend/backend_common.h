// Code CpuBackend and CudaBackend share rather than each keeping a copy.
#pragma once

#include <cstdint>

#include "engine/backend/backend.h"

namespace llm {

// The element count of an upload, after checking that `src` fills `dst` exactly and that neither
// holds integers (weights are floats). Throws llm::Error naming `be` and the tensor.
int64_t upload_elements(const Backend& be, const HostTensor& src, const Tensor& dst);

// dst[i] = src[i] for i in [0, n), converted from `from` to `to` (each f32, bf16 or f16) through
// f32; to 16 bits rounds to nearest even. Both backends convert checkpoints with it, so a weight
// holds the same bits whichever backend loaded it.
void convert_floats(const void* src, DType from, void* dst, DType to, int64_t n);

}  // namespace llm
