#!/usr/bin/env bash
# Side by side, one machine, one run: tokenizing the whole bundled corpus (10,033 Wikipedia
# summaries, ~5 MB) with Pare's tokenizer and with Hugging Face `tokenizers` built from the
# same GGUF vocabulary and merges (scripts/tokenizer_reference.py). Best of 3 passes each.
#
#   benchmarks/tokenizer.sh
# Needs the reference venv: scripts/setup --reference (PARE_REF_VENV, default /tmp/pare-ref).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PARE_REF_VENV:-/tmp/pare-ref}/bin/python
GGUF=${PARE_CACHE:-$HOME/.cache/pare}/SmolLM2-135M-Instruct.Q4_1.gguf
swift build -c release --product pare --scratch-path .build-release >/dev/null
if [ -x "$PY" ]; then
  p=$(.build-release/release/pare bench tokenizer --model "$GGUF" | tail -1); echo "$p"
  h=$("$PY" scripts/tokenizer_reference.py bench --threads 2 2>&1 | grep -E "^tokenizers (single|batch)"); echo "$h"
  pm=$(echo "$p" | sed -E 's/.*: ([0-9.]+) MB\/s.*/\1/')
  hs=$(echo "$h" | grep single | sed -E 's/.*: ([0-9.]+) MB\/s.*/\1/')
  echo "single-thread: Pare $pm MB/s, tokenizers $hs MB/s: Pare/tokenizers = $(awk -v a="$pm" -v b="$hs" 'BEGIN{printf "%.2f", a/b}')x"
else
  echo "(SmolLM2 skipped: scripts/setup --reference makes $PY)"
fi

# The other families (scripts/tokenizer_families.py, the same venv's tokenizers/tiktoken): Qwen2
# from its GGUF and Llama 3 from Meta's tokenizer.model, against HF `tokenizers` on the
# tokenizer.json transformers makes of each (and tiktoken for Llama 3), single-threaded; and
# SentencePiece BPE with byte fallback (Gemma 3's vocabulary, tokenizer only).
if [ -x "$PY" ]; then
  C=${PARE_CACHE:-$HOME/.cache/pare}
  for fam in qwen2 llama3 spm; do
    src=$C/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf; [ "$fam" = llama3 ] && src=$C/llama3-tokenizer.model
    [ "$fam" = spm ] && src=$C/gemma-3-270m-q4_k_m.gguf   # SentencePiece byte-fallback vocabulary
    p=$(.build-release/release/pare bench tokenizer --model "$src" | tail -1)
    pm=$(echo "$p" | sed -E 's/.*: ([0-9.]+) MB\/s.*/\1/')
    refs=("$fam"); [ "$fam" = llama3 ] && refs=(llama3-json llama3)
    for r in "${refs[@]}"; do
      h=$("$PY" scripts/tokenizer_families.py bench "$r" 2>/dev/null | tail -1)
      hs=$(echo "$h" | sed -E 's/.*: ([0-9.]+) MB\/s.*/\1/')
      echo "$fam: Pare $pm MB/s vs $h: $(awk -v a="$pm" -v b="$hs" 'BEGIN{printf "%.2f", a/b}')x"
    done
  done
else
  echo "(families skipped: scripts/setup --reference makes $PY)"
fi
