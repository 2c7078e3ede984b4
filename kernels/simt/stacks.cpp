// See stacks.h. Stacks are mmap'ed with an inaccessible page below them, so a kernel that
// overflows its stack faults at once instead of overwriting a neighbouring fiber's stack.
#include "kernels/simt/stacks.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#endif
#endif

namespace llm::simt {
namespace {

std::size_t page_bytes() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Returns a stack's mapping to the system. A fiber's frames end by a context switch, not a
// return, so AddressSanitizer's poisoned redzones of those frames stay in its shadow memory;
// unpoisoned here, or a later mapping at the same addresses (a checkpoint, another buffer)
// reads as a stack-buffer-underflow.
void unmap(void* base, std::size_t bytes) {
#if defined(ASAN_UNPOISON_MEMORY_REGION)
  ASAN_UNPOISON_MEMORY_REGION(base, bytes);
#endif
  ::munmap(base, bytes);
}

class StackPool {
 public:
  StackPool() : size_(fiber_stack_bytes()) {}
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() {
    for (void* base : free_) unmap(base, size_ + page_bytes());
  }

  boost::context::stack_context allocate() {
    void* base = nullptr;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base = ::mmap(nullptr, size_ + page_bytes(), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base == MAP_FAILED) throw std::bad_alloc();
      ::mprotect(base, page_bytes(), PROT_NONE);  // the guard page; stacks grow down
    }
    boost::context::stack_context sctx;
    sctx.size = size_;
    sctx.sp = static_cast<char*>(base) + page_bytes() + size_;
    return sctx;
  }

  void deallocate(boost::context::stack_context& sctx) noexcept {
    void* base = static_cast<char*>(sctx.sp) - size_ - page_bytes();
    try {
      free_.push_back(base);
    } catch (...) {
      unmap(base, size_ + page_bytes());
    }
  }

 private:
  std::size_t size_;
  std::vector<void*> free_;
};

StackPool& pool() {
  thread_local StackPool p;
  return p;
}

}  // namespace

std::size_t fiber_stack_bytes() {
  static const std::size_t bytes = [] {
    std::size_t kib = 64;
    if (const char* env = std::getenv("LLM_SIMT_STACK_KB")) {
      try {
        kib = std::stoul(env);
      } catch (...) {
        kib = 64;  // an unreadable value keeps the default rather than failing every launch
      }
    }
    const std::size_t page = page_bytes();
    return ((kib * 1024 + page - 1) / page) * page;
  }();
  return bytes;
}

boost::context::stack_context PooledStack::allocate() {
  return pool().allocate();
}

void PooledStack::deallocate(boost::context::stack_context& sctx) noexcept {
  pool().deallocate(sctx);
}

}  // namespace llm::simt
