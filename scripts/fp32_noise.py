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
"""
import argparse, json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llamacpp_prompts import PROMPTS


def noise_of(d):
    tok = AutoTokenizer.from_pretrained(d)
    ids = [torch.tensor([tok(t).input_ids]) for t in PROMPTS]
    logits = {}
    for dt in (torch.float32, torch.float64):
        # eager attention: the same plain softmax(QKᵀ)V at both precisions.
        model = AutoModelForCausalLM.from_pretrained(d, dtype=dt, attn_implementation="eager").eval()
        with torch.no_grad():
            logits[dt] = [model(input_ids=x).logits[0].double() for x in ids]
        del model
    return max(float((a32 - a64).abs().max()) for a32, a64 in zip(logits[torch.float32], logits[torch.float64]))


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
        print(f"{d}: fp32 logits within {result[key]:.2e} of float64 over {len(PROMPTS)} prompts")
    except Exception as e:  # one unreadable model must not cost the others their measurement
        print(f"{d}: could not measure its fp32 noise: {e}", file=sys.stderr)
        failed = True
if a.json:
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, a.json)
sys.exit(1 if failed else 0)
