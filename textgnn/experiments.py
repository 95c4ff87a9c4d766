"""Grid studies: many training runs, one JSON line each, and a statistical report.

``python -m textgnn experiment configs/claim.yaml`` trains every dataset x graph x encoder x
seed cell through the normal training path and appends one line per finished run to
``results/<study>/runs.jsonl`` (flushed and fsynced, so a killed study loses at most the
current epoch of the run in flight; rerunning skips finished runs and continues that one from
its last checkpoint). :mod:`textgnn.report` turns the lines into
tables with confidence intervals, paired significance tests and plots.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import json
import multiprocessing
import multiprocessing.connection
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .baselines import BASELINES, cell_keys
from .checkpoint import CHECKPOINT
from .cluster import dask_client
from .config import Config, apply_overrides, as_overrides, load_config, read_yaml
from .data import load_configured
from .errors import TextGNNError
from .metrics import summarize
from .runtime import cpu_kernels, exclusive, usable_cpus
from .stats import join_words

PLANNED = "planned.json"  # beside runs.jsonl: the whole study's runs per part


@dataclass
class Study:
    name: str
    config: Path  # base experiment config, shared by every cell
    datasets: dict[str, list[str]]  # dataset -> its own overrides (same for every encoder)
    graphs: list[str]
    encoders: list[str]
    seeds: list[int]
    overrides: list[str] = field(default_factory=list)  # applied to every run
    baselines: list[str] = field(default_factory=list)
    # cells outside the grid, each with the datasets it runs on; a tagged cell (e.g. on
    # pretrained features) may have its own base config and is reported in its own table
    extra: list[dict] = field(default_factory=list)
    # the low-resource curves: {datasets, fractions, cells: [{encoder, graph}], baselines,
    # config}; each cell and baseline again on a stratified share of train
    # (data.train_fraction), the cells on ``config`` when given (a template, as a cell's)
    low_resource: dict = field(default_factory=dict)
    path: Path | None = None  # the study file, when read from one
    # a dataset's own `seeds:` in its `datasets:` entry (e.g. fewer on long documents), in
    # place of the study's for its baselines and every cell with no `seeds` of its own
    dataset_seeds: dict[str, list[int]] = field(default_factory=dict)
    # studies that repeat some of this one's datasets with one change, [{study, change}]: the
    # report sets their verdicts beside this one's (check_report)
    checks: list[dict] = field(default_factory=list)
    # studies whose records this one takes as its own where a cell's config is the same
    # (reusable_runs): a check retrains only the cells it changes
    reuse: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Study:
        path = Path(path)
        raw = read_yaml(path)
        known = {"name", "config", "datasets", "graphs", "encoders", "seeds", "overrides",
                 "baselines", "cells", "low_resource", "checks", "reuse"}
        unknown = set(raw) - known
        if unknown:
            raise TextGNNError(f"{path}: unknown study key(s) {sorted(unknown)}; valid: {sorted(known)}")
        low = dict(raw.get("low_resource") or {})
        unknown = (set(raw.get("baselines") or []) | set(low.get("baselines") or [])) - set(BASELINES)
        if unknown:
            raise TextGNNError(f"{path}: unknown baseline(s) {sorted(unknown)}; "
                               f"choose from {', '.join(BASELINES)}")
        try:
            datasets = raw["datasets"]
            if isinstance(datasets, list):
                datasets = {d: {} for d in datasets}
            datasets = {d: dict(o or {}) for d, o in datasets.items()}
            dataset_seeds = {d: _seed_list(o.pop("seeds"), f"{path}: datasets.{d}.seeds")
                             for d, o in datasets.items() if "seeds" in o}
            return cls(
                name=str(raw["name"]),
                config=(path.parent / raw["config"]).resolve(),
                datasets={d: as_overrides(o) for d, o in datasets.items()},
                graphs=list(raw.get("graphs") or []),
                encoders=list(raw.get("encoders") or []),
                seeds=_seed_list(raw["seeds"], f"{path}: seeds"),
                overrides=as_overrides(raw.get("overrides")),
                baselines=list(raw.get("baselines") or []),
                extra=[{"encoder": c["encoder"], "graph": c["graph"],
                        "datasets": list(c.get("datasets") or datasets), "tag": c.get("tag", ""),
                        "label": c.get("label", ""),
                        "config": (path.parent / c["config"]).resolve() if c.get("config") else None,
                        "seeds": _seed_list(c["seeds"], f"{path}: cells[{i}].seeds")
                        if "seeds" in c else None}
                       for i, c in enumerate(raw.get("cells") or [])],
                path=path,
                low_resource={} if not low else {
                    "config": (path.parent / low["config"]).resolve() if low.get("config") else None,
                    "datasets": list(low["datasets"]),
                    "fractions": [float(f) for f in low["fractions"]],
                    "cells": [(c["encoder"], c["graph"]) for c in low["cells"]],
                    "baselines": list(low.get("baselines") or [])},
                dataset_seeds=dataset_seeds,
                checks=[{"study": str(c["study"]), "change": str(c["change"])}
                        for c in raw.get("checks") or []],
                reuse=_reuse_list(raw.get("reuse"), str(raw["name"]), path),
            )
        except KeyError as exc:
            raise TextGNNError(f"{path}: missing study key {exc}") from None

    def cells(self, datasets: list[str] | None = None, seeds: int | None = None) -> list[Cell]:
        """Dataset by dataset, in the study's order, so one dataset's tables fill before the
        next one's runs start (a study runs them in this order): its baselines, the grid, the
        extra cells, then its low-resource cells."""
        chosen = [d for d in self.datasets if datasets is None or d in datasets]
        return [cell for d in chosen
                for cell in self._dataset_cells(d, self.dataset_seeds.get(d, self.seeds)[:seeds or None])]

    def _dataset_cells(self, d: str, seed_list: list[int]) -> list[Cell]:
        return ([Cell(d, "-", b, s) for b in self.baselines for s in _baseline_seeds(b, seed_list)]
                + [Cell(d, g, e, s) for g in self.graphs for e in self.encoders for s in seed_list]
                + [Cell(d, c["graph"], c["encoder"], s, c["tag"], c["config"], c["label"])
                   for c in self.extra if d in c["datasets"]
                   for s in (seed_list if c["seeds"] is None else c["seeds"][:len(seed_list)])]
                + self._low_resource_cells(d, seed_list))

    def _low_resource_cells(self, d: str, seed_list: list[int]) -> list[Cell]:
        low = self.low_resource
        if not low or d not in low["datasets"]:
            return []
        return ([Cell(d, "-", b, s, fraction=f) for f in low["fractions"]
                 for b in low["baselines"] for s in _baseline_seeds(b, seed_list)]
                + [Cell(d, g, e, s, config=low["config"], fraction=f)
                   for f in low["fractions"] for e, g in low["cells"] for s in seed_list])


def _reuse_list(reuse: object, name: str, path: Path) -> list[str]:
    """``reuse:``: the names of other studies (results/<name>/ beside this one's)."""
    if reuse is None:
        return []
    if not isinstance(reuse, list) or not all(isinstance(n, str) and n for n in reuse):
        raise TextGNNError(f"{path}: reuse: {reuse!r} is not a list of study names")
    if name in reuse:
        raise TextGNNError(f"{path}: reuse: names the study itself ({name})")
    return list(reuse)


def _seed_list(seeds: int | list, where: str) -> list[int]:
    """``seeds: 5`` is seeds 0-4; a list names them."""
    if isinstance(seeds, bool) or not (
            isinstance(seeds, int) and seeds > 0 or isinstance(seeds, list) and seeds
            and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise TextGNNError(f"{where}: {seeds!r} is not a number of seeds (>= 1) or a list of "
                           "seeds (integers)")
    return list(seeds) if isinstance(seeds, list) else list(range(seeds))


def _baseline_seeds(name: str, seeds: list[int]) -> list[int]:
    """A seeded baseline runs with every seed; a deterministic one once."""
    return seeds if BASELINES[name].seeded else seeds[:1]


@dataclass(frozen=True)
class Cell:
    dataset: str
    graph: str
    encoder: str
    seed: int
    tag: str = ""
    config: Path | None = None  # instead of the study's base config
    label: str = ""  # tells apart cells of one encoder and graph on different base configs
    fraction: float | None = None  # low resource: trained on this share of train

    @property
    def key(self) -> str:
        # a dataset given as a directory is keyed by its folder name
        label = f"~{self.label}" if self.label else ""
        tag = f"@{self.tag}" if self.tag else ""
        share = f"%{self.fraction:g}" if self.fraction is not None else ""
        return (f"{Path(self.dataset).name}/{self.encoder}{label}-{self.graph}{tag}{share}"
                f"/seed{self.seed}")


def resolved_config(study: Study, cell: Cell) -> dict:
    """A cell's config: its own config file (where ``{dataset}``, ``{encoder}`` and ``{graph}``
    name the cell's, e.g. a tuned config per dataset) or the study's, then the study's and the
    dataset's overrides and the cell's own keys. A baseline has no graph and no encoder: it
    reads the data, train and baseline sections (a tuned baseline names its own config)."""
    base = config_file(study, cell)
    overrides = [*study.overrides, f"data.name={cell.dataset}", *study.datasets[cell.dataset],
                 *cell_keys(cell.encoder, cell.graph), f"train.seed={cell.seed}"]
    if cell.fraction is not None:
        overrides.append(f"data.train_fraction={cell.fraction}")
    return load_config(base, overrides).to_dict()


def config_file(study: Study, cell: Cell) -> Path:
    """The file a cell's config starts from: its own (a template naming its dataset, encoder
    and graph, e.g. a tuned config) or the study's."""
    return Path(str(cell.config or study.config).format(
        dataset=Path(cell.dataset).name, encoder=cell.encoder, graph=cell.graph))


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


def _supersede(out: Path, records: list[dict], changed: dict[str, list[str]]) -> list[dict]:
    """Move the records of the ``changed`` runs from runs.jsonl to superseded.jsonl, each with
    the keys that changed and when, so that the study runs them again on their config as it
    is now and nothing recorded is lost; returns the records that stay. runs.jsonl is
    replaced whole (a reader sees the old file or the new one, never half of it), after the
    copies are written: a kill in between leaves a record in both, and the next pass moves
    it again (a second line in superseded.jsonl rather than a lost record)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    _append(out / SUPERSEDED,
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


def _append(path: Path, *records: dict) -> None:
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


def _train_cell(config: dict, run_dir: Path, threads: int) -> dict:
    """One run through ``train.py`` in a child process, so runs cannot leak state; a config
    that sets ``train.threads`` keeps it (the same thread count gives the same numbers)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.get("train", {}).get("threads") is None:
        config = apply_overrides(config, [f"train.threads={threads}"])
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config, handle)
    log = run_dir / "train.log"
    # a run killed after a checkpoint (a session ended, the machine went down) continues from
    # it with the metrics of an uninterrupted run, if it was started with this very config;
    # a finished run (metrics.json) whose record was removed is trained afresh
    resume = ((run_dir / CHECKPOINT).is_file() and not (run_dir / "metrics.json").is_file()
              and (run_dir / "config.yaml").is_file()
              and load_config(run_dir / "config.yaml") == load_config(handle.name))
    args = ["--resume", str(run_dir)] if resume else ["--config", handle.name, "--out", str(run_dir)]
    if not resume:
        log.write_text("")
    try:
        child = run_context().Process(
            target=_train_command,
            args=(["train", *args, "--quiet"], str(log), dict(os.environ), os.getcwd(), os.getpid()))
        code = run_to_end(child)
    finally:
        os.unlink(handle.name)
    if code:
        errors = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("error:")]
        reason = errors[-1].removeprefix("error: ") if errors else f"exit status {code}"
        raise TextGNNError(f"{reason} (log: {log})")
    return json.loads((run_dir / "metrics.json").read_text())


_REAPING = threading.Lock()


@functools.cache
def run_context() -> multiprocessing.context.BaseContext:
    """How a run's process starts. Every run is a process of its own, so runs cannot leak
    state into each other (threads, random states, heap). On the CPU it is forked from one
    server process that imported the training code once (multiprocessing's forkserver): a
    new interpreter would spend ~5 s importing torch, PyG and scikit-learn before each run,
    most of a short run's time. Where a CUDA device is present it is spawned: every run
    forked from that server failed its first CUDA call ("CUDA error: initialization error";
    H200, torch 2.11, 2026-12-04), spawned ones trained, and a GPU run outlasts the imports."""
    import torch

    if torch.cuda.is_available():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["textgnn.cli", "textgnn.training"])
    return context


def run_to_end(child: multiprocessing.Process) -> int:
    """Start ``child`` and return its exit code; safe from several threads at once.

    Process.start() polls every other running child (multiprocessing's ``_cleanup``) and
    join() polls this one; two threads polling one forkserver child at once can both read its
    status pipe, and the one that finds it drained records exit code 255 (36 of 400 short
    processes in 4 threads; once in a study of 2 jobs). Starting and reaping under one lock,
    and waiting for the end outside it, keeps the runs parallel and the reads single.
    """
    with _REAPING:
        child.start()
    multiprocessing.connection.wait([child.sentinel])
    with _REAPING:
        child.join()
    return child.exitcode


def _exit_with(owner: int) -> None:
    """End this run process when ``owner`` (the process that asked for the run: a study or
    a Dask worker) is gone, checked every half second. A worker killed mid-run (SIGKILL, out
    of memory) would otherwise leave its run writing the run directory that the retry on
    another worker resumes from; a forkserver child outlives its requester."""
    import psutil

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                gone = psutil.Process(owner).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                gone = True
            if gone:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-owner").start()


def _train_command(argv: list[str], log: str, environ: dict[str, str], cwd: str, owner: int) -> None:
    """``python -m textgnn ARGV`` inside a run process, its output appended to ``log``; the
    environment and working directory are the study's at the moment the run starts."""
    _exit_with(owner)
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    out = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    from .cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def gold_and_lengths(out: Path, dataset: str) -> tuple[Path, Path]:
    """Where a study keeps a dataset's test gold labels (indices into a record's ``labels``)
    and its test texts' lengths in tokens, so that the report reads no data."""
    return out / f"gold-{dataset}.json", out / f"lengths-{dataset}.json"


def _write_test_files(out: Path, dataset: str, config: dict, labels: list[str] | None) -> None:
    """Write whichever of the :func:`gold_and_lengths` files is missing (the gold labels only
    when a record's ``labels`` name their order). A length is the tokens of the whole text,
    as the parser's tokenizer cuts it: the nodes of its graph before any ``data.max_tokens``
    cut."""
    gold_path, lengths_path = gold_and_lengths(out, dataset)
    if (gold_path.is_file() or labels is None) and lengths_path.is_file():
        return
    from .parsing import Parser

    cfg = Config.from_dict(config)
    test = load_configured(cfg.data, splits=("test",)).test
    if labels is not None and not gold_path.is_file():
        index = {label: i for i, label in enumerate(labels)}
        gold_path.write_text(json.dumps([index[g] for g in test.labels]))
    if not lengths_path.is_file():
        lengths = [len(p.tokens) for p in Parser(cfg.graph.parser).tokenize(test.texts)]
        lengths_path.write_text(json.dumps(lengths))


def run_cell(cell: Cell, config: dict, run_root: Path, threads: int) -> dict:
    """One study run on whichever worker gets it: a baseline, or a training run in a process
    of its own under ``run_root / cell.key``; returns its record (a line of runs.jsonl)."""
    baseline = BASELINES.get(cell.encoder)
    metrics = (baseline.run(config, on_epoch=_epoch_log(run_root / cell.key)) if baseline
               else _train_cell(config, run_root / cell.key, threads))
    labels = metrics["test"]["labels"]
    index = {label: i for i, label in enumerate(labels)}
    record = {
        "key": cell.key, "dataset": Path(cell.dataset).name, "graph": cell.graph,
        "encoder": cell.encoder, "seed": cell.seed, "tag": cell.tag, "label": cell.label,
        "fraction": cell.fraction,
        "config": config,
        "dev": summarize(metrics["dev"]), "test": summarize(metrics["test"]),
        "params": metrics["params"]["total"],
        "train_seconds": metrics["train_seconds"],
        "labels": labels,
        "test_predictions": [index[p] for p in metrics["test"]["predictions"]],
    }
    for extra in ("search", "cost"):
        if extra in metrics:
            record[extra] = metrics[extra]
    # the CPU it ran on, where the run did not name it (a model run's child names its own, on
    # this machine; a baseline does not): the same config and seed retrain bit for bit on the
    # same CPU kernels
    cost = record.setdefault("cost", {})
    if "cpu" not in cost:
        cost["cpu"] = cpu_kernels()
    return record


def _epoch_log(run_dir: Path) -> Callable[[dict], None]:
    """A baseline's epochs (dev score, seconds so far) in its run directory's ``train.log``, as
    a training run writes its own, so a baseline that trains for an hour on 20NG can be
    watched (TF-IDF + LR has no epochs and writes none)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "train.log"
    log.write_text("")
    start = time.time()

    def on_epoch(row: dict) -> None:
        scores = "  ".join(f"{key} {value:.4f}" for key, value in row.items() if key != "epoch")
        with log.open("a") as handle:
            handle.write(f"epoch {row['epoch']:3d}  {scores}  ({time.time() - start:.0f} s)\n")

    return on_epoch


def shown_path(path: Path) -> str:
    """``path`` as a user would type it here: relative to the working directory when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _warm_worker() -> None:
    """Start this worker's forkserver (it imports the training code, ~5 s) before its first
    run asks for it, in parallel with the other workers' (nothing to start where runs are
    spawned)."""
    import multiprocessing.forkserver

    # a `dask worker` started by hand has the nanny's MALLOC_TRIM_THRESHOLD_ (LocalCluster's
    # do not: cluster.dask_client); every run started from here would inherit it
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    if run_context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


def chosen_cells(study: Study, datasets: list[str] | None, seeds: int | None,
                 match: str | None, exclude: str | None) -> list[Cell]:
    """The cells one invocation covers: the study's (of ``datasets``, up to ``seeds``) whose
    key matches ``match`` and not ``exclude``."""
    return [cell for cell in study.cells(datasets, seeds) if selected(cell.key, match, exclude)]


def main_runs(runs: list[dict]) -> list[dict]:
    """The runs of a study's main tables: the whole training set, no tagged features (the
    low-resource shares and the pretrained features have tables of their own)."""
    return [r for r in runs if not r.get("tag") and r.get("fraction") is None]


def cell_family(key: str) -> str:
    """A run key without its seed: the runs of one cell, which differ only by seed."""
    return key.rsplit("/seed", 1)[0]


def selected(key: str, match: str | None, exclude: str | None) -> bool:
    """Whether a run key matches the glob ``match`` (any when None) and not ``exclude``."""
    return ((match is None or fnmatch.fnmatchcase(key, match))
            and (exclude is None or not fnmatch.fnmatchcase(key, exclude)))


def planned_parts(study: Study) -> dict[str, int]:
    """The whole study's run count per part (regime)."""
    from .verdict import regime_of

    parts: dict[str, int] = {}
    for cell in study.cells():
        part = regime_of(Path(cell.dataset).name, cell.fraction, cell.tag)
        parts[part] = parts.get(part, 0) + 1
    return parts


def planned_tables(study: Study) -> dict[str, int]:
    """The whole study's run count per table that a verdict reads: a dataset's main table
    (its name) or one share of its low-resource curve ("mr · 1%"); tagged cells (pretrained
    features) have tables of their own and no verdict of the kind a check compares."""
    from .low_resource_report import table_name

    tables: dict[str, int] = {}
    for cell in study.cells():
        if not cell.tag:
            table = table_name(Path(cell.dataset).name, cell.fraction)
            tables[table] = tables.get(table, 0) + 1
    return tables


def _write_planned(study: Study, out: Path) -> None:
    """``planned.json``: the study file and the whole study's run count per part and per
    table, whatever part of it this invocation runs, so the report can say how much of the
    study its tables hold and how to see the rest, and a study it checks can leave out the
    tables not yet complete."""
    source = shown_path(study.path) if study.path else None
    (out / PLANNED).write_text(json.dumps(
        {"study": source, "parts": planned_parts(study), "tables": planned_tables(study)},
        indent=1) + "\n")


@dataclass
class StudyRun:
    """What one ``experiment`` invocation did: where the records are and which runs failed."""

    runs: Path
    finished: int
    failed: dict[str, str]  # run key -> error
    # runs whose config file does not exist yet (a search not finished): not failures, left
    # for a later invocation
    waiting: list[str] = field(default_factory=list)


def run_study(study: Study, out_root: Path, jobs: int = 1, datasets: list[str] | None = None,
              seeds: int | None = None, match: str | None = None, exclude: str | None = None,
              scheduler: str | None = None, retries: int = 2,
              runs: Path | None = None) -> StudyRun:
    """Run every unfinished cell on Dask; ``match``: only cells whose key matches this glob
    (``mr/*@minilm/seed0``); ``exclude``: not those that match this one. A run's directory
    (log, checkpoint to resume from, model) is ``<runs>/<study>/<key>``, ``runs`` by default
    ``runs/`` beside the results root.

    One writer: workers return records and this process appends them to ``runs.jsonl``. A
    run that fails by itself (a bad config, a NaN loss), or whose workers died more than
    ``retries`` times, is written to ``failures.jsonl`` with its error and the study goes on;
    the next invocation tries it again.
    """
    out_root = Path(out_root).resolve()  # workers on other machines see the same paths
    out = out_root / study.name
    out.mkdir(parents=True, exist_ok=True)
    with sole_writer(out / ".lock", f"study {study.name}"):
        run_root = Path(runs or out_root.parent / "runs").resolve() / study.name
        return _run_study(study, out_root, jobs, datasets, seeds, match, exclude, scheduler,
                          retries, run_root)


@contextlib.contextmanager
def sole_writer(path: Path, what: str):
    """Hold an exclusive lock on ``path`` (``runtime.exclusive``), or refuse at once: two
    processes appending to one runs.jsonl could interleave their lines."""
    with exclusive(path) as (held, holder):
        if not held:
            raise TextGNNError(f"{what} is being run by another process ({holder}); wait for it "
                               "to end, or stop it")
        yield


def _complete_test_files(study: Study, out: Path, datasets: list[str] | None,
                         seeds: int | None) -> None:
    """The lengths file of every dataset that has runs (a gold file) but none yet: a study
    recorded before lengths were kept gets them on its next pass, finished datasets too."""
    first: dict[str, Cell] = {}
    for cell in study.cells(datasets, seeds):
        if config_file(study, cell).is_file():
            first.setdefault(Path(cell.dataset).name, cell)
    for name, cell in first.items():
        gold_path, lengths_path = gold_and_lengths(out, name)
        if gold_path.is_file() and not lengths_path.is_file():
            with contextlib.suppress(TextGNNError):  # a broken config fails its own runs
                _write_test_files(out, name, resolved_config(study, cell), None)


def _run_study(study: Study, out_root: Path, jobs: int, datasets: list[str] | None,
               seeds: int | None, match: str | None, exclude: str | None, scheduler: str | None,
               retries: int, run_root: Path) -> StudyRun:
    out = out_root / study.name
    runs_path = out / "runs.jsonl"
    _write_planned(study, out)
    records = read_runs(runs_path)
    chosen = chosen_cells(study, datasets, seeds, match, exclude)
    changed = changed_runs(study, records, chosen)
    if changed:
        records = _supersede(out, records, changed)
        first = min(changed)
        print(f"study {study.name}: {len(changed)} recorded runs trained on a config their cell "
              f"no longer has (e.g. {first}: {', '.join(changed[first])}); moved to "
              f"{out / SUPERSEDED}, to run again", file=sys.stderr)
    if reused := reusable_runs(study, out_root, records, chosen):
        _append(runs_path, *reused.values())
        records += reused.values()
        # one record per dataset: its test files are the same for every run of it
        for record in {r["dataset"]: r for r in reused.values()}.values():
            _write_test_files(out, record["dataset"], record["config"], record["labels"])
        print(f"study {study.name}: {len(reused)} runs reused from "
              f"{join_words(sorted({r['reused'] for r in reused.values()}))} (the same key and "
              "config)", file=sys.stderr)
    done = {r["key"] for r in records}
    todo, waiting = [], []
    for cell in chosen:
        if cell.key not in done:
            if config_file(study, cell).is_file():
                todo.append(cell)
            else:
                waiting.append(cell.key)
    print(f"study {study.name}: {len(todo)} runs to do, {len(done)} already in {runs_path}"
          + (f", {len(waiting)} waiting for a config a search has not written (--plan names "
             "them)" if waiting else ""), file=sys.stderr)
    _complete_test_files(study, out, datasets, seeds)
    failed: dict[str, str] = {}

    def fail(key: str, error: str) -> None:
        failed[key] = error
        _append(out / "failures.jsonl",
                {"key": key, "error": error, "time": time.strftime("%Y-%m-%d %H:%M:%S")})
        print(f"{key}: FAILED: {error}", file=sys.stderr)

    configs = {}
    for cell in todo:
        try:
            configs[cell] = resolved_config(study, cell)
        except TextGNNError as exc:
            fail(cell.key, str(exc))
    if not configs:
        return StudyRun(runs_path, 0, failed, waiting)
    threads = 1 if scheduler else max(1, usable_cpus() // jobs)
    finished = 0
    with dask_client(jobs, scheduler, retries) as client:
        from distributed import as_completed

        client.run(_warm_worker)  # every worker starts its forkserver now, all at once
        futures = {client.submit(run_cell, cell, config, run_root, threads, key=f"run-{cell.key}",
                                 pure=False): cell for cell, config in configs.items()}
        for future in as_completed(futures):
            cell = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 - the run's own error, or KilledWorker
                fail(cell.key, f"{type(exc).__name__}: {exc}")
                continue
            _write_test_files(out, Path(cell.dataset).name, configs[cell], record["labels"])
            # where the config came from: a tuned cell names its search (report: TUNING.md)
            record["config_file"] = shown_path(config_file(study, cell))
            _append(runs_path, record)
            finished += 1
            print(f"{cell.key}: test accuracy {record['test']['accuracy']:.4f} "
                  f"({record['train_seconds']:.0f}s)", file=sys.stderr)
    return StudyRun(runs_path, finished, failed, waiting)
