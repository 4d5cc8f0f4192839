#!/usr/bin/env bash
# Side by side, one machine, one run: a SmolLM2-135M training step (forward + backward +
# AdamW, batch 4 × 256, 2 threads) in Pare (release build) and in PyTorch eager, in fp32 and
# in bf16 mixed precision (side_by_side.sh; PRECISIONS=fp32 for one).
#
#   benchmarks/train_step.sh [STEPS] [WARMUP]
#
# Needs the reference venv: scripts/setup --reference.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-5}; WARMUP=${2:-3}
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
swift build -c release --product pare --scratch-path .build-release >/dev/null
pare() { .build-release/release/pare bench train --model random:smollm2-135m --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP" --precision "$PREC"; }
torch_attn() {
  "$PY" benchmarks/train_step_torch.py --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP" --precision "$PREC" --attn "$1" 2>&1 | grep -v -i warn
}
source benchmarks/side_by_side.sh
