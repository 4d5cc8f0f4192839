#!/usr/bin/env python3
"""Reference data for Pare's Swift tokenizer, produced by Hugging Face `tokenizers`.

Pinned versions (scripts/reference-requirements.txt): tokenizers==0.23.3, gguf==0.19.0.
Other versions may tokenize differently or expose a different GGUFReader API; regenerate
the fixtures only with these.

The tokenizer is rebuilt from the SmolLM2 GGUF's vocabulary and merges exactly as
/work/shared/FORMATS.md ("Tokenizer") describes, so the expected ids come from an
independent implementation rather than from Pare itself.

Subcommands:
  golden  JSONL fixture of {"text", "special", "ids"} cases (hand-made edge cases and
          every 50th corpus document) for Tests/PareFormatsTests/Fixtures.
  corpus  {"text", "ids"} for every corpus document (large; goes to /tmp, not the repo).
  bench   tokens/s-style throughput of `tokenizers` over the corpus, the baseline Pare's
          tokenizer is compared against.

Inputs come from $PARE_CACHE (default ~/.cache/pare): SmolLM2-135M-Instruct.Q4_1.gguf and
summaries_en-us.json. Usage:
  /tmp/pare-ref/bin/python scripts/tokenizer_reference.py golden
  /tmp/pare-ref/bin/python scripts/tokenizer_reference.py corpus
  /tmp/pare-ref/bin/python scripts/tokenizer_reference.py bench --threads 2
"""
import argparse
import json
import os
import sys
import time


def _threads_from_argv(argv):
    """The --threads value, read before argparse runs (see the RAYON_NUM_THREADS note below)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return None


# `tokenizers` sizes its rayon thread pool from RAYON_NUM_THREADS when the pool is first
# created, which can happen at import time; setting it after `import tokenizers` has no
# reliable effect. So it is taken from argv here, before the import below.
if _threads_from_argv(sys.argv) is not None:
    os.environ["RAYON_NUM_THREADS"] = _threads_from_argv(sys.argv)
# encode_batch only runs in parallel when this is not "false"; make the intent explicit.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

from gguf import GGUFReader  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CACHE = os.path.expanduser(os.environ.get("PARE_CACHE", "~/.cache/pare"))
GGUF_PATH = os.path.join(CACHE, "SmolLM2-135M-Instruct.Q4_1.gguf")
CORPUS_PATH = os.path.join(CACHE, "summaries_en-us.json")

CONTROL_TOKEN_TYPE = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL

# Ground truth from FORMATS.md; if this fails, the reconstruction is wrong and nothing
# written by this script can be trusted.
KNOWN_TEXT = "Hello world! The year 2024 had 366 days."
KNOWN_IDS = [19556, 905, 17, 378, 713, 216, 34, 32, 34, 36, 761, 216, 35, 38, 38, 2009, 30]

GOLDEN_CORPUS_STRIDE = 50


# ---------------------------------------------------------------------------------------------
# Tokenizer construction


def _string_array(reader, key):
    field = reader.fields[key]
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def _int_array(reader, key):
    field = reader.fields[key]
    return [int(field.parts[i][0]) for i in field.data]


def read_gguf_tokenizer(path=GGUF_PATH):
    """(tokens, merges, token_types) from the GGUF's tokenizer.ggml.* metadata."""
    reader = GGUFReader(path, "r")
    tokens = _string_array(reader, "tokenizer.ggml.tokens")
    merges = _string_array(reader, "tokenizer.ggml.merges")
    types = _int_array(reader, "tokenizer.ggml.token_type")
    assert len(tokens) == 49152 and len(types) == len(tokens), (len(tokens), len(types))
    assert len(merges) == 48900, len(merges)
    return tokens, merges, types


def build_tokenizers(path=GGUF_PATH):
    """(special_on, special_off): identical except that only special_on matches control tokens.

    With special_off, text such as "<|im_end|>" is tokenized as ordinary characters, which
    is what Pare does when special-token parsing is disabled (e.g. for untrusted data).
    """
    tokens, merges, types = read_gguf_tokenizer(path)
    vocab = {tok: i for i, tok in enumerate(tokens)}
    assert len(vocab) == len(tokens), "duplicate vocabulary strings"

    merge_pairs = []
    for m in merges:
        # Byte-level symbols never contain a literal space (space is 'Ġ'), so one split is exact.
        parts = m.split(" ")
        assert len(parts) == 2, repr(m)
        merge_pairs.append((parts[0], parts[1]))

    control = [tok for tok, t in zip(tokens, types) if t == CONTROL_TOKEN_TYPE]
    assert [vocab[t] for t in control] == list(range(17)), "control tokens expected at ids 0-16"

    def make():
        # unk_token=None and byte_fallback/fuse_unk False (the defaults, spelled out):
        # a byte symbol missing from the vocabulary is dropped, as in llama.cpp.
        model = models.BPE(vocab, merge_pairs, unk_token=None, fuse_unk=False, byte_fallback=False)
        tok = Tokenizer(model)
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ])
        tok.decoder = decoders.ByteLevel()
        return tok

    special_on, special_off = make(), make()
    special_on.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])

    # Guard against a future `tokenizers` changing these defaults behind our back.
    model_json = json.loads(special_off.to_str())["model"]
    assert model_json["unk_token"] is None and not model_json["byte_fallback"], model_json.keys()
    assert not model_json["fuse_unk"] and not model_json.get("ignore_merges", False)
    assert json.loads(special_off.to_str())["normalizer"] is None
    assert special_off.get_added_tokens_decoder() == {}
    # Added tokens must reuse the vocabulary ids rather than get new ones appended.
    for t in control:
        assert special_on.token_to_id(t) == vocab[t], t

    for tok in (special_on, special_off):
        got = tok.encode(KNOWN_TEXT, add_special_tokens=False).ids
        assert got == KNOWN_IDS, got
    return special_on, special_off, control


# ---------------------------------------------------------------------------------------------
# Corpus


def document_text(entry):
    """The text of one corpus document. Pare's tests and benchmarks must use the same definition."""
    return entry["title"] + "\n" + entry["extract"]


def load_corpus(path=CORPUS_PATH):
    """Document texts in file order (json preserves object key order)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [document_text(v) for v in data.values()]


def jsonl_line(obj):
    # Raw UTF-8 keeps the fixture small and readable, but U+0085/U+2028/U+2029 are escaped
    # (and U+FEFF, which Foundation's JSON parser on Linux drops when it appears raw):
    # they are line separators to some line splitters (e.g. Swift's .newlines), which would
    # otherwise cut a record in half. JSON escapes C0 controls (incl. \n, \r) itself.
    s = json.dumps(obj, ensure_ascii=False)
    return (s.replace("\u0085", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            .replace("\ufeff", "\\ufeff"))


# ---------------------------------------------------------------------------------------------
# golden


def nasty_strings():
    """Hand-made edge cases, chosen for where byte-level BPE implementations usually diverge:
    whitespace handling around the regex's lookahead, contractions, \\p{N} vs ASCII digits,
    non-ASCII whitespace, astral characters, and control-token matching."""
    s = [
        # Whitespace: the `\s+(?!\S)` branch leaves the last space to attach to the next word.
        "", " ", "  ", "   ", " " * 17, "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r", "\r\n\r\n",
        "a  b", "a   b", "a \n\n b", "a\n\nb", "a\n \nb", "   leading", "trailing   ", "trailing\n",
        " \t \n x", "x\t\t\ty", "x \t y", "word ", " word", "  word  ", "\n word", "a\u000bb", "a\u000cb",
        "a\u00a0b", "a\u00a0\u00a0 b", "a\u3000b", "a\u2028b", "a\u2029b", "a\u0085b", "a\u2003\u2009b",
        "end with tab\t", "end with newline and spaces\n   ",
        # Contractions: the regex is case-sensitive, so uppercase forms split differently.
        "don't", "DON'T", "I'm", "I'M", "we'll", "WE'LL", "she's", "SHE'S", "they're", "THEY'RE",
        "I've", "I'd", "'s", "''", "'", "' s", "it''s", "rock 'n' roll", "o'clock", "’s curly",
        "can't won't shan't", "'tis 'twas",
        # Digits: every \p{N} character is split off on its own first.
        "2024", "0", "007", "3.14159", "1,000,000", "-42", "+1e-10", "0x1F", "v1.2.3", "12:30pm",
        "٣٤٥", "१२३", "①②", "½", "x²", "H₂O", "Ⅻ", "𝟙𝟚𝟛", "a1b2c3", " 1 2 3 ", "10%",
        # Punctuation runs.
        "!!!", "...", "?!?", "--", "—", "–", "«»", "„quotes“", "¿Qué?", "¡Hola!", "(((", ")]}>",
        "@#$%^&*", "a.b,c;d:e", " . ", "…", "•", "™©®", "€100", "£5.99", "¥", "§1",
        # Letters outside ASCII.
        "café naïve", "e\u0301", "cafe\u0301", "Straße", "STRASSE ß ẞ", "Ελληνικά γράμματα",
        "Привет, мир!", "שלום עולם", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีชาวโลก",
        "你好，世界！", "日本語のテキスト、カタカナ。", "한국어 텍스트", "Tiếng Việt", "ǅemal",
        "İstanbul ı", "Ωmega ω", "ﬁne ﬂow", "Ａｂｃ",
        # Emoji: multi-codepoint sequences must come out as the same bytes.
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "🏳️‍🌈", "❤️", "a😀b", " 😀 😀", "🤖🤖🤖",
        # Odd code points.
        "\u0000", "a\u0000b", "\u007f", "\u0001\u0002\u001f", "\ufeff", "\ufeffBOM", "\ufffd",
        "\u200b", "zero\u200bwidth", "\u200d", "\u2060", "\ue000", "\U000f0000", "\U0010ffff",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𓀀", "\u0300", "x\u0300\u0301\u0302",
        # Code and structured text.
        "def f(x):\n    return x + 1\n", "int main() { return 0; }", "for (i=0;i<10;i++) {}",
        "if x == 1 && y != 2:", "    indented\n\tTabbed", "snake_case camelCase PascalCase",
        "https://example.com/path?q=1&r=two#frag", "mailto:someone@example.org",
        "user.name+tag@example.co.uk", '{"key": [1, 2.5, true, null], "s": "v"}',
        "# Title\n\n- item *bold* _it_ `code`\n\n> quote", "| a | b |\n|---|---|",
        "<div class=\"x\">hi</div>", "C:\\Windows\\System32", "$HOME/.cache && echo ok",
        "a" * 500, "ab" * 40, "supercalifragilisticexpialidocious",
        # Control tokens (also emitted with special=true; see golden()).
        "<|im_start|>user\nhi<|im_end|>\n", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
        "<|im_st", "<|im_start|", "|im_start|>", "<|im_start |>", "<|IM_START|>",
        "<|im_end|><|im_start|>", "<|endoftext|><|endoftext|>", "a<|im_end|>b", " <|im_end|> ",
        "text <|endoftext|>\n\nmore", "<<|im_start|>>", "<|im_start|><|im_start|>assistant",
        "<repo_name>pare<file_sep><filename>main.swift", "<jupyter_code>x = 1<jupyter_output>",
        "<empty_output>", "<issue_start>bug<issue_comment>fix<issue_closed>", "<gh_stars>100",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n",
        # Mixed.
        KNOWN_TEXT, "The quick brown fox jumps over the lazy dog.", "Mixed 中文 and English 123",
    ]
    assert len(s) == len(set(s)), "duplicate hand-made cases"
    return s


def golden(args):
    special_on, special_off, control = build_tokenizers()
    cases = []
    for text in nasty_strings():
        cases.append((text, False))
        # Anything with '<' also runs with control tokens on, so partial or near-miss
        # spellings are checked not to match.
        if "<" in text:
            cases.append((text, True))
    docs = load_corpus()
    for doc in docs[::GOLDEN_CORPUS_STRIDE]:
        cases.append((doc, False))

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for text, special in cases:
            tok = special_on if special else special_off
            ids = tok.encode(text, add_special_tokens=False).ids
            # Byte-level BPE is lossless when every byte symbol is in the vocabulary, so a
            # failed round trip would mean a broken reconstruction, not an interesting case.
            assert tok.decode(ids, skip_special_tokens=False) == text, repr(text)
            f.write(jsonl_line({"text": text, "special": special, "ids": ids}) + "\n")
    n_special = sum(1 for _, sp in cases if sp)
    print(f"wrote {args.out}")
    print(f"cases: {len(cases)} ({len(cases) - n_special} special=false, {n_special} special=true; "
          f"{len(docs[::GOLDEN_CORPUS_STRIDE])} corpus documents)")
    print(f"size: {os.path.getsize(args.out)} bytes")


# ---------------------------------------------------------------------------------------------
# corpus


def corpus(args):
    _, special_off, _ = build_tokenizers()
    docs = load_corpus()
    encodings = special_off.encode_batch(docs, add_special_tokens=False)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    n_bytes = n_tokens = 0
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for text, enc in zip(docs, encodings):
            n_bytes += len(text.encode("utf-8"))
            n_tokens += len(enc.ids)
            f.write(jsonl_line({"text": text, "ids": enc.ids}) + "\n")
    print(f"wrote {args.out}")
    print(f"documents: {len(docs)}")
    print(f"bytes (UTF-8): {n_bytes}")
    print(f"tokens: {n_tokens}")
    print(f"size: {os.path.getsize(args.out)} bytes")


# ---------------------------------------------------------------------------------------------
# bench


def _best_of(n, fn):
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


def bench(args):
    _, special_off, _ = build_tokenizers()
    docs = load_corpus()
    n_bytes = sum(len(d.encode("utf-8")) for d in docs)
    mb = n_bytes / 1e6  # MB = 10^6 bytes

    print(f"corpus: {len(docs)} documents, {n_bytes} bytes (UTF-8); "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}")
    # Note: BPE keeps a per-word cache across calls, so runs after the first are warm; the
    # first run's time is printed too for a cold-cache figure.

    # A Python loop over `encode` never uses more than one thread; the loop's own overhead
    # is small next to the Rust work per document (~500 bytes each).
    def single():
        return sum(len(special_off.encode(d, add_special_tokens=False).ids) for d in docs)

    best, times, n_tokens = _best_of(args.runs, single)
    print(f"tokens total: {n_tokens}")
    print(f"tokenizers single-thread: {mb / best:.2f} MB/s "
          f"(runs: {', '.join(f'{t:.3f}s' for t in times)})")

    def batch():
        return sum(len(e.ids) for e in special_off.encode_batch(docs, add_special_tokens=False))

    best, times, n_tokens_batch = _best_of(args.runs, batch)
    assert n_tokens_batch == n_tokens
    print(f"tokenizers batch ({args.threads} threads): {mb / best:.2f} MB/s "
          f"(runs: {', '.join(f'{t:.3f}s' for t in times)})")


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("golden", help="write the tokenizer golden-case fixture")
    p.add_argument("--out", default=os.path.join(
        REPO, "Tests", "PareFormatsTests", "Fixtures", "tokenizer-golden.jsonl"))
    p.set_defaults(func=golden)

    p = sub.add_parser("corpus", help="write ids for every corpus document")
    p.add_argument("--out", default="/tmp/pare-tok/corpus-ids.jsonl")
    p.set_defaults(func=corpus)

    p = sub.add_parser("bench", help="measure tokenizers throughput over the corpus")
    # Only parsed here for --help and validation; the value is applied at the top of the
    # file, before `tokenizers` is imported.
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.set_defaults(func=bench)

    args = parser.parse_args()
    if args.command == "bench" and _threads_from_argv(sys.argv) is None:
        # Default --threads: too late to set the env var in this process, so re-exec once.
        os.execv(sys.executable, [sys.executable] + sys.argv + ["--threads", str(args.threads)])
    args.func(args)


if __name__ == "__main__":
    main()
