// The server's stderr log: one call writes one whole line under a lock, so access lines from the
// HTTP threads and the main thread's messages never interleave (nor race on std::cerr's
// formatting state, which ThreadSanitizer reports).
#pragma once

#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>

namespace llm {

inline std::mutex& log_mutex() {
  static std::mutex mu;  // the logger's lock: the one piece of global state the server keeps
  return mu;
}

template <typename... Parts>
void log_line(const Parts&... parts) {
  std::ostringstream line;
  (line << ... << parts);
  line << '\n';
  const std::string text = line.str();
  std::lock_guard lock(log_mutex());
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace llm
