// BatchRunner: feeds an OpenAI Batch JSONL file through the Engine with at most max_in_flight
// requests at once and writes one output line per non-blank input line, in input order, each
// flushed as soon as every line before it is written. So a crash loses at most the lines in
// flight, and --resume (skip the lines the output already answers) finishes the job with
// nothing lost or done twice.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "batch/batch_line.h"
#include "batch/progress_reporter.h"
#include "llm/engine.h"
#include "server/api_completion.h"

namespace llm {

struct BatchOptions {
  std::filesystem::path input, output;
  bool resume = false;
  int max_in_flight = 64;
  // --shard I/N: only the non-blank lines whose index k (from 0) has k % N == I; the shards'
  // outputs are put back together by merge_batch_outputs (batch/batch_merge.h).
  int shard_index = 0, shard_count = 1;
  bool in_shard(int64_t k) const { return k % shard_count == shard_index; }
};

class BatchRunner {
 public:
  BatchRunner(Engine& engine, const ModelContext& ctx, BatchOptions options, ProgressReporter& progress);
  ~BatchRunner();

  // Runs the whole file. Throws llm::Error when the input cannot be read or the output cannot
  // be written (e.g. disk full); what was written before stays valid for --resume.
  BatchCounts run();

 private:
  struct Slot {
    BatchLine line;
    std::optional<ApiRequest> request;
    std::unique_ptr<ApiCompletion> job;  // while it runs
    std::optional<std::string> result;   // the output line, once known
    bool ok = false;
  };
  // Counts events from every running line's streams, so run() sleeps until one arrives.
  struct Wakeup {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t events = 0;
  };

  int64_t resume_point();  // complete output lines; cuts a torn last line
  void start(Slot& slot);
  bool poll(Slot& slot);   // true when it just finished
  void write(const std::string& text);

  Engine& engine_;
  const ModelContext& ctx_;
  BatchOptions opt_;
  ProgressReporter& progress_;
  std::FILE* out_ = nullptr;
  BatchCounts counts_;
  std::unordered_set<std::string> seen_ids_;
  // Shared with the engine thread's wake-ups, which may outlive a slot.
  std::shared_ptr<Wakeup> wake_ = std::make_shared<Wakeup>();
};

// Non-blank lines of a file in OPTIONS' shard (for the progress total).
int64_t count_nonblank_lines(const std::filesystem::path& path, const BatchOptions& options = {});

}  // namespace llm
