#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, and serve the model bundled
# in the repository with the OpenAI-compatible API on http://127.0.0.1:8000 (Ctrl-C stops it).
# Extra arguments go to llm-serve (e.g. --port 9000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" build
exec "$root/build/bin/llm-serve" --model "$root/models/stories260K" "$@"
