#include "kernels/cpu/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLM_CPU_RELAX() _mm_pause()
#else
#define LLM_CPU_RELAX() ((void)0)
#endif

namespace llm::cpu {
namespace {

// Spins before sleeping: a decode step issues a few hundred loops a few microseconds apart, and
// a futex wake costs more than that. 2^11 pauses is some tens of microseconds; longer spins
// starve the other threads when the machine has more runnable threads than cores.
constexpr int kSpins = 1 << 11;

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0)
    num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads_ = num_threads;
  threads_.reserve(static_cast<size_t>(num_threads - 1));
  for (int w = 1; w < num_threads; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::run_chunks(int worker) {
  if (worker >= participants_) return;
  const int64_t per = n_ / chunks_, extra = n_ % chunks_;
  for (int c; (c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) < chunks_;) {
    const int64_t begin = c * per + std::min<int64_t>(c, extra);
    const int64_t end = begin + per + (c < extra ? 1 : 0);
    try {
      task_.call(task_.obj, begin, end, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::run(int64_t n, int64_t grain, Task task) {
  if (n <= 0) return;
  task_ = task;
  n_ = n;
  const int64_t max_chunks = n / std::max<int64_t>(grain, 1);
  participants_ = static_cast<int>(std::clamp<int64_t>(max_chunks, 1, num_threads_));
  chunks_ = static_cast<int>(std::clamp<int64_t>(max_chunks, 1, 4 * int64_t{participants_}));
  if (participants_ == 1) chunks_ = 1;
  next_chunk_.store(0, std::memory_order_relaxed);
  error_ = nullptr;
  if (participants_ > 1) {
    pending_.store(num_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    run_chunks(0);
    int left;
    for (int spin = 0; (left = pending_.load(std::memory_order_acquire)) != 0; ++spin) {
      if (spin < kSpins) {
        LLM_CPU_RELAX();
      } else {
        pending_.wait(left, std::memory_order_acquire);
      }
    }
  } else {
    run_chunks(0);  // too little work to wake anyone
  }
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g;
    for (int spin = 0; (g = generation_.load(std::memory_order_acquire)) == seen; ++spin) {
      if (spin < kSpins) {
        LLM_CPU_RELAX();
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
    }
    seen = g;
    if (stop_.load(std::memory_order_relaxed)) return;
    run_chunks(worker);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace llm::cpu
