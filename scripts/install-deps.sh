#!/usr/bin/env bash
# Installs the Debian packages the build needs, skipping apt-get when all are present.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config git
          libsentencepiece-dev nlohmann-json3-dev
          libboost-dev libboost-program-options-dev libboost-context-dev
          libgtest-dev libgmock-dev prometheus-cpp-dev libsimde-dev libicu-dev
          clang libclang-rt-14-dev
          python3 python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# Python packages for the server's end-to-end tests (the official openai SDK and a Prometheus
# parser), the benchmark plot (matplotlib) and the tokenizer differential test (tokenizers) and the GGUF
# reference (gguf: its writer and quantizers make the test files), in a virtual environment inside
# the repository.
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$root/.venv/bin/python" ] || ! "$root/.venv/bin/python" -c "import openai, prometheus_client, pytest, matplotlib, tokenizers, gguf, jsonschema" 2>/dev/null; then
  python3 -m venv "$root/.venv"
  "$root/.venv/bin/pip" install -q -r "$root/tests/server/requirements.txt" -r "$root/bench/requirements.txt" \
    -r "$root/tests/tokenizer/requirements.txt" -r "$root/tests/gguf/requirements.txt"
fi
