#!/usr/bin/env bash
# Side by side, one machine, one run: turning the bundled corpus's train split (JSONL) into
# token ids with 2 threads — `pare data tokenize --workers 2` (reading the JSONL, tokenizing,
# writing .bin/.idx) against Hugging Face `tokenizers`' encode_batch with 2 threads
# (tokenizing only, texts already in memory). Best of 3 each.
#
#   benchmarks/tokenize_dataset.sh
# Needs the reference venv (scripts/setup --reference).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
GGUF=${PARE_CACHE:-$HOME/.cache/pare}/SmolLM2-135M-Instruct.Q4_1.gguf
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
swift build -c release --product pare --scratch-path .build-release >/dev/null
P=.build-release/release/pare
$P data prepare --output "$W" >/dev/null
best=0
for i in 1 2 3; do
  r=$($P data tokenize --input "$W/train.jsonl" --tokenizer "$GGUF" --output-prefix "$W/t$i" --append-eod --workers 2 2>/dev/null | sed -E 's/.* = ([0-9.]+) MB\/s.*/\1/')
  echo "pare run $i: $r MB/s"
  best=$(awk -v a="$best" -v b="$r" 'BEGIN{print (b > a) ? b : a}')
done
h=$(RAYON_NUM_THREADS=2 "$PY" - "$W/train.jsonl" <<'PYEOF'
import json, os, sys, time
sys.path.insert(0, "scripts")
from tokenizer_reference import build_tokenizers
_, tok, _ = build_tokenizers()
texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
size = sum(len(t.encode()) for t in texts)
best = min((lambda t0: (tok.encode_batch(texts, add_special_tokens=False), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
print(f"{size / best / 1e6:.2f}")
PYEOF
)
echo "tokenizers encode_batch (2 threads): $h MB/s"
echo "Pare $best MB/s, tokenizers $h MB/s: Pare/tokenizers = $(awk -v a="$best" -v b="$h" 'BEGIN{printf "%.2f", a/b}')x"
