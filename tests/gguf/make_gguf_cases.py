"""Differential test of our GGUF reader against the `gguf` package's writer.

Writes fresh random GGUF files with gguf.GGUFWriter (every metadata value type, arrays of
strings and of every number type, strings that are not UTF-8, custom alignments, version 2 and
3 headers, tensors of every type the engine supports in 1 to 4 dimensions), records what it
wrote as JSON (keys, types, values; tensor names, shapes, types, sha256 of the bytes) and
compares that with what gguf_dump (our reader) prints for each file. Files with one tensor of
a type the engine does not support must be refused as unsupported, naming the tensor and type.
The files go to a temporary directory. Exit status non-zero on any mismatch.

    make_gguf_cases.py --bin PATH/gguf_dump [--seed S] [--cases N] [--keep DIR]
"""
import argparse
import hashlib
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGML_QUANT_SIZES, GGUFValueType as V, GGUFWriter
from gguf.quants import quantize

SUPPORTED = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q5_K, Q.Q6_K]
INT_RANGES = {
    V.UINT8: (0, 2**8 - 1), V.INT8: (-2**7, 2**7 - 1),
    V.UINT16: (0, 2**16 - 1), V.INT16: (-2**15, 2**15 - 1),
    V.UINT32: (0, 2**32 - 1), V.INT32: (-2**31, 2**31 - 1),
    # u64 above INT64_MAX is refused by design (GgufValue keeps int64): not generated here.
    V.UINT64: (0, 2**63 - 1), V.INT64: (-2**63, 2**63 - 1),
}
FLOAT_EDGES = [0.0, -0.0, 1.0, -1.5, 1e-45, 3.4028234663852886e38, 1e-300, 1e300,
               math.inf, -math.inf, math.nan]
TYPE_NAMES = {V.UINT8: "u8", V.INT8: "i8", V.UINT16: "u16", V.INT16: "i16", V.UINT32: "u32",
              V.INT32: "i32", V.FLOAT32: "f32", V.BOOL: "bool", V.STRING: "string",
              V.ARRAY: "array", V.UINT64: "u64", V.INT64: "i64", V.FLOAT64: "f64"}
SCALAR_TYPES = [t for t in V if t != V.ARRAY]


def random_int(rng, t):
    lo, hi = INT_RANGES[t]
    return rng.choice([lo, hi, 0, rng.randint(lo, hi), rng.randint(max(lo, -1000), min(hi, 1000))])


def random_float(rng, t):
    if rng.random() < 0.3:
        x = rng.choice(FLOAT_EDGES)
    else:
        x = rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
    if t == V.FLOAT32:  # what the file holds: x rounded to float32 (overflowing to inf)
        with np.errstate(over="ignore"):
            x = float(np.float32(x))
    return x


def random_bytes_string(rng):
    kind = rng.random()
    if kind < 0.1:
        return b""
    if kind < 0.3:  # not UTF-8: GGUF strings are bytes
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    chars = "abcxyz _.-/\n\t\"\\é東😀\u0000"
    return "".join(rng.choice(chars) for _ in range(rng.randint(1, 40))).encode()


def random_scalar(rng, t):
    if t in INT_RANGES:
        return random_int(rng, t)
    if t in (V.FLOAT32, V.FLOAT64):
        return random_float(rng, t)
    if t == V.BOOL:
        return rng.random() < 0.5
    return random_bytes_string(rng)


def encode_expected(t, x):
    """A value as gguf_dump prints it."""
    if t == V.STRING:
        return x.hex()
    if t in (V.FLOAT32, V.FLOAT64):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
    return x


def add_metadata(rng, writer, expected, count):
    for i in range(count):
        key = f"test.{i}.{rng.choice(['a', 'key', 'général', 'x' * 30])}".encode()
        if rng.random() < 0.1:
            key = bytes([0xff, 0xfe]) + key  # keys are strings, and strings need not be UTF-8
        t = rng.choice(list(V))
        if t == V.ARRAY:
            sub = rng.choice(SCALAR_TYPES)
            n = rng.choice([1, 2, rng.randint(1, 100)])  # GGUFWriter refuses empty arrays
            values = [random_scalar(rng, sub) for _ in range(n)]
            writer.add_key_value(key, values, V.ARRAY, sub_type=sub)
            expected.append({"key": key.hex(), "type": "array", "element_type": TYPE_NAMES[sub],
                             "values": [encode_expected(sub, x) for x in values]})
        else:
            x = random_scalar(rng, t)
            writer.add_key_value(key, x, t)
            expected.append({"key": key.hex(), "type": TYPE_NAMES[t], "value": encode_expected(t, x)})


def tensor_bytes(rng, qtype, shape):
    """Random data of `shape` (row-major) in qtype: quantized by gguf.quants where it can,
    otherwise random blocks (the reader does not look inside them)."""
    data = np.random.default_rng(rng.randrange(2**32)).standard_normal(shape).astype(np.float32)
    try:
        return quantize(data, qtype)
    except NotImplementedError:
        block, size = GGML_QUANT_SIZES[qtype]
        row = shape[-1] // block * size
        return np.frombuffer(rng.randbytes(math.prod(shape[:-1]) * row),
                             dtype=np.uint8).reshape(*shape[:-1], row)


def random_shape(rng, qtype):
    block = GGML_QUANT_SIZES[qtype][0]
    inner = block * rng.randint(1, 3 if block > 1 else 40)
    outer = [rng.randint(1, 5) for _ in range(rng.randint(0, 3))]
    return (*outer, inner)


def add_tensor(rng, writer, name, qtype, shape):
    data = tensor_bytes(rng, qtype, shape)
    if qtype in (Q.F32, Q.F16):
        writer.add_tensor(name, data)
    else:
        writer.add_tensor(name, data, raw_dtype=qtype)
    return {"name": name.encode().hex(), "dtype": qtype.name.lower(), "shape": list(shape),
            "nbytes": data.nbytes, "sha256": hashlib.sha256(data.tobytes()).hexdigest()}


def write_case(rng, path, unsupported=None, every_type=False):
    """Writes one random file; returns the description of what it holds."""
    writer = GGUFWriter(path, arch=rng.choice(["llama", "qwen2", "ärch"]))
    metadata = [{"key": b"general.architecture".hex(), "type": "string",
                 "value": writer.arch.encode().hex()}]
    if rng.random() < 0.5:
        alignment = rng.choice([1, 8, 64, 256, 4096])
        writer.add_custom_alignment(alignment)
        metadata.append({"key": b"general.alignment".hex(), "type": "u32", "value": alignment})
    add_metadata(rng, writer, metadata, rng.randint(0, 25))
    tensors = []
    types = [rng.choice(SUPPORTED) for _ in range(rng.randint(0, 10))]
    if every_type:
        types += SUPPORTED
    if unsupported is not None:
        types.insert(rng.randint(0, len(types)), unsupported)
    for i, qtype in enumerate(types):
        name = f"blk.{i}.{rng.choice(['attn_q', 'ffn_up', 'tök'])}.weight"
        tensors.append(add_tensor(rng, writer, name, qtype, random_shape(rng, qtype)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    version = 3
    if rng.random() < 0.3:  # version 2 has the same layout (64-bit counts and lengths)
        version = 2
        with open(path, "r+b") as f:
            f.seek(4)
            f.write(struct.pack("<I", 2))
    return {"is_gguf": True, "version": version,
            "metadata": sorted(metadata, key=lambda m: bytes.fromhex(m["key"])),
            "tensors": sorted(tensors, key=lambda t: bytes.fromhex(t["name"])),
            "unsupported": None if unsupported is None else
            {"name": next(t["name"] for t in tensors if t["dtype"] == unsupported.name.lower()),
             "type": unsupported.name}}


def same(a, b):
    """Equality that treats nan as equal to nan and keeps -0.0 apart from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def check(dump, path, want):
    run = subprocess.run([dump, path], capture_output=True, text=True)
    try:
        got = json.loads(run.stdout)
    except json.JSONDecodeError:
        return [f"gguf_dump exited {run.returncode}: {run.stdout!r} {run.stderr!r}"]
    if want["unsupported"] is not None:
        err = got.get("error", {})
        name = bytes.fromhex(want["unsupported"]["name"]).decode()
        message = err.get("message", "")
        if (run.returncode != 1 or err.get("code") != "unsupported" or f"'{name}'" not in message
                or f"type {want['unsupported']['type']}," not in message):
            return [f"expected an unsupported-type error naming '{name}' and "
                    f"{want['unsupported']['type']}, got {got}"]
        return []
    if run.returncode != 0:
        return [f"gguf_dump exited {run.returncode}: {got}"]
    problems = []
    for field in ("is_gguf", "version"):
        if not same(got.get(field), want[field]):
            problems.append(f"{field}: got {got.get(field)!r}, want {want[field]!r}")
    for field, key in (("metadata", "key"), ("tensors", "name")):
        got_items = {item[key]: item for item in got.get(field, [])}
        want_items = {item[key]: item for item in want[field]}
        for k in sorted(want_items.keys() | got_items.keys()):
            if not same(got_items.get(k), want_items.get(k)):
                problems.append(f"{field} {bytes.fromhex(k)!r}: got {got_items.get(k)}, "
                                f"want {want_items.get(k)}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="path to gguf_dump")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--keep", help="write the files and descriptions here instead of a temp dir")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    print(f"make_gguf_cases.py: seed {seed} (rerun with --seed {seed})")
    rng = random.Random(seed)
    unsupported_types = [t for t in Q if t not in SUPPORTED]
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or tmp
        os.makedirs(out, exist_ok=True)
        failures = 0
        kinds = {"supported": 0, "unsupported": 0}
        for i in range(args.cases):
            path = os.path.join(out, f"case{i}.gguf")
            unsupported = rng.choice(unsupported_types) if i % 4 == 3 else None
            want = write_case(rng, path, unsupported, every_type=i == 0)
            with open(os.path.join(out, f"case{i}.json"), "w") as f:
                json.dump(want, f, indent=1)
            kinds["unsupported" if unsupported else "supported"] += 1
            problems = check(args.bin, path, want)
            if problems:
                failures += 1
                print(f"case {i} ({path}):")
                for p in problems[:10]:
                    print("  " + p)
        print(f"{args.cases} files ({kinds['supported']} readable, {kinds['unsupported']} with an "
              f"unsupported tensor type), {failures} mismatched")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
