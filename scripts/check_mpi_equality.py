#!/usr/bin/env python3
"""Checks that two training runs of the same job — e.g. 1 rank and 2 ranks under mpirun —
gave the same numbers: every step's train/loss and val/loss in metrics.jsonl (relative
difference), and every tensor of the newest checkpoint (weights and both Adam moments, fp32;
relative L2 difference ‖a − b‖ / ‖a‖), within a tolerance (default 1e-5). Data parallelism
only changes the order of float additions; the largest single-element difference is printed
too (Adam magnifies rounding in gradients that are nearly zero, e.g. rare tokens' rows).

  python scripts/check_mpi_equality.py RUN_A RUN_B [--rtol 1e-5] [--bounded-by RUN_C RUN_D]

With --bounded-by, each checkpoint tensor may differ between A and B by up to twice as much as
it differs between C and D, the worst tensor of A-vs-B may differ no more than the worst of
C-vs-D, and each loss by the largest C-vs-D loss difference (or rtol, whichever is larger).
The factor 2 per tensor: a tensor whose C-vs-D difference happens to be small can drift a
little further under a changed summation order while the run as a whole moves far less
(measured: adam_v of layer 0's input norm 2.25e-3 against 2.0e-3, with the worst tensors
6.85e-3 against 2.05e-2). bf16 needs this: rounding to bf16 turns a
last-bit f32 difference from the changed summation order into a whole bf16 step for values
near a rounding boundary, so the 1-rank and 2-rank bf16 runs drift apart by more than 1e-5,
and the meaningful claim is that data parallelism moves a bf16 run less than bf16 itself
moves an fp32 run (C = the fp32 run, D = the bf16 run, both 1 process).

Needs numpy (scripts/test_mpi makes a venv with numpy==1.26.4 under /tmp). Exits 1 on a
difference, naming the step or tensor.
"""
import argparse, json, os, struct, sys
import numpy as np

TENSOR_SLACK = 2   # per tensor: up to twice its C-vs-D difference (see the docstring)


def metrics(run):
    rows = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            for k in ("train/loss", "val/loss"):
                if k in r:
                    rows[(k, r["step"])] = r[k]
    return rows


def newest_state(run):
    root = os.path.join(run, "checkpoints")
    steps = sorted(d for d in os.listdir(root) if d.startswith("step-"))
    if not steps:
        sys.exit(f"error: no checkpoint in {root}")
    return os.path.join(root, steps[-1], "state.safetensors")


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{path}: {name} is {info['dtype']}, expected F32"
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a"); p.add_argument("b")
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--bounded-by", nargs=2, metavar=("RUN_C", "RUN_D"))
    a = p.parse_args()
    bad = 0
    ma, mb = metrics(a.a), metrics(a.b)
    # Per-quantity tolerances: rtol, or the C-vs-D difference of the same quantity.
    loss_tol, tensor_tol = {}, {}
    if a.bounded_by:
        mc, md = metrics(a.bounded_by[0]), metrics(a.bounded_by[1])
        # Losses: the largest C-vs-D difference anywhere in the run (at a single step the two
        # drifts cross zero at different moments); tensors: each its own.
        worst = max((abs(mc[k] - md[k]) / max(abs(mc[k]), 1e-12) for k in mc if k in md), default=0.0)
        loss_tol = {k: worst for k in mc}
        tc, td = read_safetensors(newest_state(a.bounded_by[0])), read_safetensors(newest_state(a.bounded_by[1]))
        for name in tc:
            if name in td:
                x, y = tc[name].astype(np.float64), td[name].astype(np.float64)
                tensor_tol[name] = float(np.linalg.norm(x - y) / max(np.linalg.norm(x), 1e-30))
    if set(ma) != set(mb):
        sys.exit(f"error: the runs logged different steps: {sorted(set(ma) ^ set(mb))[:5]}")
    worst_loss = 0.0
    for key in sorted(ma, key=lambda k: (k[1], k[0])):
        rel = abs(ma[key] - mb[key]) / max(abs(ma[key]), 1e-12)
        worst_loss = max(worst_loss, rel)
        tol = max(a.rtol, loss_tol.get(key, 0.0))
        if rel > tol:
            print(f"MISMATCH {key[0]} at step {key[1]}: {ma[key]!r} vs {mb[key]!r} (relative {rel:.2e}, allowed {tol:.2e})"); bad += 1
    sa, sb = newest_state(a.a), newest_state(a.b)
    ta, tb = read_safetensors(sa), read_safetensors(sb)
    if set(ta) != set(tb):
        sys.exit(f"error: {sa} and {sb} hold different tensors")
    worst_tensor, worst_name, worst_elem, elem_name = 0.0, "", 0.0, ""
    for name in sorted(ta):
        x, y = ta[name].astype(np.float64), tb[name].astype(np.float64)
        rel = float(np.linalg.norm(x - y) / max(np.linalg.norm(x), 1e-30))
        elem = float(np.abs(x - y).max())
        if rel > worst_tensor:
            worst_tensor, worst_name = rel, name
        if elem > worst_elem:
            worst_elem, elem_name = elem, name
        tol = max(a.rtol, TENSOR_SLACK * tensor_tol.get(name, 0.0))
        if rel > tol:
            print(f"MISMATCH {name}: ‖a − b‖ / ‖a‖ = {rel:.2e} (allowed {tol:.2e})"); bad += 1
    print(f"{len(ma)} logged losses, worst relative difference {worst_loss:.2e}; "
          f"{len(ta)} checkpoint tensors ({os.path.basename(os.path.dirname(sa))}), worst relative L2 {worst_tensor:.2e} "
          f"({worst_name}), largest element difference {worst_elem:.2e} ({elem_name})")
    if a.bounded_by:
        worst_bound = max(tensor_tol.values(), default=0)
        print(f"bound: {a.bounded_by[0]} vs {a.bounded_by[1]}: worst loss difference {max(loss_tol.values(), default=0):.2e}, "
              f"worst tensor relative L2 {worst_bound:.2e}")
        if worst_tensor > max(a.rtol, worst_bound):
            print(f"MISMATCH worst tensor {worst_name}: {worst_tensor:.2e} above the worst {a.bounded_by[0]}-vs-{a.bounded_by[1]} "
                  f"tensor difference {worst_bound:.2e}"); bad += 1
    what = f"rtol {a.rtol}" + (f" or the {a.bounded_by[0]}-vs-{a.bounded_by[1]} difference" if a.bounded_by else "")
    if bad:
        sys.exit(f"FAILED: {bad} differences above {what}")
    print(f"OK: equal within {what}")


if __name__ == "__main__":
    main()
