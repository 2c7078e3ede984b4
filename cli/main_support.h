// What every binary's main() does the same way: parse flags (command line, then LLM_
// environment variables), print --help, and turn errors into one line on stderr and an exit
// code (2 for bad flags, 1 for anything else).
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <optional>

namespace llm {

// Returns the exit code to stop with (0 after --help, 2 after a bad flag, with usage printed),
// or nullopt to go on. `check` may throw boost::program_options::error for cross-flag rules.
std::optional<int> parse_command_line(const char* program, int argc, char** argv,
                                      const boost::program_options::options_description& d,
                                      const std::function<void()>& check = {});

// Runs `body`; an llm::Error becomes "PROGRAM: error: ..." and exit code 1, anything else
// "PROGRAM: internal error: ..." and 1.
int run_guarded(const char* program, const std::function<int()>& body);

}  // namespace llm
