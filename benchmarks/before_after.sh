#!/usr/bin/env bash
# Before/after speed of a change, side by side in one run on one machine: builds revision REV
# (default: the last commit on main before the working tree's commits, i.e. `HEAD~1`) in a scratch
# clone under /tmp, builds the working tree, then alternates the two binaries RUNS times on
#   - a train step   (pare bench train,   random SmolLM2-135M, 4×256, 2 threads),
#   - a distill step (pare bench distill, random SmolLM2-135M teacher → same-shape student),
#   - batch-1 greedy decode of the bundled teacher (pare generate, KV cache, 128 new tokens),
# and prints each figure's median for both and the ratio new/old. Alternating A/B/A/B keeps a
# drifting machine load from favouring one side.
#
#   benchmarks/before_after.sh [REV] [RUNS]
#   PRECISION=bf16 benchmarks/before_after.sh …   (train and distill steps in bf16; decode stays f32)
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-HEAD~1}; RUNS=${2:-3}; PRECISION=${PRECISION:-fp32}
OLD_SRC=/tmp/pare-before-$(git rev-parse --short "$REV")
if [ ! -d "$OLD_SRC" ]; then git clone -q . "$OLD_SRC"; fi
git -C "$OLD_SRC" checkout -q "$(git rev-parse "$REV")"
echo "building $REV ($(git rev-parse --short "$REV")) in $OLD_SRC and the working tree"
swift build -c release --product pare --package-path "$OLD_SRC" --scratch-path "$OLD_SRC/.build-release" >/dev/null
swift build -c release --product pare --scratch-path .build-release >/dev/null
OLD=$OLD_SRC/.build-release/release/pare
NEW=.build-release/release/pare
GGUF=${PARE_CACHE:-$HOME/.cache/pare}/SmolLM2-135M-Instruct.Q4_1.gguf

train()   { "$1" bench train --model random:smollm2-135m --batch 4 --seq 256 --threads 2 --steps 5 --warmup 2 --precision "$PRECISION" 2>&1 | grep -o 'median step [0-9.]* s: [0-9.]* tokens/s' | awk '{print $5}'; }
distill() { "$1" bench distill --teacher random:smollm2-135m --batch 4 --seq 256 --threads 2 --steps 5 --warmup 2 --precision "$PRECISION" 2>&1 | grep -o 'median step [0-9.]* s: [0-9.]* tokens/s' | awk '{print $5}'; }
decode()  { "$1" generate --model "$GGUF" --chat --prompt "What is the capital of France?" --max-new-tokens 128 --ignore-eos --threads 2 2>&1 >/dev/null | sed -nE 's/.*decode ([0-9.]+) tokens\/s.*/\1/p'; }
median()  { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for what in train distill decode; do
  o=""; n=""
  for _ in $(seq "$RUNS"); do
    o="$o $($what "$OLD")"; n="$n $($what "$NEW")"
  done
  mo=$(echo $o | median); mn=$(echo $n | median)
  printf '%-8s before: %s  after: %s  (tokens/s, runs:%s |%s)  after/before = %s\n' "$what" "$mo" "$mn" "$o" "$n" \
    "$(awk -v a="$mn" -v b="$mo" 'BEGIN { printf "%.3f", a / b }')"
done
