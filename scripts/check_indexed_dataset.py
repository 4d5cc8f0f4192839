#!/usr/bin/env python3
"""Checks a Pare-written Megatron indexed dataset with Megatron-LM's own reader.

Opens PREFIX_text_document.{bin,idx} with megatron.core.datasets.indexed_dataset.IndexedDataset
(megatron-core==0.16.1, pinned in scripts/reference-requirements.txt) and compares every
document's ids with HF `tokenizers` (built from the GGUF exactly as tokenizer_reference.py
does) run on the JSONL the dataset was made from, plus the EOD id when --append-eod was used.

  /tmp/pare-ref/bin/python scripts/check_indexed_dataset.py INPUT.jsonl PREFIX [--append-eod]
Exits 1 on any difference.
"""
import argparse, json, os, sys, time, warnings

sys.path.insert(0, os.path.dirname(__file__))
from tokenizer_reference import build_tokenizers  # noqa: E402
# megatron.core's package import pulls in its optimizers, which warn (four times) that the GPU-only
# Transformer Engine and Apex are absent; the dataset reader does not use either.
warnings.filterwarnings("ignore", message="Transformer Engine and Apex are not installed")
from megatron.core.datasets.indexed_dataset import IndexedDataset  # noqa: E402

EOD = 2  # the GGUF's eos_token_id (<|im_end|>)

p = argparse.ArgumentParser()
p.add_argument("jsonl")
p.add_argument("prefix", help="PREFIX or PREFIX_text_document")
p.add_argument("--append-eod", action="store_true")
p.add_argument("--json-key", default="text")
a = p.parse_args()

prefix = a.prefix if a.prefix.endswith("_text_document") else a.prefix + "_text_document"
ds = IndexedDataset(prefix)
_, tok, _ = build_tokenizers()
with open(a.jsonl, encoding="utf-8") as f:
    texts = [json.loads(line)[a.json_key] for line in f if line.strip()]
t0 = time.time()
encoded = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
expected = [ids + ([EOD] if a.append_eod else []) for ids in encoded if ids]
print(f"megatron IndexedDataset: {len(ds)} sequences, {ds.sequence_lengths.sum()} tokens, dtype {ds.index.dtype.__name__}; "
      f"document_indices {len(ds.document_indices)} entries")
print(f"reference: {len(texts)} documents ({len(texts) - len(expected)} empty), {sum(map(len, expected))} tokens "
      f"({time.time() - t0:.1f} s)")
bad = 0
if len(ds) != len(expected):
    print(f"MISMATCH: {len(ds)} sequences vs {len(expected)} documents"); bad += 1
for i, want in enumerate(expected[:len(ds)]):
    got = ds[i].tolist()
    if got != want:
        bad += 1
        if bad <= 5:
            print(f"document {i} differs: got {got[:20]}... want {want[:20]}...")
if list(ds.document_indices) != list(range(len(ds) + 1)):
    print("MISMATCH: document_indices is not 0..S"); bad += 1
print("RESULT:", "OK, every document identical" if bad == 0 else f"{bad} differences")
sys.exit(1 if bad else 0)
