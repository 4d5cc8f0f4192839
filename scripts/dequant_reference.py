#!/usr/bin/env python3
"""Golden data for Pare's GGUF dequantisers, from gguf-py's reference implementation
(gguf==0.19.0, pinned in scripts/reference-requirements.txt).

For each block type, 4 blocks of random bytes (scale fields set to sane float16 values, so the
outputs are finite) and gguf-py's dequantisation of them, into one safetensors file:
  <TYPE>.bytes (uint8) and <TYPE>.values (float32).

  /tmp/pare-ref/bin/python scripts/dequant_reference.py
"""
import os
import numpy as np
from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES, quants
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "PareFormatsTests", "Fixtures", "dequant-golden.safetensors")
# Byte offsets of the float16 scale fields inside one block (d, and m/dmin where present).
F16_FIELDS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0], T.Q4_K: [0, 2], T.Q6_K: [208]}

rng = np.random.default_rng(7)
tensors = {}
for t, fields in F16_FIELDS.items():
    block_elems, block_bytes = GGML_QUANT_SIZES[t]
    raw = rng.integers(0, 256, size=(4, block_bytes), dtype=np.uint8)
    for off in fields:
        scales = rng.uniform(0.001, 0.05, size=4).astype(np.float16)
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(4, 2)
    values = quants.dequantize(raw.reshape(-1), t).astype(np.float32).reshape(-1)
    assert values.size == 4 * block_elems and np.isfinite(values).all()
    tensors[f"{t.name}.bytes"] = raw.reshape(-1)
    tensors[f"{t.name}.values"] = values
    print(f"{t.name}: {values.size} values, first {values[:3]}")
save_file(tensors, OUT)
print(f"wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)")
