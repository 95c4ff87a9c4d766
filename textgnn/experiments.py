"""Running a study: many training runs, one JSON line each, and a statistical report.

``python -m textgnn experiment configs/claim.yaml`` trains every cell of the study file
(:mod:`textgnn.study`: dataset x graph x encoder x seed, baselines, extra cells) through the
normal training path, one child process per run on Dask workers, and appends one line per
finished run to ``results/<study>/runs.jsonl`` (:mod:`textgnn.run_records`: fsynced, so a
killed study loses at most the current epoch of the run in flight; rerunning skips finished
runs and continues that one from its last checkpoint). :mod:`textgnn.report` turns the lines
into tables with confidence intervals, paired significance tests and plots.
"""

from __future__ import annotations

import contextlib
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

from .baselines import BASELINES
from .checkpoint import CHECKPOINT
from .cluster import dask_client
from .config import Config, apply_overrides, load_config
from .data import load_configured
from .errors import TextGNNError
from .metrics import summarize
from .run_records import (
    SUPERSEDED,
    append_records,
    changed_runs,
    read_runs,
    reusable_runs,
    supersede,
)
from .runtime import cpu_kernels, exclusive, usable_cpus
from .stats import join_words
from .study import Cell, Study, chosen_cells, config_file, planned_parts, planned_tables, resolved_config

PLANNED = "planned.json"  # beside runs.jsonl: the whole study's runs per part


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
        records = supersede(out, records, changed)
        first = min(changed)
        print(f"study {study.name}: {len(changed)} recorded runs trained on a config their cell "
              f"no longer has (e.g. {first}: {', '.join(changed[first])}); moved to "
              f"{out / SUPERSEDED}, to run again", file=sys.stderr)
    if reused := reusable_runs(study, out_root, records, chosen):
        append_records(runs_path, *reused.values())
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
        append_records(out / "failures.jsonl",
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
            append_records(runs_path, record)
            finished += 1
            print(f"{cell.key}: test accuracy {record['test']['accuracy']:.4f} "
                  f"({record['train_seconds']:.0f}s)", file=sys.stderr)
    return StudyRun(runs_path, finished, failed, waiting)
