"""Encode throughput, ours beside the `tokenizers` package, on the same ~10 MB of mixed text.

    bench/tokenizer_bench.py --bin build/bin/llm-tokenizer-bench [--mb 10] DIR...

The corpus: English-like prose, code, CJK, Cyrillic/Arabic, emoji, digits and whitespace runs,
generated from a fixed seed, cut into ~2 KB documents (one encode call each, as a server sees
prompts). Both sides run single-threaded (RAYON_NUM_THREADS=1; `tokenizers`' encode of one
string does not use threads anyway). Prints MB/s, load time per file, and whether the two
produced the same number of ids.
"""
import argparse
import json
import os
import random
import subprocess
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when if "
         "so no will can more about time them some could said into than other these only new "
         "after first also two like our well way even because people any most day those "
         "language model token server request stream decode encode").split()
SNIPPETS = ["def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }\n",
            "東京は日本の首都です。北京是中国的首都。", "Москва — столица России. ", "مرحبا بالعالم. ",
            "😀👍🏽 👨\u200d👩\u200d👧 ", "2024-06-01 12:34:56 ", "    \n\t\t", "I'm sure they're fine, don't worry. "]


def corpus(mb, seed=5):
    rng = random.Random(seed)
    docs, size = [], 0
    while size < mb * 1_000_000:
        parts = []
        while sum(len(p.encode()) for p in parts) < 2000:
            if rng.random() < 0.8:
                sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 20)))
                parts.append(sentence.capitalize() + rng.choice([". ", ", ", "? ", ".\n"]))
            else:
                parts.append(rng.choice(SNIPPETS))
        doc = "".join(parts)
        docs.append(doc)
        size += len(doc.encode())
    return docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    docs = corpus(args.mb)
    nbytes = sum(len(d.encode()) for d in docs)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
        path = f.name
    print(f"corpus: {nbytes / 1e6:.1f} MB in {len(docs)} documents")
    print("| tokenizer | ours MB/s | tokenizers MB/s | ours load s | tokenizers load s | same id count |")
    print("| --- | --- | --- | --- | --- | --- |")
    for d in args.dirs:
        t = time.perf_counter()
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        ref_load = time.perf_counter() - t
        t = time.perf_counter()
        ref_ids = sum(len(tok.encode(doc, add_special_tokens=False).ids) for doc in docs)
        ref_s = time.perf_counter() - t
        ours = json.loads(subprocess.run([args.bin, d, path], check=True, capture_output=True,
                                         text=True).stdout)
        print(f"| {os.path.basename(d.rstrip('/'))} | {ours['mb_per_s']:.2f} | {nbytes / 1e6 / ref_s:.2f} "
              f"| {ours['load_s']:.2f} | {ref_load:.2f} | {ours['ids'] == ref_ids} |")
    os.unlink(path)


if __name__ == "__main__":
    main()
