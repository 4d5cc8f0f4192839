#!/usr/bin/env python3
"""Renders the chat templates in Tests/PareFormatsTests/Fixtures/chat-templates/ with transformers'
own renderer (render_jinja_template, the function behind apply_chat_template: its sandboxed Jinja
environment with trim_blocks, lstrip_blocks, its tojson and raise_exception) and writes what each
conversation renders to, or the template's error, to expected.json beside them. Pare's renderer
(Tests/PareFormatsTests/ChatTemplateTests.swift) must give the same text, character for character.

Run in the reference venv (scripts/setup --reference):
  /tmp/pare-ref/bin/python scripts/chat_template_reference.py
"""
import json
import os

import jinja2
import transformers
from transformers.utils.chat_template_utils import render_jinja_template

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PareFormatsTests", "Fixtures", "chat-templates")

# The special tokens each model's tokenizer_config.json gives the template.
TOKENS = {
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "qwen2.5": (None, "<|im_end|>"),
    "llama3.2": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistral-v0.3": ("<s>", "</s>"),
    "gemma3": ("<bos>", "<eos>"),
}

CONVERSATIONS = {
    "user": [{"role": "user", "content": "What is the capital of France?"}],
    "system+user": [{"role": "system", "content": "You answer in one word."},
                    {"role": "user", "content": "What is the capital of France?"}],
    "multi-turn": [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello. How can I help?"},
                   {"role": "user", "content": "Name a prime."}],
    "system+multi-turn": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"},
                          {"role": "assistant", "content": "  Hello.  "}, {"role": "user", "content": "Bye."}],
    "whitespace-quotes-unicode": [{"role": "user", "content": "  Say \"naïve\" — it's {{ not }} code {% x %}\n\ttabbed\n  "}],
    "two-users": [{"role": "user", "content": "One."}, {"role": "user", "content": "Two."}],
    "assistant-first": [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "Then me."}],
}


def main():
    cases = []
    for name in sorted(TOKENS):
        template = open(os.path.join(HERE, name + ".jinja"), encoding="utf-8").read()
        bos, eos = TOKENS[name]
        for conv_name, messages in CONVERSATIONS.items():
            for generation in (True, False):
                extra = {"date_string": "26 Jul 2024"} if name.startswith("llama") else {}
                kwargs = dict(extra)
                if bos is not None:
                    kwargs["bos_token"] = bos
                kwargs["eos_token"] = eos
                case = {"template": name, "conversation": conv_name, "messages": messages,
                        "add_generation_prompt": generation, "bos_token": bos, "eos_token": eos, "extra": extra}
                try:
                    out, _ = render_jinja_template(conversations=[messages], chat_template=template,
                                                   add_generation_prompt=generation, **kwargs)
                    case["expected"] = out[0]
                except jinja2.exceptions.TemplateError as e:
                    case["error"] = str(e)
                cases.append(case)
    meta = {"transformers": transformers.__version__, "jinja2": jinja2.__version__}
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump({"made_with": meta, "cases": cases}, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    print(f"{len(cases)} renderings ({sum('error' in c for c in cases)} refused by their template) with {meta}")


if __name__ == "__main__":
    main()
