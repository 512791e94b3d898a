"""The examples in docs/ddm.md run as written."""

from __future__ import annotations

import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "ddm.md")


def _blocks():
    with open(DOC, encoding="utf-8") as fh:
        text = fh.read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("i", range(len(_blocks())))
def test_docs_example_runs(i):
    exec(compile(_blocks()[i], f"docs/ddm.md block {i}", "exec"), {})
