"""Make the executed notebooks (book/notebooks/, written by papermill) read as book pages, without
touching the source notebooks: run by `make book` between papermill and jupyter-book.

- Every code cell gets Jupyter Book's ``hide-input`` tag: the page shows the outputs, and the code
  stays one click away ("Show code cell source").
- The two parameters cells (the notebook's defaults, tagged ``parameters``, and papermill's
  ``injected-parameters``) become one Markdown sentence stating the values the page was built with,
  read from the cells themselves (papermill's injected values override the defaults), followed by a
  "reproduce this page" box with the exact commands for those values.
- The verdict chapter's cells tagged ``answer`` (its compact verdict table, the figure of AutoScale
  against the rows it is compared with first, the findings) are copied to ``book/generated/answer.md``,
  which the introduction includes: the book's first screen states what was found, computed by the
  same cells as the chapter.

Usage: ``python book/prepare_notebooks.py [NOTEBOOK ...]`` (default: every book/notebooks/*.ipynb).
Running it again on a prepared notebook changes nothing.
"""

from __future__ import annotations

import ast
import copy
import json
import sys
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
ANSWER = Path(__file__).resolve().parent / "generated" / "answer.md"
ANSWER_NOTEBOOK = "verdict"
ANSWER_TAG = "answer"
PARAMETER_TAGS = ("parameters", "injected-parameters")
HIDE_INPUT = "hide-input"
#: The id of the sentence's cell (nbformat 4.5 cells need one).
SENTENCE_ID = "built-with"


def _source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (on disk it is a list of lines; in memory often a string)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _tags(cell: dict[str, Any]) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def parameter_values(source: str) -> dict[str, Any]:
    """The ``name = literal`` assignments of a parameters cell, in order. Papermill injects only
    literals; anything else is an error here rather than a sentence that misstates the page."""
    values: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"a parameters cell holds something other than 'name = value': {ast.unparse(node)!r}")
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def parameters_sentence(values: dict[str, Any]) -> str:
    """One Markdown sentence for the page's parameters: "Built at profile `cpu` on device `cpu`,
    with `force = False`." (profile and device in words, any other parameter as an assignment)."""
    rest = {k: v for k, v in values.items() if k not in ("profile", "device")}
    words = ["Built"]
    if "profile" in values:
        words.append(f"at profile `{values['profile']}`")
    if "device" in values:
        words.append(f"on device `{values['device']}`")
    sentence = " ".join(words)
    if rest:
        assignments = ", ".join(f"`{name} = {value!r}`" for name, value in rest.items())
        sentence += f"{',' if len(words) > 1 else ''} with {assignments}"
    return sentence + "."


def reproduce_box(name: str, values: dict[str, Any]) -> str:
    """A MyST tip box with the commands that rebuild page ``name`` (the notebook's stem) with
    ``values``: this page alone with papermill, and the whole book with make."""
    flags = "".join(f" -p {key} {values[key]}" for key in ("profile", "device") if key in values)
    make = "".join(f" {key.upper()}={values[key]}" for key in ("profile", "device") if key in values)
    stored = f" (runs already in `results/{values['profile']}/` are read, not retrained)" if "profile" in values else ""
    return (
        ":::{admonition} Reproduce this page\n:class: tip\n"
        "From the repository root, after `make setup`: "
        f"`.venv/bin/papermill notebooks/{name}.ipynb {name}.ipynb{flags}`{stored}; "
        f"the whole book: `make book{make}`.\n:::"
    )


def prepare(notebook: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """A copy of an executed notebook with every code cell's input hidden and its parameters cells
    replaced by :func:`parameters_sentence` at the place of the first of them, followed by
    :func:`reproduce_box` when the notebook's ``name`` is given. A notebook without parameters cells
    (already prepared) keeps its cells."""
    out = copy.deepcopy(notebook)
    cells = out["cells"]
    positions = [i for i, cell in enumerate(cells) if any(tag in _tags(cell) for tag in PARAMETER_TAGS)]
    if positions:
        values: dict[str, Any] = {}
        # The defaults first, then papermill's values over them.
        for cell in sorted((cells[i] for i in positions), key=lambda c: "injected-parameters" in _tags(c)):
            values.update(parameter_values(_source(cell)))
        sentence = {
            "cell_type": "markdown",
            "id": SENTENCE_ID,
            "metadata": {},
            "source": parameters_sentence(values) + (f"\n\n{reproduce_box(name, values)}" if name else ""),
        }
        cells[positions[0]] = sentence
        for i in reversed(positions[1:]):
            del cells[i]
    for cell in cells:
        if cell["cell_type"] == "code":
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if HIDE_INPUT not in tags:
                tags.append(HIDE_INPUT)
    return out


def _output_markdown(output: dict[str, Any]) -> str | None:
    data = output.get("data", {})
    if "text/html" in data:
        # A CommonMark HTML block ends at a blank line: keep the HTML in one block.
        # The wrapper gives tables and figures the look the chapters' outputs have (tables.css).
        lines = _source({"source": data["text/html"]}).splitlines()
        return '<div class="cell_output">' + "\n".join(line for line in lines if line.strip()) + "</div>"
    if "text/markdown" in data:
        return _source({"source": data["text/markdown"]})
    return None


def answer_markdown(notebook: dict[str, Any]) -> str:
    """The Markdown of the executed notebook's cells tagged ``answer``, in order: a Markdown cell's
    source, a code cell's HTML or Markdown outputs. Raises if no cell is tagged or a tagged code cell
    has no such output (the introduction would lose its answer without saying so)."""
    parts = []
    tagged = [cell for cell in notebook["cells"] if ANSWER_TAG in _tags(cell)]
    if not tagged:
        raise ValueError(f"no cell of the notebook is tagged {ANSWER_TAG!r}")
    for cell in tagged:
        if cell["cell_type"] == "markdown":
            parts.append(_source(cell).strip())
            continue
        shown = [text for text in map(_output_markdown, cell.get("outputs", [])) if text]
        if not shown:
            raise ValueError(f"the cell {cell.get('id')!r} tagged {ANSWER_TAG!r} has no HTML or Markdown output")
        parts += shown
    return "\n\n".join(parts) + "\n"


def main(paths: list[str]) -> int:
    """Prepare the given executed notebooks in place (default: all of book/notebooks/)."""
    files = [Path(p) for p in paths] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not files:
        print(f"error: no executed notebooks in {NOTEBOOKS}; run papermill first (make book)")
        return 1
    for path in files:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        prepared = prepare(notebook, path.stem)
        path.write_text(json.dumps(prepared, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if path.stem == ANSWER_NOTEBOOK:
            ANSWER.parent.mkdir(exist_ok=True)
            ANSWER.write_text(answer_markdown(notebook), encoding="utf-8")
            print(f"{ANSWER}: the verdict chapter's answer, for the introduction")
    print(f"prepared {len(files)} notebook(s): code hidden, parameters as one sentence with a reproduce box")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
