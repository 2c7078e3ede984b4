// Progress of a long benchmark step on stderr: a live line on a terminal, a line every few
// seconds otherwise (so logs of CI runs stay short). Never on stdout, which holds the results.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace llm::bench {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit);
  // `done` of `total` units finished; cheap enough to call on every unit.
  void update(int64_t done);
  // Prints the final state (once), ending the live line.
  void done();

 private:
  void print(int64_t done, bool last);

  std::string label_;
  std::string unit_;
  int64_t total_;
  int64_t last_done_ = 0;
  int64_t last_printed_ = -1;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

}  // namespace llm::bench
