#!/usr/bin/env bash
# llama.cpp beside llm-server on the same weights, same machine, same thread count:
#   bench/compare_llamacpp.sh RESULTS_DIR
# Fetches llama.cpp's source from PyPI (the llama-cpp-python sdist vendors it), builds four of its
# tools CPU-only into build-peer/ (git-ignored, cached between runs), makes one bf16 checkpoint
# with llm-make-model, converts it to GGUF with llama.cpp's own convert_hf_to_gguf.py (bf16, plus
# Q8_0 and Q4_0 for later), then measures both sides one after the other: single-stream decode,
# prefill of a 512-token prompt, 32 sequences decoding together (llama-bench and
# llama-batched-bench against `llm-bench latency`), and serving: llama-server and llm-serve in
# turn under one load client, bench/stream_load.py (`llm-bench serve` is also tried against
# llama-server and run against llm-serve, as a cross-check of the client). Writes one JSON per measurement, cpu_accounting.jsonl and compare.log into
# RESULTS_DIR, then bench/llamacpp_report.py prints the table and writes peer_summary.json.
# Raw tool and server logs go to build-peer/logs/<RESULTS_DIR's name>/.
#
# Environment: BIN (our binaries, default build/bin), PEER (work folder, default build-peer/),
# THREADS (2), SHAPE (tinyllama-1.1b), LLAMA_CPP_PYTHON_VERSION (the sdist whose vendored
# llama.cpp is built), STAGES (any of "build convert bench quant serve report", default all),
# QUANTS (the GGUF types the quant stage runs, default "q8_0 q4_0 q4_k_m"),
# QUIET_WAIT (seconds each step may wait for other processes to go quiet, default 900),
# DECODE_ROUNDS (turns each side takes at single-stream decode, default 3),
# QUICK=1 (short runs, to check the script). Needs a Release build of ours in build/
# (scripts/build.sh build); nothing here builds or changes it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$ROOT/build/bin}"
OUT="${1:?usage: bench/compare_llamacpp.sh RESULTS_DIR}"
PEER="${PEER:-$ROOT/build-peer}"
THREADS="${THREADS:-2}"
SHAPE="${SHAPE:-tinyllama-1.1b}"
LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
STAGES="${STAGES:-build convert bench quant serve report}"
QUICK="${QUICK:-0}"
mkdir -p "$OUT" "$PEER"
OUT="$(cd "$OUT" && pwd)"
# Raw tool and server logs go beside the build (git-ignored); RESULTS_DIR gets JSON and compare.log.
LOGS="${LOGS:-$PEER/logs/$(basename "$OUT")}"
mkdir -p "$LOGS"
exec > >(tee -a "$OUT/compare.log") 2>&1  # everything below also goes to RESULTS_DIR/compare.log
exec 3>&1  # the log, for functions whose own output is redirected into a results file
PY="${PYTHON:-python3}"

SRC="$PEER/src/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION"
LLAMA="$SRC/vendor/llama.cpp"
LBUILD="$PEER/llama-build"
LBIN="$LBUILD/bin"
VENV="$PEER/venv"
MODELS="$PEER/models"
HF="$MODELS/${SHAPE}-bf16-hf"
GGUF="$MODELS/${SHAPE}-bf16.gguf"

# Lengths (the same as bench/reproduce.sh, so rows can be set beside its tables).
DECODE_IN=16 DECODE_OUT=64 PREFILL=512 B32=32 B32_IN=16 B32_OUT=32
SERVE_N=32 SERVE_C=16 SERVE_IN=80 SERVE_OUT=64
ITERS=5 BENCH_REPS=5 DECODE_ROUNDS="${DECODE_ROUNDS:-3}" ROUND_REPS=3
if [[ "$QUICK" == 1 ]]; then
  DECODE_OUT=8 PREFILL=64 B32_OUT=4 SERVE_N=4 SERVE_C=2 SERVE_OUT=8 ITERS=1 BENCH_REPS=1
  DECODE_ROUNDS=1 ROUND_REPS=1
fi

log() { printf '== %s  %s\n' "$(date +%H:%M:%S)" "$*" >&3; }
has_stage() { [[ " $STAGES " == *" $1 "* ]]; }

# Every server this script starts is stopped on exit, whatever the exit.
SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# CPU accounting. On a shared 2-core machine another process (a build, a test run) can halve a
# result, so each measured step first waits, up to QUIET_WAIT seconds, for 5 s in which other
# processes use under a tenth of a core, then records how much CPU they took while it ran
# (RESULTS_DIR/cpu_accounting.jsonl; the report marks rows where it was over 10% of the machine).
QUIET_WAIT="${QUIET_WAIT:-900}"
HZ="$(getconf CLK_TCK)"
NCPU="$(nproc)"
machine_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $9}' /proc/stat; }  # busy, steal (ticks)
own_cpu() {  # ticks used by this script's finished children, plus the server while it runs
  local t s=0
  t=$(sed 's/^.*) //' "/proc/$$/stat" | awk '{print $14+$15}')
  if [[ -n "$SERVER_PID" && -r "/proc/$SERVER_PID/stat" ]]; then
    s=$(sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{print $12+$13}')
  fi
  echo $((t + s))
}
wait_quiet() {
  local waited=0 b0 b1 o0 o1 other
  while :; do
    read -r b0 _ < <(machine_busy); o0=$(own_cpu)
    sleep 5
    read -r b1 _ < <(machine_busy); o1=$(own_cpu)
    other=$(( (b1 - b0) - (o1 - o0) ))
    (( other * 10 < 5 * HZ )) && return 0
    if (( waited >= QUIET_WAIT )); then
      log "other processes still use $((100 * other / (5 * HZ)))% of a core after ${QUIET_WAIT} s: measuring anyway"
      return 0
    fi
    (( waited == 0 )) && log "waiting (up to ${QUIET_WAIT} s) for other processes to go quiet: $((100 * other / (5 * HZ)))% of a core"
    waited=$((waited + 5))
  done
}
probe() {  # "bandwidth_GB/s peak_GFLOP/s" now (llm-bench roofline: about a second), or "null null"
  local f="$LOGS/probe.json"
  if [[ -x "$OURS/llm-bench" && -f "$HF/config.json" ]] &&
    "$OURS/llm-bench" roofline --model "$HF" --dtype bf16 --json "$f" >/dev/null 2>&1; then
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(round(d["bandwidth_gb_per_s"], 2), round(d["gemm_gflop_per_s"], 1))' "$f"
  else
    echo "null null"
  fi
}
step() {  # NAME [-o STDOUT_FILE] [-e STDERR_FILE] [-1] COMMAND...: one measured command
  # Records the CPU other processes took meanwhile and the machine's limits probed right before
  # and after it (this VM's memory bandwidth moves by up to 2x between minutes, and single-stream
  # decode follows it). A step during which other processes took over 10% of the machine runs
  # once more (not -1 ones: a second serving run would find its prompts cached); the report
  # reads the last attempt.
  local name=$1 so="" se="" tries=2 attempt b0 s0 b1 s1 o0 o1 t0 t1 bw0 pk0 bw1 pk1 line
  shift
  while :; do
    case "$1" in
      -o) so=$2; shift 2 ;;
      -e) se=$2; shift 2 ;;
      -1) tries=1; shift ;;
      *) break ;;
    esac
  done
  for attempt in $(seq "$tries"); do
    wait_quiet
    bw0=null pk0=null bw1=null pk1=null
    [[ "$name" == roofline* ]] || read -r bw0 pk0 < <(probe)
    read -r b0 s0 < <(machine_busy); o0=$(own_cpu); t0=$(date +%s.%N)
    if [[ -n "$so" ]]; then "$@" >"$so" 2>"${se:-/dev/null}"; else "$@"; fi
    read -r b1 s1 < <(machine_busy); o1=$(own_cpu); t1=$(date +%s.%N)
    [[ "$name" == roofline* ]] || read -r bw1 pk1 < <(probe)
    line=$(awk -v n="$name" -v a="$attempt" -v t0="$t0" -v t1="$t1" -v own=$((o1 - o0)) \
      -v busy=$((b1 - b0)) -v steal=$((s1 - s0)) -v hz="$HZ" -v ncpu="$NCPU" \
      -v probes="\"bandwidth_gb_per_s\": [$bw0, $bw1], \"peak_gflop_per_s\": [$pk0, $pk1]" 'BEGIN {
        w = t1 - t0; other = (busy - own) / hz; if (other < 0) other = 0
        printf "{\"step\": \"%s\", \"attempt\": %d, \"wall_s\": %.2f, \"own_cpu_s\": %.2f, \"other_cpu_s\": %.2f, \"steal_s\": %.2f, \"other_share\": %.3f, %s}\n",
          n, a, w, own / hz, other, steal / hz, other / (w * ncpu), probes }')
    echo "$line" >>"$OUT/cpu_accounting.jsonl"
    log "$name: $line"
    if awk -v l="$line" 'BEGIN { match(l, /"other_share": [0-9.]+/); exit !(substr(l, RSTART + 15, RLENGTH - 15) + 0 > 0.1) }' &&
      ((attempt < tries)); then
      log "$name: other processes took over 10% of the machine meanwhile: once more"
      continue
    fi
    break
  done
}

# ---------------------------------------------------------------------------------------------
# 1. llama.cpp: source from the llama-cpp-python sdist, a CPU-only Release build of four tools.
# ---------------------------------------------------------------------------------------------
LLAMA_TARGETS=(llama-bench llama-batched-bench llama-server llama-quantize)
build_llamacpp() {
  if [[ ! -f "$LLAMA/CMakeLists.txt" ]]; then
    log "fetching llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION (sdist) from PyPI"
    local dl="$PEER/download"
    mkdir -p "$dl" "$PEER/src"
    "$PY" -m pip download --quiet --no-binary :all: --no-deps \
      "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$dl"
    tar xzf "$dl/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz" -C "$PEER/src"
    mv "$PEER/src/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION" "$SRC"
  fi
  local t
  local missing=0
  for t in "${LLAMA_TARGETS[@]}"; do [[ -x "$LBIN/$t" ]] || missing=1; done
  if [[ $missing == 0 ]]; then
    log "llama.cpp already built in $LBUILD"
    return
  fi
  log "building llama.cpp (CPU only, Release, -j$THREADS) into $LBUILD; log: $PEER/llama-build.log"
  local start=$SECONDS
  # No web UI (its npm step and the prebuilt-asset download both need a network), no tests,
  # examples or unified app; static, native (-march=native: AVX-512 where the CPU has it).
  # LLAMA_BUILD_NUMBER pins the build info: the sources sit inside this repo's git tree, so
  # llama.cpp's git probe would otherwise report our commit as its own.
  cmake -S "$LLAMA" -B "$LBUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_NUMBER=0 -DLLAMA_BUILD_COMMIT="llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION" \
    >"$PEER/llama-build.log" 2>&1
  cmake --build "$LBUILD" -j "$THREADS" --target "${LLAMA_TARGETS[@]}" >>"$PEER/llama-build.log" 2>&1 \
    || { tail -40 "$PEER/llama-build.log"; exit 1; }
  echo "$((SECONDS - start))" >"$PEER/llama-build.seconds"
  log "llama.cpp built in $((SECONDS - start)) s"
}
has_stage build && build_llamacpp

# ---------------------------------------------------------------------------------------------
# Our side: a copy of the binaries, so a rebuild of build/ during the run cannot swap them.
# ---------------------------------------------------------------------------------------------
OURS="$PEER/ours-bin"
snapshot_ours() {
  mkdir -p "$OURS"
  local b
  for b in llm-bench llm-serve llm-make-model; do
    [[ -x "$BIN/$b" ]] || { echo "missing $BIN/$b: build ours first (scripts/build.sh build)" >&2; exit 1; }
    cp -f "$BIN/$b" "$OURS/$b.tmp" && mv -f "$OURS/$b.tmp" "$OURS/$b"
  done
}

# ---------------------------------------------------------------------------------------------
# 2. The weights: one bf16 checkpoint of ours, converted by llama.cpp's own script.
# ---------------------------------------------------------------------------------------------
PY_PACKAGES=(torch "numpy~=2.2.6" "sentencepiece>=0.1.98,<0.3.0" "transformers==4.57.6"
  "protobuf>=4.21.0,<5.0.0" safetensors httpx)
make_venv() {
  if [[ -x "$VENV/bin/python" ]] &&
    "$VENV/bin/python" -c "import torch, gguf, transformers, sentencepiece, httpx" 2>/dev/null; then
    return
  fi
  # convert_hf_to_gguf.py imports torch and transformers at the top and uses torch for every
  # tensor, so it cannot run without them. PyPI's Linux torch wheel is the CUDA build (its
  # nvidia-* dependencies are a few GB, unused here); it goes into this venv only.
  log "installing the converter's Python packages into $VENV (log: $PEER/venv-install.log)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "${PY_PACKAGES[@]}" "$LLAMA/gguf-py" >"$PEER/venv-install.log" 2>&1 \
    || { tail -20 "$PEER/venv-install.log"; exit 1; }
}

convert() {
  make_venv
  mkdir -p "$MODELS"
  if [[ ! -f "$HF/model.safetensors" ]]; then
    log "llm-make-model --shape $SHAPE --dtype bf16 --out $HF"
    rm -rf "$HF"
    "$OURS/llm-make-model" --shape "$SHAPE" --dtype bf16 --out "$HF"
  fi
  if [[ ! -f "$GGUF" ]]; then
    log "convert_hf_to_gguf.py --outtype bf16 -> $GGUF"
    TQDM_DISABLE=1 "$VENV/bin/python" "$LLAMA/convert_hf_to_gguf.py" "$HF" --outtype bf16 --outfile "$GGUF.tmp" \
      >"$MODELS/convert.log" 2>&1 || { tail -30 "$MODELS/convert.log"; exit 1; }
    mv "$GGUF.tmp" "$GGUF"
  fi
  local q
  for q in Q8_0 Q4_0 Q4_K_M; do
    local f="$MODELS/${SHAPE}-${q,,}.gguf"
    if [[ ! -f "$f" ]]; then
      log "llama-quantize $q -> $f"
      "$LBIN/llama-quantize" "$GGUF" "$f.tmp" "$q" "$THREADS" >"$MODELS/quantize-$q.log" 2>&1 \
        || { tail -20 "$MODELS/quantize-$q.log"; exit 1; }
      mv "$f.tmp" "$f"
    fi
  done
  ls -la "$HF/model.safetensors" "$MODELS"/*.gguf
}

# ---------------------------------------------------------------------------------------------
# The machine: what both sides run on.
# ---------------------------------------------------------------------------------------------
machine_json() {
  local model flags
  model="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  flags="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^avx512|^amx|^avx_vnni' | sort | tr '\n' ' ')"
  "$PY" - "$OUT/machine.json" "$model" "$flags" "$THREADS" "$LLAMA_CPP_PYTHON_VERSION" \
    "$(git -C "$ROOT" rev-parse HEAD)" "$(git -C "$ROOT" status --porcelain -uno | wc -l)" \
    "$(grep -m1 -o 'llama\.cpp@[0-9a-f]*' "$SRC/CHANGELOG.md" 2>/dev/null || echo unknown)" \
    "${LLM_CPU_KERNELS:-auto}" "$(nproc)" "$(date -u -r "$BIN/llm-bench" +%Y-%m-%dT%H:%M:%SZ)" <<'PYEOF'
import json, sys, os
out, model, flags, threads, lcp, sha, dirty, upstream, kernels, nproc, built = sys.argv[1:]
json.dump({"cpu_model": model, "avx512_flags": flags.split(), "threads": int(threads),
           "logical_cpus": int(nproc), "llama_cpp_python_sdist": lcp,
           "llama_cpp_source": "vendor/llama.cpp of llama-cpp-python " + lcp,
           "llama_cpp_upstream": upstream,  # the sdist CHANGELOG's last "update llama.cpp to"
           "ours_git_commit": sha, "ours_tracked_files_modified": int(dirty),
           "ours_binaries_built": built,
           "LLM_CPU_KERNELS": kernels,
           "loadavg_at_start": open("/proc/loadavg").read().split()[:3]},
          open(out, "w"), indent=2)
PYEOF
}

# ---------------------------------------------------------------------------------------------
# 3. Offline: llama-bench / llama-batched-bench against llm-bench latency, one after the other.
# ---------------------------------------------------------------------------------------------
T_BENCH=1800  # seconds any one benchmark command may take
bench() {
  local ctx
  ctx=$(grep -o '"max_position_embeddings": *[0-9]*' "$HF/config.json" | grep -o '[0-9]*$')
  local prefill=$((PREFILL < ctx - 2 ? PREFILL : ctx - 2))
  log "roofline (before)"
  step roofline_before -1 timeout $T_BENCH "$OURS/llm-bench" roofline --model "$HF" --dtype bf16 --json "$OUT/roofline_before.json"

  log "llama-bench bf16: pp$prefill, $THREADS threads, $BENCH_REPS repetitions"
  step llamacpp_bench_pp -o "$OUT/llamacpp_bench_pp.json" -e "$LOGS/llamacpp_bench_pp.log" \
    timeout $T_BENCH "$LBIN/llama-bench" -m "$GGUF" -p "$prefill" -n 0 -t "$THREADS" -r "$BENCH_REPS" -o json
  # Single-stream decode streams the weights, and this VM's memory bandwidth moves by up to 2x
  # from one minute to the next: the two sides take turns, DECODE_ROUNDS times, and the report
  # takes medians (and the median of the ratios of the rounds).
  local r
  for r in $(seq "$DECODE_ROUNDS"); do
    log "decode round $r/$DECODE_ROUNDS: llama-bench tg$((2 * DECODE_OUT)) ($ROUND_REPS repetitions), then ours" \
      "($DECODE_IN-token prompt, $DECODE_OUT tokens, median of $ROUND_REPS)"
    step "llamacpp_bench_tg_r$r" -o "$OUT/llamacpp_bench_tg_r$r.json" -e "$LOGS/llamacpp_bench_tg_r$r.log" \
      timeout $T_BENCH "$LBIN/llama-bench" -m "$GGUF" -p 0 -n $((2 * DECODE_OUT)) -t "$THREADS" \
      -r "$ROUND_REPS" -o json
    step "ours_decode_r$r" timeout $T_BENCH "$OURS/llm-bench" latency --model "$HF" --dtype bf16 \
      --threads "$THREADS" --batch-size 1 --input-len "$DECODE_IN" --output-len "$DECODE_OUT" \
      --num-iters "$ROUND_REPS" --warmup-iters 1 --json "$OUT/ours_decode_r$r.json"
  done
  log "ours: prefill of $prefill tokens"
  step ours_prefill timeout $T_BENCH "$OURS/llm-bench" latency --model "$HF" --dtype bf16 --threads "$THREADS" \
    --batch-size 1 --input-len "$prefill" --output-len 2 --num-iters "$(( ITERS < 3 ? ITERS : 3 ))" \
    --warmup-iters 1 --json "$OUT/ours_prefill.json"

  local npl="1,$B32,$B32,$B32"
  [[ "$QUICK" == 1 ]] && npl="1,$B32"
  log "llama-batched-bench: $B32 sequences x ($B32_IN prompt + $B32_OUT generated), -npl $npl"
  step llamacpp_batched -o "$OUT/llamacpp_batched.jsonl" -e "$LOGS/llamacpp_batched.log" \
    timeout $T_BENCH "$LBIN/llama-batched-bench" -m "$GGUF" -t "$THREADS" -tb "$THREADS" \
    -c $((B32 * (B32_IN + B32_OUT) + 64)) -b 2048 -ub 512 -npp "$B32_IN" -ntg "$B32_OUT" -npl "$npl" \
    --output-format jsonl
  # batched-bench logs its jsonl rows through the logger: keep only the rows.
  grep -h '^{' "$OUT/llamacpp_batched.jsonl" "$LOGS/llamacpp_batched.log" >"$OUT/llamacpp_batched.rows" || true
  mv "$OUT/llamacpp_batched.rows" "$OUT/llamacpp_batched.jsonl"
  log "ours: $B32 sequences decoding together"
  step ours_decode_b32 timeout $T_BENCH "$OURS/llm-bench" latency --model "$HF" --dtype bf16 --threads "$THREADS" \
    --batch-size "$B32" --input-len "$B32_IN" --output-len "$B32_OUT" --num-iters 3 --warmup-iters 1 \
    --json "$OUT/ours_decode_b32.json"

  log "roofline (after)"
  step roofline_after -1 timeout $T_BENCH "$OURS/llm-bench" roofline --model "$HF" --dtype bf16 --json "$OUT/roofline_after.json"
}

# ---------------------------------------------------------------------------------------------
# 3b. Quantized: the same GGUF files (llama-quantize's Q8_0, Q4_0, Q4_K_M of the bf16 one) read
#     by both, single-stream decode taking turns, prefill, and 32 sequences; plus our RSS.
# ---------------------------------------------------------------------------------------------
QUANTS="${QUANTS:-q8_0 q4_0 q4_k_m}"
bench_quant() {
  local q f r reps=$(( BENCH_REPS < 3 ? BENCH_REPS : 3 ))
  for q in $QUANTS; do
    f="$MODELS/${SHAPE}-$q.gguf"
    log "$q: llama-bench pp$PREFILL, then ours"
    step "llamacpp_${q}_pp" -o "$OUT/llamacpp_${q}_pp.json" -e "$LOGS/llamacpp_${q}_pp.log" \
      timeout $T_BENCH "$LBIN/llama-bench" -m "$f" -p "$PREFILL" -n 0 -t "$THREADS" -r "$reps" -o json
    step "ours_${q}_prefill" timeout $T_BENCH "$OURS/llm-bench" latency --model "$f" --threads "$THREADS" \
      --batch-size 1 --input-len "$PREFILL" --output-len 2 --num-iters "$reps" --warmup-iters 1 \
      --json "$OUT/ours_${q}_prefill.json"
    for r in $(seq "$DECODE_ROUNDS"); do
      log "$q: decode round $r/$DECODE_ROUNDS"
      step "llamacpp_${q}_tg_r$r" -o "$OUT/llamacpp_${q}_tg_r$r.json" -e "$LOGS/llamacpp_${q}_tg_r$r.log" \
        timeout $T_BENCH "$LBIN/llama-bench" -m "$f" -p 0 -n $((2 * DECODE_OUT)) -t "$THREADS" \
        -r "$ROUND_REPS" -o json
      step "ours_${q}_decode_r$r" timeout $T_BENCH "$OURS/llm-bench" latency --model "$f" \
        --threads "$THREADS" --batch-size 1 --input-len "$DECODE_IN" --output-len "$DECODE_OUT" \
        --num-iters "$ROUND_REPS" --warmup-iters 1 --json "$OUT/ours_${q}_decode_r$r.json"
    done
    log "$q: $B32 sequences"
    step "llamacpp_${q}_batched" -o "$OUT/llamacpp_${q}_batched.jsonl" -e "$LOGS/llamacpp_${q}_batched.log" \
      timeout $T_BENCH "$LBIN/llama-batched-bench" -m "$f" -t "$THREADS" -tb "$THREADS" \
      -c $((B32 * (B32_IN + B32_OUT) + 64)) -b 2048 -ub 512 -npp "$B32_IN" -ntg "$B32_OUT" \
      -npl "1,$B32,$B32" --output-format jsonl
    grep -h '^{' "$OUT/llamacpp_${q}_batched.jsonl" "$LOGS/llamacpp_${q}_batched.log" \
      >"$OUT/llamacpp_${q}_batched.rows" || true
    mv "$OUT/llamacpp_${q}_batched.rows" "$OUT/llamacpp_${q}_batched.jsonl"
    # The report sets our resident set after the run (llm-bench's resident_bytes) beside the
    # file's size plus the KV pool.
    step "ours_${q}_decode_b32" timeout $T_BENCH "$OURS/llm-bench" latency --model "$f" --threads "$THREADS" \
      --batch-size "$B32" --input-len "$B32_IN" --output-len "$B32_OUT" --num-iters 3 --warmup-iters 1 \
      --json "$OUT/ours_${q}_decode_b32.json"
    stat -c %s "$f" >"$OUT/${q}_file_bytes.txt"
  done
}

# ---------------------------------------------------------------------------------------------
# Serving: the same client (bench/stream_load.py) against llama-server, then llm-serve.
# ---------------------------------------------------------------------------------------------
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_healthy() {  # PORT NAME LOG: up to 300 s for /health to answer 200
  local _
  for _ in $(seq 600); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$2 exited before it was ready:" >&2; tail -30 "$3" >&2; exit 1
    fi
    curl -sf --max-time 2 "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "$2 not healthy after 300 s" >&2; tail -30 "$3" >&2; exit 1
}

load() {  # NAME PORT
  log "$1: $SERVE_N requests, $SERVE_C at a time, $SERVE_IN prompt + $SERVE_OUT output tokens"
  step "$1_serve" -1 timeout $T_BENCH "$VENV/bin/python" "$ROOT/bench/stream_load.py" --url "http://127.0.0.1:$2" \
    --tokenizer "$HF/tokenizer.model" --num-prompts "$SERVE_N" --max-concurrency "$SERVE_C" \
    --input-len "$SERVE_IN" --output-len "$SERVE_OUT" --json "$OUT/$1_serve.json"
}

serve() {
  local port
  port=$(free_port)
  log "llama-server on 127.0.0.1:$port (-t $THREADS -np $SERVE_C)"
  "$LBIN/llama-server" -m "$GGUF" --host 127.0.0.1 --port "$port" -t "$THREADS" -tb "$THREADS" \
    -np "$SERVE_C" -c $((SERVE_C * 512)) --no-webui >"$LOGS/llamacpp_server.log" 2>&1 &
  SERVER_PID=$!
  wait_healthy "$port" llama-server "$LOGS/llamacpp_server.log"
  load llamacpp "$port"
  # Whether our own load client can drive llama-server as it is (see bench/README.md).
  local vs="$LOGS/llm_bench_serve_vs_llamacpp.log" ok=true
  timeout 120 "$OURS/llm-bench" serve --url "http://127.0.0.1:$port" --num-prompts 2 \
    --max-concurrency 2 --request-rate inf --input-len "$SERVE_IN" --output-len 4 >"$vs" 2>&1 || ok=false
  $ok || log "llm-bench serve against llama-server failed: $(tail -1 "$vs")"
  "$PY" -c 'import json, sys; json.dump({"ok": sys.argv[1] == "true", "last_line": sys.argv[2]},
    open(sys.argv[3], "w"), indent=2)' "$ok" "$(tail -1 "$vs")" "$OUT/llm_bench_serve_vs_llamacpp.json"
  stop_server

  port=$(free_port)
  log "llm-serve on 127.0.0.1:$port (--threads $THREADS --max-num-seqs $SERVE_C)"
  "$OURS/llm-serve" --model "$HF" --dtype bf16 --threads "$THREADS" --host 127.0.0.1 --port "$port" \
    --max-num-seqs "$SERVE_C" >"$LOGS/ours_server.log" 2>&1 &
  SERVER_PID=$!
  wait_healthy "$port" llm-serve "$LOGS/ours_server.log"
  load ours "$port"
  # The same load through our C++ client, as a check on the Python one (same server, same sizes).
  log "llm-bench serve against llm-serve (cross-check of the client)"
  step ours_serve_llm_bench -1 timeout $T_BENCH "$OURS/llm-bench" serve --url "http://127.0.0.1:$port" --num-prompts "$SERVE_N" \
    --max-concurrency "$SERVE_C" --request-rate inf --input-len "$SERVE_IN" --output-len "$SERVE_OUT" \
    --json "$OUT/ours_serve_llm_bench.json"
  stop_server
}

# ---------------------------------------------------------------------------------------------
# Run.
# ---------------------------------------------------------------------------------------------
if has_stage convert || has_stage bench || has_stage quant || has_stage serve; then
  snapshot_ours
  machine_json
fi
has_stage convert && convert
has_stage bench && bench
has_stage quant && bench_quant
has_stage serve && serve
if has_stage report; then
  [[ -f "$PEER/llama-build.seconds" ]] && cp "$PEER/llama-build.seconds" "$OUT/llama_build_seconds.txt"
  "$PY" "$ROOT/bench/llamacpp_report.py" "$OUT"
fi
