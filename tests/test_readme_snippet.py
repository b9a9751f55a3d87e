"""The README's "Use AutoScale in your own training loop" snippet runs as printed, through both phases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## Use AutoScale in your own training loop"


def snippet() -> str:
    """The first ```python block of the README section under HEADING."""
    text = README.read_text(encoding="utf-8")
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    section = text[start : end if end != -1 else len(text)]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, f"no python code block under {HEADING!r}"
    return match.group(1)


def test_readme_training_loop_runs_both_phases(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "readme_snippet"}
    exec(compile(snippet(), str(README), "exec"), namespace)
    method = namespace["method"]
    assert method.step == namespace["total_steps"] == 200
    assert method.switch_step == 40 and method.phase == "scalarize" and not method.needs_gramian
    assert method.window_weights.shape == (4, 2)  # four exploration windows of 10 steps were solved
    assert method.final_weights.sum().item() == pytest.approx(2.0)
    assert "scalarize from step 40" in capsys.readouterr().out
