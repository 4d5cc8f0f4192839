#!/usr/bin/env bash
# The Minitron paper's central claim on the bundled teacher: for a fixed token budget, a
# pruned student distilled from the teacher (forward KL) ends with a lower validation loss
# than the same student trained with cross-entropy only on the same tokens (kd-ratio 0),
# and both beat the pruned-only student. Runs for the depth- and the width-pruned student.
#
#   scripts/distill_experiment.sh WORK_DIR [STEPS]
# TEACHER=DIR uses another teacher, e.g. the pipeline's corrected one
# (runs/smollm2-wiki/teacher-ft/model; prune the students from it too). Measured: with the
# uncorrected bundled teacher cross-entropy wins slightly at 30 steps; with the corrected
# teacher KD wins for both students (see the session notes).
# WORK_DIR must hold data/wiki_{train,val}_text_document.* (pare data prepare + tokenize)
# and students/{depth,width} (pare prune). Prints one table; takes ~20 minutes at 30 steps.
# IS_DEPTH_MAP / IS_WIDTH_MAP (STUDENT:TEACHER,...) add a KD run with the intermediate-state
# loss (--intermediate-loss cosine) for that student.
set -euo pipefail
W=$1; STEPS=${2:-30}
cd "$(dirname "$0")/.."
P=.build-release/release/pare
T=${TEACHER:-${PARE_CACHE:-$HOME/.cache/pare}/SmolLM2-135M-Instruct.Q4_1.gguf}
COMMON=(--data-train "$W/data/wiki_train" --data-val "$W/data/wiki_val" --steps "$STEPS" --global-batch-size 8
        --micro-batch-size 4 --seq-length 256 --lr 5e-4 --min-lr 5e-5 --warmup-steps 3 --val-batches 4 --log-interval 5)
for s in depth width; do
  [ -d "$W/runs/$s-kd/model" ] || $P distill --teacher "$T" --student "$W/students/$s" --output "$W/runs/$s-kd" "${COMMON[@]}"
  [ -d "$W/runs/$s-ce/model" ] || $P distill --teacher "$T" --student "$W/students/$s" --output "$W/runs/$s-ce" --kd-ratio 0 "${COMMON[@]}"
  map=IS_${s^^}_MAP
  if [ -n "${!map:-}" ]; then
    [ -d "$W/runs/$s-kd-is/model" ] || $P distill --teacher "$T" --student "$W/students/$s" --output "$W/runs/$s-kd-is" \
      --intermediate-loss cosine --layer-map "${!map}" "${COMMON[@]}"
  fi
done
extra() { [ -d "$W/runs/$1-kd-is/model" ] && echo --model "$W/runs/$1-kd-is/model"; true; }
echo
echo "validation set: $W/data/wiki_val (all documents, windows of 256); $STEPS steps × 8 × 256 = $((STEPS * 2048)) training tokens per run"
$P eval --data "$W/data/wiki_val" --seq 256 --model "$T" \
  --model "$W/students/depth" --model "$W/runs/depth-ce/model" --model "$W/runs/depth-kd/model" $(extra depth) \
  --model "$W/students/width" --model "$W/runs/width-ce/model" --model "$W/runs/width-kd/model" $(extra width) 2>/dev/null
