"""The prompts scripts/check_llamacpp.py compares logits on, shared with scripts/fp32_noise.py
(which measures how far fp32 itself is from fp64 on them)."""
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village at the edge of a great forest, there lived an old "
    "woman who knew the names of every bird and tree, and the children came to her each evening.",
    "On 2024-03-15, invoice #4471 totalled $1,299.99 (incl. 20% VAT); see p. 7, items 3-12!",
]
