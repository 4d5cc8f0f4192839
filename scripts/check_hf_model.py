#!/usr/bin/env python3
"""Loads a Hugging Face directory written by Pare (converted, pruned or trained) with
transformers' AutoModelForCausalLM / AutoTokenizer and prints its loss and perplexity on the
corpus tail exactly as `pare eval` computes them (last 5% of documents, EOS after each,
non-overlapping windows of --seq + 1 tokens), so the two numbers can be compared.

  /tmp/pare-ref/bin/python scripts/check_hf_model.py DIR [--seq 256] [--max-windows 8] [--pare-loss X]
With --pare-loss, exits 1 unless the losses agree within 1e-3 relative.
"""
import argparse, json, math, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--seq", type=int, default=256)
p.add_argument("--max-windows", type=int, default=8)
p.add_argument("--pare-loss", type=float)
a = p.parse_args()
torch.set_num_threads(2)
model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.float32).eval()
tok = AutoTokenizer.from_pretrained(a.dir)
cfg = model.config
print(f"{a.dir}: {type(model).__name__}, hidden {cfg.hidden_size}, layers {cfg.num_hidden_layers}, heads {cfg.num_attention_heads}"
      f"×{cfg.head_dim} (kv {cfg.num_key_value_heads}), mlp {cfg.intermediate_size}, {sum(x.numel() for x in model.parameters())} parameters")
cache = os.environ.get("PARE_CACHE", os.path.expanduser("~/.cache/pare"))
docs = [e["title"] + "\n" + e["extract"] for e in json.load(open(os.path.join(cache, "summaries_en-us.json"))).values()]
stream = []
for d in docs[int(len(docs) * 0.95):]:
    stream += tok(d, add_special_tokens=False).input_ids + [tok.eos_token_id]   # pare eval: the tokenizer's EOS
n = min(a.max_windows, (len(stream) - 1) // a.seq)
total, count = 0.0, 0
with torch.no_grad():
    for w in range(n):
        x = torch.tensor([stream[w * a.seq: w * a.seq + a.seq + 1]])
        logits = model(input_ids=x[:, :-1]).logits
        total += torch.nn.functional.cross_entropy(logits[0], x[0, 1:], reduction="sum").item()
        count += a.seq
loss = total / count
print(f"transformers: {n} windows of {a.seq}, loss {loss:.5f}, perplexity {math.exp(loss):.3f}")
if a.pare_loss is not None:
    ok = abs(loss - a.pare_loss) <= 1e-3 * abs(loss)
    print(f"pare loss {a.pare_loss:.5f}: {'OK' if ok else 'MISMATCH'} (|diff| {abs(loss - a.pare_loss):.2e})")
    sys.exit(0 if ok else 1)
