"""Dumps the tokenizer.ggml.* metadata that llama.cpp's convert_hf_to_gguf.py would write for a
Hugging Face tokenizer directory, as JSON with the fields of llm::GgufVocab.

    make_gguf_vocab.py --pre NAME DIR OUT.json   # tokenizer.json: a "gpt2" vocabulary
    make_gguf_vocab.py DIR OUT.json              # tokenizer.model: a "llama" vocabulary

The converter's steps are followed: for tokenizer.json, get_vocab_base() (tokens in id order, the
added tokens' types, [PAD<id>] for holes) and gguf.SpecialVocab(load_merges=True) (merges, special
ids, add_bos/add_eos from tokenizer_config.json and the post-processor); for tokenizer.model,
_create_vocab_sentencepiece() (pieces, scores and types from the model proto) and SpecialVocab.
The converter guesses tokenizer.ggml.pre by hashing the tokenization of a test text; --pre gives
the name it would find. "hf_special_mismatch" (not a GGUF field) lists the ids the converter marks
as control although the tokenizer does not call them special, which decode() then skips.
"""
import argparse
import json
import os
import struct
import sys

import gguf
from tokenizers import Tokenizer


def does_token_look_special(token):
    # convert_hf_to_gguf.py's TextModel.does_token_look_special.
    seems_special = token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
    seems_special = seems_special or (token.startswith("<|") and token.endswith("|>"))
    seems_special = seems_special or (token.startswith("<｜") and token.endswith("｜>"))
    seems_special = seems_special or (token.startswith("<unused") and token.endswith(">"))
    return seems_special


def config_vocab_size(directory):
    path = os.path.join(directory, "config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("vocab_size")
    return None


def gpt2_vocab(directory, pre):
    tok = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    vocab = tok.get_vocab(with_added_tokens=True)
    added_decoder = tok.get_added_tokens_decoder()
    added_vocab = {t.content: i for i, t in added_decoder.items()}
    vocab_size = config_vocab_size(directory) or len(vocab)
    reverse_vocab = {i: t for t, i in vocab.items()}
    tokens, types, mismatch = [], [], []
    for i in range(vocab_size):
        if i not in reverse_vocab:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        token = reverse_vocab[i]
        if token in added_vocab:
            if not added_decoder[i].normalized:
                token = tok.decode(tok.encode(token, add_special_tokens=False).ids,
                                   skip_special_tokens=False)
            if added_decoder[i].special or does_token_look_special(token):
                types.append(gguf.TokenType.CONTROL)
                if not added_decoder[i].special:
                    mismatch.append(i)
            else:
                token = token.replace("\u2581", " ")
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    special = gguf.SpecialVocab(directory, load_merges=True)
    return {"model": "gpt2", "pre": pre, "tokens": tokens, "scores": [],
            "token_types": [int(t) for t in types], "merges": special.merges,
            "hf_special_mismatch": mismatch}, special


def read_varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def proto_fields(buf):
    """(field, wire type, value) of one protobuf message: ints, bytes, or 4-byte floats."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = read_varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack("<f", buf[pos:pos + 4])[0], pos + 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
        yield field, wire, value


def llama_vocab(directory):
    # sentencepiece_model.proto: ModelProto.pieces = 1 {piece = 1, score = 2, type = 3},
    # normalizer_spec = 3 {add_dummy_prefix = 3}. The Python sentencepiece package is not a
    # dependency here; these are the only fields the converter reads.
    with open(os.path.join(directory, "tokenizer.model"), "rb") as f:
        model = f.read()
    tokens, scores, types, add_prefix = [], [], [], True
    for field, _, value in proto_fields(model):
        if field == 1:
            piece, score, kind = "", 0.0, 1
            for f2, _, v2 in proto_fields(value):
                if f2 == 1:
                    piece = v2.decode("utf-8")
                elif f2 == 2:
                    score = v2
                elif f2 == 3:
                    kind = v2
            # _create_vocab_sentencepiece: unknown, control, unused and byte pieces keep their
            # type; every other (user-defined included) becomes NORMAL.
            tokens.append(piece)
            scores.append(score)
            types.append(kind if kind in (2, 3, 5, 6) else 1)
        elif field == 3:
            for f2, _, v2 in proto_fields(value):
                if f2 == 3:
                    add_prefix = bool(v2)
    vocab_size = config_vocab_size(directory) or len(tokens)
    for i in range(len(tokens), vocab_size):
        tokens.append(f"[PAD{i}]")
        scores.append(-10000.0)
        types.append(int(gguf.TokenType.UNUSED))
    special = gguf.SpecialVocab(directory, n_vocab=len(tokens))
    return {"model": "llama", "pre": "default", "tokens": tokens, "scores": scores,
            "token_types": types, "merges": [], "add_space_prefix": add_prefix,
            "hf_special_mismatch": []}, special


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pre", help="tokenizer.ggml.pre of a tokenizer.json directory")
    ap.add_argument("dir")
    ap.add_argument("out")
    args = ap.parse_args()
    if os.path.isfile(os.path.join(args.dir, "tokenizer.json")):
        if not args.pre:
            sys.exit("--pre is required for a tokenizer.json directory")
        out, special = gpt2_vocab(args.dir, args.pre)
    else:
        out, special = llama_vocab(args.dir)
    ids = special.special_token_ids
    for key, name in (("bos_id", "bos"), ("eos_id", "eos"), ("unknown_id", "unk"),
                      ("padding_id", "pad")):
        out[key] = ids.get(name, -1)
    out["add_bos"] = special.add_special_token.get("bos")
    out["add_eos"] = special.add_special_token.get("eos")
    out["chat_template"] = special.chat_template if isinstance(special.chat_template, str) else ""
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
