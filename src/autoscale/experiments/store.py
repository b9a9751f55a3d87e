"""The run store: one record per run, keyed by the hash of its config."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import autoscale
from autoscale.benchmarks import benchmark_names
from autoscale.experiments import records as record_files
from autoscale.training.config import RunConfig
from autoscale.training.files import atomic_write_bytes
from autoscale.training.paths import results_root


def config_hash(config: RunConfig) -> str:
    """Identity of a run: the config without its labels (device, profile) and the package version."""
    identity = config.to_dict()
    identity.pop("device")
    identity.pop("profile")
    payload = json.dumps({"config": identity, "version": autoscale.__version__}, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def unique_configs(configs: Iterable[RunConfig]) -> list[RunConfig]:
    """``configs`` without repeats (the same run, by :func:`config_hash`), first occurrence kept."""
    seen: dict[str, RunConfig] = {}
    for config in configs:
        seen.setdefault(config_hash(config), config)
    return list(seen.values())


class RecordWarning(UserWarning):
    """A record or checkpoint was damaged and has been moved aside (the message says where)."""


class RunStore:
    """One record per run under ``<root>/<profile>/<benchmark>/<hash>.json`` and a manifest per
    profile (:mod:`autoscale.experiments.records`: compact encoding, fingerprint, sha256).

    Records of the ``cpu`` and ``full`` profiles are committed data. A damaged record (truncated,
    not JSON, a merge-conflict marker, a sha256 that does not match the manifest) is moved to
    ``<root>/<profile>/corrupt/`` with a :class:`RecordWarning` that names it, and the run is
    retrained; a damaged manifest is moved there too and rebuilt from the records. Checkpoints of
    unfinished runs live in ``<root>/checkpoints/`` (never committed) and are removed once the
    record is written.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = results_root(root)

    def path(self, config: RunConfig) -> Path:
        return self.root / config.profile / config.benchmark / f"{config_hash(config)}.json"

    def checkpoint_path(self, config: RunConfig) -> Path:
        return self.root / "checkpoints" / f"{config_hash(config)}.pt"

    def manifest_path(self, profile: str) -> Path:
        return self.root / profile / record_files.MANIFEST

    def record_paths(self, profile: str) -> list[Path]:
        """Every record file of ``profile`` (damaged ones included): the JSON files in folders
        named after a benchmark (not, e.g., the step-time benchmark files under ``bench/``)."""
        benchmark_folders = set(benchmark_names())
        folder = self.root / profile
        return sorted(p for p in folder.glob("*/*.json") if p.parent.name in benchmark_folders)

    def manifest(self, profile: str) -> dict[str, dict]:
        """The profile's manifest entries; a damaged manifest is moved aside and rebuilt."""
        path = self.manifest_path(profile)
        try:
            return record_files.read_manifest(path)
        except record_files.RecordProblem:
            with record_files.locked(path):
                return self._entries(profile)

    def _entries(self, profile: str) -> dict[str, dict]:
        """The manifest's entries, with the manifest lock held: rebuilt if damaged."""
        path = self.manifest_path(profile)
        try:
            return record_files.read_manifest(path)
        except record_files.RecordProblem as err:
            moved = self._move_aside(path)
            warn_record(f"{err.problem}: moved to {moved}; rebuilt from the records of {path.parent}")
            return self.rebuild_manifest(profile)

    def _key(self, path: Path) -> str:
        return f"{path.parent.name}/{path.name}"

    def read(self, path: Path, manifest: Mapping[str, dict] | None = None) -> dict:
        """The record at ``path``, checked (:class:`autoscale.experiments.records.RecordProblem` if damaged)."""
        profile = path.parent.parent.name
        entry = (self.manifest(profile) if manifest is None else manifest).get(self._key(path))
        return self._checked(path, path.read_bytes(), entry and entry["sha256"])

    @staticmethod
    def _checked(path: Path, data: bytes, sha256: str | None) -> dict:
        """:func:`autoscale.experiments.records.check_record`, and that the file holds the run its name says."""
        record = record_files.check_record(path, data, sha256)
        stored_hash = config_hash(RunConfig.from_dict(record["config"]))
        if stored_hash != path.stem:
            raise record_files.RecordProblem(
                path, f"holds the config of run {stored_hash}, not of {path.stem}", "delete it to retrain"
            )
        return record

    def load(self, config: RunConfig) -> dict | None:
        """The checked record of ``config``, or None if absent or damaged (then moved aside)."""
        path = self.path(config)
        if not path.is_file():
            return None
        try:
            return self.read(path)
        except record_files.RecordProblem as err:
            moved = self.quarantine(path)
            warn_record(f"{err}. It was moved to {moved}, and the run ({describe_run(config)}) will be retrained.")
            return None

    def quarantine(self, path: Path) -> Path:
        """Move a damaged record out of the store (and out of the manifest); returns where to."""
        profile = path.parent.parent.name
        with record_files.locked(self.manifest_path(profile)):
            moved = self._move_aside(path)
            entries = self._entries(profile)
            if entries.pop(self._key(path), None) is not None:
                record_files.write_manifest(self.manifest_path(profile), entries)
        return moved

    def _move_aside(self, path: Path) -> Path:
        profile_dir = path.parent if path.name == record_files.MANIFEST else path.parent.parent
        target = profile_dir / "corrupt" / f"{path.stem}.{record_files.now()}{path.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return target

    def save(self, record: dict, wall_seconds: float | None = None) -> Path:
        """Stamp (fingerprint, versions), write compactly and atomically, add to the manifest."""
        config = RunConfig.from_dict(record["config"])
        path = self.path(config)
        stamped = record_files.stamp(record, wall_seconds)
        stamped["config_hash"] = path.stem
        return self.save_encoded(path, stamped, record_files.encode(stamped))

    def save_encoded(self, path: Path, record: dict, data: bytes) -> Path:
        """Write a stamped record already encoded as ``data`` (e.g. brought back from a GPU
        machine) to ``path`` and add it to its profile's manifest."""
        profile = path.parent.parent.name
        with record_files.locked(self.manifest_path(profile)):
            atomic_write_bytes(path, data)
            entries = self._entries(profile)
            entries[self._key(path)] = record_files.manifest_entry(record, data, self._key(path))
            record_files.write_manifest(self.manifest_path(profile), entries)
        return path

    def search_paths(self, profile: str) -> list[Path]:
        """Every PBT search result of ``profile``: ``<benchmark>/pbt/<key>.json``."""
        return sorted((self.root / profile).glob("*/pbt/*.json"))

    def _search_key(self, path: Path) -> str:
        return f"{path.parent.parent.name}/pbt/{path.name}"

    def add_search(self, path: Path, result: dict, data: bytes) -> None:
        """List a PBT search's result file (written as ``data``) in its profile's manifest."""
        profile = path.parent.parent.parent.name
        manifest = self.manifest_path(profile)
        with record_files.locked(manifest):
            searches = record_files.read_searches(manifest)
            searches[self._search_key(path)] = record_files.search_entry(result, data, self._search_key(path))
            record_files.write_manifest(manifest, self._entries(profile), searches=searches)

    def search_sha256(self, path: Path) -> str | None:
        """The sha256 the manifest lists for a PBT search's result file, or None if unlisted."""
        profile = path.parent.parent.parent.name
        entry = record_files.read_searches(self.manifest_path(profile)).get(self._search_key(path))
        return entry and entry["sha256"]

    def rebuild_manifest(self, profile: str) -> dict[str, dict]:
        """A manifest from the profile's record files and PBT search results as they are (damaged
        records moved aside). The caller holds the manifest lock or is alone."""
        searches = {}
        for path in self.search_paths(profile):
            data = path.read_bytes()
            try:
                result = json.loads(data)
            except ValueError:
                continue  # named when the search is loaded (autoscale.experiments.pbt.load_pbt)
            searches[self._search_key(path)] = record_files.search_entry(result, data, self._search_key(path))
        entries = {}
        for path in self.record_paths(profile):
            data = path.read_bytes()
            try:
                record = self._checked(path, data, None)
            except record_files.RecordProblem as err:
                warn_record(f"{err}. It was moved to {self._move_aside(path)}.")
                continue
            entries[self._key(path)] = record_files.manifest_entry(record, data, self._key(path))
        record_files.write_manifest(self.manifest_path(profile), entries, searches=searches)
        return entries

    def timing_entries(self, profile: str) -> list[dict]:
        """Manifest entries of ``profile`` to estimate training times from: the current manifest's,
        and those of the profile's records last moved aside by ``records clear`` (a rebuild from
        scratch still knows how long its runs took)."""
        replaced = sorted((self.root / "replaced").glob(f"{profile}-*/{record_files.MANIFEST}"))
        older = self._read_quietly(replaced[-1]) if replaced else {}
        return [*older.values(), *self.manifest(profile).values()]

    @staticmethod
    def _read_quietly(path: Path) -> dict[str, dict]:
        try:
            return record_files.read_manifest(path)
        except record_files.RecordProblem:
            return {}

    def quarantine_checkpoint(self, path: Path) -> Path:
        target = path.with_name(f"{path.stem}.corrupt-{record_files.now()}{path.suffix}")
        os.replace(path, target)
        return target


def warn_record(message: str) -> None:
    warnings.warn(message, RecordWarning, stacklevel=3)


def describe_run(config: RunConfig) -> str:
    """One run in words: method, options, seed, benchmark and profile."""
    options = f" {config.method_options}" if config.method_options else ""
    return f"{config.method}{options}, seed {config.seed}, {config.benchmark} at {config.profile}"
