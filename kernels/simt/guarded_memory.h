// Emulated device memory with guard pages, so a kernel that reads or writes past the end of an
// allocation stops at once, named, instead of reading a neighbour's bytes. Each cudaMalloc is
// its own mapping: an inaccessible page, the allocation placed so that its end (rounded up to
// cudaMalloc's 256-byte alignment) meets a second inaccessible page. An access beyond the end
// (more than the rounding's slack, which reads as 0xFF poison) or before the start's page
// faults; the fault report names the address and, when a kernel is running on the thread, the
// block and thread that made it, then ends the process (as a GPU's illegal address ends the
// context). Internal to kernels/simt.
#pragma once

#include <cstddef>

namespace llm::simt {

class GuardedAllocation {
 public:
  GuardedAllocation() = default;
  // `bytes` (a multiple of 256) between two guard pages; null data() when mapping fails.
  explicit GuardedAllocation(std::size_t bytes);
  GuardedAllocation(GuardedAllocation&& other) noexcept;
  GuardedAllocation& operator=(GuardedAllocation&& other) noexcept;
  GuardedAllocation(const GuardedAllocation&) = delete;
  GuardedAllocation& operator=(const GuardedAllocation&) = delete;
  ~GuardedAllocation();

  void* data() const { return data_; }

 private:
  void* mapping_ = nullptr;
  std::size_t mapping_bytes_ = 0;
  void* data_ = nullptr;
};

// Installs the fault report once (SIGSEGV and SIGBUS; faults outside kernels go on to the
// handler that was there before, such as a sanitizer's).
void install_fault_report();

}  // namespace llm::simt
