#!/usr/bin/env python3
"""PyTorch twin of `pare bench train`: the same model shapes, batch, sequence length and
optimizer (AdamW, weight decay on matrices only), CPU eager, timed the same way
(median of the timed steps after the warm-up steps). `--precision bf16` runs forward and loss
under `torch.autocast("cpu", dtype=torch.bfloat16)` (fp32 master weights, the usual CPU mixed
precision), the peer of `pare bench train --precision bf16`.

  /tmp/pare-ref/bin/python benchmarks/train_step_torch.py --threads 2 --batch 4 --seq 256 --steps 3 [--precision bf16]
"""
import argparse, contextlib, resource, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM

PRESETS = {
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64, max_position_embeddings=8192,
                         rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True),
}

p = argparse.ArgumentParser()
p.add_argument("--preset", default="smollm2-135m")
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = LlamaConfig(**PRESETS[a.preset])
cfg._attn_implementation = a.attn
model = LlamaForCausalLM(cfg).float().train()
decay = [q for q in model.parameters() if q.dim() >= 2]
rest = [q for q in model.parameters() if q.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                        lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq))
labels = torch.randint(0, cfg.vocab_size, (a.batch, a.seq))
n = a.batch * a.seq
autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.precision == "bf16" else contextlib.nullcontext
print(f"torch {torch.__version__}, {a.precision}, {sum(q.numel() for q in model.parameters())} parameters, "
      f"batch {a.batch} x seq {a.seq}, {a.threads} threads, attention {a.attn}")
times = []
for step in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with autocast():
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits.view(-1, cfg.vocab_size).float(), labels.view(-1))
    loss.backward()
    opt.step()
    dt = time.perf_counter() - t0
    if step >= a.warmup:
        times.append(dt)
    print(f"step {step}{' (warm-up)' if step < a.warmup else ''}: loss {loss.item():.4f}, {dt:.3f} s, {n / dt:.1f} tokens/s")
med = sorted(times)[len(times) // 2]
print(f"median step {med:.3f} s: {n / med:.1f} tokens/s")
print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GiB")
