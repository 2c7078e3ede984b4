// Guard pages around emulated device memory and the report of a kernel's fault (see the header).
#include "kernels/simt/guarded_memory.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <utility>

#include "kernels/cuda/cuda_api.h"

namespace llm::simt {
namespace {

std::size_t page_size() {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

struct sigaction g_previous_segv, g_previous_bus;

void report_fault(int sig, siginfo_t* info, void* context) {
  if (detail::running_kernel()) {
    // fprintf is not async-signal-safe; the process ends right after, and the report is what
    // matters.
    std::fprintf(stderr,
                 "simt: illegal address %p in block (%u,%u,%u) thread (%u,%u,%u): outside every "
                 "device allocation (the kernel read or wrote past an allocation's end or before "
                 "its start)\n",
                 info->si_addr, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y,
                 threadIdx.z);
    std::fflush(stderr);
    _exit(134);
  }
  // Not ours: hand the signal to whoever handled it before (a sanitizer, or the default).
  const struct sigaction& prev = sig == SIGSEGV ? g_previous_segv : g_previous_bus;
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, context);
  } else if (prev.sa_handler != SIG_IGN && prev.sa_handler != SIG_DFL) {
    prev.sa_handler(sig);
  } else {
    sigaction(sig, &prev, nullptr);  // return re-runs the access under the old disposition
  }
}

}  // namespace

GuardedAllocation::GuardedAllocation(std::size_t bytes) {
  const std::size_t page = page_size();
  const std::size_t body = (bytes + page - 1) / page * page;
  mapping_bytes_ = body + 2 * page;
  void* m =
      mmap(nullptr, mapping_bytes_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    mapping_bytes_ = 0;
    return;
  }
  mapping_ = m;
  auto* start = static_cast<std::byte*>(m) + page;
  if (mprotect(start, body, PROT_READ | PROT_WRITE) != 0) {
    munmap(mapping_, mapping_bytes_);
    mapping_ = nullptr;
    mapping_bytes_ = 0;
    return;
  }
  data_ = start + (body - bytes);  // the end meets the trailing guard page
}

GuardedAllocation::GuardedAllocation(GuardedAllocation&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_bytes_(std::exchange(other.mapping_bytes_, 0)),
      data_(std::exchange(other.data_, nullptr)) {}

GuardedAllocation& GuardedAllocation::operator=(GuardedAllocation&& other) noexcept {
  if (this != &other) {
    if (mapping_) munmap(mapping_, mapping_bytes_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
  }
  return *this;
}

GuardedAllocation::~GuardedAllocation() {
  if (mapping_) munmap(mapping_, mapping_bytes_);
}

void install_fault_report() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &report_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous_segv);
    sigaction(SIGBUS, &sa, &g_previous_bus);
  });
}

}  // namespace llm::simt
