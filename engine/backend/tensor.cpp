#include "engine/backend/tensor.h"

#include "llm/error.h"

namespace llm {

std::string Tensor::shape_string() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i)
    s += (i ? ", " : "") + std::to_string(dims[static_cast<size_t>(i)]);
  return s + "]";
}

Tensor Buffer::view(DType t, std::initializer_list<int64_t> shape) const {
  Tensor v(data_, t, shape);
  if (v.nbytes() > bytes_) {
    throw Error(ErrorCode::kInternal, "tensor view " + v.shape_string() +
                                          " does not fit a buffer of " + std::to_string(bytes_) +
                                          " bytes");
  }
  return v;
}

}  // namespace llm
