"""The official openai SDK against llm-serve: completions and chat, whole and streamed."""
import concurrent.futures

import openai
import pytest

from conftest import generate_cli


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


PROMPTS = ["Once upon a time", "The little dog", "Tom and Lily went to the park"]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_completion_equals_llm_generate(client, prompt):
    expected = generate_cli(prompt, 40)["output_text"]
    r = client.completions.create(model="stories", prompt=prompt, max_tokens=40, temperature=0)
    assert r.object == "text_completion"
    assert r.choices[0].text == expected
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 40
    assert r.usage.prompt_tokens == len(generate_cli(prompt, 1)["prompt_token_ids"])
    assert r.usage.total_tokens == r.usage.prompt_tokens + 40


def test_streamed_completion_equals_whole(client):
    whole = client.completions.create(model="stories", prompt=PROMPTS[0], max_tokens=30, temperature=0)
    chunks = list(client.completions.create(model="stories", prompt=PROMPTS[0], max_tokens=30,
                                            temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_stream_usage_chunk_when_asked(client):
    chunks = list(client.completions.create(model="stories", prompt="Hi", max_tokens=5, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_completion_uses_the_template_and_matches_generate(client):
    # stories260K has no chat template: the documented fallback renders
    # "<s>user: ...\nassistant:", whose tokens equal llm-generate's for that prompt.
    expected = generate_cli("user: Tell me a story\nassistant:", 30)["output_text"]
    r = client.chat.completions.create(model="stories", messages=[{"role": "user", "content": "Tell me a story"}],
                                       max_tokens=30, temperature=0)
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == expected


def test_streamed_chat(client):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    whole = client.chat.completions.create(model="stories", messages=msgs, max_tokens=20, temperature=0)
    chunks = list(client.chat.completions.create(model="stories", messages=msgs, max_tokens=20,
                                                 temperature=0, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].object == "chat.completion.chunk"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "length"


def test_n_logprobs_and_seed(client):
    r = client.completions.create(model="stories", prompt="Once", max_tokens=8, n=3, temperature=1.0,
                                  seed=11, logprobs=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    for c in r.choices:
        assert len(c.logprobs.tokens) == 8
        assert len(c.logprobs.top_logprobs[0]) <= 3
        assert all(lp <= 0 for lp in c.logprobs.token_logprobs)
    again = client.completions.create(model="stories", prompt="Once", max_tokens=8, n=3, temperature=1.0,
                                      seed=11, logprobs=3)
    assert [c.text for c in again.choices] == [c.text for c in r.choices]
    chat = client.chat.completions.create(model="stories", messages=[{"role": "user", "content": "Hi"}],
                                          max_completion_tokens=4, temperature=0, logprobs=True, top_logprobs=2)
    content = chat.choices[0].logprobs.content
    assert len(content) == 4 and len(content[0].top_logprobs) == 2
    assert content[0].top_logprobs[0].token == content[0].token


def test_stop_string_is_not_emitted(client):
    full = client.completions.create(model="stories", prompt=PROMPTS[0], max_tokens=40, temperature=0)
    text = full.choices[0].text
    stop = text[10:14]
    r = client.completions.create(model="stories", prompt=PROMPTS[0], max_tokens=40, temperature=0, stop=[stop])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == text[:text.find(stop)]
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="stories", prompt=PROMPTS[0], max_tokens=40, temperature=0, stop=[stop], stream=True))
    assert streamed == r.choices[0].text


def test_prompt_forms(client):
    ids = generate_cli("Once upon a time", 1)["prompt_token_ids"]
    by_text = client.completions.create(model="stories", prompt="Once upon a time", max_tokens=6, temperature=0)
    by_ids = client.completions.create(model="stories", prompt=ids, max_tokens=6, temperature=0)
    assert by_ids.choices[0].text == by_text.choices[0].text
    batch = client.completions.create(model="stories", prompt=["Once upon a time", "The dog"], max_tokens=6,
                                      temperature=0)
    assert len(batch.choices) == 2 and batch.choices[0].text == by_text.choices[0].text
    echo = client.completions.create(model="stories", prompt="Once upon a time", max_tokens=6, temperature=0,
                                     echo=True)
    assert echo.choices[0].text == "Once upon a time" + by_text.choices[0].text


def test_models_lists_the_served_name(client):
    assert [m.id for m in client.models.list().data] == ["stories"]


def test_32_concurrent_streams_match_sequential(client):
    prompts = [f"Story number {i}: once" for i in range(32)]
    sequential = [client.completions.create(model="stories", prompt=p, max_tokens=24, temperature=0).choices[0].text
                  for p in prompts]

    def stream(p):
        return "".join(c.choices[0].text for c in client.completions.create(
            model="stories", prompt=p, max_tokens=24, temperature=0, stream=True))

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        concurrent_out = list(pool.map(stream, prompts))
    assert concurrent_out == sequential


def test_tensor_parallel_server_streams_the_single_rank_text():
    """The whole server on a model split over 2 in-process ranks (CPU backend): one streaming
    request end to end gives llm-generate's single-rank greedy text."""
    from conftest import Server
    s = Server("--tensor-parallel-size", "2", "--served-model-name", "stories")
    try:
        c = openai.OpenAI(base_url=s.url + "/v1", api_key="unused", max_retries=0, timeout=120)
        chunks = list(c.completions.create(model="stories", prompt=PROMPTS[0], max_tokens=30,
                                           temperature=0, stream=True))
        assert "".join(ch.choices[0].text for ch in chunks if ch.choices) == \
            generate_cli(PROMPTS[0], 30)["output_text"]
        assert chunks[-1].choices[0].finish_reason == "length"
    finally:
        assert s.stop() == 0, "".join(s.log[-20:])
