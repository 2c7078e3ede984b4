#include "batch/batch_runner.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "llm/error.h"

namespace llm {
namespace {

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r") == std::string::npos; }

}  // namespace

int64_t count_nonblank_lines(const std::filesystem::path& path, const BatchOptions& options) {
  std::ifstream in(path);
  int64_t n = 0, k = 0;
  for (std::string line; std::getline(in, line);) {
    if (!blank(line)) n += options.in_shard(k++);
  }
  return n;
}

BatchRunner::BatchRunner(Engine& engine, const ModelContext& ctx, BatchOptions options, ProgressReporter& progress)
    : engine_(engine), ctx_(ctx), opt_(std::move(options)), progress_(progress) {}

BatchRunner::~BatchRunner() {
  if (out_) std::fclose(out_);
}

int64_t BatchRunner::resume_point() {
  std::ifstream in(opt_.output, std::ios::binary);
  if (!in) return 0;
  int64_t lines = 0;
  std::streamoff good_end = 0, pos = 0;
  for (std::string line; std::getline(in, line);) {
    pos += static_cast<std::streamoff>(line.size());
    if (in.eof()) break;  // no newline after it: torn by a crash
    pos += 1;
    // A complete line must also be a complete JSON object; a torn write can end in '\n' only
    // if the crash hit exactly there, so parsing guards the rare partial-page case too.
    if (!nlohmann::json::accept(line)) break;
    ++lines;
    good_end = pos;
  }
  in.close();
  std::error_code ec;
  if (std::filesystem::file_size(opt_.output, ec) != static_cast<uintmax_t>(good_end)) {
    std::filesystem::resize_file(opt_.output, static_cast<uintmax_t>(good_end), ec);
    if (ec) throw Error(ErrorCode::kCorruptFile, opt_.output.string() + ": cannot cut its torn last line: " + ec.message());
  }
  return lines;
}

void BatchRunner::write(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fputc('\n', out_) == EOF ||
      std::fflush(out_) != 0) {
    throw Error(ErrorCode::kResourceExhausted,
                opt_.output.string() + ": write failed: " + std::strerror(errno) +
                    " (run again with --resume: it keeps the complete lines and cuts the torn last one)");
  }
}

void BatchRunner::start(Slot& s) {
  const std::string where = "line " + std::to_string(s.line.line_number) + ": ";
  if (!s.line.error.empty()) {
    s.result = batch_error_line(s.line.custom_id, "invalid_request", s.line.error);
    return;
  }
  if (!seen_ids_.insert(s.line.custom_id).second) {
    s.result = batch_error_line(s.line.custom_id, "duplicate_custom_id",
                                where + "custom_id '" + s.line.custom_id + "' appears on an earlier line");
    return;
  }
  auto wake = [w = wake_] {
    {
      std::lock_guard lock(w->mu);
      ++w->events;
    }
    w->cv.notify_one();
  };
  try {
    s.request = parse_api_request(s.line.endpoint, s.line.body, ctx_);
    s.job = std::make_unique<ApiCompletion>(engine_, *s.request, *ctx_.tokenizer, wake);
  } catch (const ApiError& e) {
    s.result = batch_error_line(s.line.custom_id, "invalid_request", where + e.what());
  } catch (const Error& e) {
    s.result = batch_error_line(s.line.custom_id, "invalid_request", where + e.what());
  }
}

bool BatchRunner::poll(Slot& s) {
  if (!s.job || !s.job->drain()) return false;
  const Usage u = s.job->builder().usage();
  counts_.prompt_tokens += u.prompt_tokens;
  counts_.generated_tokens += u.completion_tokens;
  s.result = batch_success_line(s.line.custom_id, s.job->id(), s.job->builder().body());
  s.ok = true;
  s.job.reset();
  return true;
}

BatchCounts BatchRunner::run() {
  std::ifstream in(opt_.input);
  if (!in) throw Error(ErrorCode::kNotFound, opt_.input.string() + ": cannot open the input file");
  counts_.total = count_nonblank_lines(opt_.input, opt_);
  const int64_t skip = opt_.resume ? resume_point() : 0;
  out_ = std::fopen(opt_.output.c_str(), opt_.resume ? "ab" : "wb");
  if (!out_) throw Error(ErrorCode::kNotFound, opt_.output.string() + ": cannot open for writing: " + std::strerror(errno));

  int64_t line_number = 0, nonblank = 0, index = 0;  // index: of non-blank lines, all shards
  std::string text;
  // Lines answered by an earlier run: only their custom_ids are needed (duplicate detection).
  while (nonblank < skip && std::getline(in, text)) {
    ++line_number;
    if (blank(text) || !opt_.in_shard(index++)) continue;
    ++nonblank;
    const BatchLine line = parse_batch_line(text, line_number);
    if (line.error.empty()) seen_ids_.insert(line.custom_id);
  }
  counts_.skipped = nonblank;

  std::deque<Slot> window;  // lines read and not yet written, in input order
  bool eof = false;
  while (!eof || !window.empty()) {
    // Fill the window; the bound covers running and finished-but-unwritten lines alike.
    while (!eof && static_cast<int>(window.size()) < opt_.max_in_flight) {
      if (!std::getline(in, text)) {
        eof = true;
        break;
      }
      ++line_number;
      if (blank(text) || !opt_.in_shard(index++)) continue;
      window.push_back(Slot{parse_batch_line(text, line_number)});
      start(window.back());
    }
    uint64_t seen;
    {
      std::lock_guard lock(wake_->mu);
      seen = wake_->events;
    }
    for (Slot& s : window) poll(s);
    bool wrote = false;
    while (!window.empty() && window.front().result) {
      write(*window.front().result);
      (window.front().ok ? counts_.ok : counts_.failed)++;
      window.pop_front();
      wrote = true;
    }
    progress_.update(counts_);
    // Every submitted line gets its finish events, so an event always comes.
    if (!wrote && !window.empty()) {
      std::unique_lock lock(wake_->mu);
      wake_->cv.wait(lock, [&] { return wake_->events != seen; });
    }
  }
  progress_.finish(counts_);
  return counts_;
}

}  // namespace llm
