#!/usr/bin/env python3
"""Writes a GGUF file from a Hugging Face checkpoint of a family the engine serves, the way
llama.cpp's convert_hf_to_gguf.py lays it out, with the `gguf` package's writer and quantizers:

- tensor names (token_embd, blk.N.attn_q, ...), shapes reversed into GGUF's ne order;
- Llama's q/k rows interleaved per head for llama.cpp's RoPE (its permute());
- Gemma's RMSNorm weights stored as 1 + w;
- Llama 3's RoPE as the rope_freqs.weight divisors, Phi-3's longrope as the
  rope_factors_long/short.weight tensors, linear and yarn scaling as metadata;
- the per-layer sliding pattern as a bool array (what llama.cpp reads before the family default).

With --type q8_0 or q4_0 every 2-D weight is quantized with
gguf.quants.quantize; --twin DIR then writes the dequantized weights (gguf.quants.dequantize) as
an f32 safetensors checkpoint with the same config, the exact float model the quantized file
stands for. Torch is not needed: safetensors are read and written with numpy.

The vocabulary is synthetic unless --tokenizer-json names a directory with a tokenizer.json
(byte-level BPE, written as llama.cpp's _set_vocab_gpt2 does) and --pre its pre-tokenizer name.

usage: hf_to_gguf.py HF_DIR OUT.gguf [--type f32|f16|bf16|q8_0|q4_0|mixed] [--twin DIR]
                     [--tokenizer-json DIR --pre NAME]
"""
import argparse
import json
import math
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import gguf

ARCH = {
    "LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3", "Phi3ForCausalLM": "phi3", "Gemma2ForCausalLM": "gemma2",
    "Gemma3ForCausalLM": "gemma3",
}
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight", "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.qkv_proj.weight": "attn_qkv.weight",
    "self_attn.o_proj.weight": "attn_output.weight", "self_attn.o_proj.bias": "attn_output.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.gate_up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
}
QTYPES = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
          "bf16": gguf.GGMLQuantizationType.BF16, "q8_0": gguf.GGMLQuantizationType.Q8_0,
          "q4_0": gguf.GGMLQuantizationType.Q4_0, "mixed": gguf.GGMLQuantizationType.Q4_0}
# --type mixed: Q4_0 with the value and up projections at Q8_0, as llama.cpp's _M mixes give some
# tensors of a layer more bits (Q4_K_M's Q6_K attn_v and ffn_down): the engine's fused q/k/v and
# gate/up weights then have parts of two types.
MIXED_Q8_0 = ("attn_v.weight", "ffn_up.weight")


def read_safetensors(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=np.uint8)
        dtype = info["dtype"]
        if dtype == "F32":
            arr = raw.view(np.float32)
        elif dtype == "F16":
            arr = raw.view(np.float16).astype(np.float32)
        elif dtype == "BF16":
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            sys.exit(f"{path}: tensor {name} has dtype {dtype}")
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        blob = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: rows j * d/2 + i of a head go to 2i + j."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def llama3_factors(cfg, rope, dim):
    base = cfg.get("rope_theta", rope.get("rope_theta", 10000.0))
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor, low, high = rope.get("factor", 8.0), rope.get("low_freq_factor", 1.0), rope.get(
        "high_freq_factor", 4.0)
    old = rope.get("original_max_position_embeddings", 8192)
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < old / high:
            out.append(1.0)
        elif wavelen > old / low:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def layer_types(cfg, arch):
    """Which layers slide, as transformers decides (None: none do)."""
    n = cfg["num_hidden_layers"]
    hf_arch = cfg["architectures"][0]
    if hf_arch == "LlamaForCausalLM":
        return None  # transformers' Llama reads no sliding_window
    if hf_arch.startswith("Qwen") and not cfg.get("use_sliding_window"):
        return None
    if cfg.get("layer_types"):
        return [t == "sliding_attention" for t in cfg["layer_types"]]
    if hf_arch.startswith("Qwen"):
        return [l >= cfg.get("max_window_layers", 0) for l in range(n)]
    if arch == "gemma2":
        return [l % 2 == 0 for l in range(n)]
    if arch == "gemma3":
        p = cfg.get("sliding_window_pattern", 6)
        return [(l + 1) % p != 0 for l in range(n)]
    return [True] * n  # Mistral, Phi-3


def synthetic_vocab(w, size):
    """Printable ASCII as byte-level tokens (GPT-2's bytes_to_unicode maps them to themselves),
    plus <s> and </s>, up to `size` tokens: enough to name every id, not a real tokenizer."""
    tokens = ["<s>", "</s>"] + [chr(c) for c in range(33, 127)]
    tokens = (tokens + [f"<unused{i}>" for i in range(max(0, size - len(tokens)))])[:size]
    types = [3, 3] + [1] * (len(tokens) - 2)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)


def tokenizer_json_vocab(w, directory, pre, model_vocab):
    tj = json.loads((Path(directory) / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = dict(tj["model"]["vocab"])
    added = {t["content"]: t for t in tj.get("added_tokens", [])}
    for t in added.values():
        vocab[t["content"]] = t["id"]
    # As llama.cpp's converter: ids up to the model's (padded) vocabulary, the unnamed ones unused.
    size = max(max(vocab.values()) + 1, model_vocab)
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [5] * size  # unused until named
    for text, i in vocab.items():
        tokens[i] = text
        types[i] = (3 if added[text]["special"] else 4) if text in added else 1
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"].get("merges", [])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    cfg_path = Path(directory) / "tokenizer_config.json"
    if cfg_path.exists():
        tc = json.loads(cfg_path.read_text(encoding="utf-8"))
        for key, add in (("bos_token", w.add_bos_token_id), ("eos_token", w.add_eos_token_id)):
            tok = tc.get(key)
            tok = tok.get("content") if isinstance(tok, dict) else tok
            if tok in vocab:
                add(vocab[tok])
        if isinstance(tc.get("chat_template"), str):
            w.add_chat_template(tc["chat_template"])
        # As gguf.SpecialVocab decides: the config's flag, else whether tokenizer.json's post
        # processor puts the BOS token first.
        add_bos = tc.get("add_bos_token")
        if add_bos is None:
            post = json.dumps(tj.get("post_processor") or {})
            bos = tc.get("bos_token")
            bos = bos.get("content") if isinstance(bos, dict) else bos
            add_bos = bool(bos) and f'"id": "{bos}"' in post
        w.add_add_bos_token(bool(add_bos))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hf_dir")
    ap.add_argument("out")
    ap.add_argument("--type", default="f32", choices=sorted(QTYPES))
    ap.add_argument("--twin")
    ap.add_argument("--tokenizer-json")
    ap.add_argument("--pre", default="llama-bpe")
    ap.add_argument("--like-quantization-flag", action="store_true",
                    help="quantize as the engine's --quantization does (float embedding table, "
                         "int8 output head)")
    a = ap.parse_args()

    hf = Path(a.hf_dir)
    cfg = json.loads((hf / "config.json").read_text())
    arch = ARCH[cfg["architectures"][0]]
    tensors = read_safetensors(hf / "model.safetensors")
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads",
                                                       cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))

    w = gguf.GGUFWriter(a.out, arch)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg.get("rope_theta", rope.get("rope_theta", 10000.0)))
    rotary = int(head_dim * cfg.get("partial_rotary_factor", 1.0))
    w.add_rope_dimension_count(rotary)
    if rope_type == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rope["factor"])
    elif rope_type == "yarn":
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(rope["factor"])
        w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
        for key, add in (("beta_fast", w.add_rope_scaling_yarn_beta_fast),
                         ("beta_slow", w.add_rope_scaling_yarn_beta_slow),
                         ("attention_factor", w.add_rope_scaling_yarn_attn_factor)):
            if rope.get(key) is not None:
                add(rope[key])
        if rope.get("mscale") or rope.get("mscale_all_dim"):
            sys.exit("yarn mscale/mscale_all_dim have no GGUF key the engine reads")
    elif rope_type in ("longrope", "su"):
        orig = cfg.get("original_max_position_embeddings") or rope[
            "original_max_position_embeddings"]
        w.add_rope_scaling_orig_ctx_len(orig)
        if rope.get("attention_factor") is not None:
            w.add_rope_scaling_attn_factors(rope["attention_factor"])
        w.add_tensor("rope_factors_long.weight", np.array(rope["long_factor"], dtype=np.float32))
        w.add_tensor("rope_factors_short.weight", np.array(rope["short_factor"], dtype=np.float32))
    elif rope_type == "llama3":
        w.add_tensor("rope_freqs.weight", llama3_factors(cfg, rope, head_dim))
    elif rope_type != "default":
        sys.exit(f"rope type {rope_type} not handled")
    if arch.startswith("gemma"):
        if cfg.get("attn_logit_softcapping"):
            w.add_attn_logit_softcapping(cfg["attn_logit_softcapping"])
        if cfg.get("final_logit_softcapping"):
            w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
        # GGUF has no query_pre_attn_scalar; llama.cpp assumes Gemma's usual value, this says it.
        w.add_attention_scale(1.0 / math.sqrt(cfg.get("query_pre_attn_scalar", head_dim)))
        if arch == "gemma3" and cfg.get("rope_local_base_freq"):
            w.add_rope_freq_base_swa(cfg["rope_local_base_freq"])
    if cfg.get("sliding_window") and (types := layer_types(cfg, arch)) is not None:
        w.add_sliding_window(cfg["sliding_window"])
        w.add_array(gguf.Keys.Attention.SLIDING_WINDOW_PATTERN.format(arch=arch), types)

    if a.tokenizer_json:
        tokenizer_json_vocab(w, a.tokenizer_json, a.pre, cfg["vocab_size"])
    else:
        synthetic_vocab(w, cfg["vocab_size"])

    qtype = QTYPES[a.type]
    twin = {}
    if a.like_quantization_flag and cfg.get("tie_word_embeddings") and "lm_head.weight" not in tensors:
        # The engine quantizes a tied head separately from the (float) table: say so explicitly.
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    for name, arr in tensors.items():
        if name == "lm_head.weight" and cfg.get("tie_word_embeddings") and arch.startswith(
                "gemma") and not a.like_quantization_flag:
            continue
        if name == "model.embed_tokens.weight":
            out = "token_embd.weight"
        elif name == "model.norm.weight":
            out = "output_norm.weight"
        elif name == "lm_head.weight":
            out = "output.weight"
        else:
            parts = name.split(".")
            layer, rest = parts[2], ".".join(parts[3:])
            if arch.startswith("gemma") and rest == "post_attention_layernorm.weight":
                out = "post_attention_norm.weight"
            elif rest == "post_attention_layernorm.weight" or rest == "pre_feedforward_layernorm.weight":
                out = "ffn_norm.weight"
            elif rest == "post_feedforward_layernorm.weight":
                out = "post_ffw_norm.weight"
            else:
                out = LAYER_NAMES[rest]
            out = f"blk.{layer}.{out}"
        data = arr.astype(np.float32)
        if arch.startswith("gemma") and name.endswith("norm.weight"):
            data = data + 1
        if arch == "llama" and name.endswith(("q_proj.weight", "q_proj.bias")):
            data = permute(data, n_head)
        if arch == "llama" and name.endswith(("k_proj.weight", "k_proj.bias")):
            data = permute(data, n_kv)
        # Like llama-quantize: 1-D tensors (norms, biases) stay f32, every matrix takes the type
        # (the embedding table too; llama-quantize would keep a Q4_0 file's output head at Q6_K).
        t = qtype if data.ndim == 2 else gguf.GGMLQuantizationType.F32
        if a.type == "mixed" and out.endswith(MIXED_Q8_0):
            t = gguf.GGMLQuantizationType.Q8_0
        if a.like_quantization_flag and qtype in (gguf.GGMLQuantizationType.Q8_0,
                                                  gguf.GGMLQuantizationType.Q4_0):
            # What the engine's --quantization does to a float checkpoint instead: the table
            # stays float, an int4 model's output head is int8.
            if out == "token_embd.weight":
                t = gguf.GGMLQuantizationType.F32
            elif out == "output.weight":
                t = gguf.GGMLQuantizationType.Q8_0
        if t == gguf.GGMLQuantizationType.F32:
            stored, back = data, arr.astype(np.float32)
        elif t == gguf.GGMLQuantizationType.F16:
            stored = data.astype(np.float16)
            back = stored.astype(np.float32)
        else:
            stored = gguf.quants.quantize(data, t)
            back = gguf.quants.dequantize(stored, t).reshape(data.shape).astype(np.float32)
        w.add_tensor(out, stored, raw_dtype=t if t not in (gguf.GGMLQuantizationType.F32,
                                                           gguf.GGMLQuantizationType.F16) else None)
        if arch == "llama" and name.endswith(("q_proj.weight", "q_proj.bias", "k_proj.weight",
                                              "k_proj.bias")):
            # The twin is in transformers' order: undo the interleaving.
            heads = n_head if "q_proj" in name else n_kv
            back = back.reshape(heads, back.shape[0] // heads // 2, 2, *back.shape[1:]).swapaxes(
                1, 2).reshape(back.shape)
        if arch.startswith("gemma") and name.endswith("norm.weight"):
            back = arr.astype(np.float32)
        twin[name] = back

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    if a.twin:
        d = Path(a.twin)
        d.mkdir(parents=True, exist_ok=True)
        c = dict(cfg)
        c["torch_dtype"] = c["dtype"] = "float32"
        (d / "config.json").write_text(json.dumps(c, indent=2))
        write_safetensors(d / "model.safetensors", twin)
        for extra in ("generation_config.json",):
            if (hf / extra).exists():
                shutil.copy(hf / extra, d / extra)


if __name__ == "__main__":
    main()
