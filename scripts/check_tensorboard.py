#!/usr/bin/env python3
"""Reads a Pare run's TensorBoard event files with TensorBoard's own EventAccumulator and
checks that every scalar and step in the run's metrics.jsonl is there with the same value.

  scripts/setup --reference   # once: the venv /tmp/pare-ref (PARE_REF_VENV), tensorboard==2.21.0 included
  /tmp/pare-ref/bin/python scripts/check_tensorboard.py RUN_DIR
Exits 1 on any difference.
"""
import glob, json, math, os, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run = sys.argv[1]
files = glob.glob(os.path.join(run, "tensorboard", "events.out.tfevents.*"))
if not files:
    sys.exit(f"no event files under {run}/tensorboard")
acc = EventAccumulator(os.path.join(run, "tensorboard"), size_guidance={"scalars": 0})
acc.Reload()
tags = acc.Tags()["scalars"]
got = {t: {e.step: e.value for e in acc.Scalars(t)} for t in tags}
want = {}
with open(os.path.join(run, "metrics.jsonl")) as f:
    for line in f:
        rec = json.loads(line)
        for k, v in rec.items():
            if k not in ("step", "time"):
                want.setdefault(k, {})[rec["step"]] = v
bad = 0
for tag, steps in want.items():
    for step, v in steps.items():
        g = got.get(tag, {}).get(step)
        if g is None or not math.isclose(g, v, rel_tol=1e-6, abs_tol=1e-9):
            bad += 1
            if bad <= 5:
                print(f"MISMATCH {tag} step {step}: tensorboard {g}, metrics.jsonl {v}")
n = sum(len(s) for s in want.values())
print(f"{len(files)} event file(s); tags {sorted(tags)}; {n} scalar points in metrics.jsonl; "
      f"steps {min(min(s) for s in want.values())}..{max(max(s) for s in want.values())}")
print("RESULT:", "OK, every scalar and step read back by EventAccumulator" if bad == 0 else f"{bad} differences")
sys.exit(1 if bad else 0)
