#include "server/api_error.h"

namespace llm {

std::string ApiError::type() const {
  switch (status_) {
    case 400:
    case 413:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 405:
      return "method_not_allowed";
    case 429:
      return "rate_limit_exceeded";
    case 503:
      return "service_unavailable";
    default:
      return status_ >= 500 ? "internal_server_error" : "invalid_request_error";
  }
}

nlohmann::json ApiError::body() const {
  nlohmann::json err = {{"message", what()}, {"type", type()}, {"param", nullptr}, {"code", nullptr}};
  if (!param_.empty()) err["param"] = param_;
  if (!code_.empty()) err["code"] = code_;
  return {{"error", err}};
}

}  // namespace llm
