// HostArray: a fixed-capacity array in a backend's host staging memory (Backend::alloc_host,
// page-locked on devices), with the few vector operations the ModelRunner fills its per-step
// metadata with. Capacity is set once; pushing past it is a bug (checked).
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <type_traits>

#include "engine/backend/backend.h"
#include "llm/error.h"

namespace llm {

template <typename T>
class HostArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  HostArray() = default;
  HostArray(Backend& backend, size_t capacity)
      : buffer_(backend.alloc_host(capacity * sizeof(T))), capacity_(capacity) {}

  T* data() { return static_cast<T*>(buffer_.data()); }
  const T* data() const { return static_cast<const T*>(buffer_.data()); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  T& operator[](size_t i) { return data()[i]; }
  std::span<const T> span() const { return {data(), size_}; }

  void clear() { size_ = 0; }
  void push_back(T v) {
    check_capacity(size_ + 1);
    data()[size_++] = v;
  }
  // n elements, all `v`.
  void assign(size_t n, T v) {
    check_capacity(n);
    std::fill_n(data(), n, v);
    size_ = n;
  }

 private:
  void check_capacity(size_t n) const {
    if (n > capacity_) {
      throw Error(ErrorCode::kInternal, "host staging array overflow: " + std::to_string(n) +
                                            " elements, capacity " + std::to_string(capacity_));
    }
  }
  Buffer buffer_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace llm
