"""Differential test of our tokenizer.json implementation against the `tokenizers` library.

For each tokenizer directory: generates a seeded set of strings (random Unicode from every
plane, combining marks, emoji ZWJ sequences, CJK, RTL, whitespace runs, CRLF/tabs, digit runs,
contractions in both cases, code, literal special-token text, very long words), writes what
`tokenizers` makes of them (ids with and without special tokens, decoded text) and runs the C++
comparer (hf_tokenizer_diff) on them. Exit status non-zero on any mismatch.

    hf_diff.py --bin PATH/hf_tokenizer_diff [--count N] [--seed S] DIR...
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

RANGES = [
    (0x20, 0x7E), (0xA0, 0xFF), (0x100, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF),
    (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x1F300, 0x1FAFF),
    (0x2000, 0x206F), (0xFF00, 0xFFEF), (0x10000, 0x1FFFF), (0x20000, 0x2FFFF),
    (0xE0000, 0xE007F), (0xF0000, 0x10FFFF),
]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009", "\u000b",
              "\u0085", "\u2028", "\f", "   \n", " \n\n ", "\t\t "]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M",
                "'LL", "'D", "'ſ", "'x", "’s"]
WORDS = ["hello", "world", "Hello", "WORLD", "don", "it", "we", "they", "I", "naïve", "café",
         "über", "straße", "東京", "北京市", "Москва", "שלום", "مرحبا", "नमस्ते", "สวัสดี", "안녕하세요",
         "ありがとう", "func", "return", "self", "i++", "x->y", "a==b", "0x1F", "3.14159",
         "1,000,000", "e.g.", "U.S.A.", "e\u0301", "n\u0303", "\u0915\u094d\u0937"]
EMOJI = ["😀", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "❤️", "🇫🇷", "🧑🏿\u200d💻", "1️⃣"]
CODE = ["def f(x):\n    return x*2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
        "<div class=\"a\">&amp;</div>", "SELECT * FROM t WHERE id=42;", "fn main() { println!(\"hi\"); }",
        "    if x:\r\n        pass", "$ ls -la ~/src | grep '.py'", "{\"k\": [1, 2.5e-3, null]}"]


def random_char(rng):
    lo, hi = rng.choice(RANGES)
    while True:
        cp = rng.randint(lo, hi)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def piece(rng, specials):
    kind = rng.randrange(12)
    if kind == 0:
        return "".join(random_char(rng) for _ in range(rng.randint(1, 8)))
    if kind == 1:
        return rng.choice(WHITESPACE) * rng.randint(1, 3)
    if kind == 2:
        return rng.choice(WORDS) + rng.choice(CONTRACTIONS)
    if kind == 3:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
    if kind == 4:
        return rng.choice(EMOJI)
    if kind == 5:
        return rng.choice(CODE)
    if kind == 6:
        return rng.choice(specials) if specials else "<s>"
    if kind == 7:  # combining marks on random bases
        return rng.choice("aeoAEOиא") + "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(rng.randint(1, 4)))
    if kind == 8:
        return rng.choice(WORDS)
    if kind == 9:
        return "".join(rng.choice("!@#$%^&*()_+-=[]{};:'\",.<>/?\\|`~") for _ in range(rng.randint(1, 5)))
    if kind == 10:  # digits of other scripts, fractions, superscripts
        return "".join(rng.choice("٠١٢٣४५६７８⁹½Ⅻ①") for _ in range(rng.randint(1, 6)))
    return rng.choice(WORDS).upper() if rng.random() < 0.5 else rng.choice(WORDS).capitalize()


def make_strings(count, seed, specials):
    rng = random.Random(seed)
    fixed = ["", " ", "  ", "\n", "\r\n", "Hello world", " Hello", "Hello  world  ", "I'm here. You'RE",
             "a" * 3000, "ab" * 700 + "c", "😀" * 50, "1234567890" * 20, "\t\n \t\n",
             "x" + "\u0301" * 30, "".join(specials[:5]) if specials else "<s>",
             "<|im_start|>user\nhi<|im_end|>\n", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
             "<|im_start", "im_start|>", "<<|eot_id|>>", "'ſt 'ſ 'S 'Re 'LL"]
    out = list(fixed)
    while len(out) < count:
        n = rng.choice([1, 2, 3, 5, 8, 13, 20])
        out.append("".join(piece(rng, specials) for _ in range(n)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for d in args.dirs:
            tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            specials = [t.content for t in tok.get_added_tokens_decoder().values()]
            cases = os.path.join(tmp, os.path.basename(d.rstrip("/")) + ".jsonl")
            with open(cases, "w", encoding="utf-8") as f:
                for text in make_strings(args.count, args.seed, specials):
                    ids = tok.encode(text, add_special_tokens=False).ids
                    ids_special = tok.encode(text, add_special_tokens=True).ids
                    decoded = tok.decode(ids_special, skip_special_tokens=True)
                    f.write(json.dumps({"text": text, "ids": ids, "ids_special": ids_special,
                                        "decoded": decoded}, ensure_ascii=False) + "\n")
            r = subprocess.run([args.bin, d, cases])
            failed = failed or r.returncode != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
