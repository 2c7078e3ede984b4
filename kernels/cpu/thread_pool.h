// ThreadPool: a fixed set of worker threads that split one loop at a time with the caller.
// Built for the per-step hot path: no allocation, lock or thread creation per call; idle
// workers spin briefly, then sleep on a futex (std::atomic::wait).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace llm::cpu {

class ThreadPool {
 public:
  // `num_threads` counts the caller; 0 means one per hardware thread.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return num_threads_; }

  // Runs body(begin, end, worker) on [0, n) cut into contiguous, nearly equal chunks of at least
  // `grain` items (so small loops do not pay for waking anyone). Up to four chunks per worker
  // are handed out first come, first served, so a core slowed by another process does not hold
  // the others back; `worker` (the caller is 0) indexes per-thread scratch. Kernels must not let
  // a result depend on the cut or on which worker ran a chunk.
  // Returns when every chunk is done; rethrows the first exception a chunk threw. One caller at
  // a time.
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& body) {
    using Body = std::remove_reference_t<F>;
    run(n, grain,
        Task{const_cast<void*>(static_cast<const void*>(&body)),
             [](void* obj, int64_t b, int64_t e, int w) { (*static_cast<Body*>(obj))(b, e, w); }});
  }

 private:
  struct Task {
    void* obj = nullptr;
    void (*call)(void*, int64_t, int64_t, int) = nullptr;
  };
  void run(int64_t n, int64_t grain, Task task);
  void run_chunks(int worker);
  void worker_loop(int worker);

  int num_threads_;
  std::vector<std::thread> threads_;
  Task task_;
  int64_t n_ = 0;
  int chunks_ = 1;                       // chunks of the current call
  int participants_ = 1;                 // workers taking part in it (the caller included)
  std::atomic<int> next_chunk_{0};       // the next chunk to hand out
  std::atomic<uint64_t> generation_{0};  // bumped once per parallel_for; workers wait on it
  std::atomic<int> pending_{0};          // workers (not the caller) still running this call
  std::atomic<bool> stop_{false};
  std::mutex error_mu_;  // taken only when a chunk throws
  std::exception_ptr error_;
};

}  // namespace llm::cpu
