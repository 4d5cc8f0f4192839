#!/usr/bin/env python3
"""NumPy reference for Pare's Minitron importance scores, from PyTorch activations.

Loads the tiny fixture model (Tests/PareTestSupport/Fixtures/tiny-llama3.safetensors, written
by make_reference.py) into transformers' LlamaForCausalLM, runs fixed calibration tokens
(3 × 16) through it with forward hooks, and computes with NumPy, for activations a (B, S, W):
m_b = mean_s |a_{b,s,:}|; l2 = sqrt(Σ_b m_b²), mean = Σ_b m_b / B, variance = Σ m_b²/B − mean².
  mlp          input of down_proj (and the gate_proj output, the paper's variant)
  heads        input of o_proj, each head's D channels combined by their L2 norm per token
  hidden       outputs of input_layernorm and post_attention_layernorm, l2 per site, summed
  layer_cosine mean over tokens of 1 − cos(hidden entering a layer, hidden leaving it)
  block_cosine the same for blocks of 2 layers (here: the whole 2-layer model)
Writes Tests/PareTestSupport/Fixtures/importance-tiny.safetensors.

  /tmp/pare-ref/bin/python scripts/importance_reference.py
"""
import json, os
import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from safetensors import safe_open
from transformers import LlamaConfig, LlamaForCausalLM

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "..", "Tests", "PareTestSupport", "Fixtures")
src = os.path.join(FIX, "tiny-llama3.safetensors")
with safe_open(src, "np") as f:
    cfg = json.loads(f.metadata()["config"])
weights = load_file(src)
config = LlamaConfig(**cfg)
config._attn_implementation = "eager"
model = LlamaForCausalLM(config).float().eval()
model.load_state_dict({k[len("param."):]: torch.from_numpy(v) for k, v in weights.items() if k.startswith("param.")}, strict=True)

B, S = 3, 16
g = torch.Generator().manual_seed(99)
ids = torch.randint(0, cfg["vocab_size"], (B, S), generator=g)
D = cfg["head_dim"]
acts = {}

def keep(name):
    def hook(mod, inp, out):
        acts[name] = (inp[0] if name.endswith("_in") else out).detach().numpy().astype(np.float64)
    return hook

def keep_layer(l):
    def hook(mod, inp, out):
        # A transformers 5.x decoder layer returns the hidden states themselves (4.x: a tuple
        # whose [0] they were; out[0] on 5.x would be batch row 0 only).
        hidden = out[0] if isinstance(out, tuple) else out
        acts[f"layer{l}_in"] = inp[0].detach().numpy().astype(np.float64)
        acts[f"layer{l}_out"] = hidden.detach().numpy().astype(np.float64)
    return hook

for l, layer in enumerate(model.model.layers):
    layer.mlp.down_proj.register_forward_hook(keep(f"down{l}_in"))
    layer.mlp.gate_proj.register_forward_hook(keep(f"gate{l}_out"))
    layer.self_attn.o_proj.register_forward_hook(keep(f"o{l}_in"))
    layer.input_layernorm.register_forward_hook(keep(f"ln1_{l}_out"))
    layer.post_attention_layernorm.register_forward_hook(keep(f"ln2_{l}_out"))
    layer.register_forward_hook(keep_layer(l))
with torch.no_grad():
    model(input_ids=ids)

def aggregate(a):
    m = np.abs(a).mean(axis=1)                     # (B, W): mean over the sequence
    mean = m.mean(axis=0)
    return {"l2": np.sqrt((m ** 2).sum(axis=0)), "mean": mean, "variance": (m ** 2).mean(axis=0) - mean ** 2}

def head_norms(a):                                  # (B, S, H·D) → (B, S, H)
    return np.linalg.norm(a.reshape(a.shape[0], a.shape[1], -1, D), axis=-1)

def one_minus_cos(x, y):
    x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
    return float(np.mean(1 - (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))))

L = cfg["num_hidden_layers"]
out = {"input_ids": ids.numpy().astype(np.int32)}
for agg in ("l2", "mean", "variance"):
    out[f"{agg}.mlp"] = np.stack([aggregate(acts[f"down{l}_in"])[agg] for l in range(L)]).astype(np.float32)
    out[f"{agg}.mlp_gate"] = np.stack([aggregate(acts[f"gate{l}_out"])[agg] for l in range(L)]).astype(np.float32)
    out[f"{agg}.heads"] = np.stack([aggregate(head_norms(acts[f"o{l}_in"]))[agg] for l in range(L)]).astype(np.float32)
    out[f"{agg}.hidden"] = sum(aggregate(acts[f"ln{k}_{l}_out"])[agg] for l in range(L) for k in (1, 2)).astype(np.float32)
out["layer_cosine"] = np.array([one_minus_cos(acts[f"layer{l}_in"], acts[f"layer{l}_out"]) for l in range(L)], dtype=np.float32)
out["block_cosine"] = np.array([one_minus_cos(acts["layer0_in"], acts[f"layer{L - 1}_out"])], dtype=np.float32)
path = os.path.join(FIX, "importance-tiny.safetensors")
save_file(out, path, metadata={"versions": json.dumps({"torch": torch.__version__, "numpy": np.__version__})})
print(f"wrote {os.path.relpath(path)}: layer_cosine {out['layer_cosine']}, block_cosine {out['block_cosine']}, "
      f"heads l2 {out['l2.heads'][0]}")
