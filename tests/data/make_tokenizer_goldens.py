#!/usr/bin/env python3
"""Goldens made with Hugging Face transformers (not in CI):

1. tests/data/llama2-tokenizer-json/: the Llama 2 SentencePiece tokenizer.model converted to a
   tokenizer.json by transformers' converter (LlamaTokenizerFast.from_pretrained on a directory
   holding only tokenizer.model and its tokenizer_config.json), for the test that compares our
   tokenizer.json path with our SentencePiece path (tests/unit/hf_llama2_json_test.cpp).
2. Prompt token ids that transformers makes of a few chat conversations with the real
Llama 3 (3.2 chat template) and Qwen2 tokenizers in tests/data: the goldens of
tests/server/test_real_tokenizers.py, which asks llm-serve for the same ids.

Each conversation goes through AutoTokenizer.from_pretrained(DIR).apply_chat_template(messages,
tokenize=True, add_generation_prompt=True, **chat_template_kwargs). The kwargs fix date_string, so
that the Llama 3.2 template's "Today Date" does not come from the clock and the goldens never
expire. Needs transformers (not in CI); run it only to regenerate the committed file:

    python3 tests/data/make_tokenizer_goldens.py   # with a venv that has transformers
"""
import json
import shutil
import tempfile
from pathlib import Path

import transformers

DATA = Path(__file__).resolve().parent
OUT = DATA / "chat_prompt_ids" / "goldens.json"
KWARGS = {"date_string": "26 Jul 2024"}

CONVERSATIONS = [
    [{"role": "system", "content": "You are a terse assistant."},
     {"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "A joke about naïve 中文 and 😀👨\u200d👩\u200d👧, please.\n\n  Tabs\tand  spaces   "}],
    [{"role": "user", "content": "Literal special text: <|eot_id|> <|im_end|> <s>"}],
]


def use_transformers_protobuf_schema():
    """sentencepiece's own sentencepiece_model_pb2 needs protobuf >= 5.26; where an older protobuf
    is installed, hand the converter transformers' copy of the same schema instead."""
    import sys

    import google.protobuf
    if int(google.protobuf.__version__.split(".")[0]) < 5:
        from transformers.utils import sentencepiece_model_pb2_new
        sys.modules["sentencepiece.sentencepiece_model_pb2"] = sentencepiece_model_pb2_new


def convert_llama2():
    use_transformers_protobuf_schema()
    out = DATA / "llama2-tokenizer-json"
    with tempfile.TemporaryDirectory() as tmp:
        # Only the SentencePiece files, so that the fast tokenizer is built by the converter.
        src = DATA / "llama2-tokenizer"
        shutil.copy(src / "tokenizer.model", tmp)
        config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                  "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
                  "clean_up_tokenization_spaces": False, "legacy": True}
        Path(tmp, "tokenizer_config.json").write_text(json.dumps(config))
        tok = transformers.LlamaTokenizerFast.from_pretrained(tmp, from_slow=True)
        saved = Path(tmp, "saved")
        tok.save_pretrained(saved)
        out.mkdir(exist_ok=True)
        shutil.copy(saved / "tokenizer_config.json", out)
        # The library's compact serialization: the pretty-printed file is twice the size.
        (out / "tokenizer.json").write_text(tok.backend_tokenizer.to_str())
    print("wrote", out)


def main():
    convert_llama2()
    out = {"transformers": transformers.__version__, "chat_template_kwargs": KWARGS, "tokenizers": {}}
    for name in ["llama3-tokenizer", "qwen2-tokenizer"]:
        tok = transformers.AutoTokenizer.from_pretrained(DATA / name)
        cases = []
        for messages in CONVERSATIONS:
            ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, **KWARGS)
            if not isinstance(ids, list):  # a BatchEncoding where return_dict defaults to True
                ids = ids["input_ids"]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **KWARGS)
            cases.append({"messages": messages, "prompt": text, "ids": [int(i) for i in ids]})
        out["tokenizers"][name] = cases
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
