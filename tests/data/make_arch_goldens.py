#!/usr/bin/env python3
"""Tiny random-weight checkpoints, one per model family and feature, and what Hugging Face
transformers computes for them: the goldens of tests/unit/arch_reference_test.cpp.

Each checkpoint is built with transformers, saved with save_pretrained (bf16 weights, so the
engine reads exactly the values the reference used), reloaded from disk and run in float64. We
record the logits at every position of a token-id prompt and a greedy continuation. Needs torch
and transformers (not in CI); run it only to regenerate the committed files:

    python3 tests/data/make_arch_goldens.py   # with a venv that has torch and transformers
"""
import json
import sys
import shutil
from pathlib import Path

import torch
import transformers

OUT = Path(__file__).resolve().parent / "arch"
VOCAB = 96
PROMPT_LEN = 40
GREEDY_STEPS = 12

BASE = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
            rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2,
            tie_word_embeddings=False)

# name -> (config class, extra config fields, how config.json is rewritten after saving)
CASES = {
    "llama": (transformers.LlamaConfig, {}, None),
    "llama_head_dim": (transformers.LlamaConfig, {"head_dim": 24}, None),
    "llama_tied": (transformers.LlamaConfig, {"tie_word_embeddings": True, "eos_token_id": [2, 5]}, None),
    "llama_linear": (transformers.LlamaConfig, {"rope_scaling": {"rope_type": "linear", "factor": 4.0}}, None),
    "llama3_rope": (transformers.LlamaConfig,
                    {"rope_theta": 500000.0,
                     "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 32}},
                    None),
    # The same model with transformers 5's config form: rope_parameters instead of rope_theta and
    # rope_scaling (and "type" where older configs wrote it).
    "llama3_rope_parameters": (transformers.LlamaConfig,
                               {"rope_theta": 500000.0,
                                "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                 "high_freq_factor": 4.0,
                                                 "original_max_position_embeddings": 32}},
                               "rope_parameters"),
    # Dynamic NTK: within max_position_embeddings transformers leaves the frequencies unscaled.
    "llama_dynamic": (transformers.LlamaConfig, {"rope_scaling": {"rope_type": "dynamic", "factor": 4.0}},
                      None),
    "llama_yarn": (transformers.LlamaConfig,
                   {"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}},
                   None),
    "llama_yarn_mscale": (transformers.LlamaConfig,
                          {"rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32,
                                            "beta_fast": 16.0, "beta_slow": 2.0, "mscale": 0.9,
                                            "mscale_all_dim": 0.5}},
                          None),
    "qwen2": (transformers.Qwen2Config, {"tie_word_embeddings": True}, None),
    # Windows shorter than the prompt: every layer (Mistral), the layers from max_window_layers
    # on (Qwen2).
    "mistral_window": (transformers.MistralConfig, {"sliding_window": 8}, None),
    "qwen2_window": (transformers.Qwen2Config,
                     {"use_sliding_window": True, "sliding_window": 8, "max_window_layers": 1}, None),
    "qwen3": (transformers.Qwen3Config, {"head_dim": 24}, None),
    # Fused qkv_proj and gate_up_proj; a window on every layer; RoPE on half of each head.
    "phi3": (transformers.Phi3Config, {"sliding_window": 8, "pad_token_id": 0}, None),
    # Gemma 2: (1 + w) norms around attention and MLP, scaled embeddings, GeGLU, soft-capped
    # scores and logits (caps small enough to act on these weights), alternating windows.
    "gemma2": (transformers.Gemma2Config,
               {"head_dim": 16, "query_pre_attn_scalar": 24, "sliding_window": 8,
                "attn_logit_softcapping": 2.0, "final_logit_softcapping": 3.0,
                "hidden_activation": "gelu_pytorch_tanh", "pad_token_id": 0}, None),
    # Gemma 3 (text): q/k norms, a sliding layer with its own RoPE base beside a global one with
    # scaled RoPE.
    "gemma3": (transformers.Gemma3TextConfig,
               {"head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 8,
                "layer_types": ["sliding_attention", "full_attention"], "rope_local_base_freq": 10000.0,
                "rope_theta": 1000000.0, "rope_scaling": {"rope_type": "linear", "factor": 4.0},
                "pad_token_id": 0}, None),
    # longrope: the long factors once the sequence is longer than the pretrained context (32
    # here, prompts of 40), the short ones while it fits (64); attention factor from 128 / orig.
    "phi3_longrope": (transformers.Phi3Config,
                      {"original_max_position_embeddings": 32, "pad_token_id": 0,
                       "rope_scaling": {"type": "longrope",
                                        "short_factor": [1.0, 1.05, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0],
                                        "long_factor": [1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 8.0, 12.0]}}, None),
    "phi3_longrope_short": (transformers.Phi3Config,
                            {"original_max_position_embeddings": 64, "pad_token_id": 0,
                             "rope_scaling": {"type": "longrope",
                                              "short_factor": [1.0, 1.05, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0],
                                              "long_factor": [1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 8.0, 12.0]}},
                            None),
    "phi3_partial_rotary": (transformers.Phi3Config, {"partial_rotary_factor": 0.5, "pad_token_id": 0}, None),
}


def to_rope_parameters(cfg: dict) -> dict:
    params = dict(cfg.pop("rope_scaling") or {"rope_type": "default"})
    params["rope_theta"] = cfg.pop("rope_theta")
    cfg["rope_parameters"] = params
    return cfg


def build(name, config_class, extra, rewrite):
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    if rewrite == "rope_parameters":
        # The twin's weights with the config rewritten; transformers 4.x cannot read that form
        # back, so the goldens come from the twin.
        twin = OUT / name.replace("_rope_parameters", "_rope")
        shutil.copytree(twin, out)
        path = out / "config.json"
        path.write_text(json.dumps(to_rope_parameters(json.loads(path.read_text())), indent=2) + "\n")
        return twin
    torch.manual_seed(sum(map(ord, name)))
    config = config_class(**{**BASE, **extra}, torch_dtype="bfloat16")
    model_class = transformers.AutoModelForCausalLM.from_config(config).__class__
    model = model_class(config).to(torch.bfloat16)
    # Visible weights: default init is tiny, which would make every layer nearly the identity.
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.08 if p.dim() > 1 else 0.3)
            if p.dim() == 1 and "norm" in [n for n, q in model.named_parameters() if q is p][0]:
                p.add_(1.0)
    model.save_pretrained(out, safe_serialization=True)
    (out / "generation_config.json").unlink(missing_ok=True)
    return out


def goldens(name, reload_from):
    # Eager attention: the reference implementation. (SDPA ignores Gemma 2's score soft-capping.)
    model = transformers.AutoModelForCausalLM.from_pretrained(reload_from, dtype=torch.float64,
                                                              attn_implementation="eager")
    model.eval()
    g = torch.Generator().manual_seed(1000 + sum(map(ord, name)))
    prompt = torch.randint(3, VOCAB, (PROMPT_LEN,), generator=g).tolist()
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0]
        ids = list(prompt)
        for _ in range(GREEDY_STEPS):
            nxt = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            ids.append(nxt)
    return {"case": name, "prompt_token_ids": prompt,
            "logits": [[round(float(x), 7) for x in row] for row in logits],
            "greedy": ids[len(prompt):]}


def main():
    """All cases, or only those named on the command line (the others' goldens are kept)."""
    OUT.mkdir(exist_ok=True)
    only = set(sys.argv[1:])
    unknown = only - set(CASES)
    if unknown:
        sys.exit(f"no such case: {sorted(unknown)}")
    kept = {}
    if only and (OUT / "goldens.jsonl").exists():
        for line in (OUT / "goldens.jsonl").read_text().splitlines():
            kept[json.loads(line)["case"]] = line
    lines = []
    for name, (cls, extra, rewrite) in CASES.items():
        if only and name not in only:
            if name in kept:
                lines.append(kept[name])
            continue
        reload_from = build(name, cls, extra, rewrite)
        lines.append(json.dumps(goldens(name, reload_from)))
        print(name, "ok")
    (OUT / "goldens.jsonl").write_text("\n".join(lines) + "\n")
    print("transformers", transformers.__version__, "torch", torch.__version__)


if __name__ == "__main__":
    main()
