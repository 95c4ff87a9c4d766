"""Hyperparameter search with an equal budget per cell, on Optuna.

``python -m textgnn tune configs/tune/sentences.yaml`` searches, for every dataset and every
(encoder, graph) cell of the file, the space it declares: TPE proposals, a median pruner on
the dev score after each epoch, the dev set only (tuning never reads test). Every cell gets
the same number of finished trials (complete + pruned), and its chosen values become a
generated config, ``configs/tuned/<search>/<dataset>/<encoder>-<graph>.yaml``, that a study
can name. ``results/<search>/TUNING.md`` shows the search beside its choices.

Trials live in Optuna's storage (``results/<search>/optuna.sqlite3`` unless the file names
another RDB URL), one Optuna study per dataset and cell, so a killed search resumes and
several workers can share one search. Reproducible: the proposal for a cell's k-th finished
trial comes from a sampler seeded by (seed, k), so the same seed gives the same trials, and a
search killed mid-way and rerun proposes what the uninterrupted one would have (the trial in
flight is redone; finished trials are never repeated, and a trial left running by a killed
process of this machine is marked failed). With several workers the choice is
made from each cell's first ``trials`` finished trials, so extra trials never enlarge a
cell's budget.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from .baselines import BASELINES, cell_keys
from .cluster import dask_client
from .config import Config, apply_overrides, as_overrides, load_config, read_yaml
from .errors import StudyFailed, TextGNNError

KNOWN = {"name", "config", "datasets", "cells", "trials", "seed", "sampler", "pruner", "space",
         "storage", "continues", "default_trial"}
SAMPLER_KEYS = {"startup_trials"}
PRUNER_KEYS = {"startup_trials", "warmup_epochs"}


@dataclass(frozen=True)
class Param:
    """One dimension of the search: a float or int range (``log`` for a log scale) or a
    list of choices; ``encoders`` limits it to the encoders it applies to (heads)."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None
    encoders: tuple[str, ...] | None = None

    @property
    def integer(self) -> bool:
        """An int range on a linear scale, suggested as ints."""
        return isinstance(self.low, int) and isinstance(self.high, int) and not self.log

    @property
    def discrete(self) -> bool:
        """A list of choices or a short int range: values to compare trial by trial."""
        return self.choices is not None or (self.integer and self.high - self.low < 8)

    def suggest(self, trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.key, self.low, self.high)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)


@dataclass
class Search:
    name: str
    config: Path  # the base config of every trial
    datasets: dict[str, list[str]]  # dataset -> its overrides, as in a study
    cells: list[tuple[str, str]]  # (encoder, graph)
    trials: int
    space: list[Param]
    seed: int = 0
    sampler: dict = field(default_factory=dict)  # startup_trials
    pruner: dict = field(default_factory=dict)  # startup_trials, warmup_epochs
    storage: str | None = None
    # a cell's own overrides (the Transformer on complete graphs cut at 512 tokens)
    cell_overrides: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # a cell searched on some of the datasets only (one added to a finished search, on the
    # dataset that asks for it); a cell not named here is searched on every dataset
    cell_datasets: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # a smaller search this one runs on from (its file): its cells' trials are copied in
    # before any trial runs, so the first ones are its own (:func:`continue_from`)
    continues: Path | None = None
    # the place (1-based) of the trial that every cell spends on its own config as the base
    # config and the cell's keys set it, the space's keys unsampled and the trial unpruned:
    # the search then holds the starting point it is meant to improve on, trained to its end
    # (:meth:`default_values`)
    default_trial: int | None = None

    @classmethod
    def load(cls, path: str | Path) -> Search:
        path = Path(path)
        raw = read_yaml(path)
        unknown = set(raw) - KNOWN
        if unknown:
            raise TextGNNError(f"{path}: unknown search key(s) {sorted(unknown)}; valid: {sorted(KNOWN)}")
        try:
            datasets = raw["datasets"]
            if isinstance(datasets, list):
                datasets = {d: {} for d in datasets}
            space = []
            for key, spec in raw["space"].items():
                spec = dict(spec)
                if "choices" in spec:
                    spec["choices"] = tuple(spec["choices"])
                elif not {"low", "high"} <= set(spec):
                    raise TextGNNError(f"{path}: space.{key}: give low and high, or choices")
                if "encoders" in spec:
                    spec["encoders"] = tuple(spec["encoders"])
                space.append(Param(key, **spec))
            search = cls(
                name=str(raw["name"]), config=(path.parent / raw["config"]).resolve(),
                datasets={d: as_overrides(o) for d, o in datasets.items()},
                cells=[(c["encoder"], c["graph"]) for c in raw["cells"]],
                cell_overrides={(c["encoder"], c["graph"]): as_overrides(c["set"])
                                for c in raw["cells"] if c.get("set")},
                cell_datasets={(c["encoder"], c["graph"]): tuple(c["datasets"])
                               for c in raw["cells"] if c.get("datasets") is not None},
                trials=int(raw["trials"]), space=space, seed=int(raw.get("seed", 0)),
                sampler=dict(raw.get("sampler") or {}), pruner=dict(raw.get("pruner") or {}),
                storage=raw.get("storage"),
                continues=(path.parent / raw["continues"]).resolve() if raw.get("continues")
                else None,
                default_trial=None if raw.get("default_trial") is None
                else int(raw["default_trial"]))
        except KeyError as exc:
            raise TextGNNError(f"{path}: missing search key {exc}") from None
        except TypeError as exc:
            raise TextGNNError(f"{path}: {exc}") from None
        if search.trials < 1:
            raise TextGNNError(f"{path}: trials must be >= 1, got {search.trials}")
        if search.default_trial is not None and not 1 <= search.default_trial <= search.trials:
            raise TextGNNError(f"{path}: default_trial must be one of the trials 1 to "
                               f"{search.trials}, got {search.default_trial}")
        for section, valid in (("sampler", SAMPLER_KEYS), ("pruner", PRUNER_KEYS)):
            if unknown := set(getattr(search, section)) - valid:
                raise TextGNNError(f"{path}: unknown {section} key(s) {sorted(unknown)}; "
                                   f"valid: {sorted(valid)}")
        for encoder in {e for e, _ in search.cells}:
            if encoder in BASELINES and not BASELINES[encoder].searchable:
                raise TextGNNError(f"{path}: {encoder} chooses its own setting on dev; only "
                                   f"{', '.join(n for n, b in BASELINES.items() if b.searchable)} "
                                   "can be a search cell")
        for (encoder, graph), names in search.cell_datasets.items():
            if unknown := [d for d in names if d not in search.datasets]:
                raise TextGNNError(f"{path}: cell {encoder}-{graph}: datasets {unknown} are not "
                                   f"the search's; its datasets: {list(search.datasets)}")
        for dataset in search.datasets:  # every cell's config is valid before any trial runs
            for encoder, graph in search.cells_of(dataset):
                if search.default_trial is None:
                    search.trial_config(dataset, encoder, graph, {})
                else:  # resolves the cell's config too, and holds its values to the space
                    search.default_values(dataset, encoder, graph, where=str(path))
        if search.continues is not None:
            search.check_continues(path)
        return search

    def check_continues(self, path: Path) -> None:
        """A search may run on from another only if the other's trials are the first ones
        this search would propose itself: the same space, seed, pruner and random startup,
        no larger a budget, and the same config for every cell they share."""
        where = f"{path}: continues {self.continues.name}"
        if self.continues == path.resolve():
            raise TextGNNError(f"{where}: a search cannot run on from itself; raise its trials")
        other = Search.load(self.continues)
        for key in ("space", "seed", "pruner"):
            if getattr(other, key) != getattr(self, key):
                raise TextGNNError(f"{where}: its {key} differs; a search runs on only from "
                                   "one with the same space, seed and pruner")
        if other.tpe_startup() != self.tpe_startup():
            raise TextGNNError(f"{where}: its cells draw {other.tpe_startup()} trials at random "
                               f"first, this search {self.tpe_startup()}; state "
                               f"sampler.startup_trials: {other.tpe_startup()}")
        if other.trials > self.trials:
            raise TextGNNError(f"{where}: it has {other.trials} trials per cell, more than "
                               f"this search's {self.trials}")
        if other.default_trial != self.default_trial and min(
                t for t in (other.default_trial, self.default_trial) if t) <= other.trials:
            raise TextGNNError(f"{where}: its default trial is {other.default_trial}, this "
                               f"search's {self.default_trial}; a default trial may only come "
                               "after the trials copied in")
        for dataset, encoder, graph in self.shared_cells(other):
            if (other.trial_config(dataset, encoder, graph, {})
                    != self.trial_config(dataset, encoder, graph, {})):
                raise TextGNNError(f"{where}: cell {cell_name(dataset, encoder, graph)} has "
                                   "another config there (base config, dataset or cell keys)")

    def shared_cells(self, other: Search) -> list[tuple[str, str, str]]:
        """(dataset, encoder, graph) of the cells both searches have."""
        return [(dataset, encoder, graph) for dataset in self.datasets
                if dataset in other.datasets for encoder, graph in self.cells_of(dataset)
                if (encoder, graph) in other.cells_of(dataset)]

    def tpe_startup(self) -> int:
        """How many of a cell's first trials TPE draws at random before it models the others:
        ``sampler.startup_trials``, by default half the budget (at most 10). Stating it keeps a
        search's recorded trials when its budget is raised later: the default would move with
        ``trials``, and a rerun from scratch would propose other values for the trials between
        the old and the new startup count."""
        return int(self.sampler.get("startup_trials", min(10, self.trials // 2 or 1)))

    def cells_of(self, dataset: str) -> list[tuple[str, str]]:
        """The (encoder, graph) cells searched on ``dataset``."""
        return [cell for cell in self.cells
                if cell not in self.cell_datasets or dataset in self.cell_datasets[cell]]

    def overrides(self, dataset: str, encoder: str, graph: str, values: dict) -> list[str]:
        """A cell's keys over the base config: the dataset's, the cell's own, its graph and
        encoder (none for a baseline, which has neither), then a trial's values."""
        return [f"data.name={dataset}", *self.datasets[dataset],
                *self.cell_overrides.get((encoder, graph), []), *cell_keys(encoder, graph),
                *as_overrides(values)]

    def trial_config(self, dataset: str, encoder: str, graph: str, values: dict) -> dict:
        return load_config(self.config, self.overrides(dataset, encoder, graph, values)).to_dict()

    def default_values(self, dataset: str, encoder: str, graph: str, where: str = "") -> dict:
        """The default trial's values: for each key the cell searches, the value the cell's
        config has without a trial (the base config, the dataset's and the cell's keys). An
        error where one lies outside the space, which the trial would then leave."""
        config, values = self.trial_config(dataset, encoder, graph, {}), {}
        for param in self.params(encoder):
            section, key = param.key.split(".", 1)
            value = config.get(section, {}).get(key)
            inside = (value in param.choices if param.choices is not None else
                      isinstance(value, int | float) and param.low <= value <= param.high)
            if not inside:
                space = list(param.choices) if param.choices is not None else \
                    f"[{param.low}, {param.high}]"
                raise TextGNNError(f"{where or self.name}: default_trial: cell "
                                   f"{cell_name(dataset, encoder, graph)} has {param.key}={value!r}, "
                                   f"outside the space {space}; leave the cell out or widen the space")
            values[param.key] = value
        return values

    def params(self, encoder: str) -> list[Param]:
        """The dimensions a cell searches: a model cell every one not limited to other
        encoders; a baseline only those that name it (``baseline.*`` keys)."""
        if encoder in BASELINES:
            return [p for p in self.space if p.encoders and encoder in p.encoders]
        return [p for p in self.space if p.encoders is None or encoder in p.encoders]


def cell_name(dataset: str, encoder: str, graph: str) -> str:
    return f"{Path(dataset).name}/{encoder}-{graph}"


def storage_url(search: Search, results: Path, create: bool = True) -> str | None:
    """The search's storage: its own URL, else ``<results>/<search>/optuna.sqlite3``
    (its folder made unless ``create`` is false; then None while the file does not exist)."""
    if search.storage:
        return search.storage
    database = results / search.name / "optuna.sqlite3"
    if not create and not database.is_file():
        return None
    database.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{database.resolve()}"


def finished_trials(study) -> list:
    """Complete and pruned trials, in the order they were started."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


class Resumed(NamedTuple):
    """Trials that continued from the checkpoint of an attempt cut off (a session's end, a
    kill) before a resumed trial carried its earlier attempt's wall and CPU seconds: their
    hours are their last attempt's only."""
    trials: int
    missing_cpu: float  # CPU seconds the cut attempts are estimated to have spent

    @classmethod
    def total(cls, parts: list[Resumed]) -> Resumed:
        return cls(sum(p.trials for p in parts), sum(p.missing_cpu for p in parts))

    def sentence(self, who: str) -> str:
        """What these trials miss, said of ``who`` (e.g. "3 of the"): for TUNING.md and a
        study's compute table."""
        return (f"{who} trials continued from the checkpoint of an attempt cut off before a "
                "resumed trial counted that attempt's time: their hours are their last "
                "attempt's only. The epochs those attempts had trained, at each trial's own "
                f"rate per epoch, come to about {self.missing_cpu / 3600:.1f} CPU hours more "
                "(an estimate; `tuning.resumed_uncounted`).")


def resumed_uncounted(study, trials: list) -> Resumed:
    """Which of ``trials`` followed a failed attempt in its run directory that had trained an
    epoch (reported one: its checkpoint is written first), without counting it; the CPU
    seconds those attempts are estimated to have spent: the epochs they had trained, at the
    last attempt's CPU seconds per epoch it trained itself (an estimate: a measurement does
    not exist). An attempt cut before its first epoch left no checkpoint, and the trial after
    it started afresh and misses nothing."""
    from optuna.trial import TrialState

    cut: dict[str, int] = {}  # run directory -> the most epochs an attempt cut there reported
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if (run_dir := t.user_attrs.get("run_dir")) and t.intermediate_values:
            cut[run_dir] = max(cut.get(run_dir, 0), len(t.intermediate_values))
    count, missing = 0, 0.0
    for t in trials:
        earlier = cut.get(t.user_attrs.get("run_dir"), 0)
        if earlier and "resumed_after_seconds" not in t.user_attrs:
            count += 1
            # its own epochs: those it reported less the ones replayed from the checkpoint
            own = max(1, len(t.intermediate_values) - earlier)
            missing += earlier * (trial_cpu(t) or 0.0) / own
    return Resumed(count, missing)


class Spent(NamedTuple):
    """What a search's finished trials cost (:func:`spent`)."""
    trials: int
    hours: float  # wall
    cpu_hours: float
    uncounted: int  # trials from before CPU time was counted: their wall time stands in
    resumed: Resumed  # trials that may count their last attempt only


def spent(url: str, cells: set[str] | None = None, copied_from: str | None = None) -> Spent:
    """The finished trials (complete + pruned) of the ``cells`` of a search's storage (cell
    names, :func:`cell_name`; every cell by default), their hours of wall time, their CPU
    hours (:func:`trial_cpu`), how many of them predate the counting of CPU time (with
    any, the CPU hours are an upper bound) and which may count only the last of their
    attempts (:func:`resumed_uncounted`; with any, the hours fall short). For a search
    that runs on from another (``copied_from``: that one's storage), its own trials only: the
    copies of the other's (:func:`continue_from`; the same number and start) are the other
    search's cost."""
    import optuna

    trials, seconds, cpu, uncounted, resumed = 0, 0.0, 0.0, 0, []
    for summary in optuna.get_all_study_summaries(url, include_best_trial=False):
        if cells is not None and summary.study_name not in cells:
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=url)
        done = finished_trials(study)
        if copied_from is not None:
            theirs = _starts(copied_from, summary.study_name)
            done = [t for t in done if (t.number, t.datetime_start) not in theirs]
        trials += len(done)
        seconds += wall_seconds(done)
        cpu += sum(trial_cpu(t) or 0.0 for t in done)
        uncounted += sum("cpu_seconds" not in t.user_attrs for t in done)
        resumed.append(resumed_uncounted(study, done))
    return Spent(trials, seconds / 3600, cpu / 3600, uncounted, Resumed.total(resumed))


def _starts(url: str, name: str) -> set:
    """(number, start) of every trial of cell ``name`` in the storage at ``url``: how a copy of
    one is told from a trial of its own; empty where the storage has no such cell."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=url)
    except KeyError:
        return set()
    return {(t.number, t.datetime_start) for t in study.get_trials(deepcopy=False)}


def continued_search(search_path: Path, results: Path) -> tuple[str, str] | None:
    """The name and storage URL of the search that the search file ``search_path`` runs on
    from (``continues:``, its storage under the same ``results``); None where it continues
    none, or that storage does not exist."""
    raw = read_yaml(search_path)
    if not raw.get("continues"):
        return None
    other = str(read_yaml(search_path.parent / raw["continues"])["name"])
    db = Path(results) / other / "optuna.sqlite3"
    return (other, f"sqlite:///{db.resolve()}") if db.is_file() else None


def trial_cpu(trial) -> float | None:
    """A finished trial's CPU seconds. A trial from before they were counted stands in with its
    wall time, which bounds them from above for the one-thread trials of the project's
    searches; None where it has neither."""
    cpu = trial.user_attrs.get("cpu_seconds")
    return cpu if cpu is not None else (wall_seconds([trial]) or None)


def cell_costs(search: Search, url: str) -> dict[str, dict]:
    """What each searched cell's trials cost so far, by cell name (``<dataset>/<encoder>-<graph>``):
    ``finished`` trials (up to the budget); ``trial_cpu``, their mean CPU seconds; ``run_cpu``,
    what one run on the cell's chosen values costs at the trials' training-set size: the
    chosen (best) trial's CPU seconds once the budget is spent, before that the mean of the
    complete trials (a pruned trial stopped early and would underestimate it). CPU seconds
    as :func:`trial_cpu` gives them. None where no trial finished.
    """
    from optuna.trial import TrialState

    costs = {}
    for dataset, encoder, graph, study in searched_cells(search, url, list(search.datasets)):
        first = finished_trials(study)[:search.trials]
        known = [s for s in map(trial_cpu, first) if s is not None]
        complete = [s for s in map(trial_cpu, [t for t in first if t.state == TrialState.COMPLETE])
                    if s is not None]
        best = best_of(first) if len(first) >= search.trials else None
        run_cpu = (trial_cpu(best) if best is not None
                   else sum(complete) / len(complete) if complete else None)
        costs[cell_name(dataset, encoder, graph)] = {
            "finished": len(first), "run_cpu": run_cpu,
            "trial_cpu": sum(known) / len(known) if known else None}
    return costs


def wall_seconds(trials: list) -> float:
    """The trials' wall time, each resumed one's earlier attempt up to its checkpoint included."""
    return sum(t.duration.total_seconds() + t.user_attrs.get("resumed_after_seconds", 0.0)
               for t in trials if t.duration)


def tune(search: Search, results: Path = Path("results"), runs: Path = Path("runs"),
         configs: Path = Path("configs/tuned"), datasets: list[str] | None = None,
         jobs: int = 1, scheduler: str | None = None, retries: int = 2) -> Path:
    """Run every cell's missing trials; write the chosen configs and TUNING.md. Returns the
    report's path.

    With ``jobs`` > 1 or a ``scheduler``, the cells run as Dask tasks, one cell per worker at a
    time (a cell's trials stay in order: the k-th proposal depends on the k-1 before it), all
    against the one storage; a cell whose worker died is started again on another (at most
    ``retries`` times) and continues where its trials stopped. A cell that fails is named in a
    ``StudyFailed`` raised after the configs and the report of the others are written.
    """
    url = storage_url(search, results)
    chosen = [d for d in search.datasets if datasets is None or d in datasets]
    cells = [(dataset, encoder, graph) for dataset in chosen
             for encoder, graph in search.cells_of(dataset)]
    if search.continues is not None:
        continue_from(search, url, results, cells)
    runs = Path(runs).resolve()  # workers on other machines see the same paths
    failed: dict[str, str] = {}
    if jobs == 1 and scheduler is None:
        skipped = [cell_name(*cell) for cell in cells if not search_cell(search, url, *cell, runs)]
        if skipped:  # another tune process of this machine holds them
            print(f"tune {search.name}: {len(skipped)} cell(s) left to the process searching "
                  f"them: {', '.join(skipped)}", file=sys.stderr)
    else:
        failed = _search_on_dask(search, url, cells, runs, jobs, scheduler, retries)
    report = report_search(search, results, configs, chosen)
    if failed:
        raise StudyFailed(f"{len(failed)} cell(s) of search {search.name} failed: " + "; ".join(
            f"{name}: {error}" for name, error in sorted(failed.items()))
            + f"; the others are in {report}")
    return report


def continue_from(search: Search, url: str, results: Path,
                  cells: list[tuple[str, str, str]]) -> list[str]:
    """Copy into ``search``'s storage the trials of the search it continues (its storage under
    the same ``results``), for each of ``cells`` that both have and this storage lacks; returns
    the names copied. A cell's k-th proposal depends on (seed, k) and its history alone, so
    the copies are the trials this search would run first itself (``Search.check_continues``
    holds the two to that), and the budget goes on from where the other stopped. A cell
    already in this storage is never copied again: its trials are this search's now."""
    import optuna

    other = Search.load(search.continues)
    source = storage_url(other, results, create=False)
    if source is None:
        raise TextGNNError(f"search {search.name} continues {other.name}, whose storage "
                           f"{Path(results) / other.name / 'optuna.sqlite3'} does not exist; "
                           "run it first")
    have = {s.study_name for s in optuna.get_all_study_summaries(url)}
    there = {s.study_name for s in optuna.get_all_study_summaries(source)}
    shared = set(search.shared_cells(other))
    copied = [cell_name(*cell) for cell in cells if cell in shared
              and cell_name(*cell) in there and cell_name(*cell) not in have]
    for name in copied:
        optuna.copy_study(from_study_name=name, from_storage=source, to_storage=url)
    if copied:
        print(f"tune {search.name}: copied the trials of {len(copied)} cell(s) from search "
              f"{other.name}", file=sys.stderr)
    return copied


def report_search(search: Search, results: Path = Path("results"),
                  configs: Path = Path("configs/tuned"), datasets: list[str] | None = None) -> Path:
    """Write the chosen configs (of the cells that have spent their budget) and TUNING.md
    from the storage as it stands, running no trial: what ``tune`` ends with, and what
    ``tune --report-only`` does for a search still running elsewhere. Returns TUNING.md's path."""
    url = storage_url(search, results, create=False)
    if url is None:
        raise TextGNNError(f"{Path(results) / search.name / 'optuna.sqlite3'}: search "
                           f"{search.name} has no trials yet; run it first")
    write_configs(search, url, configs / search.name,
                  [d for d in search.datasets if datasets is None or d in datasets])
    from .tuning_report import write_report  # it reads this module's trials, so not at the top

    return write_report(search, url, results / search.name)


def _search_on_dask(search: Search, url: str, cells: list[tuple[str, str, str]], runs: Path,
                    jobs: int, scheduler: str | None, retries: int) -> dict[str, str]:
    from distributed import as_completed

    failed = {}
    with dask_client(jobs, scheduler, retries) as client:
        futures = {client.submit(search_cell, search, url, *cell, runs,
                                 key=f"tune-{cell_name(*cell)}", pure=False): cell_name(*cell)
                   for cell in cells}
        for future in as_completed(futures):
            name = futures[future]
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - the cell's own error, or KilledWorker
                failed[name] = f"{type(exc).__name__}: {exc}"
                print(f"tune {name}: FAILED: {failed[name]}", file=sys.stderr)
    return failed


def search_cell(search: Search, url: str, dataset: str, encoder: str, graph: str,
                runs: Path) -> bool:
    """The missing trials of one cell, in this process (a Dask task, or the sequential loop).
    False, at once, when another process of this machine is searching the cell now: two
    ``tune`` processes on one SQLite search (two lanes of a long study) then share its cells
    instead of racing on the same ones, which would run trials twice and make a cell's
    proposals depend on timing. (A search spread over machines is one Dask scheduler's,
    which gives each cell to one worker.)"""
    import optuna

    from .runtime import exclusive

    name = cell_name(dataset, encoder, graph)
    lock = (Path(url.removeprefix("sqlite:///")).parent / ".locks" / f"{name}.lock"
            if url.startswith("sqlite:///") else None)
    with exclusive(lock) if lock else contextlib.nullcontext((True, "")) as (held, holder):
        if not held:
            print(f"tune {name}: searched by another process now ({holder}); skipped",
                  file=sys.stderr)
            return False
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            study_name=name, storage=url, direction="maximize",
            load_if_exists=True, pruner=optuna.pruners.MedianPruner(
                n_startup_trials=search.pruner.get("startup_trials", 5),
                n_warmup_steps=search.pruner.get("warmup_epochs", 3)))
        _search_cell(search, study, dataset, encoder, graph, runs / search.name / name)
    return True


def _search_cell(search: Search, study, dataset: str, encoder: str, graph: str,
                 run_root: Path) -> None:
    import optuna

    from .checkpoint import CHECKPOINT, checkpoint_state
    from .training import train

    params = search.params(encoder)
    select = search.trial_config(dataset, encoder, graph, {})["train"]["select"]
    _fail_dead_trials(study)
    done = len(finished_trials(study))
    if done < search.trials:
        print(f"tune {study.study_name}: {search.trials - done} trials to do, {done} done",
              file=sys.stderr)
    while (done := len(finished_trials(study))) < search.trials:
        # the k-th finished trial's proposal depends on (seed, k) and the history alone
        study.sampler = optuna.samplers.TPESampler(seed=search.seed * 100_003 + done,
                                                   n_startup_trials=search.tpe_startup())
        if done + 1 == search.default_trial and not study.get_trials(
                deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            # a default trial cut off failed, as any trial: it is enqueued again, and keyed
            # by its place and config, continues in its run directory
            study.enqueue_trial(search.default_values(dataset, encoder, graph),
                                user_attrs={"default": True})

        def objective(trial: optuna.Trial) -> float:
            trial.set_user_attr("worker", WORKER)
            values = {p.key: p.suggest(trial) for p in params}
            config = search.trial_config(dataset, encoder, graph, values)
            trial.set_user_attr("config", config)

            def report(row: dict) -> None:
                trial.report(row[f"dev_{select}"], row["epoch"])
                # the default trial is not pruned: the median of trials that learn faster at
                # first would cut off a starting point that ends higher on dev
                if trial.should_prune() and not trial.user_attrs.get("default"):
                    raise optuna.TrialPruned()

            cpu, earlier = time.process_time(), None  # a baseline trains in one go
            try:
                if encoder in BASELINES:  # trained in this process; it never reads test
                    return BASELINES[encoder].run(config, on_epoch=report)["dev"][select]
                # A trial cut off (a kill, the end of a session) is marked failed, and the
                # search proposes the same values again at the same place (failed trials
                # do not count in TPE's history): keyed by both, its run directory is found
                # again and the trial continues from its last epoch's checkpoint.
                run_dir = run_root / trial_dir(done, config)
                trial.set_user_attr("run_dir", str(run_dir))
                earlier = checkpoint_state(run_dir / CHECKPOINT) or {}
                try:
                    summary = train(Config.from_dict(config), run_dir, progress=False,
                                    on_epoch=report, test=False, resume=True)
                except optuna.TrialPruned:
                    (run_dir / CHECKPOINT).unlink(missing_ok=True)
                    raise
                # only a trial cut off needs its checkpoint (weights and optimiser state: 4/5
                # of a trial's directory, tens of GB over a search): an ended or pruned one
                # drops it
                (run_dir / CHECKPOINT).unlink(missing_ok=True)
                return summary["dev"][select]
            finally:  # pruned too: the work a trial cost, however paused or busy the machine
                # A trial resumed from a cut-off attempt adds what that attempt had spent up
                # to its checkpoint, as a run does: counted from this process alone, a 20NG
                # trial cut after 25 of its 30 epochs claimed a sixth of its cost
                before_cpu = (earlier or {}).get("cpu_elapsed") or 0.0
                trial.set_user_attr("cpu_seconds", before_cpu + time.process_time() - cpu)
                if earlier is not None:  # 0 for a fresh one: a trial from before is told apart
                    trial.set_user_attr("resumed_after_seconds", earlier.get("elapsed", 0.0))
                    trial.set_user_attr("resumed_after_cpu_seconds", before_cpu)

        study.optimize(objective, n_trials=1)
        last = study.trials[-1]
        print(f"  trial {last.number}: {last.state.name.lower()}"
              + (f", dev {select} {last.value:.4f}" if last.value is not None else ""),
              file=sys.stderr)


def trial_dir(position: int, config: dict) -> str:
    """A trial's run directory: its place among the cell's finished trials and its config."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return f"trial{position}-{digest}"


# who runs a trial: a trial left RUNNING by a process of this machine that is gone was cut
# off by a kill; it is marked failed, since a RUNNING trial changes what TPE proposes next
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _fail_dead_trials(study) -> None:
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, _, pid = trial.user_attrs.get("worker", "").partition(":")
        if host in ("", socket.gethostname()) and not (pid and _alive(int(pid))):
            study.tell(trial.number, state=TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def best_of(trials: list):
    """The complete trial with the best dev score among ``trials``; None if none completed."""
    from optuna.trial import TrialState

    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    return max(complete, key=lambda t: t.value) if complete else None


def searched_cells(search: Search, url: str, datasets: list[str]):
    import optuna

    for dataset in datasets:
        for encoder, graph in search.cells_of(dataset):
            name = cell_name(dataset, encoder, graph)
            try:
                study = optuna.load_study(study_name=name, storage=url)
            except KeyError:  # not searched yet
                continue
            yield dataset, encoder, graph, study


def write_configs(search: Search, url: str, out: Path, datasets: list[str]) -> list[Path]:
    """Each fully searched cell's chosen values as a config file: the search's base config,
    the dataset's overrides and the best trial's values, with the search's record in a
    header. A cell short of its budget gets none yet (a study naming it fails until then)."""
    written = []
    for dataset, encoder, graph, study in searched_cells(search, url, datasets):
        first = finished_trials(study)[:search.trials]
        best = best_of(first)
        if best is None or len(first) < search.trials:
            continue
        path = out / Path(dataset).name / f"{encoder}-{graph}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        base = os.path.relpath(search.config, path.parent.resolve())
        values = {p.key: best.params[p.key] for p in search.params(encoder)}
        raw = apply_overrides({}, search.overrides(dataset, encoder, graph, values))
        header = (f"# Generated by `python -m textgnn tune` ({search.name}): the best of "
                  f"{len(first)} trials on {Path(dataset).name} dev "
                  f"(trial {best.number}, dev {best.value:.4f}). Do not edit: rerun the search.\n")
        path.write_text(header + yaml.safe_dump({"base": base, **raw}, sort_keys=False))
        # a key added to the config since the trial ran is read with its default, as
        # Config.from_dict reads the trial's record
        if load_config(path).to_dict() != Config.from_dict(best.user_attrs["config"]).to_dict():
            raise TextGNNError(f"{path}: does not rebuild the config of trial {best.number}")
        written.append(path)
    return written


def trials_table(search: Search, url: str) -> list[dict]:
    """Every trial of every cell as a plain record (for tests and scripts)."""
    out = []
    for dataset, encoder, graph, study in searched_cells(search, url, list(search.datasets)):
        for t in study.get_trials(deepcopy=False):
            out.append({"cell": cell_name(dataset, encoder, graph), "number": t.number,
                        "state": t.state.name, "params": t.params, "value": t.value,
                        "cpu_seconds": t.user_attrs.get("cpu_seconds"),
                        "intermediate": json.loads(json.dumps(t.intermediate_values))})
    return out
