"""How the test files are shared between pytest-xdist workers (``-n 2 --dist loadscope``, .ci/pytest.sh):
every test file is one unit, so a notebook's cells run in order in one worker, and the files that start a
local Ray instance are one unit together, so no two Ray instances start at once (on two busy cores a
second one times out at start-up) while the other worker goes on with the rest.

xdist's own ``--dist loadgroup`` would say this with marks, but its grouping renames test ids through an
attribute pytest 9 no longer reads, so the groups are silently ignored; a scheduler that decides the unit
from the test id does not depend on that.
"""

from __future__ import annotations

from typing import Any

import pytest

RAY_FILES = {"tests/test_ray_engine.py", "tests/test_pbt.py", "notebooks/weight_search.ipynb"}


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist, pytest must not reject it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "ray" if path in RAY_FILES else path

    return FileScheduling(config, log)
