// One line of a batch input file through parse_batch_line (which must never throw) and, when
// it is well formed, through the request parser and the output-line writers as BatchRunner
// runs them: a bad line becomes an error line, never an exception.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "batch/batch_line.h"
#include "llm/error.h"
#include "nlohmann/json.hpp"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const llm::BatchLine line = llm::parse_batch_line(text, 7);
  std::string out;
  if (!line.error.empty()) {
    out = llm::batch_error_line(line.custom_id, "invalid_request", line.error);
  } else {
    if (line.custom_id.empty() || !line.body.is_object()) std::abort();
    try {
      llm::parse_api_request(line.endpoint, line.body, llm::fuzz::model_context());
      out = llm::batch_success_line(line.custom_id, "req-1", line.body);
    } catch (const llm::ApiError& e) {
      out = llm::batch_error_line(line.custom_id, "invalid_request", e.what());
    }
  }
  // Every output line must be one JSON object on one line.
  if (out.find('\n') != std::string::npos || !nlohmann::json::accept(out)) std::abort();
  return 0;
}
