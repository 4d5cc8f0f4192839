#!/usr/bin/env python3
"""Makes a Qwen3 checkpoint out of a Llama one, for checking Pare's Qwen3 path on a model with a
real tokenizer and trained weights (no Qwen3 model is on PyPI or in Debian; see scripts/check_qwen3).

A Qwen3 layer is a Llama layer plus an RMSNorm over each head's q and k before RoPE. The Llama's
weights are kept and each layer's q_norm / k_norm weight is set to the mean per-head RMS of its q
and k on a few windows of the corpus, so the normalised heads keep about their old scale (the
model changes, since every head's norm becomes that mean, but stays far from random). Done here,
in transformers alone, so nothing in the result comes from Pare.

  /tmp/pare-ref/bin/python scripts/qwen3_from_llama.py LLAMA_DIR QWEN3_DIR [--windows 4] [--seq 256]
Prints the loss of both models on the same windows of the corpus tail.
"""
import argparse, json, os, shutil
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

p = argparse.ArgumentParser()
p.add_argument("src")
p.add_argument("dst")
p.add_argument("--windows", type=int, default=4)
p.add_argument("--seq", type=int, default=256)
a = p.parse_args()
torch.set_num_threads(2)

llama = AutoModelForCausalLM.from_pretrained(a.src, dtype=torch.float32).eval()
tok = AutoTokenizer.from_pretrained(a.src)
cfg = llama.config
assert cfg.model_type == "llama", f"{a.src}: model_type {cfg.model_type}, expected llama"
cache = os.environ.get("PARE_CACHE", os.path.expanduser("~/.cache/pare"))
docs = [e["title"] + "\n" + e["extract"] for e in json.load(open(os.path.join(cache, "summaries_en-us.json"))).values()]
stream = []
for d in docs[int(len(docs) * 0.95):]:
    stream += tok(d, add_special_tokens=False).input_ids + [tok.eos_token_id]
    if len(stream) > a.windows * (a.seq + 1):
        break
windows = torch.tensor([stream[w * (a.seq + 1):(w + 1) * (a.seq + 1)] for w in range(a.windows)])

# Mean per-head RMS of q_proj's and k_proj's outputs, per layer.
D = cfg.head_dim
sums = {}
def hook(name):
    def f(_module, _inputs, out):
        rms = out.reshape(-1, D).pow(2).mean(-1).sqrt()
        s, n = sums.get(name, (0.0, 0))
        sums[name] = (s + rms.sum().item(), n + rms.numel())
    return f
handles = []
for l, layer in enumerate(llama.model.layers):
    handles.append(layer.self_attn.q_proj.register_forward_hook(hook(f"{l}.q")))
    handles.append(layer.self_attn.k_proj.register_forward_hook(hook(f"{l}.k")))

def loss(model):
    with torch.no_grad():
        logits = model(input_ids=windows[:, :-1]).logits
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1)).item()

llama_loss = loss(llama)
for h in handles:
    h.remove()

q3 = Qwen3Config(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
                 num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
                 num_key_value_heads=cfg.num_key_value_heads, head_dim=D, hidden_act=cfg.hidden_act,
                 max_position_embeddings=cfg.max_position_embeddings, rms_norm_eps=cfg.rms_norm_eps,
                 tie_word_embeddings=cfg.tie_word_embeddings, rope_parameters=dict(cfg.rope_parameters),
                 attention_bias=False, use_sliding_window=False, bos_token_id=cfg.bos_token_id,
                 eos_token_id=cfg.eos_token_id)
state = {k: v.clone() for k, v in llama.state_dict().items()}
for l in range(cfg.num_hidden_layers):
    for which in "qk":
        s, n = sums[f"{l}.{which}"]
        state[f"model.layers.{l}.self_attn.{which}_norm.weight"] = torch.full((D,), s / n)
if cfg.tie_word_embeddings:
    state.pop("lm_head.weight", None)
qwen3 = Qwen3ForCausalLM(q3).eval()
missing, unexpected = qwen3.load_state_dict(state, strict=False)
assert not unexpected and all(m == "lm_head.weight" for m in missing), (missing, unexpected)
if cfg.tie_word_embeddings:
    qwen3.tie_weights()

tmp = a.dst + ".tmp"
shutil.rmtree(tmp, ignore_errors=True)
os.makedirs(tmp)
save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
q3.architectures = ["Qwen3ForCausalLM"]
q3.save_pretrained(tmp)
# The tokenizer files as they are: transformers' save would rewrite tokenizer.json (it drops
# SmolLM2's digit splitting), and the Qwen3 must tokenize as the Llama did.
for name in os.listdir(a.src):
    if name.startswith("tokenizer") or name in ("special_tokens_map.json", "chat_template.jinja", "generation_config.json"):
        shutil.copy(os.path.join(a.src, name), os.path.join(tmp, name))
shutil.rmtree(a.dst, ignore_errors=True)
os.rename(tmp, a.dst)
back = AutoModelForCausalLM.from_pretrained(a.dst, dtype=torch.float32).eval()
assert type(back).__name__ == "Qwen3ForCausalLM", type(back).__name__
print(f"{a.dst}: Qwen3ForCausalLM, {cfg.num_hidden_layers} layers, head_dim {D}; loss on {a.windows} windows of {a.seq}: "
      f"llama {llama_loss:.4f}, qwen3 {loss(back):.4f}")
