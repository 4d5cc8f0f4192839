#!/usr/bin/env bash
# Side by side, one machine, one run: batch-1 greedy decoding of the bundled SmolLM2-135M
# teacher in fp32 — Pare (`pare generate`, KV cache) against transformers (`generate`, KV
# cache), the same chat prompt, a fixed number of new tokens (EOS ignored), 2 threads.
# Decode tokens/s counts the tokens after the first, over the time after prefill.
#
#   benchmarks/decode.sh [NEW_TOKENS]
# Needs the reference venv: scripts/setup --reference.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-128}
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
GGUF=${PARE_CACHE:-$HOME/.cache/pare}/SmolLM2-135M-Instruct.Q4_1.gguf
swift build -c release --product pare --scratch-path .build-release >/dev/null
pare_line=""
for run in 1 2 3; do   # median of 3, as for transformers: the machine is shared
  l=$(.build-release/release/pare generate --model "$GGUF" --chat --prompt "What is the capital of France?" \
        --max-new-tokens "$N" --ignore-eos --threads 2 2>&1 >/dev/null | grep decode)
  echo "pare run $run: $l"
  pare_line="$pare_line $(echo "$l" | sed -E 's/.*decode ([0-9.]+) tokens\/s.*/\1/')"
done
pare_best=$(echo $pare_line | tr ' ' '\n' | sort -g | sed -n 2p)   # the median
torch_out=$("$PY" scripts/teacher_reference.py --threads 2 generate --max-new-tokens "$N" 2>&1 | grep -v -i warn)
echo "$torch_out" | grep -E "fixed|answer \("
torch_rate=$(echo "$torch_out" | grep '^{' | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["decode_tokens_per_s"])')
echo "Pare $pare_best tokens/s, transformers $torch_rate tokens/s: Pare/transformers = $(awk -v a="$pare_best" -v b="$torch_rate" 'BEGIN{printf "%.2f", a/b}')x"
