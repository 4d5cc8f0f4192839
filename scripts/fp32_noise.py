#!/usr/bin/env python3
"""How far a model's fp32 logits are from its fp64 logits in transformers, on the prompts
scripts/check_llamacpp.py uses: the rounding noise any fp32 runtime (Pare, llama.cpp, PyTorch)
can show on that model. Most models stay near 3e-5; a distilled width student with large
activations at one position reached 2.0e-3 (torch fp32), 2.7e-3 (numpy/OpenBLAS fp32) and
5.2e-3 (Pare), so a fixed f32 bound between two runtimes fails there without any export error.

  /tmp/pare-ref/bin/python scripts/fp32_noise.py HF_DIR [HF_DIR ...] [--json OUT]
Prints "max |fp32 - fp64| over all positions and prompts" per model; --json writes
{dir: noise}. The tokens are transformers' own (with its BOS rule): the noise is a property of
the model on these texts, not of one runtime's token ids.
"""
import argparse, json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llamacpp_prompts import PROMPTS

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("dirs", nargs="+")
p.add_argument("--json")
a = p.parse_args()
torch.set_num_threads(2)
result = {}
for d in a.dirs:
    tok = AutoTokenizer.from_pretrained(d)
    ids = [torch.tensor([tok(t).input_ids]) for t in PROMPTS]
    logits = {}
    for dt in (torch.float32, torch.float64):
        # eager attention: the same plain softmax(QKᵀ)V at both precisions.
        model = AutoModelForCausalLM.from_pretrained(d, dtype=dt, attn_implementation="eager").eval()
        with torch.no_grad():
            logits[dt] = [model(input_ids=x).logits[0].double() for x in ids]
        del model
    noise = max(float((a32 - a64).abs().max()) for a32, a64 in zip(logits[torch.float32], logits[torch.float64]))
    result[d] = noise
    print(f"{d}: fp32 logits within {noise:.2e} of fp64 over {len(PROMPTS)} prompts")
if a.json:
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, a.json)
