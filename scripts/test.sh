#!/usr/bin/env bash
# Every test on a fresh machine: install what is missing, build (with CUDA sources when nvcc is
# there), run the suite, then build again with AddressSanitizer + UBSan and run it there too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
jobs=$(nproc)

"$root/scripts/build.sh" build
(cd "$root/build" && ctest --output-on-failure -j "$jobs")

# The sanitizer build skips CUDA: nvcc output is not instrumented and nothing CUDA runs here.
# -O1 with line tables keeps the second build cheap and the reports readable.
"$root/scripts/build.sh" build-asan -DLLM_SANITIZE=ON -DLLM_ENABLE_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1"
(cd "$root/build-asan" && ctest --output-on-failure -j "$jobs")
