// The emulator's state behind cp.async (kernels/simt/tensor_core.h declares the instructions):
// each emulated thread's copies that were issued and have not landed yet. Internal to kernels/simt.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace llm::simt::detail {

struct AsyncCopies {
  struct Copy {
    void* dst = nullptr;
    std::array<std::byte, 16> data{};  // the source bytes, read at issue (global memory is
                                       // not written by the kernel that copies it)
    int bytes = 0;
    int group = 0;  // the commit group it belongs to; == committed while not yet committed
  };
  std::vector<Copy> pending;
  int committed = 0;  // groups committed so far by this thread
};

}  // namespace llm::simt::detail
