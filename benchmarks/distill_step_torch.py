#!/usr/bin/env python3
"""PyTorch twin of `pare bench distill`: a 30-layer SmolLM2-135M-shaped teacher (or with
--model qwen2.5-0.5b, Qwen2.5-0.5B's 24 layers) (eval, no grad) and a student of the same
width with --student-layers, fp32, CPU eager; one step = teacher forward,
student forward + backward with forward KL over the full vocabulary (NeMo / Model
Optimizer's LogitsKLLoss form: KL(softmax(t) || softmax(s)) per token, mean over tokens),
AdamW (weight decay on matrices only). Timed like Pare: median of the steps after warm-up.

  /tmp/pare-ref/bin/python benchmarks/distill_step_torch.py --threads 2 --batch 4 --seq 256 --steps 3
"""
import argparse, resource, time
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

SMOLLM2 = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
               num_attention_heads=9, num_key_value_heads=3, head_dim=64, max_position_embeddings=8192,
               rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True)
# Qwen2.5-Coder-0.5B-Instruct as the bundled GGUF has it (untied output), = Pare's random:qwen2.5-0.5b.
QWEN = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
            num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
            rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False)
MODELS = {"smollm2-135m": (SMOLLM2, LlamaConfig, LlamaForCausalLM), "qwen2.5-0.5b": (QWEN, Qwen2Config, Qwen2ForCausalLM)}

p = argparse.ArgumentParser()
p.add_argument("--model", choices=sorted(MODELS), default="smollm2-135m", help="the teacher's shape (random weights)")
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--student-layers", type=int, default=15)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
p.add_argument("--autocast-bf16", action="store_true",
               help="run both forwards under torch.autocast('cpu', dtype=torch.bfloat16); master weights and the KD loss stay fp32")
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
shape, config_class, model_class = MODELS[a.model]
tcfg = config_class(**shape); tcfg._attn_implementation = a.attn
scfg = config_class(**{**shape, "num_hidden_layers": a.student_layers}); scfg._attn_implementation = a.attn
teacher = model_class(tcfg).float().eval()
for q in teacher.parameters():
    q.requires_grad_(False)
student = model_class(scfg).float().train()
decay = [q for q in student.parameters() if q.dim() >= 2]
rest = [q for q in student.parameters() if q.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                        lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
ids = torch.randint(0, tcfg.vocab_size, (a.batch, a.seq))
n = a.batch * a.seq
print(f"torch {torch.__version__}, teacher {sum(q.numel() for q in teacher.parameters())} parameters, "
      f"student {sum(q.numel() for q in student.parameters())} ({a.student_layers} layers), "
      f"batch {a.batch} x seq {a.seq}, {a.threads} threads{', bf16 autocast' if a.autocast_bf16 else ', fp32'}, attention {a.attn}")
times = []
for step in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast_bf16):
        with torch.no_grad():
            t_logits = teacher(input_ids=ids).logits.view(n, -1)
        s_logits = student(input_ids=ids).logits.view(n, -1)
    # The KD loss in fp32, as NeMo's bf16-mixed recipe computes it.
    loss = F.kl_div(F.log_softmax(s_logits.float(), -1), F.log_softmax(t_logits.float(), -1), log_target=True, reduction="batchmean")
    loss.backward()
    opt.step()
    dt = time.perf_counter() - t0
    if step >= a.warmup:
        times.append(dt)
    print(f"step {step}{' (warm-up)' if step < a.warmup else ''}: kd loss {loss.item():.4f}, {dt:.3f} s, {n / dt:.1f} tokens/s")
med = sorted(times)[len(times) // 2]
print(f"median step {med:.3f} s: {n / med:.1f} tokens/s")
print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GiB")
