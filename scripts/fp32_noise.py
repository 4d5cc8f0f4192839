#!/usr/bin/env python3
"""How far a model's fp32 logits are from its float64 logits in transformers, on the prompts
scripts/check_llamacpp.py uses: the rounding noise any fp32 runtime (Pare, llama.cpp, PyTorch)
can show on that model. The Qwen2.5-0.5B run's teacher and students stay at or below 1.2e-4;
its distilled width student has one position where the fp32 error is 1.9e-3 (transformers),
2.7e-3 (numpy/OpenBLAS) and 5.2e-3 (Pare), so a fixed f32 bound between two runtimes fails
there without any export error.

  /tmp/pare-ref/bin/python scripts/fp32_noise.py HF_DIR [HF_DIR ...] [--model HF_DIR KEY ...] [--json OUT]
Prints max |fp32 - float64| over all positions and prompts per model; --json writes
{dir: noise} for the models it could measure (exit 1 if any could not be), or {KEY: noise}
for those given as --model HF_DIR KEY (scripts/check_students keys them by their f32 GGUF). The tokens are
transformers' own (with its BOS rule): the noise is a property of the model on these texts.
"float64" is transformers' float64 load, which keeps RMSNorm, the attention softmax and the
RoPE table in fp32; a plain float64 forward in numpy was within 6.5e-5 of it on that student,
so the fp32 roundings it shares with the fp32 run hide little.

A GELU model (Gemma 3) adds what llama.cpp's own GELU does to it: ggml's CPU kernel reads
GELU from an fp16 table (GGML_GELU_FP16 in ggml-cpu/vec.h: the input rounded to fp16, the
output stored in fp16). The same rounding in transformers' fp32 forward moves the real Gemma 3
270M's pruned students by 1e-2 and more, where Pare (exact tanh GELU, as transformers) stays
within 3e-4 of transformers; the noise is then the larger of the two measures.
"""
import argparse, json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llamacpp_prompts import PROMPTS


class GgmlGelu(torch.nn.Module):
    """llama.cpp's CPU GELU: tanh GELU of the input rounded to fp16, stored in fp16; exact 0
    and identity beyond ±10."""
    def forward(self, x):
        y = torch.nn.functional.gelu(x.half().float(), approximate="tanh").half().to(x.dtype)
        return torch.where(x <= -10, torch.zeros_like(x), torch.where(x >= 10, x, y))


def noise_of(d):
    tok = AutoTokenizer.from_pretrained(d)
    ids = [torch.tensor([tok(t).input_ids]) for t in PROMPTS]
    logits = {}
    for dt in (torch.float32, torch.float64, "ggml-gelu"):
        # eager attention: the same plain softmax(QKᵀ)V at both precisions.
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32 if dt == "ggml-gelu" else dt,
                                                     attn_implementation="eager").eval()
        if dt == "ggml-gelu":
            if getattr(model.config, "hidden_activation", None) != "gelu_pytorch_tanh":
                break
            for layer in model.model.layers:
                layer.mlp.act_fn = GgmlGelu()
        with torch.no_grad():
            logits[dt] = [model(input_ids=x).logits[0].double() for x in ids]
        del model
    def gap(a, b): return max(float((x - y).abs().max()) for x, y in zip(logits[a], logits[b]))
    return max(gap(torch.float32, torch.float64), gap(torch.float32, "ggml-gelu") if "ggml-gelu" in logits else 0)


p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("dirs", nargs="*")
p.add_argument("--model", nargs=2, action="append", default=[], metavar=("HF_DIR", "KEY"),
               help="a model whose noise goes into the JSON under KEY (repeatable)")
p.add_argument("--json")
a = p.parse_args()
if not a.dirs and not a.model:
    p.error("name at least one Hugging Face model directory")
torch.set_num_threads(2)
result, failed = {}, False
for d, key in [(d, d) for d in a.dirs] + [tuple(x) for x in a.model]:
    try:
        result[key] = noise_of(d)
        print(f"{d}: fp32 logits within {result[key]:.2e} of float64 (and of llama.cpp's fp16-table GELU, for a GELU model) over {len(PROMPTS)} prompts")
    except Exception as e:  # one unreadable model must not cost the others their measurement
        print(f"{d}: could not measure its fp32 noise: {e}", file=sys.stderr)
        failed = True
if a.json:
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, a.json)
sys.exit(1 if failed else 0)
