#!/usr/bin/env bash
# Side by side, one machine, one run: a SmolLM2-135M training step (forward + backward +
# AdamW, fp32, batch 4 × 256, 2 threads) in Pare (release build) and in PyTorch eager.
#
#   benchmarks/train_step.sh [STEPS] [WARMUP]
#
# Runs the pair with the environment's OpenBLAS kernel and with OpenBLAS's own choice
# (side_by_side.sh).
# Needs the reference venv: scripts/setup --reference.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-5}; WARMUP=${2:-3}
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
swift build -c release --product pare --scratch-path .build-release >/dev/null
pare() { "${ENVP[@]}" .build-release/release/pare bench train --model random:smollm2-135m --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP"; }
torch() { "${ENVP[@]}" "$PY" benchmarks/train_step_torch.py --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP" 2>&1 | grep -v -i warn; }
source benchmarks/side_by_side.sh
