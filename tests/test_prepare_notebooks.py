"""book/prepare_notebooks.py on a tiny executed notebook: code input hidden everywhere, the two
parameters cells replaced by one sentence with papermill's values, idempotent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "book" / "prepare_notebooks.py"


@pytest.fixture(scope="module")
def prep() -> ModuleType:
    """The script as a module (book/ is not a package)."""
    spec = importlib.util.spec_from_file_location("prepare_notebooks", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cell(kind: str, source: str | list[str], tags: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"cell_type": kind, "id": f"c{abs(hash(str(source)))}", "metadata": {}, "source": source}
    if tags is not None:
        out["metadata"]["tags"] = tags
    if kind == "code":
        out |= {"outputs": [], "execution_count": 1}
    return out


def executed() -> dict[str, Any]:
    """A notebook as papermill writes it: title, defaults, injected values, imports, a result."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            cell("markdown", "# Title"),
            cell(
                "code", ['profile = "smoke"   # smoke | cpu\n', 'device = "cpu"\n', "force = False\n"], ["parameters"]
            ),
            cell("code", '# Parameters\nprofile = "cpu"\ndevice = "cuda"\n', ["injected-parameters"]),
            cell("code", "import pandas as pd"),
            cell("markdown", "Text."),
            cell("code", "pd.DataFrame()", ["hide-output"]),
        ],
    }


def test_parameters_become_one_sentence_with_the_injected_values(prep: ModuleType) -> None:
    notebook = executed()
    out = prep.prepare(notebook)
    kinds = [c["cell_type"] for c in out["cells"]]
    assert kinds == ["markdown", "markdown", "code", "markdown", "code"]
    sentence = out["cells"][1]
    assert sentence["source"] == "Built at profile `cpu` on device `cuda`, with `force = False`."
    assert sentence["id"] == prep.SENTENCE_ID
    assert not any("parameters" in " ".join(c["metadata"].get("tags", [])) for c in out["cells"])
    assert notebook == executed()  # the input is not modified


def test_every_code_cell_is_hidden_once_and_keeps_its_tags(prep: ModuleType) -> None:
    out = prep.prepare(executed())
    code = [c for c in out["cells"] if c["cell_type"] == "code"]
    assert [c["metadata"]["tags"] for c in code] == [["hide-input"], ["hide-output", "hide-input"]]
    assert all("hide-input" not in c["metadata"].get("tags", []) for c in out["cells"] if c["cell_type"] != "code")


def test_prepare_is_idempotent_and_survives_the_file_round_trip(prep: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps(executed()))
    assert prep.main([str(path)]) == 0
    once = json.loads(path.read_text())
    assert prep.main([str(path)]) == 0
    assert json.loads(path.read_text()) == once == prep.prepare(executed(), "page")


def test_defaults_alone_and_sentences_without_profile(prep: ModuleType) -> None:
    notebook = executed()
    del notebook["cells"][2]  # run without papermill's -p: the defaults are the values
    out = prep.prepare(notebook)
    assert out["cells"][1]["source"] == "Built at profile `smoke` on device `cpu`, with `force = False`."
    assert prep.parameters_sentence({"seed": 3}) == "Built with `seed = 3`."
    assert prep.parameters_sentence({"profile": "full"}) == "Built at profile `full`."


def test_a_parameters_cell_that_is_not_assignments_is_an_error(prep: ModuleType) -> None:
    with pytest.raises(ValueError, match="name = value"):
        prep.parameter_values("import os\nprofile = 'cpu'")
    with pytest.raises(ValueError):
        prep.parameter_values("profile = os.environ['P']")  # not a literal


def test_the_page_says_how_to_reproduce_it_with_its_values(prep: ModuleType) -> None:
    sentence = prep.prepare(executed(), "main_results")["cells"][1]["source"]
    first, box = sentence.split("\n\n")
    assert first == "Built at profile `cpu` on device `cuda`, with `force = False`."
    assert box.startswith(":::{admonition} Reproduce this page\n:class: tip\n") and box.endswith("\n:::")
    assert "`.venv/bin/papermill notebooks/main_results.ipynb main_results.ipynb -p profile cpu -p device cuda`" in box
    assert "`make book PROFILE=cpu DEVICE=cuda`" in box and "results/cpu/" in box


def test_the_answer_cells_are_copied_for_the_introduction(prep: ModuleType) -> None:
    figure = {"output_type": "display_data", "data": {"text/html": ["<div>\n", "\n", "<img src='x'>\n", "</div>"]}}
    findings = {"output_type": "display_data", "data": {"text/markdown": "Of 3 claims: 3 partly."}}
    notebook = {
        "cells": [
            cell("markdown", "# Verdict"),
            cell("code", "table", ["answer"]) | {"outputs": [figure]},
            cell("markdown", "Caption.", ["answer"]),
            cell("code", "findings", ["answer"]) | {"outputs": [findings]},
            cell("code", "other") | {"outputs": [findings]},
        ]
    }
    # The HTML stays one block (no blank line inside), then the caption and the findings, in order.
    html = "<div class=\"cell_output\"><div>\n<img src='x'>\n</div></div>"
    assert prep.answer_markdown(notebook) == f"{html}\n\nCaption.\n\nOf 3 claims: 3 partly.\n"
    notebook["cells"][1]["outputs"] = []
    with pytest.raises(ValueError, match="no HTML or Markdown output"):
        prep.answer_markdown(notebook)
    with pytest.raises(ValueError, match="no cell of the notebook is tagged"):
        prep.answer_markdown({"cells": [cell("markdown", "x")]})
