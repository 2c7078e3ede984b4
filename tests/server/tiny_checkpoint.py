"""Writes tiny random-weight checkpoints (Hugging Face layout, safetensors through numpy) that
carry a real tokenizer from tests/data, so a test can serve a real vocabulary in seconds."""
import json
import shutil
import struct
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

# Per tokenizer: the architecture its models use, their padded vocabulary and BOS/EOS ids.
FAMILIES = {
    "llama3-tokenizer": dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=128256,
                             bos_token_id=128000, eos_token_id=[128001, 128008, 128009]),
    "qwen2-tokenizer": dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", vocab_size=151936,
                            bos_token_id=151643, eos_token_id=151645),
}
HIDDEN, HEADS, KV_HEADS, FFN, LAYERS = 32, 4, 2, 64, 2


def bf16_bytes(a):
    """float32 -> bfloat16 by rounding to nearest even, as raw little-endian bytes."""
    u = a.astype(np.float32).view(np.uint32)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2").tobytes()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = bf16_bytes(array)
        header[name] = {"dtype": "BF16", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def make_checkpoint(tokenizer_name, out: Path, seed=0):
    """A 2-layer model of hidden size 32 (about 8 MB, nearly all embedding) with the tokenizer's
    tokenizer.json and tokenizer_config.json (chat template included) copied in."""
    fam = FAMILIES[tokenizer_name]
    out.mkdir(parents=True, exist_ok=True)
    head_dim = HIDDEN // HEADS
    config = {**fam, "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS,
              "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": head_dim,
              "max_position_embeddings": 1024, "hidden_act": "silu", "rms_norm_eps": 1e-6,
              "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16"}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    rng = np.random.default_rng(seed)
    normal = lambda *shape: rng.standard_normal(shape, dtype=np.float32) * 0.02  # noqa: E731
    t = {"model.embed_tokens.weight": normal(fam["vocab_size"], HIDDEN),
         "model.norm.weight": np.ones(HIDDEN, np.float32)}
    for layer in range(LAYERS):
        p = f"model.layers.{layer}."
        t[p + "input_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        t[p + "post_attention_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        t[p + "self_attn.q_proj.weight"] = normal(HEADS * head_dim, HIDDEN)
        t[p + "self_attn.k_proj.weight"] = normal(KV_HEADS * head_dim, HIDDEN)
        t[p + "self_attn.v_proj.weight"] = normal(KV_HEADS * head_dim, HIDDEN)
        t[p + "self_attn.o_proj.weight"] = normal(HIDDEN, HEADS * head_dim)
        if fam["model_type"] == "qwen2":  # Qwen2's attention has q/k/v biases
            t[p + "self_attn.q_proj.bias"] = normal(HEADS * head_dim)
            t[p + "self_attn.k_proj.bias"] = normal(KV_HEADS * head_dim)
            t[p + "self_attn.v_proj.bias"] = normal(KV_HEADS * head_dim)
        t[p + "mlp.gate_proj.weight"] = normal(FFN, HIDDEN)
        t[p + "mlp.up_proj.weight"] = normal(FFN, HIDDEN)
        t[p + "mlp.down_proj.weight"] = normal(HIDDEN, FFN)
    write_safetensors(out / "model.safetensors", t)
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(DATA / tokenizer_name / f, out / f)
    return out
