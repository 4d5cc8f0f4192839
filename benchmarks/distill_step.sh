#!/usr/bin/env bash
# Side by side, one machine, one run: a distillation step (SmolLM2-135M teacher forward, 15-layer student forward +
# backward with forward KL, AdamW; fp32, batch 4 × 256, 2 threads) in Pare (release build) and in PyTorch eager.
#
#   benchmarks/distill_step.sh [STEPS] [WARMUP]
#
# Runs the pair twice: once in the environment as it is, and once with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for both commands, so OpenBLAS picks its own kernel (this
# workplace pins Haswell kernels because some OpenBLAS builds miscompute on newer CPUs;
# each run prints the core in use and its losses, so both can be compared).
# Needs the reference venv: scripts/setup --reference.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-5}; WARMUP=${2:-3}
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
swift build -c release --product pare --scratch-path .build-release >/dev/null
ENVP=()
pare() { "${ENVP[@]}" .build-release/release/pare bench distill --teacher random:smollm2-135m --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP"; }
torch() { "${ENVP[@]}" "$PY" benchmarks/distill_step_torch.py --batch 4 --seq 256 --threads 2 --steps "$STEPS" --warmup "$WARMUP" 2>&1 | grep -v -i warn; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
tps() { grep -o 'median step [0-9.]* s: [0-9.]* tokens/s' | awk '{print $5}'; }

for mode in environment autodetect; do
  echo "=== OpenBLAS kernel: $mode"
  if [ "$mode" = autodetect ]; then ENVP=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE); else ENVP=(env); fi
  p=$(pare); t=$(torch)
  echo "$p"; echo "$t"
  pt=$(echo "$p" | tps); tt=$(echo "$t" | tps)
  echo "Pare $pt tokens/s, PyTorch $tt tokens/s: Pare/PyTorch = $(ratio "$pt" "$tt")x"
done
