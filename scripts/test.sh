#!/usr/bin/env bash
# Every test on a fresh machine: install what is missing, build (the CUDA sources with nvcc, which
# must be present), run the suite, then build again with AddressSanitizer + UBSan and run it there too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
jobs=$(nproc)

# The CUDA sources must build here: CI has nvcc, and a missing one must fail, not skip.
"$root/scripts/build.sh" build -DLLM_REQUIRE_CUDA=ON
(cd "$root/build" && ctest --output-on-failure -j "$jobs")

# The sanitizer build skips CUDA: nvcc output is not instrumented and nothing CUDA runs here.
# -O1 with line tables keeps the second build cheap and the reports readable.
"$root/scripts/build.sh" build-asan -DLLM_SANITIZE=ON -DLLM_ENABLE_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1"
(cd "$root/build-asan" && ctest --output-on-failure -j "$jobs")
