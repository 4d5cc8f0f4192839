#!/usr/bin/env python3
"""transformers' own numbers for a GGUF model of any family Pare runs (Qwen2, Llama, Mistral, Gemma 3),
to check Pare against: the model is dequantized to fp32 by transformers' GGUF loader, so
nothing here comes from Pare.

  logits PARE_DUMP.safetensors [...]
        for each `pare generate --dump-logits` file: the same token ids (from its metadata)
        through transformers; prints max and mean |Pare - transformers| over all positions and
        the vocabulary, and whether the two tokenizers agree on the prompt (--prompt, in order)
  perplexity [--seq 512] [--max-windows N]
        loss and perplexity on the last 5% of the bundled Wikipedia summaries, each document
        followed by EOS, cut into windows of seq+1 tokens: what `pare eval --model GGUF` does
  hf-dir DIR
        does a Hugging Face folder Pare wrote load in transformers (model and tokenizer), and
        do its logits on a probe agree with the GGUF's in transformers?

Common options: --gguf FILE (default: the bundled Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf),
--threads N (default 2). Versions: scripts/reference-requirements.txt, in a venv under /tmp:
  scripts/setup --reference   (the venv /tmp/pare-ref; PARE_REF_VENV overrides)
scripts/check_family runs the whole comparison.
"""
import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

CACHE = os.path.expanduser(os.environ.get("PARE_CACHE", "~/.cache/pare"))
DEFAULT_GGUF = os.path.join(CACHE, "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf")


def load(gguf):
    folder, name = os.path.split(os.path.abspath(gguf))
    model, info = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                       output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"GGUF load incomplete: {bad}"
    model.eval()
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return model, tok


def cmd_logits(args):
    model, tok = load(args.gguf)
    prompts = args.prompt or []
    worst = 0.0
    for k, path in enumerate(args.dumps):
        with safe_open(path, "np") as f:
            pare = f.get_tensor("logits")
            ids = [int(x) for x in f.metadata()["tokens"].split(",")]
        with torch.no_grad():
            ref = model(torch.tensor([ids])).logits[0].numpy()
        d = np.abs(pare - ref)
        worst = max(worst, float(d.max()))
        same = ""
        if k < len(prompts):
            # As transformers encodes a prompt by default: BOS first where the tokenizer adds it
            # (Gemma), as `pare generate` does.
            hf_ids = tok(prompts[k]).input_ids
            same = f", tokenizers agree: {hf_ids == ids}"
        print(f"{os.path.basename(path)}: {len(ids)} tokens, max |diff| {d.max():.2e}, mean {d.mean():.2e}, "
              f"argmax agree {np.mean(pare.argmax(-1) == ref.argmax(-1)) * 100:.0f}%{same}")
    print(json.dumps({"mode": "logits", "max_abs_diff": worst, "transformers": transformers.__version__,
                      "torch": torch.__version__}))
    return 0 if worst <= args.tolerance else 1


def cmd_perplexity(args):
    model, tok = load(args.gguf)
    eos = model.config.eos_token_id
    eos = eos[0] if isinstance(eos, list) else eos
    with open(os.path.join(CACHE, "summaries_en-us.json"), encoding="utf-8") as f:
        docs = [d["title"] + "\n" + d["extract"] for d in json.load(f).values()]
    held = docs[int(len(docs) * (1 - 0.05)):]   # CorpusSlice.tailStream's cut
    stream = []
    for ids in tok(held, add_special_tokens=False).input_ids:
        stream += ids + [eos]
    seq = args.seq
    windows = (len(stream) - 1) // seq
    run = windows if args.max_windows is None else min(windows, args.max_windows)
    data = torch.tensor(stream)
    total, t0 = 0.0, time.perf_counter()
    with torch.no_grad():
        for i in range(run):
            w = data[i * seq: i * seq + seq + 1]
            logits = model(w[:-1].unsqueeze(0)).logits[0]
            total += float(torch.nn.functional.cross_entropy(logits.double(), w[1:], reduction="sum"))
            print(f"  window {i + 1}/{run}: running loss {total / ((i + 1) * seq):.5f}", flush=True)
    loss = total / (run * seq)
    el = time.perf_counter() - t0
    print(f"{len(held)} documents, {len(stream)} tokens, {run} windows of {seq}: loss {loss:.6f}, "
          f"perplexity {math.exp(loss):.4f}, {run * seq / el:.0f} tokens/s")
    print(json.dumps({"mode": "perplexity", "documents": len(held), "tokens": len(stream), "windows": run,
                      "seq": seq, "loss": loss, "perplexity": math.exp(loss), "seconds": round(el, 1)}))
    return 0


def cmd_hf_dir(args):
    model, tok = load(args.gguf)
    probe = "def fibonacci(n):\n    # The capital of France is Paris. 2024年\n"
    ids = tok(probe, add_special_tokens=False).input_ids
    student = AutoModelForCausalLM.from_pretrained(args.dir, dtype=torch.float32)
    student_tok = AutoTokenizer.from_pretrained(args.dir)
    student_ids = student_tok(probe, add_special_tokens=False).input_ids
    with torch.no_grad():
        a = model(torch.tensor([ids])).logits[0].numpy()
        b = student(torch.tensor([ids])).logits[0].numpy()
    d = float(np.abs(a - b).max())
    print(f"{args.dir}: {type(student).__name__}, tokenizer {type(student_tok).__name__} ids agree: {student_ids == ids}; "
          f"logits vs the GGUF: max |diff| {d:.2e}")
    return 0 if student_ids == ids and d <= args.tolerance else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gguf", default=DEFAULT_GGUF)
    p.add_argument("--threads", type=int, default=2)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("logits")
    s.add_argument("dumps", nargs="+")
    s.add_argument("--prompt", action="append", help="the prompt of each dump, in order (checks the tokenizers agree)")
    s.add_argument("--tolerance", type=float, default=1e-3)
    s = sub.add_parser("perplexity")
    s.add_argument("--seq", type=int, default=512)
    s.add_argument("--max-windows", type=int, default=None)
    s = sub.add_parser("hf-dir")
    s.add_argument("dir")
    s.add_argument("--tolerance", type=float, default=1e-3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    sys.exit({"logits": cmd_logits, "perplexity": cmd_perplexity, "hf-dir": cmd_hf_dir}[args.command](args))


if __name__ == "__main__":
    main()
