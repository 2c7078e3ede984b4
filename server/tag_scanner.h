// TagScanner: finds a fixed marker (such as "<tool_call>" or "</think>") in text that arrives a
// byte at a time, holding back only the bytes that may still be the start of the marker. The
// streaming tool-call and reasoning parsers share it, so a marker split over two deltas is
// found exactly as one inside a single delta.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace llm {

class TagScanner {
 public:
  explicit TagScanner(std::string tag) : tag_(std::move(tag)) {}

  // Feeds one byte. Appends to `released` the bytes that can no longer be part of the tag (in
  // order) and returns true when this byte completes the tag, which is then consumed.
  bool feed(char c, std::string& released);
  // The bytes held back: a proper prefix of the tag, never longer than it.
  const std::string& held() const { return held_; }
  // Hands the held bytes out (at the end of the text, or when the caller stops looking).
  std::string take_held();
  std::string_view tag() const { return tag_; }

 private:
  std::string tag_;
  std::string held_;
};

}  // namespace llm
