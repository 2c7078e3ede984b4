"""Differential test of Tokenizer::from_gguf: for each tokenizer directory, writes the GGUF
vocabulary llama.cpp's converter would make of it (make_gguf_vocab.py) and the seeded test strings
of tests/tokenizer/hf_diff.py, then runs the C++ comparer (gguf_tokenizer_diff) against
Tokenizer::load on the original files. Exit status non-zero on any mismatch.

    gguf_tokenizer_diff.py --bin PATH/gguf_tokenizer_diff [--count N] [--seed S] DIR[:PRE]...

PRE is tokenizer.ggml.pre for a tokenizer.json directory (the name the converter's hash finds).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tokenizer"))
import make_gguf_vocab  # noqa: E402
from hf_diff import make_strings  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("specs", nargs="+")
    args = ap.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.specs:
            directory, _, pre = spec.partition(":")
            name = os.path.basename(directory.rstrip("/"))
            vocab_path = os.path.join(tmp, name + ".vocab.json")
            cmd = [sys.executable, os.path.join(HERE, "make_gguf_vocab.py")]
            subprocess.run(cmd + (["--pre", pre] if pre else []) + [directory, vocab_path],
                           check=True)
            with open(vocab_path, encoding="utf-8") as f:
                vocab = json.load(f)
            # Literal special tokens in the text, as a prompt may hold them.
            specials = [t for t, k in zip(vocab["tokens"], vocab["token_types"]) if k in (3, 4)]
            texts_path = os.path.join(tmp, name + ".texts.jsonl")
            with open(texts_path, "w", encoding="utf-8") as f:
                for text in make_strings(args.count, args.seed, specials):
                    f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            r = subprocess.run([args.bin, vocab_path, directory, texts_path, str(args.seed)])
            failed = failed or r.returncode != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
