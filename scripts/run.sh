#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, and generate text with the
# model bundled in the repository. Extra arguments go to llm-generate.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" build
if [ $# -eq 0 ]; then set -- --prompt "Once upon a time" --max-tokens 100; fi
exec "$root/build/bin/llm-generate" --model "$root/models/stories260K" "$@"
