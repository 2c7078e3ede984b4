#!/usr/bin/env bash
# Reproduces the results table of bench/README.md on this machine:
#   bench/reproduce.sh [RESULTS_DIR] [MODELS_DIR]
# Writes one JSON report per measurement into RESULTS_DIR (default bench/results/<host>), then
# bench/report.py turns them into the tables and the plot. Needs a Release build in build/
# (scripts/build.sh build). Set SHAPES / DTYPES / CONCURRENCY to run a subset, QUICK=1 for a
# minutes-long smoke run with short sequences.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$ROOT/build/bin}"
OUT="${1:-$ROOT/bench/results/$(hostname)}"
MODELS="${2:-${TMPDIR:-/tmp}/llm-bench-models}"
SHAPES="${SHAPES:-stories15m tinyllama-1.1b}"
DTYPES="${DTYPES:-f32 bf16}"
CONCURRENCY="${CONCURRENCY:-1 4 16 32}"
SERVE_CONCURRENCY="${SERVE_CONCURRENCY:-1 4 16}"
PORT="${PORT:-18123}"
mkdir -p "$OUT" "$MODELS"

# Sequence lengths: long enough that per-step costs dominate start-up, short enough that the
# 1.1B model's full table fits in about half an hour on 2 cores.
IN=32 OUT_LEN=32 PREFILL=512 DECODE_OUT=64 B32_OUT=32
if [[ "${QUICK:-0}" == 1 ]]; then IN=8 OUT_LEN=8 PREFILL=64 DECODE_OUT=8 B32_OUT=4; fi

for shape in $SHAPES; do
  model="$MODELS/$shape"
  # One bf16 checkpoint per shape; --dtype f32 widens it at load, so both rows read the same
  # numbers and differ only in how the engine holds them.
  [[ -f "$model/config.json" ]] || "$BIN/llm-make-model" --shape "$shape" --dtype bf16 --out "$model"
  ctx=$(grep -o '"max_position_embeddings": *[0-9]*' "$model/config.json" | grep -o '[0-9]*$')
  prefill=$((PREFILL < ctx - 2 ? PREFILL : ctx - 2))  # stories15m's context is 256
  for dtype in $DTYPES; do
    tag="${shape}_${dtype}"
    echo "== $tag"
    "$BIN/llm-bench" roofline --model "$model" --dtype "$dtype" --json "$OUT/${tag}_roofline.json"
    "$BIN/llm-bench" latency --model "$model" --dtype "$dtype" --batch-size 1 --input-len 16 \
      --output-len "$DECODE_OUT" --num-iters 5 --warmup-iters 1 --json "$OUT/${tag}_decode.json"
    "$BIN/llm-bench" latency --model "$model" --dtype "$dtype" --batch-size 1 --input-len "$prefill" \
      --output-len 2 --num-iters 1 --warmup-iters 0 --json "$OUT/${tag}_prefill.json"
    # Aggregate decode of a fixed batch of 32 sequences stepping together (FMA-bound).
    "$BIN/llm-bench" latency --model "$model" --dtype "$dtype" --batch-size 32 --input-len 16 \
      --output-len "$B32_OUT" --num-iters 3 --warmup-iters 1 --json "$OUT/${tag}_decode_b32.json"
    # The matrix products alone, at 1, 32 and 512 rows (bench/compare_gemm.sh adds the libraries).
    "$BIN/llm-bench" gemm --model "$model" --impl "engine-$dtype" --json "$OUT/${tag}_gemm.json"
    for c in $CONCURRENCY; do
      "$BIN/llm-bench" throughput --model "$model" --dtype "$dtype" --num-prompts "$c" \
        --max-num-seqs "$c" --input-len "$IN" --output-len "$OUT_LEN" --json "$OUT/${tag}_throughput_c$c.json"
    done
  done
  # Serving latency, bf16 (the dtype a user would serve with on this machine).
  "$BIN/llm-serve" --model "$model" --host 127.0.0.1 --port "$PORT" --dtype bf16 --max-num-seqs 16 \
    >"$OUT/${shape}_serve.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    sleep 0.5
  done
  for c in $SERVE_CONCURRENCY; do
    "$BIN/llm-bench" serve --url "http://127.0.0.1:$PORT" --num-prompts $((2 * c)) --request-rate inf \
      --max-concurrency "$c" --input-len "$IN" --output-len "$OUT_LEN" --json "$OUT/${shape}_bf16_serve_c$c.json"
  done
  kill "$server"
  wait "$server" || true
  trap - EXIT
done
echo "results in $OUT; tables and plot: .venv/bin/python bench/report.py $OUT"
