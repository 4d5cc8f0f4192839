#!/usr/bin/env bash
# Side by side, one machine, one run: tokenizing the whole bundled corpus (10,033 Wikipedia
# summaries, ~5 MB) with Pare's tokenizer and with Hugging Face `tokenizers` built from the
# same GGUF vocabulary and merges (scripts/tokenizer_reference.py). Best of 3 passes each.
#
#   benchmarks/tokenizer.sh
# Needs the reference venv: scripts/setup --reference.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
GGUF=${PARE_CACHE:-$HOME/.cache/pare}/SmolLM2-135M-Instruct.Q4_1.gguf
swift build -c release --product pare --scratch-path .build-release >/dev/null
p=$(.build-release/release/pare bench tokenizer --model "$GGUF" | tail -1); echo "$p"
h=$("$PY" scripts/tokenizer_reference.py bench --threads 2 2>&1 | grep -E "^tokenizers (single|batch)"); echo "$h"
pm=$(echo "$p" | sed -E 's/.*: ([0-9.]+) MB\/s.*/\1/')
hs=$(echo "$h" | grep single | sed -E 's/.*: ([0-9.]+) MB\/s.*/\1/')
echo "single-thread: Pare $pm MB/s, tokenizers $hs MB/s: Pare/tokenizers = $(awk -v a="$pm" -v b="$hs" 'BEGIN{printf "%.2f", a/b}')x"
