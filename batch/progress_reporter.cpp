#include "batch/progress_reporter.h"

#include <string>

namespace llm {

ProgressReporter::ProgressReporter(std::FILE* out, bool live)
    : out_(out), live_(live), start_(std::chrono::steady_clock::now()), last_(start_) {}

void ProgressReporter::update(const BatchCounts& c) {
  const auto now = std::chrono::steady_clock::now();
  const auto every = live_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (now - last_ < every) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double done_now = static_cast<double>(c.ok + c.failed);
  const double rps = secs > 0 ? done_now / secs : 0;
  const double tps = secs > 0 ? static_cast<double>(c.generated_tokens) / secs : 0;
  const double eta = rps > 0 ? static_cast<double>(c.total - c.done()) / rps : 0;
  if (live_) {
    const int width = 30;
    const int filled = c.total ? static_cast<int>(width * c.done() / c.total) : 0;
    std::fprintf(out_, "\r[%s%s] %lld/%lld  %.1f req/s  %.0f tok/s  ETA %.0fs ", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(), static_cast<long long>(c.done()),
                 static_cast<long long>(c.total), rps, tps, eta);
  } else {
    std::fprintf(out_, "llm-batch: %lld/%lld lines done (%lld failed), %.1f req/s, %.0f generated tok/s, ETA %.0f s\n",
                 static_cast<long long>(c.done()), static_cast<long long>(c.total), static_cast<long long>(c.failed), rps,
                 tps, eta);
  }
  std::fflush(out_);
}

void ProgressReporter::finish(const BatchCounts& c) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (live_) std::fprintf(out_, "\n");
  std::fprintf(out_,
               "llm-batch: done in %.1f s: %lld ok, %lld failed, %lld skipped (already answered); "
               "%lld prompt tokens, %lld generated tokens; %.2f req/s, %.1f generated tok/s\n",
               secs, static_cast<long long>(c.ok), static_cast<long long>(c.failed), static_cast<long long>(c.skipped),
               static_cast<long long>(c.prompt_tokens), static_cast<long long>(c.generated_tokens),
               secs > 0 ? static_cast<double>(c.ok + c.failed) / secs : 0.0,
               secs > 0 ? static_cast<double>(c.generated_tokens) / secs : 0.0);
  std::fflush(out_);
}

}  // namespace llm
