#include "tokenizer/jinja/budget.h"

#include <string>

#include "tokenizer/jinja/error.h"

namespace llm::jinja {

void Budget::fail_steps() const {
  throw_runtime("template exceeded its evaluation budget (" + std::to_string(limits_.max_steps) +
                " steps)");
}

void Budget::fail_text(size_t size) const {
  throw_runtime("template output or string too large (" + std::to_string(size) + " bytes, limit " +
                std::to_string(limits_.max_output_bytes) + ")");
}

void Budget::fail_total_text() const {
  throw_runtime("template built too much text (limit " +
                std::to_string(limits_.max_total_text_bytes) + " bytes of strings per render)");
}

void Budget::fail_items(size_t size) const {
  throw_runtime("list too large (" + std::to_string(size) + " items, limit " +
                std::to_string(limits_.max_list_items) + ")");
}

void Budget::fail_iterations() const {
  throw_runtime("template exceeded the loop iteration limit (" +
                std::to_string(limits_.max_loop_iterations) + ")");
}

void Budget::fail_depth() const {
  throw_runtime("template recursion too deep (limit " + std::to_string(limits_.max_depth) +
                " nested evaluations)");
}

}  // namespace llm::jinja
