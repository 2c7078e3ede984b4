#!/usr/bin/env bash
# The GPU check: one prepared script for the day a device is lent (15 minutes in all, so about 8
# minutes of run). It prints the device and driver, runs the backend conformance suite on real
# CUDA and compute-sanitizer (racecheck, synccheck, memcheck) on the attention tests, times the
# attention kernels beside the device's peak (llm-bench attention), times prefill at 512/2048/8192
# tokens and decode at 1/16/64 sequences with and without CUDA graphs on an 8B-shaped 4-layer
# checkpoint (llm-bench latency), and writes one JSON report.
#
#   bench/gpu_check.sh [--emulator] [--build DIR] [--out FILE]
#
# --emulator runs the same steps on the host SIMT emulator at tiny sizes (compute-sanitizer is
# skipped: it needs a device); CI does that so this script is known to work before a GPU is.
# Without --build, binaries come from build/ (configured and built here when missing, for the
# device's own architecture). Each step has its own time limit, and a failed step does not stop
# the ones after it; the exit status is 1 when any step failed.
set -uo pipefail

mode=gpu
build=
out=gpu_check.json
while [[ $# -gt 0 ]]; do
  case "$1" in
    --emulator) mode=emulator ;;
    --build) build="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
steps="$work/steps.jsonl"
: >"$steps"
failed=0

# step NAME LIMIT_S COMMAND...: runs it under a time limit, records status, seconds and the tail
# of its output.
step() {
  local name="$1" limit="$2"
  shift 2
  echo "== $name"
  local start=$SECONDS rc
  timeout "$limit" "$@" >"$work/$name.log" 2>&1
  rc=$?
  tail -n 25 "$work/$name.log"
  local status=passed
  if [[ $rc -ne 0 ]]; then status=failed; failed=1; fi
  [[ $rc -eq 124 ]] && status=timed_out
  python3 - "$name" "$status" "$((SECONDS - start))" "$work/$name.log" >>"$steps" <<'PY'
import json, sys
name, status, seconds, log = sys.argv[1:5]
tail = open(log, errors="replace").read()[-3000:]
print(json.dumps({"step": name, "status": status, "seconds": int(seconds), "output_tail": tail}))
PY
}

skip() {
  echo "== $1: skipped ($2)"
  python3 -c 'import json,sys; print(json.dumps({"step": sys.argv[1], "status": "skipped", "why": sys.argv[2]}))' \
    "$1" "$2" >>"$steps"
}

# --- the device ------------------------------------------------------------------------------
if [[ $mode == gpu ]]; then
  if ! command -v nvidia-smi >/dev/null; then
    echo "gpu_check: no nvidia-smi: this machine has no NVIDIA driver (use --emulator)" >&2
    exit 2
  fi
  device="$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | head -1)"
  arch="$(echo "$device" | awk -F', ' '{gsub(/\./, "", $4); print $4}')"
  backend=cuda
else
  device="SIMT emulator on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  backend=simt
fi
echo "device: $device"

# --- binaries --------------------------------------------------------------------------------
build="${build:-$root/build}"
if [[ ! -x "$build/bin/llm-bench" || ! -x "$build/bin/backend_conformance_test" ]]; then
  cuda_arch_flag=()
  [[ $mode == gpu ]] && cuda_arch_flag=(-DCMAKE_CUDA_ARCHITECTURES="$arch")
  step build 420 bash -c "cmake -S '$root' -B '$build' -G Ninja -DCMAKE_BUILD_TYPE=Release ${cuda_arch_flag[*]} \
    && ninja -C '$build' llm-bench llm-make-model backend_conformance_test llm_backend_cuda"
fi
bin="$build/bin"

# --- correctness -----------------------------------------------------------------------------
if [[ $mode == gpu ]]; then
  filter='Backends/*/cuda*'
  attention_filter='Backends/BackendAttention.*/cuda*'
else
  filter='Backends/*/simt*'
  attention_filter='Backends/BackendAttention.*/simt'
fi
step conformance 240 "$bin/backend_conformance_test" --gtest_filter="$filter" --gtest_brief=1
if [[ $mode == gpu ]] && command -v compute-sanitizer >/dev/null; then
  for tool in racecheck synccheck memcheck; do
    step "sanitizer_$tool" 120 compute-sanitizer --tool "$tool" --error-exitcode 1 \
      "$bin/backend_conformance_test" --gtest_filter="$attention_filter" --gtest_brief=1
  done
else
  for tool in racecheck synccheck memcheck; do
    skip "sanitizer_$tool" "$([[ $mode == gpu ]] && echo 'compute-sanitizer not found' || echo 'needs a device')"
  done
fi

# --- speed: kernels --------------------------------------------------------------------------
if [[ $mode == gpu ]]; then
  attention_args=()  # llm-bench attention's defaults: an 8B layer, T 512/2048/8192, S 1/16/64
  # (Llama 3 8B's shape, 4 of its 32 layers; the context holds the 8192-token prefill.)
  model_args=(--dim 4096 --layers 4 --heads 32 --kv-heads 8 --ffn 14336 --vocab 128256 --context 8448)
  prefills=(512 2048 8192)
  decodes=(1 16 64)
else
  attention_args=(--heads 4 --kv-heads 2 --head-dim 64 --prefill 32,64 --decode 1,2 --context 96 --iters 1)
  model_args=(--dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 --vocab 32000)
  prefills=(16 32)
  decodes=(1 2)
fi
step attention_kernels 120 "$bin/llm-bench" attention --backend "$backend" "${attention_args[@]}" \
  --json "$work/attention.json"

# --- speed: an 8B-shaped checkpoint, 4 layers ------------------------------------------------
model="$work/model"
step make_model 180 "$bin/llm-make-model" --shape CUSTOM "${model_args[@]}" --dtype bf16 \
  --out "$model"
latency() {  # NAME ARGS...
  local name="$1"
  shift
  step "$name" 120 "$bin/llm-bench" latency --model "$model" --backend "$backend" --skip-probe \
    --num-iters 2 --json "$work/$name.json" "$@"
}
for t in "${prefills[@]}"; do latency "prefill_$t" --batch-size 1 --input-len "$t" --output-len 2; done
for s in "${decodes[@]}"; do
  latency "decode_${s}_eager" --batch-size "$s" --input-len 128 --output-len 32
  latency "decode_${s}_graphs" --batch-size "$s" --input-len 128 --output-len 32 --cuda-graphs
done

# --- the report ------------------------------------------------------------------------------
python3 - "$steps" "$work" "$out" "$device" "$mode" <<'PY'
import glob, json, os, sys
steps_file, work, out, device, mode = sys.argv[1:6]
steps = [json.loads(line) for line in open(steps_file)]
report = {"device": device, "mode": mode, "steps": steps}
att = os.path.join(work, "attention.json")
if os.path.exists(att):
    report["attention_kernels"] = json.load(open(att))["results"]
report["latency"] = {}
for path in sorted(glob.glob(os.path.join(work, "*_*.json"))):
    name = os.path.basename(path)[:-5]
    if name.startswith(("prefill_", "decode_")):
        r = json.load(open(path))
        report["latency"][name] = {k: r.get(k) for k in
            ("prefill_s", "prefill_tokens_per_s", "decode_step_ms", "decode_tokens_per_s",
             "decode_batch_tokens_per_s", "config")}
json.dump(report, open(out, "w"), indent=1)
bad = [s["step"] for s in steps if s["status"] not in ("passed", "skipped")]
print(f"report: {out} ({len(steps)} steps, failed: {', '.join(bad) or 'none'})")
PY
exit "$failed"
