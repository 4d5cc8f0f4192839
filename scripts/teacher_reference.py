#!/usr/bin/env python3
"""Reference numbers for Pare's real-teacher checks, with `transformers` itself as the oracle.

The teacher is the bundled SmolLM2-135M-Instruct.Q4_1.gguf, dequantized to fp32 by transformers'
own GGUF loader, so every number here is "what PyTorch/transformers says", independent of Pare.

  logits        [--out Tests/PareTestSupport/Fixtures/smollm2-capital-logits.safetensors]
                fp32 logits at all 5 positions of "The capital of France is" (< 1.1 MB fixture)
  perplexity    [--seq 512] [--max-windows N]
                loss/perplexity on the last 5% of the Wikipedia summaries (held-out split)
  check-hf-dir  DIR
                does a Hugging Face folder written by Pare's converter match the GGUF teacher?
                (logits, tokenizer ids, chat template; exit 1 on any mismatch)
  generate      [--max-new-tokens 64] [--repeat 3]
                greedy chat answer + prefill time and decode tokens/s (the speed baseline);
                the rate is timed on fixed-length runs (EOS suppressed), median of --repeat

Common options (before the subcommand): --attn {sdpa,eager} (default sdpa, transformers' own
default for Llama), --threads (default 2).

Pinned versions: scripts/reference-requirements.txt (torch==2.15.0 transformers==5.24.0
safetensors==0.8.0 tokenizers==0.23.3 numpy==2.4.6 gguf==0.19.0 accelerate==1.16.0;
transformers 5.24 still refuses to load a GGUF file without accelerate). Other versions
dequantize and compute differently enough to move the fixture numbers; regenerate fixtures only
with these. `logits` writes the committed fixture by default: give --out /tmp/... to only check.

  scripts/setup --reference        (the venv /tmp/pare-ref; PARE_REF_VENV overrides)
  /tmp/pare-ref/bin/python scripts/teacher_reference.py logits --out /tmp/smollm2-capital-logits.safetensors

PARE_CACHE overrides the asset folder (default ~/.cache/pare). CPU only.
"""
import argparse
import json
import math
import os
import sys
import time

# The GGUF loader draws a tqdm bar per load; it is noise in reference logs.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import torch

import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CACHE = os.path.expanduser(os.environ.get("PARE_CACHE", "~/.cache/pare"))
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CORPUS_NAME = "summaries_en-us.json"

PROMPT = "The capital of France is"
PROMPT_IDS = [504, 3575, 282, 4649, 314]
# From FORMATS.md (GGUF section): the known whole-model value Pare is tested against.
EXPECTED_TOP = [(7042, 17.3713), (260, 14.8886)]
# The GGUF's tokenizer.ggml.eos_token_id (<|im_end|>). transformers 5.24.0's GGUF tokenizer and
# config both carry it (4.46.3's tokenizer converter gave the *bos* id, 1); load_teacher and
# load_gguf_tokenizer check that they still do.
EOS_ID = 2
CHAT = [{"role": "user", "content": "What is the capital of France?"}]
PERPLEXITY_CI_WINDOWS = 8  # Pare's CI checks the first 8 windows only (time budget)


def versions():
    import gguf
    import safetensors
    import tokenizers
    try:
        from importlib.metadata import version
        gguf_version = version("gguf")
        accelerate_version = version("accelerate")
    except Exception:
        gguf_version = getattr(gguf, "__version__", "?")
        accelerate_version = "?"
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "gguf": gguf_version, "tokenizers": tokenizers.__version__,
            "safetensors": safetensors.__version__, "numpy": np.__version__,
            "accelerate": accelerate_version}


def load_teacher(attn):
    """The GGUF teacher in fp32, eval mode, with its output layer tied to the embedding.

    The GGUF has no output.weight (tied model). transformers 5.24.0 sets tie_word_embeddings
    from that itself (4.46.3 did not, and needed tie_word_embeddings=True passed in, or lm_head
    was *randomly initialized*); the checks below would catch a regression.
    """
    try:
        import accelerate  # noqa: F401  (from_pretrained(gguf_file=...) requires it, 5.24.0 too)
    except ImportError:
        sys.exit("teacher_reference: transformers needs accelerate to load GGUF files: "
                 "pip install -r scripts/reference-requirements.txt into the reference venv (scripts/setup --reference)")
    path = os.path.join(CACHE, GGUF_NAME)
    if not os.path.isfile(path):
        sys.exit(f"teacher_reference: {path} is missing; run scripts/setup")
    model, info = AutoModelForCausalLM.from_pretrained(
        CACHE, gguf_file=GGUF_NAME, dtype=torch.float32, attn_implementation=attn, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"GGUF load incomplete: {bad}"
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "lm_head not tied"
    assert model.config.eos_token_id == EOS_ID, model.config.eos_token_id
    model.eval()
    return model


def load_gguf_tokenizer():
    tok = AutoTokenizer.from_pretrained(CACHE, gguf_file=GGUF_NAME)
    assert tok.eos_token_id == EOS_ID, f"GGUF tokenizer eos_token_id {tok.eos_token_id}, expected {EOS_ID}"
    return tok


def prompt_tensor(tok):
    ids = tok(PROMPT, add_special_tokens=False).input_ids
    assert ids == PROMPT_IDS, f"tokenizer gives {ids}, expected {PROMPT_IDS}"
    return torch.tensor([ids])


def top_k(logits_row, tok, k=5):
    vals, ids = torch.topk(logits_row, k)
    return [(int(i), tok.decode([int(i)]), float(v)) for v, i in zip(vals, ids)]


def save_deterministic(tensors, path, metadata):
    """safetensors.numpy.save, but with the header's keys sorted.

    safetensors keeps __metadata__ in a Rust HashMap, so its key order (and the file's bytes)
    change from run to run; a committed fixture should only change when its numbers do.
    """
    from safetensors.numpy import save
    blob = save(tensors, metadata=metadata)
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # data must start 8-aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + blob[8 + n:])


def matches_expected(top):
    return all(top[n][0] == tid and abs(top[n][2] - val) < 5e-4 for n, (tid, val) in enumerate(EXPECTED_TOP))


# --- logits --------------------------------------------------------------------------------

def cmd_logits(args):
    tok = load_gguf_tokenizer()
    model = load_teacher(args.attn)
    ids = prompt_tensor(tok)
    t0 = time.perf_counter()
    logits = model(ids).logits[0].float().numpy()
    dt = time.perf_counter() - t0
    assert logits.shape == (len(PROMPT_IDS), model.config.vocab_size), logits.shape

    meta = {**versions(), "gguf_file": GGUF_NAME, "prompt": PROMPT, "attn_implementation": args.attn,
            "note": "transformers GGUF loader, fp32, tied lm_head; logits at every position"}
    out = args.out if os.path.isabs(args.out) else os.path.join(REPO, args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    save_deterministic({"input_ids": np.asarray(PROMPT_IDS, dtype=np.int32),
                        "logits": np.ascontiguousarray(logits, dtype=np.float32)}, out, meta)
    size = os.path.getsize(out)
    assert size < 1.1e6, f"{out} is {size} bytes"

    top = top_k(torch.from_numpy(logits[-1]), tok)
    print(f"attn={args.attn} forward {dt * 1000:.0f} ms; wrote {out} ({size} bytes)")
    print("top-5 next tokens after the last position:")
    for tid, s, v in top:
        print(f"  {tid:6d} {s!r:12} {v:.4f}")
    ok = matches_expected(top)
    print(f"FORMATS.md expectation (7042 ' Paris' 17.3713, then 260 ' the' 14.8886): {'MATCH' if ok else 'MISMATCH'}")
    print(json.dumps({"mode": "logits", "attn": args.attn, "top5": top, "matches_formats": ok, "bytes": size}))
    return 0 if ok else 1


# --- perplexity ----------------------------------------------------------------------------

def heldout_tokens(tok):
    """The held-out stream: last 5% of documents in file order, each followed by EOS."""
    with open(os.path.join(CACHE, CORPUS_NAME), encoding="utf-8") as f:
        corpus = json.load(f)  # dicts keep file order
    docs = list(corpus.values())
    held = docs[int(0.95 * len(docs)):]
    texts = [d["title"] + "\n" + d["extract"] for d in held]
    stream = []
    for ids in tok(texts, add_special_tokens=False).input_ids:
        stream.extend(ids)
        stream.append(EOS_ID)
    return len(docs), len(held), stream


def cmd_perplexity(args):
    tok = load_gguf_tokenizer()
    model = load_teacher(args.attn)
    seq = args.seq
    t0 = time.perf_counter()
    n_docs, n_held, stream = heldout_tokens(tok)
    t_tok = time.perf_counter() - t0
    n_windows = (len(stream) - 1) // seq  # window i needs tokens[i*seq : i*seq+seq+1]
    run = n_windows if args.max_windows is None else min(n_windows, args.max_windows)
    print(f"corpus {n_docs} documents; held-out {n_held} documents, {len(stream)} tokens "
          f"(incl. {n_held} EOS), {n_windows} windows of {seq}+1; running {run}; "
          f"tokenized in {t_tok:.1f} s; attn={args.attn}, threads={torch.get_num_threads()}")

    data = torch.tensor(stream, dtype=torch.long)
    window_losses = []  # mean CE per window (each window predicts exactly seq tokens)
    t0 = time.perf_counter()
    for i in range(run):
        w = data[i * seq: i * seq + seq + 1]
        logits = model(w[:-1].unsqueeze(0)).logits[0]
        # Summed in fp32 within a window, accumulated across windows in Python floats (fp64).
        window_losses.append(float(torch.nn.functional.cross_entropy(logits, w[1:], reduction="sum")) / seq)
        if (i + 1) % 10 == 0 or i + 1 == run:
            el = time.perf_counter() - t0
            print(f"  window {i + 1}/{run}: running loss {sum(window_losses) / len(window_losses):.4f}, "
                  f"{el:.0f} s, {el / (i + 1):.2f} s/window", flush=True)
    elapsed = time.perf_counter() - t0

    def result(k):
        loss = sum(window_losses[:k]) / k  # equal-size windows: mean of means = mean over tokens
        return {"windows": k, "predicted_tokens": k * seq, "loss": loss, "perplexity": math.exp(loss)}

    first = result(min(PERPLEXITY_CI_WINDOWS, run))
    full = result(run)
    label = "all windows" if run == n_windows else f"first {run} windows (--max-windows)"
    print(f"first {first['windows']} windows: loss {first['loss']:.6f}, perplexity {first['perplexity']:.4f}")
    print(f"{label}: loss {full['loss']:.6f}, perplexity {full['perplexity']:.4f}")
    print(f"forward time {elapsed:.1f} s ({elapsed / run:.2f} s/window, {run * seq / elapsed:.0f} tokens/s), "
          f"load average {os.getloadavg()[0]:.2f}")
    print(json.dumps({"mode": "perplexity", "attn": args.attn, "seq": seq, "documents": n_held,
                      "corpus_documents": n_docs, "tokens": len(stream), "windows_available": n_windows,
                      "first8": first, "all": full, "complete": run == n_windows,
                      "first8_window_losses": window_losses[:PERPLEXITY_CI_WINDOWS],
                      "seconds": round(elapsed, 1)}))
    return 0


# --- check-hf-dir --------------------------------------------------------------------------

TOKENIZER_PROBES = [
    "Hello world! The year 2024 had 366 days.",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    PROMPT,
    "  Leading spaces,\ttabs\n\nand   runs of   whitespace  ",
    "Ünïcödé café — naïve façade, 東京, emoji 🙂👍🏽",
    "don't you'll I'm we've they'd IT'S",
    "x = 3.14159; y = x**2 // 7  # 1234567890",
]


def cmd_check_hf_dir(args):
    failures = []
    g_tok = load_gguf_tokenizer()
    teacher = load_teacher(args.attn)
    hf, info = AutoModelForCausalLM.from_pretrained(args.dir, dtype=torch.float32,
                                                    attn_implementation=args.attn, output_loading_info=True)
    hf.eval()
    bad = {k: v for k, v in info.items() if v}
    if bad:
        # A missing lm_head.weight is random-initialized by transformers: the logits check catches it.
        print(f"loading {args.dir}: {bad}")
    print(f"{args.dir}: {type(hf).__name__}, tie_word_embeddings={hf.config.tie_word_embeddings}, "
          f"head_dim={getattr(hf.config, 'head_dim', None)}, dtype={hf.config.dtype}")

    ids = prompt_tensor(g_tok)
    a, b = teacher(ids).logits[0], hf(ids).logits[0]
    diff = float((a - b).abs().max())
    same_argmax = bool((a.argmax(-1) == b.argmax(-1)).all())
    print(f"logits on {PROMPT!r}: max |diff| = {diff:.3e} (limit 1e-3), argmax equal at all positions: {same_argmax}")
    if not diff <= 1e-3:
        failures.append(f"logits max abs diff {diff:.3e} > 1e-3")

    h_tok = AutoTokenizer.from_pretrained(args.dir)
    print(f"tokenizer: {type(h_tok).__name__}")
    for s in TOKENIZER_PROBES:
        gi = g_tok(s, add_special_tokens=False).input_ids
        hi = h_tok(s, add_special_tokens=False).input_ids
        ok = gi == hi
        print(f"  {'ok  ' if ok else 'DIFF'} {s!r}: {hi}" + ("" if ok else f" (GGUF tokenizer: {gi})"))
        if not ok:
            failures.append(f"token ids differ for {s!r}")
        text = h_tok.decode(hi)
        if text != s:
            print(f"       decode round trip differs: {text!r}")
            failures.append(f"decode round trip differs for {s!r}")
    # Default special-token handling. The GGUF says add_bos_token=false, so no BOS is right
    # (transformers 5.24.0's GGUF tokenizer adds none; 4.46.3's prepended <|im_start|>): a BOS is only reported.
    # Without a tokenizer_config.json, LlamaTokenizerFast invents "<s>" as a *new* id past the
    # vocabulary, which crashes the embedding lookup: that is a failure.
    s = TOKENIZER_PROBES[0]
    hd, gd = h_tok(s).input_ids, g_tok(s).input_ids
    print(f"  default add_special_tokens: {args.dir} {hd[:3]}..., GGUF tokenizer {gd[:3]}... "
          f"(GGUF add_bos_token=false: no BOS is right)")
    if max(hd) >= hf.config.vocab_size:
        failures.append(f"default encoding adds ids outside the vocabulary ({h_tok.convert_ids_to_tokens(hd[:1])})")

    want = g_tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    if getattr(h_tok, "chat_template", None):
        got = h_tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
        print(f"chat template rendering ({args.dir}):\n{got}<<END>>")
        if got != want:
            print(f"GGUF rendering:\n{want}<<END>>")
            failures.append("chat template rendering differs from the GGUF's")
    else:
        print(f"{args.dir} has no chat template (transformers 5.24 reads it from chat_template.jinja or tokenizer_config.json)")
        failures.append("no chat template")

    print("RESULT: " + ("OK" if not failures else "FAIL: " + "; ".join(failures)))
    print(json.dumps({"mode": "check-hf-dir", "dir": args.dir, "attn": args.attn, "max_abs_diff": diff,
                      "argmax_equal": same_argmax, "failures": failures}))
    return 1 if failures else 0


# --- generate ------------------------------------------------------------------------------

class Timestamps:
    """A generate() streamer that only records when each token arrives.

    generate() calls put() once with the prompt, then once per new token, right after that
    token is chosen: the first new token marks the end of prefill, the rest time decoding.
    """

    def __init__(self):
        self.t = []

    def put(self, value):
        self.t.append(time.perf_counter())

    def end(self):
        pass


def timed_generate(model, ids, max_new, force_length):
    stamps = Timestamps()
    kw = dict(min_new_tokens=max_new) if force_length else {}
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new,
                         eos_token_id=EOS_ID, pad_token_id=EOS_ID, streamer=stamps, **kw)
    new = out[0, ids.shape[1]:].tolist()
    times = stamps.t[1:]  # [0] is the prompt echo
    prefill = times[0] - t0
    steps = len(times) - 1
    decode = times[-1] - times[0]
    return new, prefill, steps, decode


def cmd_generate(args):
    tok = load_gguf_tokenizer()
    model = load_teacher(args.attn)
    text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tok(text, add_special_tokens=False).input_ids])
    print(f"prompt ({ids.shape[1]} tokens): {text!r}")
    print(f"attn={args.attn}, threads={torch.get_num_threads()}, batch 1, fp32, greedy, load average {os.getloadavg()[0]:.2f}")

    # Warm-up so one-time allocation/dispatch costs do not land in the first timed call.
    model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=4,
                   eos_token_id=EOS_ID, pad_token_id=EOS_ID)

    new, prefill, steps, decode = timed_generate(model, ids, args.max_new_tokens, force_length=False)
    answer = tok.decode(new, skip_special_tokens=True)
    print(f"answer ({len(new)} tokens, stops at <|im_end|>): {answer!r}")
    print(f"  ids {new}")
    rate_answer = steps / decode if steps else float("nan")
    print(f"  prefill {prefill * 1000:.1f} ms; {steps} decode steps in {decode * 1000:.1f} ms = {rate_answer:.2f} tokens/s")

    # The answer is too short for a stable rate: time fixed-length runs with EOS suppressed
    # (min_new_tokens), so every run decodes the same number of steps. The machine may be shared,
    # so repeat and report the median (and every run).
    runs = [timed_generate(model, ids, args.max_new_tokens, force_length=True) for _ in range(args.repeat)]
    rates = sorted(r[2] / r[3] for r in runs)
    prefills = sorted(r[1] for r in runs)
    rate, prefill = rates[len(rates) // 2], prefills[len(prefills) // 2]
    steps = runs[0][2]
    print(f"fixed {args.max_new_tokens} new tokens x {args.repeat} runs: prefill median {prefill * 1000:.1f} ms; "
          f"{steps} decode steps; decode median {rate:.2f} tokens/s (runs: {', '.join(f'{r:.2f}' for r in rates)}), "
          f"load average {os.getloadavg()[0]:.2f}")
    print(json.dumps({"mode": "generate", "attn": args.attn, "prompt_tokens": ids.shape[1], "answer": answer,
                      "answer_ids": new, "prefill_ms": round(prefill * 1000, 1), "decode_steps": steps,
                      "decode_tokens_per_s": round(rate, 2), "decode_tokens_per_s_runs": [round(r, 2) for r in rates],
                      "answer_decode_tokens_per_s": round(rate_answer, 2)}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa", help="attention implementation")
    p.add_argument("--threads", type=int, default=2)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("logits")
    s.add_argument("--out", default="Tests/PareTestSupport/Fixtures/smollm2-capital-logits.safetensors")
    s = sub.add_parser("perplexity")
    s.add_argument("--seq", type=int, default=512)
    s.add_argument("--max-windows", type=int, default=None)
    s = sub.add_parser("check-hf-dir")
    s.add_argument("dir")
    s = sub.add_parser("generate")
    s.add_argument("--max-new-tokens", type=int, default=64)
    s.add_argument("--repeat", type=int, default=3, help="timed fixed-length runs (median reported)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()  # load problems are checked explicitly instead
    cmds = {"logits": cmd_logits, "perplexity": cmd_perplexity,
            "check-hf-dir": cmd_check_hf_dir, "generate": cmd_generate}
    with torch.no_grad():
        sys.exit(cmds[args.cmd](args))


if __name__ == "__main__":
    main()
