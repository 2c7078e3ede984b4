#include "server/tag_scanner.h"

#include <utility>

namespace llm {

bool TagScanner::feed(char c, std::string& released) {
  held_ += c;
  // Drop bytes from the front until what is held is again a prefix of the tag: the tag may
  // start inside the held bytes (for tags whose first byte recurs in them), so a mismatch
  // releases only one byte at a time. At most tag-length bytes are held, so this is bounded.
  while (!held_.empty() && !tag_.starts_with(held_)) {
    released += held_.front();
    held_.erase(0, 1);
  }
  if (held_.size() == tag_.size()) {
    held_.clear();
    return true;
  }
  return false;
}

std::string TagScanner::take_held() {
  return std::exchange(held_, std::string());
}

}  // namespace llm
