#!/usr/bin/env bash
# Data-parallel scaling on this machine, one run: SmolLM2-135M fine-tuning (the bundled
# teacher, batch 8 × 256, micro-batch 4) as 1 process × 2 threads and as 2 MPI ranks × 1
# thread. Prints each run's median tokens/s over the timed steps, the 2-rank all-reduce time
# per step, and the ratio.
#
#   benchmarks/mpi_scaling.sh DATA_PREFIX [STEPS]
# DATA_PREFIX: a tokenized training set (pare data tokenize), e.g.
# runs/smollm2-wiki/data/wiki_train. Needs scripts/setup --mpi (Open MPI).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1; STEPS=${2:-8}
PARE_MPI=1 swift build -c release --product pare --scratch-path .build-mpi >/dev/null
P=$PWD/.build-mpi/release/pare
T="${PARE_CACHE:-$HOME/.cache/pare}/SmolLM2-135M-Instruct.Q4_1.gguf"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
ARGS=(--model "$T" --data-train "$DATA" --steps "$STEPS" --global-batch-size 8 --micro-batch-size 4 --seq-length 256
      --lr 1e-4 --min-lr 1e-5 --warmup-steps 1 --val-batches 0 --checkpoint-interval 0)
# Median tokens/s and all-reduce seconds over steps 3.. (the first two warm up).
stats() { python3 - "$1" <<'PY'
import json, statistics, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if "train/loss" in r]
rows = [r for r in rows if r["step"] >= 3]
tps = statistics.median(r["train/tokens_per_second"] for r in rows)
ar = [r["train/allreduce_seconds"] for r in rows if "train/allreduce_seconds" in r]
print(f"{tps:.1f} {statistics.median(ar) if ar else 0:.3f}")
PY
}
"$P" finetune "${ARGS[@]}" --threads 2 --output "$W/one" > "$W/one.log" 2>&1
mpirun --allow-run-as-root -np 2 "$P" finetune "${ARGS[@]}" --threads 1 --output "$W/two" > "$W/two.log" 2>&1
read -r t1 _ < <(stats "$W/one/metrics.jsonl")
read -r t2 ar < <(stats "$W/two/metrics.jsonl")
grep "^step $STEPS/" "$W/one.log" "$W/two.log" | sed "s|$W/||"
echo "1 process × 2 threads: $t1 tokens/s; 2 ranks × 1 thread: $t2 tokens/s (all-reduce $ar s per step); ratio $(awk -v a="$t2" -v b="$t1" 'BEGIN { printf "%.2f", a / b }')"
