#!/usr/bin/env python3
"""Whether transformers' tokenizer for a model folder starts a text with BOS, once: the check
for the tokenizer.json post-processor Pare writes (Llama 3's and Gemma's tokenizers add BOS,
SmolLM2's and Qwen2's do not).

  scripts/setup --reference   (the venv /tmp/pare-ref, pins in scripts/reference-requirements.txt)
  /tmp/pare-ref/bin/python scripts/hf_tokenizer_bos.py DIR --expect yes|no

A Llama 3 folder: `PARE_KEEP=1 swift test --filter testLlama3AddsBOSThroughItsPostProcessor`
prints the folders it wrote. Exits 1 when the encoding of a text is not [BOS] + its tokens
(--expect yes) or not its tokens alone (--expect no).
"""
import argparse
import sys

import transformers
from transformers import AutoTokenizer


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("--expect", choices=["yes", "no"], required=True)
    a = p.parse_args()
    tok = AutoTokenizer.from_pretrained(a.folder)
    text = "Hello world, the year 2024."
    plain = tok.encode(text, add_special_tokens=False)
    ids = tok(text)["input_ids"]
    want = ([tok.bos_token_id] + plain) if a.expect == "yes" else plain
    print(f"transformers {transformers.__version__}, {type(tok).__name__}: bos {tok.bos_token!r} ({tok.bos_token_id}), "
          f"ids {ids[:4]}… ({len(ids)}), expected {'BOS first' if a.expect == 'yes' else 'no BOS'}: "
          f"{'ok' if ids == want else 'DIFFERENT'}")
    sys.exit(0 if ids == want else 1)


if __name__ == "__main__":
    main()
