#!/usr/bin/env python3
"""Independent reference for `pare eval --tasks mmlu`: MMLU scored as lm-eval-harness's `mmlu`
task does, with pyarrow, plain PyTorch/transformers and nothing from Pare but the Arrow files.

For each subject (CACHE/mmlu/SUBJECT/{dev,test}/data-00000-of-00001.arrow, read by pyarrow):
  description = "The following are multiple choice questions (with answers) about " + subject
                with spaces for underscores + ".\\n\\n"
  a question  = question.strip() + "\\nA. " + choices[0] + … + "\\nD. " + choices[3] + "\\nAnswer:"
  context     = description + the first k dev questions, each + " " + its letter + "\\n\\n",
                then the test question
and the continuations " A", " B", " C", " D". Each (context, continuation) is tokenized by
lm-eval's _encode_pair and scored by scripts/task_reference.py's `score` (float64 log-softmax;
the four one-token continuations share one forward pass of their context, as lm-eval's logits
cache does; --no-logits-cache scores each choice by its own pass); the prediction is the argmax.
Per subject: acc and its sample standard error; in aggregate: acc over all questions (lm-eval
0.4's size-weighted group mean) with lm-eval's pooled standard error, and the unweighted mean
over subjects.

  scripts/setup --reference   (the venv /tmp/pare-ref, pins in scripts/reference-requirements.txt)
  /tmp/pare-ref/bin/python scripts/mmlu_reference.py --model ~/.cache/pare/SmolLM2-135M-Instruct.Q4_1.gguf \\
      --shots 0 --limit 20 --json /tmp/mmlu-ref.json

--limit N scores the first N test questions of each subject; --subjects a,b restricts the
subjects; --checkpoint DIR keeps each subject's scores in its own file as they are computed, so an
interrupted run resumes where it stopped and finished subjects can be kept in the repository
(benchmarks/mmlu-reference/, which scripts/check_mmlu reads first).
--write-prompts PATH writes, instead of scoring, the first two test prompts and golds of four
subjects at 0 and 5 shots (Tests/PareFormatsTests/Fixtures/mmlu-prompts.json, MMLUTests' golden).
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import task_reference as ref  # noqa: E402  (load, encode_pair, score, Checkpoint)

import pyarrow as pa  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

LETTERS = ["A", "B", "C", "D"]


def read(root, subject, split):
    path = os.path.join(root, subject, split, "data-00000-of-00001.arrow")
    with pa.memory_map(path) as f:
        return pa.ipc.open_stream(f).read_all().to_pylist()


def question(row):
    return row["question"].strip() + "".join(f"\n{l}. {c}" for l, c in zip(LETTERS, row["choices"])) + "\nAnswer:"


def prompts(root, subject, shots, limit):
    description = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
    shots_text = "".join(question(r) + " " + LETTERS[r["answer"]] + "\n\n" for r in read(root, subject, "dev")[:shots])
    test = read(root, subject, "test")
    test = test[:limit] if limit else test
    return [(description + shots_text + question(r), r["answer"]) for r in test]


def pooled_stderr(stderrs, sizes):
    n = sum(sizes)
    if n <= len(sizes):
        return 0.0
    return math.sqrt(sum((s - 1) * e * e * s for e, s in zip(stderrs, sizes)) / (n - len(sizes)) / n)


def score_by_subject(model, a, questions, pairs):
    """Every request's loglikelihood, subject by subject, each subject with its own checkpoint
    (DIR/mmlu-Kshot-PRECISION-SUBJECT.json.gz), so a finished subject's scores can be kept (in
    benchmarks/mmlu-reference/) and a run of many hours spread over several sessions.
    Returns the loglikelihoods in order, how many requests came from checkpoints, and the
    scoring seconds (None when some came from checkpoints without their time)."""
    model_id = ref.model_identity(a.model)
    subjects = list(dict.fromkeys(s for s, _, _ in questions))
    lls, restored, seconds, start, done = [], 0, 0.0, time.time(), 0
    for n, subject in enumerate(subjects, 1):
        idx = [4 * q + j for q, (s, _, _) in enumerate(questions) if s == subject for j in range(4)]
        part = [pairs[i] for i in idx]
        checkpoint = ref.Checkpoint(a.checkpoint, f"mmlu-{a.shots}shot-{a.precision}-{subject}", model_id, part)
        scores, r, sec = ref.score(model, part, a.batch_size, checkpoint, autocast=a.precision == "bf16-autocast",
                                   logits_cache=a.logits_cache)
        lls += [x[0] for x in scores]
        restored += r
        earlier = checkpoint.earlier_seconds if r else 0.0
        seconds = None if seconds is None or earlier is None else seconds + sec + earlier
        done += len(part) - r
        rate = done / 4 / (time.time() - start) if done else 0.0
        left = (len(pairs) - len(lls)) / 4
        print(f"[{n}/{len(subjects)}] {subject}: {len(part) // 4} questions{f' ({r} requests restored)' if r else ''} | "
              f"{len(lls) // 4}/{len(pairs) // 4} done | {rate:.2f} questions/s | ETA {left / rate / 60 if rate else 0:.0f} min",
              file=sys.stderr, flush=True)
    return lls, restored, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--subjects", help="comma-separated subjects (default: all installed)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--root", default=os.path.join(os.environ.get("PARE_CACHE", os.path.expanduser("~/.cache/pare")), "mmlu"))
    ap.add_argument("--checkpoint", help="a folder for resumable scores")
    ap.add_argument("--json")
    ap.add_argument("--write-prompts", metavar="PATH")
    ap.add_argument("--precision", choices=["fp32", "bf16", "bf16-autocast"], default="fp32",
                    help="bf16: weights in bfloat16; bf16-autocast: fp32 weights, matmuls under torch.autocast (for timing)")
    ap.add_argument("--no-logits-cache", dest="logits_cache", action="store_false",
                    help="one forward pass per choice (four per question), as this script ran until 2026-12-07")
    a = ap.parse_args()
    if a.write_prompts:
        import json
        golden = {str(k): {s: [{"prompt": p, "gold": g} for p, g in prompts(a.root, s, k, 2)]
                           for s in ["abstract_algebra", "high_school_european_history", "formal_logic", "college_medicine"]} for k in (0, 5)}
        json.dump({"pyarrow": pa.__version__, "prompts": golden}, open(a.write_prompts, "w"), indent=1, ensure_ascii=False)
        return
    torch.set_num_threads(a.threads)
    tok, model = ref.load(a.model, torch.bfloat16 if a.precision == "bf16" else torch.float32)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, pyarrow {pa.__version__}, "
          f"{a.threads} threads, batch {a.batch_size}, {a.precision}", file=sys.stderr)
    subjects = a.subjects.split(",") if a.subjects else sorted(
        s for s in os.listdir(a.root) if os.path.exists(os.path.join(a.root, s, "test", "data-00000-of-00001.arrow")))
    questions = [(s, p, gold) for s in subjects for p, gold in prompts(a.root, s, a.shots, a.limit)]
    pairs = [ref.encode_pair(tok, p, " " + l, ref.adds_bos(model)) for _, p, _ in questions for l in LETTERS]
    lls, restored, seconds = score_by_subject(model, a, questions, pairs)
    per = {}
    for q, (s, _, gold) in enumerate(questions):
        four = lls[4 * q:4 * q + 4]
        pick = max(range(4), key=lambda j: (four[j], -j))   # the first of equal maxima, as numpy's argmax
        hits, n = per.get(s, (0, 0))
        per[s] = (hits + (pick == gold), n + 1)
    subtasks = []
    for s in subjects:
        hits, n = per[s]
        p = hits / n
        subtasks.append({"name": s, "documents": n, "acc": p, "acc_stderr": math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else 0.0})
    n = len(questions)
    acc = sum(per[s][0] for s in subjects) / n
    r = {"task": "mmlu", "shots": a.shots, "documents": n, "primary_metric": "acc", "acc": acc,
         "acc_stderr": pooled_stderr([t["acc_stderr"] for t in subtasks], [t["documents"] for t in subtasks]),
         "acc_macro": sum(t["acc"] for t in subtasks) / len(subtasks), "subtasks": subtasks,
         "tokens": sum(len(c) + len(k) - 1 for c, k in pairs), "seconds": seconds, "resumed_requests": restored,
         "tokens_per_second": sum(len(c) + len(k) - 1 for c, k in pairs) / seconds if seconds and not restored else None,
         "questions_per_second": n / seconds if seconds and not restored else None,
         "loglikelihoods": lls}
    print(f"mmlu ({a.shots}-shot) | {len(subjects)} subjects | {n} questions | acc {acc:.4f} ± {r['acc_stderr']:.4f} | "
          f"unweighted {r['acc_macro']:.4f} | {seconds or 0:.1f} s | {r['questions_per_second'] or 0:.2f} questions/s", flush=True)
    if a.json:
        import json
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "pyarrow": pa.__version__,
                   "batch_size": a.batch_size, "threads": a.threads, "tasks": [r]}, open(a.json, "w"))


if __name__ == "__main__":
    main()
