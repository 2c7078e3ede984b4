#!/usr/bin/env python3
"""Fails when ptxas reports register spills (or a stack frame) for a kernel of the given CUDA
sources: the attention kernels keep their fragments and accumulators in registers, and a spill
there is a silent slowdown no emulator test can see.

    check_spills.py NVCC SOURCE_DIR --arch 80 90 --source kernels/cuda/decode_attention.cu ...

Each source is compiled to an object for every architecture with `-Xptxas -v`; the report lists
each kernel's registers, stack frame and spill bytes.
"""
import argparse
import re
import subprocess
import sys
import tempfile

ENTRY = re.compile(r"Compiling entry function '(\S+)' for '(sm_\d+)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
REGS = re.compile(r"Used (\d+) registers")


def kernels(report):
    """(kernel, arch, stack, spill stores, spill loads, registers) per entry of a ptxas report."""
    current, frame = None, None
    for line in report.splitlines():
        if m := ENTRY.search(line):
            current, frame = (m.group(1), m.group(2)), None
        elif (m := FRAME.search(line)) and current:
            frame = tuple(int(x) for x in m.groups())
        elif (m := REGS.search(line)) and current and frame:
            yield (*current, *frame, int(m.group(1)))
            current = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nvcc")
    ap.add_argument("source_dir")
    ap.add_argument("--arch", nargs="+", required=True)
    ap.add_argument("--source", nargs="+", required=True)
    args = ap.parse_args()
    failed = 0
    for src in args.source:
        gencode = [f"--generate-code=arch=compute_{a},code=sm_{a}" for a in args.arch]
        with tempfile.NamedTemporaryFile(suffix=".o") as obj:
            cmd = [args.nvcc, "-I", args.source_dir, "-I", f"{args.source_dir}/include", "-O3",
                   "-DNDEBUG", "-std=c++17", "-x", "cu", "-c", f"{args.source_dir}/{src}",
                   "-o", obj.name, "-Xptxas", "-v", *gencode]
            run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{src}: nvcc failed\n{run.stderr}")
            return 1
        rows = list(kernels(run.stderr))
        if not rows:
            print(f"{src}: no kernels in the ptxas report\n{run.stderr}")
            return 1
        for name, arch, stack, stores, loads, regs in rows:
            bad = stack or stores or loads
            failed += bool(bad)
            print(f"{'SPILLS' if bad else 'ok':6} {arch} {regs:3d} registers, {stack} B stack, "
                  f"{stores}/{loads} B spilled  {src}: {name}")
    if failed:
        print(f"{failed} kernel(s) spill registers or use a stack frame")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
