#!/usr/bin/env bash
# Every test on a fresh machine: install what is missing, build (the CUDA sources with nvcc, which
# must be present), run the suite, build again with AddressSanitizer + UBSan and run the unit
# tests and the soak there, then smoke-run the fuzz targets. scripts/test-tsan.sh is the
# ThreadSanitizer variant.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
jobs=$(nproc)

# The CUDA sources must build here: CI has nvcc, and a missing one must fail, not skip. Two
# architectures prove they compile: sm_80 (whose code also runs on 8.6 and 8.9) and sm_90; the
# default build adds 86 and 89 for speed on those cards, at twice the nvcc time.
"$root/scripts/build.sh" build -DLLM_REQUIRE_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=80;90"
(cd "$root/build" && ctest --output-on-failure -j "$jobs")

# The sanitizer build skips CUDA: nvcc output is not instrumented and nothing CUDA runs here.
# -O1 with line tables keeps the second build cheap and the reports readable. Every GoogleTest
# binary and the soak run under ASan + UBSan; the Python end-to-end suites, which drive the same
# binaries as the soak, ran above.
# Both link the main build's xgrammar (uninstrumented either way) rather than compiling it twice
# more, and the ASan build leaves out the benchmark tools (bench_e2e, their only test, ran above).
"$root/scripts/build.sh" build-asan -DLLM_SANITIZE=ON -DLLM_ENABLE_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" "-DLLM_XGRAMMAR_LIBRARY=$root/build/libxgrammar.a" \
  -DLLM_BUILD_BENCH=OFF
# The engine-level runs of the emulated GPU (whole models through the SIMT emulator, 5 to 50 s
# each under ASan) also ran above; the emulator and every kernel stay under ASan here through
# tests/simt and the backend conformance suite's simt cases.
emulated_engines='Engine\.QuantizationOnSimt.*|SimtEngine\..*|Simt/SimtEngineModes\..*'
emulated_engines+='|TensorParallel\.EmulatedDevices.*|StructuredOutput\.TheEmulatedCudaBackend.*'
(cd "$root/build-asan" &&
  ctest --output-on-failure -j "$jobs" -E "^(server_e2e|batch_e2e|bench_e2e|$emulated_engines)$")

# A few seconds of every libFuzzer target (clang, ASan + UBSan) over its seed corpus; the long
# run is tests/fuzz/run.sh 60.
XGRAMMAR_LIBRARY="$root/build/libxgrammar.a" "$root/tests/fuzz/run.sh" 5
