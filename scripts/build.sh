#!/usr/bin/env bash
# Configures and builds into a build directory: scripts/build.sh [DIR] [extra cmake args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
shift || true
cmake -S "$root" -B "$root/$dir" -G Ninja "$@" > "$root/$dir.configure.log" 2>&1 ||
  { cat "$root/$dir.configure.log"; exit 1; }
grep -E "^-- CUDA" "$root/$dir.configure.log" || true
cmake --build "$root/$dir" -j "$(nproc)"
