#include "cli/main_support.h"

#include <iostream>

#include "cli/engine_options.h"
#include "llm/error.h"

namespace po = boost::program_options;

namespace llm {

std::optional<int> parse_command_line(const char* program, int argc, char** argv, const po::options_description& d,
                                      const std::function<void()>& check) {
  try {
    po::variables_map vm = parse_flags(argc, argv, d);
    if (vm.count("help")) {
      std::cout << d << "\n";
      return 0;
    }
    po::notify(vm);
    if (check) check();
  } catch (const po::error& e) {
    std::cerr << program << ": " << e.what() << "\n" << d << "\n";
    return 2;
  }
  return std::nullopt;
}

int run_guarded(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace llm
