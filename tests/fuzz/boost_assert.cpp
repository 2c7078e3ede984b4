// BOOST_ASSERT in the fuzz build (LLM_FUZZ defines BOOST_ENABLE_ASSERT_HANDLER): Boost's
// assertions stay armed, as in a Debug build, except one that is wrong in Boost 1.74.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  // Beast's chunk parser asserts that at least 5 bytes are buffered, but a body split right
  // after "0\r\n" legitimately has 3 and the code below the assertion asks for more. Fixed
  // upstream (boostorg/beast#2861); a Release build, which has no assertions, is unaffected.
  if (std::strstr(file, "beast/http/impl/basic_parser.ipp") != nullptr &&
      std::strcmp(expr, "n >= 5") == 0) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed%s%s\n", file, line, function, expr,
               msg != nullptr ? ": " : ".", msg != nullptr ? msg : "");
  std::abort();
}

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  assertion_failed_msg(expr, nullptr, function, file, line);
}

}  // namespace boost
