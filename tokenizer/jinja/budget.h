// What one render may spend. A template is code from a model repository and the inputs come
// from the client, so every way of making the renderer loop, recurse or allocate without
// bound is metered here and turned into a TemplateError.
#pragma once

#include <cstddef>

namespace llm::jinja {

struct Limits {
  size_t max_output_bytes = 1 << 20;  // the rendered text, and any one string built
  // All strings built by one render together: bounds its memory, which the per-string and step
  // limits alone let reach a gigabyte (a thousand live 1 MiB strings).
  size_t max_total_text_bytes = size_t{64} << 20;
  // All for-loop iterations of one render together. An iteration costs far more than a step,
  // so this is what bounds the time of a template that only loops (about 0.3 s here); a chat
  // template loops over the messages, a few thousand at most.
  size_t max_loop_iterations = 200'000;
  size_t max_list_items = 1'000'000;       // any one list built (range(), '*', '+', filters)
  size_t max_depth = 500;                  // nested evaluation: expressions, blocks, macro calls
  // One step per statement or expression evaluated, plus one per 64 bytes of text and per
  // list element or comparison the template makes: bounds CPU time independently of the
  // limits above (a 1 MiB string copied a million times stays within them).
  size_t max_steps = 20'000'000;
};

// Values nest at most this deep (lists in maps in lists...): keeps the recursive printers,
// comparisons and destructors within a small stack however the data was built.
inline constexpr int kMaxValueDepth = 256;
// Syntax nests at most this deep (parentheses, operator chains, blocks).
inline constexpr int kMaxSyntaxDepth = 200;

class Budget {
 public:
  explicit Budget(const Limits& limits) : limits_(limits) {}

  const Limits& limits() const { return limits_; }

  void step(size_t n = 1) {
    steps_ += n;
    if (steps_ > limits_.max_steps) fail_steps();
  }
  // A string of `size` bytes is about to be built.
  void text(size_t size) {
    if (size > limits_.max_output_bytes) fail_text(size);
    text_bytes_ += size;
    if (text_bytes_ > limits_.max_total_text_bytes) fail_total_text();
    step(1 + size / 64);
  }
  // A list of `size` items is about to be built.
  void items(size_t size) {
    if (size > limits_.max_list_items) fail_items(size);
    step(1 + size);
  }
  void iteration() {
    if (++iterations_ > limits_.max_loop_iterations) fail_iterations();
    step();
  }

  // Held while one level of evaluation is active.
  class DepthGuard {
   public:
    explicit DepthGuard(Budget& budget) : budget_(budget) {
      if (++budget_.depth_ > budget_.limits_.max_depth) {
        --budget_.depth_;
        budget_.fail_depth();
      }
    }
    ~DepthGuard() { --budget_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Budget& budget_;
  };

 private:
  [[noreturn]] void fail_steps() const;
  [[noreturn]] void fail_text(size_t size) const;
  [[noreturn]] void fail_total_text() const;
  [[noreturn]] void fail_items(size_t size) const;
  [[noreturn]] void fail_iterations() const;
  [[noreturn]] void fail_depth() const;

  Limits limits_;
  size_t steps_ = 0;
  size_t text_bytes_ = 0;
  size_t iterations_ = 0;
  size_t depth_ = 0;
};

}  // namespace llm::jinja
