#!/usr/bin/env bash
# The ThreadSanitizer variant of the test command, for CI beside scripts/test.sh: the engine loop,
# scheduler, CPU thread pool, tensor-parallel ranks and communicators, llm-generate and the HTTP
# server, built with -fsanitize=thread. The first data race stops the process and fails the run.
# The CUDA emulator's tests are left out: its fibers switch stacks, which TSan cannot follow.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
dir="$root/build-tsan"
# Asio's fenced blocks order handler memory with std::atomic_thread_fence, which TSan does not
# model (GCC warns, -Wtsan); its handler queues are mutex-protected, so the fences can go here.
tsan="-fsanitize=thread -fno-omit-frame-pointer -DBOOST_ASIO_DISABLE_FENCED_BLOCK"
cmake -S "$root" -B "$dir" -G Ninja -DLLM_ENABLE_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS=$tsan" "-DCMAKE_EXE_LINKER_FLAGS=$tsan" > "$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
tests=(engine_test scheduler_test communicator_test tensor_parallel_test cpu_kernels_test
       llm_generate_test)
cmake --build "$dir" -j "$(nproc)" --target "${tests[@]}" llm-serve llm-generate llm-batch

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4"
status=0
for t in "${tests[@]}"; do
  echo "== $t (TSan)"
  "$dir/bin/$t" --gtest_brief=1 "--gtest_filter=-*Emulated*:*EachRank*:*Simt*" || status=1
done
echo "== server end to end (TSan llm-serve)"
LLM_BIN_DIR="$dir/bin" "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider \
  "$root/tests/server" || status=1
exit $status
