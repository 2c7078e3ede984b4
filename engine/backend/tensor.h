// Tensor: a non-owning, typed, row-major view of backend memory (but for the weights a backend's
// prepare_linear_weight made, in a layout that only that backend reads). Buffer: the memory
// itself, owned, freed by the backend that allocated it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

#include "llm/dtype.h"

namespace llm {

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::kF32;
  int ndim = 0;
  std::array<int64_t, 4> dims{};  // row-major, outermost first

  Tensor() = default;
  Tensor(void* d, DType t, std::initializer_list<int64_t> shape) : data(d), dtype(t) {
    for (int64_t s : shape) dims[static_cast<size_t>(ndim++)] = s;
  }
  int64_t size(int i) const { return dims[static_cast<size_t>(i)]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= dims[static_cast<size_t>(i)];
    return n;
  }
  // Quantized types count whole blocks along the last dimension (see llm/dtype.h).
  size_t nbytes() const {
    if (ndim == 0) return dtype_size(dtype);  // a scalar
    size_t rows = 1;
    for (int i = 0; i + 1 < ndim; ++i) rows *= static_cast<size_t>(dims[static_cast<size_t>(i)]);
    return rows * dtype_row_bytes(dtype, dims[static_cast<size_t>(ndim - 1)]);
  }
  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }
  // Rows [begin, begin + count) of a tensor whose first dimension is rows.
  // (Also of a tensor with no rows: the row size comes from the inner dimensions.)
  Tensor rows(int64_t begin, int64_t count) const {
    size_t row_bytes = ndim > 1 ? dtype_row_bytes(dtype, dims[static_cast<size_t>(ndim - 1)])
                                : dtype_size(dtype);
    for (int i = 1; i + 1 < ndim; ++i) row_bytes *= static_cast<size_t>(dims[static_cast<size_t>(i)]);
    Tensor t = *this;
    t.dims[0] = count;
    t.data = static_cast<char*>(data) + static_cast<size_t>(begin) * row_bytes;
    return t;
  }
  std::string shape_string() const;
};

// Backend memory, freed on destruction through the deleter its backend gave it (move-only).
class Buffer {
 public:
  Buffer() = default;
  Buffer(void* data, size_t bytes, std::function<void(void*)> free_fn)
      : data_(data), bytes_(bytes), free_(std::move(free_fn)) {}
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (data_ && free_) free_(data_);
  }

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  // A view of the whole buffer with the given type and shape (which must fit).
  Tensor view(DType t, std::initializer_list<int64_t> shape) const;

 private:
  void swap(Buffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    std::swap(free_, o.free_);
  }
  void* data_ = nullptr;
  size_t bytes_ = 0;
  std::function<void(void*)> free_;
};

// A weight (or cache) tensor together with the buffer that owns its memory.
struct OwnedTensor {
  Buffer buffer;
  Tensor tensor;
};

}  // namespace llm
