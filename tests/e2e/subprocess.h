// Runs a binary with arguments, captures stdout and stderr, and enforces a timeout.
#pragma once

#include <string>
#include <vector>

namespace llm::test {

struct ProcessResult {
  int exit_code = -1;  // valid when !signaled
  bool signaled = false;
  int signal = 0;
  bool timed_out = false;
  std::string out, err;
};

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds = 120);

}  // namespace llm::test
