"""The docs are tested: every ```json block in docs/api.md is valid JSON."""

import json
import os
import re

from helpers import REPO

DOC = os.path.join(REPO, "docs", "api.md")
BLOCK = re.compile(r"^```json[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def json_blocks():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return [(text[:m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_api_doc_has_json_examples():
    assert len(json_blocks()) >= 3


def test_every_json_block_parses():
    bad = []
    for line, block in json_blocks():
        try:
            json.loads(block)
        except ValueError as e:
            bad.append(f"docs/api.md:{line}: {e}\n{block}")
    assert not bad, "JSON code blocks that do not parse:\n" + "\n".join(bad)
