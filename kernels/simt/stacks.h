// Fiber stacks for the emulator's threads: fixed-size, guard-paged, and pooled per OS thread so
// a launch reuses the stacks of the previous block instead of mapping new ones per thread.
#pragma once

#include <boost/context/stack_context.hpp>
#include <cstddef>

namespace llm::simt {

// Size of each emulated thread's stack; LLM_SIMT_STACK_KB overrides the 64 KiB default.
std::size_t fiber_stack_bytes();

// A Boost.Context StackAllocator drawing from the calling OS thread's pool.
struct PooledStack {
  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& sctx) noexcept;
};

}  // namespace llm::simt
