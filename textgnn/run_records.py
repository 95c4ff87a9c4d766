"""A study's records: ``runs.jsonl``, one JSON line per finished run, and
``superseded.jsonl``, the records of runs whose cell's config has changed since.

Appends are flushed and fsynced, and a torn last line (a kill mid-write) is skipped on read
and never glued to the next record, so a killed study loses at most the run in flight. A
record names its full config: a run is recorded again only when its cell would now train on
another (:func:`changed_runs`), and a study may take another study's record of the same key
and config as its own (:func:`reusable_runs`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .baselines import BASELINES
from .errors import TextGNNError
from .study import Cell, Study, config_file, resolved_config


def read_runs(path: Path) -> list[dict]:
    """Finished runs; a torn last line (killed mid-write) is ignored."""
    if not path.is_file():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


SUPERSEDED = "superseded.jsonl"
# the config sections a baseline reads (``baselines.cell_keys``): no other key changes its run
BASELINE_SECTIONS = ("data", "train", "baseline")


def changed_runs(study: Study, records: list[dict], cells: list[Cell]) -> dict[str, list[str]]:
    """The recorded runs of ``cells`` whose cell would now train on another config than the
    recorded one (its search ran on with a larger budget and chose other values, the study
    file or a config was edited): run key -> the config keys that differ. Only keys the
    record names count: a key added to the code since has a default that keeps recorded runs
    what they were (:func:`config_differences`)."""
    by_key = {cell.key: cell for cell in cells}
    changed = {}
    for record in records:
        cell = by_key.get(record["key"])
        if cell is None or not config_file(study, cell).is_file():
            continue
        try:
            now = resolved_config(study, cell)
        except TextGNNError:  # a broken config is its run's own failure, when it runs
            continue
        if keys := config_differences(cell.encoder, now, record["config"]):
            changed[record["key"]] = keys
    return changed


def config_differences(encoder: str, now: dict, was: dict) -> list[str]:
    """The config keys where the config ``now`` of a cell of ``encoder`` differs from a
    record's (``was``). Only keys the record names count: a key added to the code since has a
    default that keeps recorded runs what they were. A baseline is compared on the sections
    it reads."""
    return [f"{section}.{key}"
            for section in (BASELINE_SECTIONS if encoder in BASELINES else now)
            for key, value in now.get(section, {}).items()
            if key in was.get(section, {}) and was[section][key] != value]


def reusable_runs(study: Study, out_root: Path, records: list[dict],
                  cells: list[Cell]) -> dict[str, dict]:
    """Run key -> the record a study named in ``study.reuse`` has of it, for each of ``cells``
    not recorded here whose config there is the one it has here (the same key and no
    :func:`config_differences`), in the order ``reuse`` names the studies. The same config and
    seed retrain bit for bit on the same CPU kernels (the record names the ones it ran on),
    so a check that changes one cell of another study need not train the others again."""
    done = {r["key"] for r in records}
    wanted = {cell.key: cell for cell in cells
              if cell.key not in done and config_file(study, cell).is_file()}
    found: dict[str, dict] = {}
    for name in study.reuse:
        for record in read_runs(Path(out_root) / name / "runs.jsonl"):
            cell = wanted.get(record["key"])
            if cell is None or record["key"] in found:
                continue
            try:
                now = resolved_config(study, cell)
            except TextGNNError:  # a broken config is its run's own failure, when it runs
                continue
            if not config_differences(cell.encoder, now, record["config"]):
                # a record the other study itself reused names the study that trained it
                found[record["key"]] = record | {"reused": record.get("reused") or name}
    return found


def supersede(out: Path, records: list[dict], changed: dict[str, list[str]]) -> list[dict]:
    """Move the records of the ``changed`` runs from runs.jsonl to superseded.jsonl, each with
    the keys that changed and when, so that the study runs them again on their config as it
    is now and nothing recorded is lost; returns the records that stay. runs.jsonl is
    replaced whole (a reader sees the old file or the new one, never half of it), after the
    copies are written: a kill in between leaves a record in both, and the next pass moves
    it again (a second line in superseded.jsonl rather than a lost record)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    append_records(out / SUPERSEDED,
            *(record | {"superseded": {"time": when, "changed": changed[record["key"]]}}
              for record in records if record["key"] in changed))
    kept = [record for record in records if record["key"] not in changed]
    runs_path = out / "runs.jsonl"
    fresh = runs_path.with_name(runs_path.name + ".new")
    with fresh.open("w") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in kept)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(fresh, runs_path)
    return kept


def append_records(path: Path, *records: dict) -> None:
    """Append ``records`` as JSON lines, on disk before it returns."""
    with path.open("a+b") as handle:
        # after a kill mid-write the file ends in a torn line: start on a fresh line (its last
        # byte read alone: runs.jsonl is megabytes, and every finished run appends)
        torn = False
        if handle.seek(0, os.SEEK_END):
            handle.seek(-1, os.SEEK_END)
            torn = handle.read(1) != b"\n"
        lines = "".join(json.dumps(record) + "\n" for record in records)
        handle.write((("\n" if torn else "") + lines).encode())
        handle.flush()
        os.fsync(handle.fileno())


def main_runs(runs: list[dict]) -> list[dict]:
    """The runs of a study's main tables: the whole training set, no tagged features (the
    low-resource shares and the pretrained features have tables of their own)."""
    return [r for r in runs if not r.get("tag") and r.get("fraction") is None]
