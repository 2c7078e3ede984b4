# xgrammar (Apache-2.0, github.com/mlc-ai/xgrammar): the grammar engine behind structured
# output (engine/grammar/). Its C++ core ships in the PyPI sdist; the sdist is fetched once per
# checkout into .deps/ (git-ignored, shared by every build folder) and its 29 sources are
# compiled here directly, because its own CMake project wants the tvm_ffi Python package even
# without the Python bindings. Pinned by version and SHA-256.
#
# Offline: unpack the sdist yourself and pass -DLLM_XGRAMMAR_DIR=/path/to/xgrammar-0.2.9, or
# build without structured output (-DLLM_STRUCTURED_OUTPUT=OFF: response_format and forced
# tool calls then answer 400).
set(LLM_XGRAMMAR_VERSION 0.2.9)
set(LLM_XGRAMMAR_SHA256 87b466bca2475e29bb0323abc62c6c33cbcbcff47e5fb800a3e2099ac9620b90)
set(LLM_XGRAMMAR_DIR "${PROJECT_SOURCE_DIR}/.deps/xgrammar-${LLM_XGRAMMAR_VERSION}" CACHE PATH
    "An unpacked xgrammar ${LLM_XGRAMMAR_VERSION} sdist (fetched from PyPI when missing)")

if(NOT EXISTS "${LLM_XGRAMMAR_DIR}/include/xgrammar/xgrammar.h")
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  message(STATUS "xgrammar: fetching the ${LLM_XGRAMMAR_VERSION} sdist from PyPI into ${PROJECT_SOURCE_DIR}/.deps")
  execute_process(
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/fetch_sdist.py xgrammar
            ${LLM_XGRAMMAR_VERSION} ${LLM_XGRAMMAR_SHA256} ${PROJECT_SOURCE_DIR}/.deps
    RESULT_VARIABLE fetch_result)
  if(NOT fetch_result EQUAL 0 OR NOT EXISTS "${LLM_XGRAMMAR_DIR}/include/xgrammar/xgrammar.h")
    message(FATAL_ERROR "xgrammar ${LLM_XGRAMMAR_VERSION} could not be fetched (see above). Pass "
            "-DLLM_XGRAMMAR_DIR=<unpacked sdist>, or -DLLM_STRUCTURED_OUTPUT=OFF to build without "
            "structured output.")
  endif()
endif()

# The library is the same in every build folder of a checkout (optimised, uninstrumented), so
# the sanitizer and fuzz builds may link the main build's instead of compiling it again, which
# saves CI minutes: libstdc++'s ABI is the same under gcc and clang.
set(LLM_XGRAMMAR_LIBRARY "" CACHE FILEPATH
    "A libxgrammar.a another build folder of this checkout built, linked instead of compiling one")
if(LLM_XGRAMMAR_LIBRARY)
  if(NOT EXISTS "${LLM_XGRAMMAR_LIBRARY}")
    message(FATAL_ERROR "LLM_XGRAMMAR_LIBRARY: ${LLM_XGRAMMAR_LIBRARY} does not exist")
  endif()
  add_library(xgrammar STATIC IMPORTED GLOBAL)
  set_target_properties(xgrammar PROPERTIES
    IMPORTED_LOCATION "${LLM_XGRAMMAR_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES
      "${LLM_XGRAMMAR_DIR}/include;${LLM_XGRAMMAR_DIR}/3rdparty/dlpack/include"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  return()
endif()

file(GLOB_RECURSE llm_xgrammar_sources CONFIGURE_DEPENDS "${LLM_XGRAMMAR_DIR}/cpp/*.cc")
list(FILTER llm_xgrammar_sources EXCLUDE REGEX "/cpp/tvm_ffi/")
add_library(xgrammar STATIC ${llm_xgrammar_sources})
set_target_properties(xgrammar PROPERTIES CXX_STANDARD 17 POSITION_INDEPENDENT_CODE ON)
target_include_directories(xgrammar SYSTEM PUBLIC "${LLM_XGRAMMAR_DIR}/include"
                           "${LLM_XGRAMMAR_DIR}/3rdparty/dlpack/include")
target_include_directories(xgrammar SYSTEM PRIVATE "${LLM_XGRAMMAR_DIR}/3rdparty/picojson")
target_compile_definitions(xgrammar PRIVATE XGRAMMAR_ENABLE_CPPTRACE=0)
# Not our code: no warnings. Optimised even in the sanitizer builds (the mask runs on every
# constrained step), and not instrumented there (see the sanitizer options below this include).
target_compile_options(xgrammar PRIVATE -w -O2)
target_link_libraries(xgrammar PUBLIC Threads::Threads)
