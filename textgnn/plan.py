"""What a study has left to do, without running anything (``experiment --plan``): its runs
per part and dataset, and the trials of the searches that write its cells' configs, each
with the CPU hours spent and an estimate of the hours left.

A study's cell names its tuned config as a template (``tuned/sentences/{dataset}/...``); the
search that writes it is found by the layout ``tune`` writes with its defaults: a config
under ``<dir>/tuned/<search>/`` comes from ``<dir>/tune/<search>.yaml``, its trials in
``<results>/<search>/optuna.sqlite3`` (or the search's own ``storage``).

Where a dataset has no finished trial yet, its cells are estimated from the same cell on the
search's other datasets, scaled by the training tokens each reads (whitespace tokens up to
``data.max_tokens``): rough, since a cell's cost is taken as linear in the tokens it reads
(attention over a complete graph grows faster) and its epochs as alike; the tables count
these apart ("scaled").
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .checkpoint import CHECKPOINT, checkpoint_state
from .config import Config, apply_overrides, read_yaml
from .cost_report import cpu_seconds
from .data import load_configured, training_examples
from .experiments import shown_path
from .run_records import changed_runs, read_runs, reusable_runs
from .study import Cell, Study, cell_family, chosen_cells, config_file
from .tuning import Search, cell_costs, cell_name, storage_url
from .verdict import regime_of


def plan(study: Study, out_root: Path, datasets: list[str] | None = None,
         seeds: int | None = None, match: str | None = None,
         exclude: str | None = None, searches: SearchCosts | None = None,
         runs: Path | None = None) -> list[dict]:
    """Where every run of the study stands: per part (regime) and dataset, the runs planned,
    recorded, ready to run (``changed``: of those, the recorded runs whose cell's config has
    changed since, which the study runs again: :func:`textgnn.run_records.changed_runs`;
    ``reusable``: those a study named in ``reuse:`` has recorded on the same config, which
    the next invocation copies rather than trains: :func:`textgnn.run_records.reusable_runs`),
    and waiting for a config file that does not exist yet (a search not finished), with
    those files named; the CPU hours the recorded runs took, and an estimate of what the
    rest will take. A run costs the mean CPU seconds of its cell's recorded seeds (the same
    dataset, encoder, graph, tag and share); a cell with no seed recorded yet, what its
    search's trials cost (:func:`textgnn.tuning.cell_costs`; for a union graph's cell not
    searched yet, its dearest part's cells') scaled by the training examples a run reads
    over those a trial read (a search on a subsample, a low-resource share);
    with no trial on its dataset yet, the same cell's on the search's other datasets scaled
    by training tokens (``scaled``). A run with none of these is counted as unestimated.
    A ready run that has a checkpoint in its run directory (under ``runs``, as ``experiment
    --runs`` puts them; ``started``: running, or cut off and continued by the next
    invocation) costs instead what its epochs so far cost each, for every epoch left to
    ``train.epochs`` (:class:`Started`): an upper bound, since patience may stop it sooner,
    but one read from the run itself; while a cell has no recorded seed, its seeds not
    started cost what its started ones would to the limit. ``searches``: the searches' costs
    when already loaded (:func:`search_plan` reads the same)."""
    searches = searches or SearchCosts(Path(out_root))
    run_root = Path(runs or Path(out_root).parent / "runs").resolve() / study.name
    records = read_runs(Path(out_root) / study.name / "runs.jsonl")
    chosen = chosen_cells(study, datasets, seeds, match, exclude)
    changed = changed_runs(study, records, chosen)
    reusable = reusable_runs(study, Path(out_root),
                             [r for r in records if r["key"] not in changed], chosen)
    done: dict[str, float | None] = {}
    family_cost: dict[str, list[float]] = {}
    for record in records:
        cpu = cpu_seconds(record)  # a GPU run's CPU seconds say nothing of a CPU run's
        if record["key"] not in changed:
            done[record["key"]] = cpu
        if cpu is not None:  # a changed run's cost still tells what its cell's runs cost
            family_cost.setdefault(cell_family(record["key"]), []).append(cpu)
    started = {cell.key: progress for cell in chosen
               if cell.key not in done and config_file(study, cell).is_file()
               and (progress := Started.read(run_root / cell.key)) is not None}
    projected: dict[str, list[float]] = {}  # a cell none of whose seeds is recorded yet
    for key, progress in started.items():
        projected.setdefault(cell_family(key), []).append(progress.total)
    rows: dict[tuple[str, str], dict] = {}
    for cell in chosen:
        dataset = Path(cell.dataset).name
        part = regime_of(dataset, cell.fraction, cell.tag)
        row = rows.setdefault((part, dataset), {
            "part": part, "dataset": dataset, "planned": 0, "recorded": 0, "ready": 0,
            "changed": 0, "reusable": 0, "started": 0, "waiting": 0, "missing": set(),
            "cpu_hours": 0.0, "cpu_hours_left": 0.0, "scaled": 0, "unestimated": 0})
        row["planned"] += 1
        source = config_file(study, cell)
        if cell.key in done:
            row["recorded"] += 1
            row["cpu_hours"] += (done[cell.key] or 0.0) / 3600
            continue
        if source.is_file():
            row["ready"] += 1
            row["changed"] += cell.key in changed
            if cell.key in reusable:  # copied, not trained: no CPU hours left
                row["reusable"] += 1
                continue
        else:
            row["waiting"] += 1
            row["missing"].add(shown_path(source))
        costs = family_cost.get(cell_family(cell.key)) or projected.get(cell_family(cell.key))
        progress = started.get(cell.key)
        row["started"] += progress is not None
        estimate = (Estimate(progress.left, False) if progress is not None
                    else Estimate(sum(costs) / len(costs), False) if costs
                    else searches.run_estimate(study, cell))
        if estimate is None:
            row["unestimated"] += 1
        else:
            row["cpu_hours_left"] += estimate.seconds / 3600
            row["scaled"] += estimate.scaled
    return [r | {"missing": sorted(r["missing"])} for _, r in sorted(rows.items())]


class Started(NamedTuple):
    """A run with a checkpoint and no record yet: its CPU seconds per epoch so far (the
    checkpoint's, carried across resumes), the epochs it has trained and its config's limit
    (``train.epochs``)."""
    per_epoch: float
    epochs: int
    limit: int

    @property
    def left(self) -> float:
        """CPU seconds to its epoch limit: an upper bound, since patience may stop it sooner."""
        return self.per_epoch * max(0, self.limit - self.epochs)

    @property
    def total(self) -> float:
        """CPU seconds of a run of its cell trained to the limit: the estimate of its seeds
        not started, while none is recorded."""
        return self.per_epoch * self.limit

    @classmethod
    def read(cls, run_dir: Path) -> Started | None:
        """None for a run not started, one ended (``metrics.json``; its record not written
        yet) or one whose checkpoint predates the counting of CPU time."""
        if (run_dir / "metrics.json").is_file():
            return None
        state = checkpoint_state(run_dir / CHECKPOINT)
        if not state or not state.get("cpu_elapsed") or not state.get("epoch"):
            return None
        limit = Config.from_dict(read_yaml(run_dir / "config.yaml")).train.epochs
        return cls(state["cpu_elapsed"] / state["epoch"], state["epoch"], limit)


def search_plan(study: Study, out_root: Path, datasets: list[str] | None = None,
                searches: SearchCosts | None = None) -> list[dict]:
    """Per search that writes this study's configs, and per dataset of it the study reads:
    the trials planned (the budget times the cells), finished, the CPU hours they took, and
    an estimate of the rest: a cell's trials left at the mean CPU seconds of its finished
    ones, or for a cell not started of the dataset's other cells' (for a union graph, its
    dearest part's: :func:`_unstarted`); where the dataset has no finished trial yet, of
    the same cell's on the search's other datasets scaled by training tokens (``scaled``);
    unestimated where none of these has one."""
    searches = searches or SearchCosts(Path(out_root))
    found = {}
    for cell in study.cells(datasets):
        loaded = searches.of(cell)
        if loaded is not None:
            found[loaded[0].name] = loaded
    rows = []
    for name, (search, costs) in sorted(found.items()):
        for dataset in search.datasets:
            if dataset not in study.datasets or (datasets is not None and dataset not in datasets):
                continue
            cells = [costs.get(cell_name(dataset, e, g), {"finished": 0, "trial_cpu": None})
                     for e, g in search.cells_of(dataset)]
            known = _known_costs(search, costs, dataset, "trial_cpu")
            row = {"search": name, "dataset": dataset, "planned": search.trials * len(cells),
                   "finished": sum(c["finished"] for c in cells), "cpu_hours": 0.0,
                   "cpu_hours_left": 0.0, "scaled": 0, "unestimated": 0}
            for (encoder, graph), c in zip(search.cells_of(dataset), cells, strict=True):
                left = search.trials - c["finished"]
                if c["trial_cpu"] is not None:
                    row["cpu_hours"] += c["finished"] * c["trial_cpu"] / 3600
                per = c["trial_cpu"] if c["trial_cpu"] is not None else _unstarted(graph, known)
                if per is None and left:
                    trial = search.trial_config(dataset, encoder, graph, {})
                    per = searches.scaled(search, costs, dataset, encoder, graph, "trial_cpu", trial)
                    row["scaled"] += left if per is not None else 0
                if per is None:
                    row["unestimated"] += left
                else:
                    row["cpu_hours_left"] += left * per / 3600
            rows.append(row)
    return rows


def _known_costs(search: Search, costs: dict, dataset: str, kind: str) -> dict[tuple[str, str], float]:
    """``kind`` ("trial_cpu" or "run_cpu") of each of the dataset's cells that has one, per
    (encoder, graph)."""
    found = {(e, g): costs.get(cell_name(dataset, e, g), {}).get(kind)
             for e, g in search.cells_of(dataset)}
    return {cell: cost for cell, cost in found.items() if cost is not None}


def _unstarted(graph: str, known: dict[tuple[str, str], float]) -> float | None:
    """CPU seconds per trial of a cell not started on ``graph``, from its dataset's cells
    with a known cost (``known``, per (encoder, graph)): for a union, its dearest part's
    (:func:`_dearest_part`); for any other graph, or a union none of whose parts has such a
    cell, the mean of them all."""
    dearest = _dearest_part(graph, known)
    if dearest is not None:
        return dearest
    return sum(known.values()) / len(known) if known else None


def _dearest_part(graph: str, known: dict[tuple[str, str], float]) -> float | None:
    """For a union graph (``window+complete``), the dearest of its parts' mean costs over
    the cells on that part (``known``, per (encoder, graph)), since a union reads at least
    what its dearest part does (the hybrid attends over the complete graph as the
    Transformer there does, and convolves the window besides); None for a graph that is no
    union or whose parts no cell is on."""
    if "+" not in graph:
        return None
    parts = [[cost for (_, g), cost in known.items() if g == part] for part in graph.split("+")]
    means = [sum(costs) / len(costs) for costs in parts if costs]
    return max(means) if means else None


def search_file(template: str | Path) -> Path | None:
    """The search file that writes a tuned config (template or file), by ``tune``'s default
    layout: ``<dir>/tuned/<search>/...`` comes from ``<dir>/tune/<search>.yaml``; None for a
    config outside that layout or whose search file does not exist."""
    parts = Path(template).parts
    if "tuned" not in parts[:-2]:
        return None
    i = len(parts) - 1 - parts[::-1].index("tuned")
    if i > len(parts) - 3:  # tuned/<file>: no search folder
        return None
    path = Path(*parts[:i], "tune", f"{parts[i + 1]}.yaml")
    return path if path.is_file() else None


class Estimate(NamedTuple):
    seconds: float  # CPU seconds
    scaled: bool  # from another dataset's trials, by training tokens


class SearchCosts:
    """The searches that write a study's tuned configs, each loaded once, with its trials'
    costs, and the training-set sizes that scale a trial's cost to a run's."""

    def __init__(self, results: Path):
        self.results = results
        self._loaded: dict[Path, tuple[Search, dict]] = {}
        self._sizes: dict[str, int] = {}
        self._tokens: dict[tuple, int] = {}

    def of(self, cell: Cell) -> tuple | None:
        """(search, its cells' costs) for a cell on a tuned config; None for any other."""
        path = search_file(cell.config) if cell.config else None
        if path is None:
            return None
        if path not in self._loaded:
            search = Search.load(path)
            url = storage_url(search, self.results, create=False)
            self._loaded[path] = (search, cell_costs(search, url) if url else {})
        return self._loaded[path]

    def run_estimate(self, study: Study, cell: Cell) -> Estimate | None:
        """CPU seconds a run of ``cell`` will take, from its search's trials on its dataset
        (for a union graph's cell with none yet, the cells' on its dearest part), else on
        the search's other datasets (scaled by training tokens); None when the cell is not
        searched or no trial of it says."""
        loaded = self.of(cell)
        if loaded is None or cell.dataset not in loaded[0].datasets:
            return None
        search, costs = loaded
        cost = costs.get(cell_name(cell.dataset, cell.encoder, cell.graph), {}).get("run_cpu")
        if cost is None:  # a union graph's cell not searched yet: its dearest part's
            cost = _dearest_part(cell.graph, _known_costs(search, costs, cell.dataset, "run_cpu"))
        trial = search.trial_config(cell.dataset, cell.encoder, cell.graph, {})
        share = [] if cell.fraction is None else [f"data.train_fraction={cell.fraction}"]
        run = apply_overrides(trial, [*study.overrides, *study.datasets[cell.dataset], *share])
        if cost is None:
            seconds = self.scaled(search, costs, cell.dataset, cell.encoder, cell.graph,
                                  "run_cpu", run)
            return None if seconds is None else Estimate(seconds, True)
        # the training set's size cancels out of the ratio unless a side caps it
        capped = any(c["data"].get("max_train") is not None for c in (run, trial))
        total = self._train_size(trial) if capped else 1.0
        return Estimate(cost * _examples(run["data"], total) / _examples(trial["data"], total),
                        False)

    def scaled(self, search: Search, costs: dict, dataset: str, encoder: str, graph: str,
               kind: str, config: dict) -> float | None:
        """``kind`` ("trial_cpu" or "run_cpu", as :func:`textgnn.tuning.cell_costs` gives them)
        of the same cell on the search's other datasets, each scaled by the training tokens
        ``config`` reads over those a trial there read; their mean, or None where no other
        dataset has one."""
        found = []
        for other in search.datasets:
            cost = costs.get(cell_name(other, encoder, graph), {}).get(kind)
            if other != dataset and cost is not None:
                there = search.trial_config(other, encoder, graph, {})
                found.append(cost * self._train_tokens(config) / self._train_tokens(there))
        return sum(found) / len(found) if found else None

    def _train_tokens(self, config: dict) -> int:
        """Whitespace tokens of the training examples a config trains on, each text cut at
        ``data.max_tokens``."""
        cfg = Config.from_dict(config)
        key = (cfg.data.name, cfg.data.max_train, cfg.data.train_fraction, cfg.data.split_seed,
               cfg.data.max_tokens, cfg.train.seed)
        if key not in self._tokens:
            train = training_examples(load_configured(cfg.data, splits=("train",)).train,
                                      cfg.data, cfg.train.seed)
            cut = cfg.data.max_tokens or float("inf")
            self._tokens[key] = max(1, sum(min(len(t.split()), cut) for t in train.texts))
        return self._tokens[key]

    def _train_size(self, config: dict) -> int:
        name = config["data"]["name"]
        if name not in self._sizes:
            data = Config.from_dict(config).data
            self._sizes[name] = len(load_configured(data, splits=("train",)).train)
        return self._sizes[name]


def _examples(data: dict, total: float) -> float:
    """How many of a training set of ``total`` examples a run reads: ``data.max_train`` of
    them, then ``data.train_fraction`` of those."""
    cap = data.get("max_train")
    return (total if cap is None else min(total, cap)) * (data.get("train_fraction") or 1.0)
