"""llm-serve with real Hugging Face tokenizers (Llama 3, Qwen2) on tiny random-weight checkpoints:
chat prompts must tokenize to exactly the ids transformers' apply_chat_template gives
(tests/data/chat_prompt_ids, made by tests/data/make_chat_prompt_ids.py), through /tokenize and
through the official openai SDK; logprob tokens must read as decoded text."""
import json
import subprocess
import sys

import openai
import pytest
from tokenizers import Tokenizer

from conftest import Server
from tiny_checkpoint import DATA, make_checkpoint

GOLDENS = json.loads((DATA / "chat_prompt_ids" / "goldens.json").read_text())
KWARGS = GOLDENS["chat_template_kwargs"]
NAMES = list(GOLDENS["tokenizers"])


# llama.cpp's names for the two pre-tokenizers (tokenizer.ggml.pre).
PRE = {"llama3-tokenizer": "llama-bpe", "qwen2-tokenizer": "qwen2"}


@pytest.fixture(scope="module", params=[(n, form) for n in NAMES for form in ("dir", "gguf")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def served(request, tmp_path_factory):
    """The checkpoint as a directory, and as a Q8_0 GGUF file whose tokenizer and chat template
    are the ones embedded in the file (tests/gguf/hf_to_gguf.py)."""
    name, form = request.param
    model = make_checkpoint(name, tmp_path_factory.mktemp(name))
    if form == "gguf":
        gguf_file = model.parent / f"{name}.gguf"
        subprocess.run([sys.executable, str(DATA.parent / "gguf" / "hf_to_gguf.py"), str(model),
                        str(gguf_file), "--type", "q8_0", "--tokenizer-json", str(model),
                        "--pre", PRE[name]], check=True)
        model = gguf_file
    s = Server("--max-num-seqs", "4", "--served-model-name", name, model=model)
    yield name, s
    assert s.stop() == 0, "".join(s.log[-20:])


@pytest.fixture(scope="module")
def decoded_vocab():
    """Per tokenizer: every id's text as `tokenizers` decodes it alone (special tokens shown)."""
    cache = {}

    def get(name):
        if name not in cache:
            tok = Tokenizer.from_file(str(DATA / name / "tokenizer.json"))
            cache[name] = {tok.decode([i], skip_special_tokens=False) for i in range(tok.get_vocab_size())}
        return cache[name]
    return get


def test_tokenize_messages_matches_transformers(served):
    name, s = served
    for case in GOLDENS["tokenizers"][name]:
        status, body = s.json("POST", "/tokenize", {"model": name, "messages": case["messages"],
                                                    "chat_template_kwargs": KWARGS})
        assert status == 200, body
        assert body["tokens"] == case["ids"], case["prompt"]
    # The kwargs reach the template: Llama 3.2's writes date_string into the system turn.
    messages = GOLDENS["tokenizers"][name][0]["messages"]
    _, body = s.json("POST", "/tokenize", {"messages": messages, "chat_template_kwargs": {"date_string": "01 Jan 2030"}})
    _, text = s.json("POST", "/detokenize", {"tokens": body["tokens"]})
    assert ("Today Date: 01 Jan 2030" in text["prompt"]) == (name == "llama3-tokenizer")


def test_chat_through_the_sdk_uses_the_same_prompt_ids(served, decoded_vocab):
    name, s = served
    client = openai.OpenAI(base_url=s.url + "/v1", api_key="unused")
    vocab = decoded_vocab(name)
    for case in GOLDENS["tokenizers"][name]:
        kw = dict(model=name, messages=case["messages"], max_completion_tokens=12, temperature=0,
                  extra_body={"chat_template_kwargs": KWARGS})
        chat = client.chat.completions.create(logprobs=True, top_logprobs=3, **kw)
        assert chat.usage.prompt_tokens == len(case["ids"])
        choice = chat.choices[0]
        entries = choice.logprobs.content
        assert len(entries) == chat.usage.completion_tokens
        # A stop token ends the list but is not part of the text.
        if choice.finish_reason == "stop" and entries and entries[-1].token.startswith("<|"):
            entries = entries[:-1]
        raw = b"".join(bytes(e.bytes) for e in entries)
        assert raw.decode("utf-8", errors="replace") == choice.message.content
        for e in entries:
            # The decoded text of one id, never a vocabulary spelling such as "Ġhello".
            assert e.token in vocab, e.token
            assert all(t.token in vocab for t in e.top_logprobs)
            assert e.token == bytes(e.bytes).decode("utf-8", errors="replace")
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           client.chat.completions.create(stream=True, **kw) if c.choices)
        assert streamed == choice.message.content


def test_chat_template_kwargs_must_be_an_object(served):
    name, s = served
    messages = GOLDENS["tokenizers"][name][0]["messages"]
    for path in ["/v1/chat/completions", "/tokenize"]:
        status, body = s.json("POST", path, {"model": name, "messages": messages, "chat_template_kwargs": ["x"]})
        assert status == 400, body
        assert body["error"]["param"] == "chat_template_kwargs"
