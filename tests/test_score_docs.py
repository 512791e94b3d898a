"""docs/score.md runs as written."""

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "score.md"


def test_score_tutorial_runs(capsys):
    pytest.importorskip("torch")
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 5
    namespace = {}
    for block in blocks:  # one namespace: the page is one session
        exec(compile(block, str(PAGE.name), "exec"), namespace)
