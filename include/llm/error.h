// Errors a caller can act on. Library code throws llm::Error; front ends (main, the HTTP
// handlers, the batch runner) catch it at their edge and turn it into an exit code or a response.
#pragma once

#include <stdexcept>
#include <string>

namespace llm {

enum class ErrorCode {
  kInvalidArgument,    // the caller's input is wrong (bad parameter, prompt too long)
  kNotFound,           // a file or directory that must exist does not
  kCorruptFile,        // a file exists but its contents are malformed or inconsistent
  kUnsupported,        // well-formed input we do not handle (architecture, dtype)
  kResourceExhausted,  // out of memory, KV blocks, queue slots
  kUnavailable,        // a peer that must answer does not (tensor-parallel ranks over TCP)
  kInternal,           // a bug on our side
};

const char* error_code_name(ErrorCode code);

// An error with a category and a message meant for the user: it names the file,
// field or parameter and says what is wrong with it. `param`: the request parameter at fault,
// when there is one (an API front end reports it as the error's "param").
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string param = {})
      : std::runtime_error(message), code_(code), param_(std::move(param)) {}
  ErrorCode code() const { return code_; }
  const std::string& param() const { return param_; }

 private:
  ErrorCode code_;
  std::string param_;
};

}  // namespace llm
