#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that the model tests compare against.

For each variant of a tiny LlamaForCausalLM (deterministic weights), one safetensors file:
  param.<hf name>   every parameter
  grad.<hf name>    d(mean cross-entropy)/d(parameter)
  input_ids, targets (int32, B x T; targets -100 = ignored), logits (B, T, V), loss (1,)
  adamw_losses (5,) the losses of 5 AdamW steps (loss measured before each update)
and in __metadata__: "config" (config.json text) and "adamw" (hyper-parameters).

Variants: tiny Llama (untied, tied, Llama 3.1 rope scaling with biases), Qwen2, Mistral, Qwen3
(tied and untied) and Gemma 3.
Run with the current releases pinned in scripts/reference-requirements.txt (a venv under /tmp):
  scripts/setup --reference   (the venv /tmp/pare-ref; PARE_REF_VENV overrides)
  /tmp/pare-ref/bin/python scripts/make_reference.py [VARIANT ...]
"""
import json, os, sys
import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import (Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "PareTestSupport", "Fixtures")
B, T = 2, 16
ADAMW = dict(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, steps=5)

BASE = dict(vocab_size=256, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=64,
            rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act="silu", tie_word_embeddings=False,
            attention_bias=False, mlp_bias=False, bos_token_id=1, eos_token_id=2)

VARIANTS = {
    "tiny-untied": {},
    "tiny-tied": dict(tie_word_embeddings=True),
    # Llama 3.1 rope scaling with a tiny original context so every branch of the remap is hit,
    # plus the optional biases.
    "tiny-llama3": dict(rope_theta=500000.0, attention_bias=True, mlp_bias=True,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                          high_freq_factor=4.0, original_max_position_embeddings=8)),
    # The other families: Qwen2 (q/k/v biases, no o bias; tied like Qwen2.5-0.5B) and Mistral
    # (no biases; a sliding window longer than the sequence, which equals full attention).
    "tiny-qwen2": dict(family="qwen2", tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6),
    "tiny-mistral": dict(family="mistral", sliding_window=32),
    # Qwen3: per-head q/k norms, no biases. Tied with head_dim 32, so heads x head_dim (128) is
    # not the hidden size (64), as in every Qwen3; untied with the default head_dim.
    "tiny-qwen3": dict(family="qwen3", tie_word_embeddings=True, head_dim=32, rope_theta=1000000.0, rms_norm_eps=1e-6),
    "tiny-qwen3-untied": dict(family="qwen3", rope_theta=1000000.0, rms_norm_eps=1e-6),
    # Gemma 3: GeGLU, x(1 + w) norms (four per layer, and on q/k), embeddings times sqrt(hidden),
    # a scale from query_pre_attn_scalar (24, not head_dim 16), and local layers whose window
    # (5) is shorter than the sequence, each layer type with its own RoPE base.
    "tiny-gemma3": dict(family="gemma3", tie_word_embeddings=True, num_hidden_layers=3, rms_norm_eps=1e-6,
                        hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=24, sliding_window=5,
                        layer_types=["sliding_attention", "full_attention", "sliding_attention"], pad_token_id=0,
                        rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
}
FAMILIES = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM),
            "mistral": (MistralConfig, MistralForCausalLM), "qwen3": (Qwen3Config, Qwen3ForCausalLM),
            "gemma3": (Gemma3TextConfig, Gemma3ForCausalLM)}
# Keys each family's config does not take (their biases are fixed by the architecture).
NOT_IN = {"qwen2": ("attention_bias", "mlp_bias"), "mistral": ("attention_bias", "mlp_bias"), "qwen3": ("mlp_bias",),
          "gemma3": ("mlp_bias", "hidden_act", "rope_theta")}


def build(overrides, seed):
    overrides = dict(overrides)
    family = overrides.pop("family", "llama")
    config_class, model_class = FAMILIES[family]
    cfg = config_class(**{k: v for k, v in {**BASE, **overrides}.items() if k not in NOT_IN.get(family, ())})
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = model_class(cfg).float()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                # Gemma reads its norm weights as 1 + w.
                p.copy_((0 if family == "gemma3" else 1) + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
    return cfg, model


def mean_ce(logits, targets):
    # Same as HF's loss but on already-aligned targets: mean over non-ignored positions.
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def variant(name, overrides, seed):
    cfg, model = build(overrides, seed)
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
    targets = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
    targets[0, 3] = -100
    targets[1, 10:12] = -100

    logits = model(input_ids=ids).logits
    loss = mean_ce(logits, targets)
    loss.backward()
    tensors = {
        "input_ids": ids.numpy().astype(np.int32),
        "targets": targets.numpy().astype(np.int32),
        "logits": logits.detach().numpy().astype(np.float32),
        "loss": np.array([loss.item()], dtype=np.float32),
    }
    for n, p in model.named_parameters():
        tensors["param." + n] = p.detach().numpy().astype(np.float32).copy()
        tensors["grad." + n] = p.grad.numpy().astype(np.float32).copy()

    # AdamW with weight decay on matrices only (norms and biases exempt), as Pare's trainer does.
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAMW["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    # Reload the initial weights: the parameters above already hold them, gradients are reset.
    losses = []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad()
        l = mean_ce(model(input_ids=ids).logits, targets)
        l.backward()
        opt.step()
        losses.append(l.item())
    tensors["adamw_losses"] = np.array(losses, dtype=np.float32)

    # config.json as transformers 5 writes it (rope_parameters, not rope_theta + rope_scaling).
    config = {k: v for k, v in cfg.to_dict().items()
              if k in BASE or k in ("rope_scaling", "rope_parameters", "model_type", "sliding_window", "use_sliding_window",
                                    "max_window_layers", "hidden_activation", "query_pre_attn_scalar", "layer_types",
                                    "final_logit_softcapping", "attn_logit_softcapping", "use_bidirectional_attention")}
    config["architectures"] = [type(model).__name__]
    meta = {"config": json.dumps(config), "adamw": json.dumps(ADAMW),
            "versions": json.dumps({"torch": torch.__version__, "transformers": __import__("transformers").__version__})}
    path = os.path.join(OUT, name + ".safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"{name}: loss {loss.item():.6f}, adamw losses {[round(x, 6) for x in losses]}, "
          f"{os.path.getsize(path) / 1e6:.2f} MB -> {os.path.relpath(path)}")


if __name__ == "__main__":
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    for i, (name, ov) in enumerate(VARIANTS.items()):
        if len(sys.argv) == 1 or name in sys.argv[1:]:
            variant(name, ov, seed=1234 + 17 * i)
