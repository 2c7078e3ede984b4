// ProgressReporter: a live bar on a terminal, plain periodic lines otherwise, and the summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace llm {

struct BatchCounts {
  int64_t total = 0;     // non-blank input lines
  int64_t skipped = 0;   // answered by an earlier run (--resume)
  int64_t ok = 0;
  int64_t failed = 0;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t done() const { return skipped + ok + failed; }
};

class ProgressReporter {
 public:
  ProgressReporter(std::FILE* out, bool live);
  void update(const BatchCounts& c);  // throttled: cheap to call often
  void finish(const BatchCounts& c);  // the summary

 private:
  std::FILE* out_;
  bool live_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace llm
