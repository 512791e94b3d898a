"""The documentation's examples run as written."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("page", ["quickstart.md", "models.md"])
def test_examples_run(page, capsys):
    blocks = _python_blocks(DOCS / page)
    assert blocks
    for block in blocks:
        exec(compile(block, f"{page}", "exec"), {})
