#include "batch/batch_line.h"

#include <random>

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

std::string batch_request_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return std::string("batch_req_") + hex;
}

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

}  // namespace

BatchLine parse_batch_line(const std::string& text, int64_t line_number) {
  BatchLine line;
  line.line_number = line_number;
  const std::string where = "line " + std::to_string(line_number) + ": ";
  ojson j;
  try {
    j = ojson::parse(text, limit_request_json_depth);
  } catch (const nlohmann::json::exception& e) {
    line.error = where + "malformed JSON: " + e.what();
    return line;
  } catch (const ApiError& e) {
    line.error = where + e.what();
    return line;
  }
  if (!j.is_object()) {
    line.error = where + "expected a JSON object";
    return line;
  }
  if (auto id = j.find("custom_id"); id != j.end() && id->is_string() && !id->get<std::string>().empty()) {
    line.custom_id = id->get<std::string>();
  } else {
    line.error = where + "'custom_id' (a non-empty string) is required";
    return line;
  }
  // Compared as JSON: value("method", "") would throw on a non-string and fail the whole file.
  if (auto method = j.find("method"); method == j.end() || *method != "POST") {
    line.error = where + "'method' must be \"POST\"";
    return line;
  }
  auto url_field = j.find("url");
  const std::string url = url_field != j.end() && url_field->is_string() ? url_field->get<std::string>() : "";
  if (url == "/v1/completions") {
    line.endpoint = Endpoint::kCompletions;
  } else if (url == "/v1/chat/completions") {
    line.endpoint = Endpoint::kChatCompletions;
  } else {
    line.error = where + "unsupported url '" + url + "' (supported: /v1/completions, /v1/chat/completions)";
    return line;
  }
  auto body = j.find("body");
  if (body == j.end() || !body->is_object()) {
    line.error = where + "'body' must be a JSON object";
    return line;
  }
  if (auto s = body->find("stream"); s != body->end() && s->is_boolean() && s->get<bool>()) {
    line.error = where + "'stream': true is not supported in a batch";
    return line;
  }
  line.body = std::move(*body);
  return line;
}

std::string batch_success_line(const std::string& custom_id, const std::string& request_id, const ojson& body) {
  const ojson out = {{"id", batch_request_id()},
                     {"custom_id", custom_id},
                     {"response", {{"status_code", 200}, {"request_id", request_id}, {"body", body}}},
                     {"error", nullptr}};
  return dump(out);
}

std::string batch_error_line(const std::string& custom_id, const std::string& code, const std::string& message) {
  const ojson out = {{"id", batch_request_id()},
                     {"custom_id", custom_id.empty() ? ojson(nullptr) : ojson(custom_id)},
                     {"response", nullptr},
                     {"error", {{"code", code}, {"message", message}}}};
  return dump(out);
}

}  // namespace llm
