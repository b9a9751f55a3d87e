"""nbval runs every notebook at ``smoke`` (``.ci/pytest.sh``); here each notebook's kernel gets a run
store of its own, and after its last cell the store must hold nothing outside the chapter's plan
(:func:`autoscale.experiments.plans.chapter_configs` and ``chapter_searches``): a chapter trains
exactly what its plan declares, so ``records status`` and ``records train`` see everything the book
trains. The check costs no second execution of the notebooks.

Where the results root already holds the book at ``smoke`` (``.ci/pytest.sh`` trains it once with
``records train``, two runs at a time), each chapter's store starts with its own plan's runs copied
from it (:func:`autoscale.experiments.plan_copy.copy_chapter_plan`): a run outside the plan is
still trained and found, and the runs chapters share are not trained once per chapter."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_ROOTS: dict[Path, Path] = {}


def _notebook(item: pytest.Item) -> Path | None:
    path = Path(str(item.fspath))
    return path if path.suffix == ".ipynb" else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the notebook's kernel starts (nbval starts it when its first cell is set up)."""
    notebook = _notebook(item)
    if notebook is None or notebook in _ROOTS:
        return
    from autoscale.experiments.plan_copy import copy_chapter_plan
    from autoscale.experiments.store import RunStore

    base = Path(os.environ.get("AUTOSCALE_BASE_RESULTS_ROOT") or os.environ.get("AUTOSCALE_RESULTS_ROOT") or "")
    if not base.parts:
        base = Path(tempfile.mkdtemp(prefix="autoscale-results-"))
    os.environ.setdefault("AUTOSCALE_BASE_RESULTS_ROOT", str(base))
    _ROOTS[notebook] = base / f"chapter-{notebook.stem}"
    copy_chapter_plan(notebook.stem, "smoke", RunStore(base), RunStore(_ROOTS[notebook]))
    os.environ["AUTOSCALE_RESULTS_ROOT"] = str(_ROOTS[notebook])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After the notebook's last cell has been torn down (its kernel stopped), check its store."""
    result = yield
    notebook = _notebook(item)
    if notebook is not None and (nextitem is None or _notebook(nextitem) != notebook):
        os.environ["AUTOSCALE_RESULTS_ROOT"] = os.environ["AUTOSCALE_BASE_RESULTS_ROOT"]
        outside_plan(notebook.stem, _ROOTS[notebook])
    return result


def outside_plan(chapter: str, root: Path) -> None:
    from autoscale.experiments.plans import outside_chapter_plan
    from autoscale.experiments.store import RunStore

    extra = outside_chapter_plan(chapter, "smoke", RunStore(root))
    if extra:
        pytest.fail(f"notebook {chapter} trained {' and '.join(extra)} outside its chapter's plan", pytrace=False)
