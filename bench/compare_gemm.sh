#!/usr/bin/env bash
# The engine's matrix-product kernels beside OpenBLAS and oneDNN at a model's shapes:
#   bench/compare_gemm.sh [MODEL_DIR] [JSON_OUT]
# Installs libopenblas-dev and libdnnl-dev when missing, builds llm-bench with them into
# build-gemm-libs/ (the engine itself links neither), and runs `llm-bench gemm`. MODEL_DIR
# defaults to a tinyllama-1.1b-shaped checkpoint made by llm-make-model (only its config is read).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODEL="${1:-${TMPDIR:-/tmp}/llm-bench-models/tinyllama-1.1b}"
JSON="${2:-}"

missing=()
for p in libopenblas-dev libdnnl-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

BUILD="$ROOT/build-gemm-libs"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLM_ENABLE_CUDA=OFF \
  -DLLM_BENCH_LIBRARIES=ON > /dev/null
cmake --build "$BUILD" -j "$(nproc)" --target llm-bench llm-make-model > /dev/null
BIN="$BUILD/bin"
if [[ ! -f "$MODEL/config.json" ]]; then
  "$BIN/llm-make-model" --shape "$(basename "$MODEL")" --dtype bf16 --out "$MODEL"
fi
"$BIN/llm-bench" gemm --model "$MODEL" ${JSON:+--json "$JSON"}
