#include "bench/progress.h"

#include <unistd.h>

#include <cstdio>

namespace llm::bench {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void Progress::update(int64_t done) {
  last_done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const auto every = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (now - last_print_ < every) return;
  last_print_ = now;
  print(done, false);
}

void Progress::done() {
  if (finished_) return;
  finished_ = true;
  // Short steps print nothing: the summary that follows says all there is.
  if (std::chrono::steady_clock::now() - start_ < std::chrono::seconds(1)) {
    if (tty_ && last_print_ != start_) std::fputs("\r\033[K", stderr);
    return;
  }
  if (tty_ || last_done_ != last_printed_) print(last_done_, true);
}

void Progress::print(int64_t done, bool last) {
  last_printed_ = done;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double pct =
      total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
  std::fprintf(stderr, "%s%s: %lld/%lld %s (%.0f%%), %.1f s%s", tty_ ? "\r\033[K" : "",
               label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
               unit_.c_str(), pct, elapsed, tty_ && !last ? "" : "\n");
  std::fflush(stderr);
}

}  // namespace llm::bench
