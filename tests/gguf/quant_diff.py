"""Differential test of our GGUF block conversions against the python `gguf` package.

For every quantized type: blocks are made (gguf.quants.quantize of random f32 where gguf can
quantize the type, plus random valid blocks: random bytes with finite f16 scales), and our
dequantization (quant_tool dequantize) must give gguf.quants.dequantize's f32 bits exactly. For
Q8_0 and Q4_0, our quantization (quant_tool quantize) must give gguf's bytes exactly, also for
rows padded with zeros to a whole block (our quantizer pads rows that are not whole blocks).
And matmul_quant (quant_tool matmul) on random valid blocks of every type must give the float64
product of gguf's dequantized weights and the int8 activations it multiplied, within the f32
rounding of its chain. Exit status non-zero on any mismatch.

    quant_diff.py --bin PATH/quant_tool [--seed S] [--rows R]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

TYPES = {"q8_0": Q.Q8_0, "q4_0": Q.Q4_0, "q4_1": Q.Q4_1, "q4_k": Q.Q4_K, "q5_k": Q.Q5_K,
         "q6_k": Q.Q6_K}
QUANTIZED_HERE = ("q8_0", "q4_0")
# Byte offsets of the f16 fields of each block, which random blocks keep finite.
F16_FIELDS = {"q8_0": [0], "q4_0": [0], "q4_1": [0, 2], "q4_k": [0, 2], "q5_k": [0, 2],
              "q6_k": [208]}


def random_f32(rng, rows, k):
    """Rows of blocks of 32 at scales from 2^-40 to 2^24 (f16 scales from subnormal to infinite),
    with blocks that hit the rounding ties, equal-magnitude extremes and zeros."""
    x = rng.standard_normal((rows, k)).astype(np.float32)
    scales = np.exp2(rng.integers(-40, 25, size=(rows, k // 32, 1))).astype(np.float32)
    x = (x.reshape(rows, k // 32, 32) * scales).reshape(rows, k)
    blocks = x.reshape(-1, 32)
    n = blocks.shape[0]
    # Q8_0 ties: amax 127 gives d = 1, so k + 0.5 is an exact tie of round().
    blocks[0] = np.arange(32, dtype=np.float32) - 15.5
    blocks[0][0] = 127
    # Q4_0 ties: max -8 gives d = 1 and x + 8.5 exact.
    blocks[1 % n] = (np.arange(32, dtype=np.float32) % 16) - 7.5
    blocks[1 % n][3] = -8
    blocks[2 % n] = 0  # an all-zero block: d = 0, id = 0
    blocks[3 % n][5], blocks[3 % n][9] = 3.0, -3.0  # two extremes of one magnitude: first wins
    blocks[3 % n] = np.clip(blocks[3 % n], -3.0, 3.0)
    return x


def random_blocks(rng, qtype_name, count):
    size = GGML_QUANT_SIZES[TYPES[qtype_name]][1]
    b = rng.integers(0, 256, size=(count, size), dtype=np.uint8)
    for off in F16_FIELDS[qtype_name]:
        h = b[:, off:off + 2].copy().view(np.uint16)
        h &= np.uint16(0xBFFF)  # exponent below 31: finite (includes subnormals and zeros)
        b[:, off:off + 2] = h.view(np.uint8)
    return b


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")


def check_dequantize(tool, tmp, name, blocks):
    want = dequantize(blocks, TYPES[name]).astype(np.float32).reshape(-1)
    src, dst = os.path.join(tmp, "blocks.bin"), os.path.join(tmp, "out.f32")
    blocks.tofile(src)
    run([tool, "dequantize", name, src, dst])
    got = np.fromfile(dst, dtype=np.float32)
    bad = np.nonzero(want.view(np.uint32) != got.view(np.uint32))[0] if got.size == want.size else [0]
    if len(bad):
        i = bad[0]
        return [f"{name} dequantize: {len(bad)} elements differ, first at {i}: "
                f"gguf {want[i]!r} ours {got[i] if i < got.size else None!r}"]
    return []


def check_quantize(tool, tmp, name, x):
    rows, k = x.shape
    padded = np.zeros((rows, (k + 31) // 32 * 32), dtype=np.float32)
    padded[:, :k] = x
    want = quantize(padded, TYPES[name]).reshape(-1)
    src, dst = os.path.join(tmp, "rows.f32"), os.path.join(tmp, "out.bin")
    np.ascontiguousarray(x).tofile(src)
    run([tool, "quantize", name, str(k), src, dst])
    got = np.fromfile(dst, dtype=np.uint8)
    if got.size != want.size or not np.array_equal(got, want):
        first = int(np.argmax(got != want)) if got.size == want.size else -1
        return [f"{name} quantize (k={k}): bytes differ (first at {first}; sizes {got.size}, "
                f"{want.size})"]
    return []


def check_matmul(tool, tmp, name, rng, n=37, k=512, t=3):
    """matmul_quant against float64 of gguf.quants.dequantize's weights. Its chain rounds each
    block's terms' scales and fmas once (two terms a block), so the error is at most
    (2 kb + 1) 2^-24 times the sum of the terms' magnitudes, which sum_k (|w| + 2 |m|) |x_q|
    bounds (m the block's min: Q4_1's m, at most 63 dmin for Q4_K/Q5_K)."""
    qt = TYPES[name]
    block_elems, block_bytes = GGML_QUANT_SIZES[qt]
    blocks = small_scale_blocks(rng, name, n * k // block_elems)
    x = rng.standard_normal((t, k)).astype(np.float32)
    src, xs, dst = (os.path.join(tmp, f) for f in ("w.bin", "x.f32", "out.bin"))
    blocks.tofile(src)
    x.tofile(xs)
    run([tool, "matmul", name, str(k), src, xs, dst])
    raw = np.fromfile(dst, dtype=np.uint8)
    kb = k // 32
    got = raw[:t * n * 4].view(np.float32).reshape(t, n)
    q = raw[t * n * 4:t * n * 4 + t * k].view(np.int8).reshape(t, k)
    d = raw[t * n * 4 + t * k:].view(np.float32).reshape(t, kb)
    xa = q.astype(np.float64) * np.repeat(d.astype(np.float64), 32, axis=1)  # [t, k]
    w = dequantize(blocks, qt).astype(np.float64).reshape(n, k)
    want = xa @ w.T
    m = np.zeros((n, k))
    if name in ("q4_1", "q4_k", "q5_k"):
        mins = np.abs(blocks[:, 2:4].copy().view(np.float16).astype(np.float64).reshape(-1))
        mins *= 1.0 if name == "q4_1" else 63.0
        m = np.repeat(mins, block_elems).reshape(n, k)
    magnitude = np.abs(xa) @ (np.abs(w) + 2 * m).T
    tol = (2 * kb + 1) * 2.0**-24 * magnitude
    bad = np.nonzero(np.abs(got - want) > tol)
    if len(bad[0]):
        i, j = bad[0][0], bad[1][0]
        return [f"{name} matmul: {len(bad[0])} outputs off, first [{i}, {j}]: ours {got[i, j]!r} "
                f"float64 {want[i, j]!r} (tolerance {tol[i, j]:.3g})"]
    return []


def small_scale_blocks(rng, name, count):
    """Random valid blocks whose f16 scales are finite and of moderate size (from 2^-8 to 1, either
    sign), so that products with the activations stay far from f32's range limits."""
    b = random_blocks(rng, name, count)
    for off in F16_FIELDS[name]:
        h = b[:, off:off + 2].copy().view(np.uint16)
        h = (h & np.uint16(0x83FF)) | (rng.integers(7, 15, size=h.shape).astype(np.uint16) << 10)
        b[:, off:off + 2] = h.view(np.uint8)
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rows", type=int, default=64)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"quant_diff: seed {seed}", flush=True)
    rng = np.random.default_rng(seed)
    failures = []
    # gguf warns of the f16 overflow of huge scales and of inf * 0: both are compared too.
    with tempfile.TemporaryDirectory() as tmp, np.errstate(over="ignore", invalid="ignore"):
        for name, qt in TYPES.items():
            if name in QUANTIZED_HERE or name == "q4_1":
                x = random_f32(rng, args.rows, 512)
                failures += check_dequantize(args.bin, tmp, name, quantize(x, qt))
            failures += check_dequantize(args.bin, tmp, name, random_blocks(rng, name, 4096))
        for name in TYPES:
            failures += check_matmul(args.bin, tmp, name, rng)
        for name in QUANTIZED_HERE:
            failures += check_quantize(args.bin, tmp, name, random_f32(rng, args.rows, 512))
            x = random_f32(rng, args.rows, 512)[:, :500]  # not whole blocks: padded with zeros
            failures += check_quantize(args.bin, tmp, name, x)
    for f in failures:
        print("FAIL", f)
    print(f"quant_diff: {'FAILED' if failures else 'all equal'} (seed {seed})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
