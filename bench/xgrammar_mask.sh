#!/usr/bin/env bash
# The token-mask cost of xgrammar (the grammar engine vLLM and SGLang use for structured output)
# at the Llama 3 and Qwen2 vocabularies (128k and 152k tokens): fetches its sdist from PyPI,
# compiles its C++ core (29 files; header-only picojson and dlpack; no Python) and
# bench/xgrammar_mask_bench.cpp into build-peer/xgrammar/ (git-ignored), and prints the time of
# one FillNextTokenBitmask per step (median, p99, max) for two JSON schemas.
# Environment: XGRAMMAR_VERSION (default 0.2.9), PEER (work folder, default build-peer/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="${XGRAMMAR_VERSION:-0.2.9}"
WORK="${PEER:-$ROOT/build-peer}/xgrammar"
SRC="$WORK/xgrammar-$VERSION"
MODELS="$ROOT/../shared/models"
mkdir -p "$WORK/obj-$VERSION"

if [ ! -d "$SRC" ]; then
  # The sdist's URL from PyPI's JSON API (pip download would build its metadata first).
  # (urljoin: a PyPI mirror may give the file's address relative to the API's.)
  url=$(python3 -c "import json, urllib.parse, urllib.request
api = 'https://pypi.org/pypi/xgrammar/json'
d = json.load(urllib.request.urlopen(api))
sdist = next(u['url'] for u in d['releases']['$VERSION'] if u['packagetype'] == 'sdist')
print(urllib.parse.urljoin(api, sdist))")
  python3 -c "import urllib.request, sys; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" \
    "$url" "$WORK/xgrammar-$VERSION.tar.gz"
  tar -xzf "$WORK/xgrammar-$VERSION.tar.gz" -C "$WORK"
fi

LIB="$WORK/libxgrammar-$VERSION.a"
if [ ! -f "$LIB" ]; then
  # Its CMake project wants the tvm_ffi Python package even without bindings: compile directly.
  (cd "$SRC" && find cpp -name '*.cc' -not -path '*/tvm_ffi/*' | xargs -P "$(nproc)" -I{} sh -c \
    'g++ -std=c++17 -O3 -DNDEBUG -DXGRAMMAR_ENABLE_CPPTRACE=0 -Iinclude -isystem 3rdparty/picojson \
       -isystem 3rdparty/dlpack/include -c {} -o "$0/$(echo {} | tr / _).o"' "$WORK/obj-$VERSION")
  ar rcs "$LIB" "$WORK/obj-$VERSION"/*.o
fi
g++ -std=c++17 -O2 -I"$SRC/include" -isystem "$SRC/3rdparty/dlpack/include" \
  "$ROOT/bench/xgrammar_mask_bench.cpp" "$LIB" -lpthread -o "$WORK/xgrammar_mask_bench"

lscpu | grep -m1 "Model name"
"$WORK/xgrammar_mask_bench" "$MODELS/llama3-tokenizer/tokenizer.json" 128009  # <|eot_id|>
"$WORK/xgrammar_mask_bench" "$MODELS/qwen2-tokenizer/tokenizer.json" 151645   # <|im_end|>
