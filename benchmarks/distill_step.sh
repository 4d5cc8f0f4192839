#!/usr/bin/env bash
# Side by side, one machine, one run: a distillation step (SmolLM2-135M teacher forward, 15-layer student forward +
# backward with forward KL, AdamW; batch 4 × 256, 2 threads) in Pare (release build) and in PyTorch eager,
# in fp32 and in bf16 mixed precision (Pare --precision bf16, PyTorch under bf16 autocast; side_by_side.sh).
#
#   benchmarks/distill_step.sh [STEPS] [WARMUP]
#   MODEL=qwen2.5-0.5b STUDENT_LAYERS=16 benchmarks/distill_step.sh 2 1   (the 0.5B teacher; ~20 GB of RAM for both)
#   PRECISIONS=fp32 ...: one precision only
#
# Needs the reference venv: scripts/setup --reference.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-5}; WARMUP=${2:-3}; MODEL=${MODEL:-smollm2-135m}; SL=${STUDENT_LAYERS:-15}
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
swift build -c release --product pare --scratch-path .build-release >/dev/null
pare() { .build-release/release/pare bench distill --teacher "random:$MODEL" --student-layers "$SL" --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP" --precision "$PREC"; }
torch_attn() {
  local ac=(); [ "$PREC" = bf16 ] && ac=(--autocast-bf16)
  "$PY" benchmarks/distill_step_torch.py --model "$MODEL" --student-layers "$SL" "${ac[@]}" --attn "$1" --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP" 2>&1 | grep -v -i warn
}
source benchmarks/side_by_side.sh
