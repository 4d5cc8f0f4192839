#!/usr/bin/env python3
"""Compares `pare eval --tasks --json` with scripts/task_reference.py --json (or, for MMLU,
scripts/mmlu_reference.py --json), task by task:
acc and acc_norm, the largest per-request |Δ loglikelihood| over all requests and over 200
sampled ones (fixed seed), and tokens/s from both. Exits 1 if an accuracy differs by more
than 0.1 points or a sampled loglikelihood by more than 1e-3 (the issue's tolerances).

  python3 scripts/compare_tasks.py PARE.json REFERENCE.json
"""
import json
import random
import sys

pare_rows = json.load(open(sys.argv[1]))
ref = {t["task"]: t for t in json.load(open(sys.argv[2]))["tasks"]}
ok = True
for row in pare_rows:
    for p in row["tasks"]:
        # mmlu_reference.py names its task mmlu whatever subjects it scored.
        r = ref.get(p["task"]) or (ref.get("mmlu") if p["task"].startswith("mmlu") else None)
        if r is None:
            print(f"{p['task']}: not in the reference's file {sys.argv[2]}")
            ok = False
            continue
        if isinstance(r["loglikelihoods"], dict):
            # task_reference.py --sample: only the sampled requests (e.g. in fp64, the exact values).
            assert len(p["loglikelihoods"]) == r["requests"], f"{p['task']}: {len(p['loglikelihoods'])} requests from pare, {r['requests']} from the reference"
            diffs = {int(i): abs(p["loglikelihoods"][int(i)] - ll) for i, ll in r["loglikelihoods"].items()}
            worst = max(diffs, key=diffs.get)
            print(f"{p['task']}: {len(diffs)} sampled requests against the reference in {r.get('precision')}: "
                  f"max |dll| {diffs[worst]:.1e} (request {worst}, ll {p['loglikelihoods'][worst]:.1f})")
            ok = ok and diffs[worst] <= 1e-3
            continue
        a, b = p["loglikelihoods"], r["loglikelihoods"]
        assert len(a) == len(b), f"{p['task']}: {len(a)} requests from pare, {len(b)} from the reference"
        diffs = [abs(x - y) for x, y in zip(a, b)]
        if "subtasks" in p:
            # MMLU (scripts/mmlu_reference.py): four requests a question; 200 sampled questions.
            questions = len(a) // 4
            sample = random.Random(0).sample(range(questions), min(200, questions))
            worst_sampled = max(max(diffs[4 * q:4 * q + 4]) for q in sample)
            by_name = {t["name"]: t for t in r["subtasks"]}
            if sorted(by_name) != sorted(t["name"] for t in p["subtasks"]) or len(a) != len(b):
                print(f"{p['task']}: pare scored subjects {[t['name'] for t in p['subtasks']][:5]}…, the reference {sorted(by_name)[:5]}…: not the same questions")
                ok = False
                continue
            d_sub = max(abs(t["acc"] - by_name[t["name"]]["acc"]) for t in p["subtasks"]) * 100
            d_acc = abs(p["acc"] - r["acc"]) * 100
            pare_qps = p["documents"] / p["seconds"]
            ref_qps = r.get("questions_per_second") or float("nan")
            print(f"{p['task']} ({p.get('variant')}): {len(p['subtasks'])} subjects, {p['documents']} questions | "
                  f"acc {p['acc']:.4f} ± {p['acc_stderr']:.4f} vs {r['acc']:.4f} ± {r['acc_stderr']:.4f} | "
                  f"unweighted {p['acc_macro']:.4f} vs {r['acc_macro']:.4f} | largest subject |dacc| {d_sub:.2f} points | "
                  f"max |dll| {max(diffs):.1e} (200 sampled questions: {worst_sampled:.1e}) | questions/s pare {pare_qps:.2f} vs "
                  f"reference {ref_qps:.2f} ({pare_qps / ref_qps:.2f}x) | {p['seconds']:.0f} s vs {r['seconds']:.0f} s")
            ok = ok and d_acc <= 0.1 and worst_sampled <= 1e-3
            continue
        sample = random.Random(0).sample(range(len(diffs)), min(200, len(diffs)))
        worst_sampled = max(diffs[i] for i in sample)
        d_acc = abs(p["acc"] - r["acc"]) * 100
        d_norm = abs(p.get("acc_norm", 0) - r.get("acc_norm", 0)) * 100
        extra = (f"acc_norm {p['acc_norm']:.4f} vs {r['acc_norm']:.4f}" if "acc_norm" in p
                 else f"ppl {p['perplexity']:.3f} vs {r['perplexity']:.3f}")
        pare_tps = p["tokens"] / p["seconds"]
        if not r["tokens_per_second"]:   # every request restored from the checkpoint: no timing
            r = dict(r, tokens_per_second=float("nan"))
        print(f"{p['task']}: {p['documents']} docs, {len(a)} requests | acc {p['acc']:.4f} vs {r['acc']:.4f} | {extra} | "
              f"max |dll| {max(diffs):.1e} (200 sampled: {worst_sampled:.1e}) | tokens/s pare {pare_tps:.0f} vs "
              f"reference {r['tokens_per_second']:.0f} ({pare_tps / r['tokens_per_second']:.2f}x) | "
              f"{p['seconds']:.0f} s vs {r['seconds']:.0f} s")
        if r.get("resumed_requests"):
            print(f"  note: the reference resumed {r['resumed_requests']} requests from its checkpoint; "
                  f"{r.get('timing', 'its tokens/s is over the rest')}")
        if p["tokens"] != r["tokens"]:
            print(f"  note: token counts differ ({p['tokens']} vs {r['tokens']}): the tokenizers disagree")
        ok = ok and d_acc <= 0.1 and d_norm <= 0.1 and worst_sampled <= 1e-3
sys.exit(0 if ok else 1)
