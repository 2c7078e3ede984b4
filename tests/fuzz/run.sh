#!/usr/bin/env bash
# Builds the libFuzzer targets into build-fuzz (clang, ASan + UBSan) and runs each for
# SECONDS_PER_TARGET (default 60) on a scratch copy of its seed corpus, so new inputs never
# land in the repository. Prints one row per target and exits non-zero when any target found a
# crash, a timeout, a leak or ran out of memory; reproducers go to build-fuzz/artifacts.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]
# XGRAMMAR_LIBRARY=path/libxgrammar.a links a prebuilt xgrammar (CI's smoke run: quicker to
# build, but without coverage feedback from inside xgrammar).
# Re-run one artifact: build-fuzz/bin/NAME_fuzz build-fuzz/artifacts/NAME-crash-...
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"
here="$root/tests/fuzz"

# -O1 and line tables: the usual fuzzing trade-off (fast enough, readable stacks), and no
# NDEBUG, so the library assertions (nlohmann's among them) stay armed.
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DLLM_FUZZ=ON -DLLM_ENABLE_CUDA=OFF -DBUILD_TESTING=OFF \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DLLM_XGRAMMAR_LIBRARY=${XGRAMMAR_LIBRARY:-}" \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target llm_fuzzers -j "$(nproc)"

# name, -max_len, dictionary (a name in tests/fuzz/dict or "-").
targets=(
  "http_request 16384 http"
  "openai_request 4096 json"
  "chat_template 8192 jinja"
  "safetensors 8192 -"
  "gguf 8192 gguf"
  "tokenizer 1024 -"
  "hf_tokenizer 4096 json"
  "batch_line 4096 json"
  "grammar 4096 json"
  "tool_call_parser 4096 tool_calls"
  "reasoning_parser 4096 reasoning"
)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/artifacts" "$build/logs"
failed=0
printf '%-16s %12s  %s\n' target executions crashes
for t in "${targets[@]}"; do
  read -r name max_len dict <<< "$t"
  work="$build/corpus/$name"
  rm -rf "$work"
  mkdir -p "$work"
  cp "$here/corpus/$name"/* "$work/"
  args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048
        -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-")
  [ "$dict" = - ] || args+=(-dict="$here/dict/$dict.dict")
  log="$build/logs/$name.log"
  rc=0
  "$build/bin/${name}_fuzz" "${args[@]}" "$work" > "$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  # A crash ends the run before the final stats: the last progress line has the count.
  [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  result=0
  if [ "$rc" -ne 0 ]; then
    result=${artifact:-"exit $rc, see $log"}
    failed=1
  fi
  printf '%-16s %12s  %s\n' "$name" "${runs:-?}" "$result"
done
exit "$failed"
