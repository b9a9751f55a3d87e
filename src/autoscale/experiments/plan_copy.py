"""A chapter's planned runs copied from one run store into another.

The notebooks are checked one by one, each with a run store of its own, so that anything a chapter
trains outside its plan shows (``notebooks/conftest.py``). Trained from scratch, that retrains the
runs several chapters share once per chapter; seeding each chapter's store with exactly its plan,
from the book trained once (``records train``), keeps the check (a run outside the plan is still
trained, and found) without the repeated training.
"""

from __future__ import annotations

import shutil

from autoscale.experiments import records
from autoscale.experiments.pbt import result_path
from autoscale.experiments.plans import chapter_configs, chapter_searches
from autoscale.experiments.store import RunStore


def copy_chapter_plan(chapter: str, profile: str, source: RunStore, target: RunStore, device: str = "cpu") -> int:
    """Copy the records and PBT search results of ``chapter``'s plan at ``profile`` that ``source``
    holds into ``target`` (files byte for byte, then ``target``'s manifest rebuilt); returns how
    many files were copied. The random search's chosen weights are planned as ``source`` resolves
    them (its trials there)."""
    configs = chapter_configs(profile, device, store=source).get(chapter, [])
    searches = chapter_searches(profile, device).get(chapter, [])
    paths = [source.path(c) for c in configs] + [result_path(source, s) for s in searches]
    copied = 0
    for path in dict.fromkeys(paths):
        if path.is_file():
            destination = target.root / path.relative_to(source.root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            copied += 1
    if copied:
        with records.locked(target.manifest_path(profile)):
            target.rebuild_manifest(profile)
    return copied
