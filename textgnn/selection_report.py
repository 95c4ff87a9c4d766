"""Did the search's dev scores hold up? The winner's curse of tuning, measured.

A search keeps, for each cell, the trial with the best dev score of its budget: the maximum of
many noisy draws, so it overstates what the chosen values score on dev. The study's run of a
tuned cell with the search's own seed trains that very trial again (the same config, the same
seed: the same dev score to the last digit, which this module checks); its other seeds are
fresh draws of the same config, whose dev the search never saw.

So a table's "best cell on dev" is picked on the fresh seeds' dev (:func:`selection_dev`):
picked on every seed's, a cell whose search happened to draw a lucky seed would carry that luck
into the pick. And beside each tuned dataset's table, :func:`selection_lines` shows the
search's best dev next to the fresh seeds' mean (the optimism), and which cell the pick would
name on every seed's dev, where that differs.

Reads the runs' records (``config`` and ``dev`` of each) and the searches' Optuna storage
(``results/<search>/optuna.sqlite3`` beside the study's directory); writes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .config import Config
from .cost_report import cell_name
from .stats import mean_ci, outcome_word, p_text
from .verdict import compared_rows

# a config that a search wrote: configs/tuned/<search>/<dataset>/<encoder>-<graph>.yaml
TUNED = re.compile(r"(?:^|/)tuned/(?P<search>[^/]+)/(?P<dataset>[^/]+)/(?P<cell>[^/]+)\.yaml$")


class Retrained(NamedTuple):
    """A run that trains a search's trial again: the search, the trial's number and its dev
    score as the search recorded it."""

    search: str
    trial: int
    value: float


def searched_runs(results: Path, runs: list[dict]) -> dict[str, Retrained]:
    """The runs (by key) whose config is that of a complete trial of the search that wrote
    their config file, found in ``results/<search>/optuna.sqlite3``: the runs whose dev score
    the search has seen. A run whose config differs from every trial's (another seed, a
    subsample the search did not use, a share of the training set) is not among them."""
    import optuna

    wanted: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        if (match := TUNED.search(r.get("config_file") or "")) and r.get("config"):
            cell = f"{r['dataset']}/{match['cell']}"
            wanted.setdefault((match["search"], cell), []).append(r)
    found: dict[str, Retrained] = {}
    for (search, cell), mine in wanted.items():
        storage = results / search / "optuna.sqlite3"
        if not storage.is_file():
            continue
        try:
            study = optuna.load_study(study_name=cell, storage=f"sqlite:///{storage.resolve()}")
        except KeyError:  # the storage has no such cell
            continue
        configs = {r["key"]: Config.from_dict(r["config"]).to_dict() for r in mine}
        for trial in study.get_trials(deepcopy=False,
                                      states=(optuna.trial.TrialState.COMPLETE,)):
            if "config" not in trial.user_attrs:
                continue
            config = Config.from_dict(trial.user_attrs["config"]).to_dict()
            for key, mine_config in configs.items():
                if mine_config == config:
                    found[key] = Retrained(search, trial.number, trial.value)
    return found


def selection_dev(by_seed: dict[int, dict], metric: str, searched: dict[str, Retrained]) -> float:
    """A cell's dev score for picking the best cell: the mean over its seeds whose run the
    search did not see (all of them where it saw none, or saw every one)."""
    fresh = [r for r in by_seed.values() if r["key"] not in searched] or list(by_seed.values())
    return float(np.mean([r["dev"][metric] for r in fresh]))


def selection_lines(dataset: str, metric: str, rows: list[dict], cells: dict,
                    searched: dict[str, Retrained], reference: tuple[str, str]) -> list[str]:
    """The tuned cells of one table: the search's best dev beside the fresh seeds' (the
    optimism), whether the run with the search's seed retrained the trial's dev score
    exactly, and the best GCN-style cell against ``reference`` as every seed's dev
    would pick it, where that differs from its pick on the fresh seeds'.
    ``rows`` are the table's (``dev``: the fresh seeds' mean), ``cells`` its runs by cell and
    seed."""
    table, gaps, exact, shown = [], [], [], []
    for row in rows:
        by_seed = cells[(row["encoder"], row["graph"])]
        own = [(s, r) for s, r in sorted(by_seed.items()) if r["key"] in searched]
        fresh = [r["dev"][metric] for r in by_seed.values() if r["key"] not in searched]
        if len(own) != 1 or not fresh:
            continue
        seed, run = own[0]
        trial = searched[run["key"]]
        name = cell_name(row)
        gap = trial.value - float(np.mean(fresh))
        gaps.append((gap, name))
        same = run["dev"][metric] == trial.value
        exact.append(same)
        shown.append(name)
        mean, std, _ = mean_ci(fresh)
        table.append(f"| {name} | {trial.search}, trial {trial.trial} | {100 * trial.value:.2f} | "
                     f"seed {seed}: {100 * run['dev'][metric]:.2f} "
                     f"({'same' if same else 'differs'}) | {100 * mean:.2f} ± {100 * std:.2f} "
                     f"({len(fresh)}) | {100 * gap:+.2f} | {100 * row['mean']:.2f} |")
    if not table:
        return []
    lines = [f"Did the search's dev scores hold up on {dataset}? Each tuned cell's search chose "
             f"its trial as the best dev {metric} of its budget, and the study's run with the "
             "search's seed trains that trial again; the other seeds are fresh draws of the "
             "same config, whose dev the search never saw. Optimism: the search's best minus "
             "the fresh seeds' mean (the winner's curse of picking a maximum).", "",
             f"| cell | search, trial | its dev {metric} | retrained | dev, fresh seeds "
             f"(n) | optimism | test {metric} |",
             "|---|---|---:|---|---:|---:|---:|", *table, ""]
    mean_gap = float(np.mean([g for g, _ in gaps]))
    low, high = min(gaps), max(gaps)
    differs = [n for n, same in zip(shown, exact, strict=True) if not same]
    sentence = (f"The runs with the search's seed retrain their trials' dev {metric} exactly on "
                f"{sum(exact)} of {len(exact)} cells"
                + (f" (not on {', '.join(differs)})" if differs else "")
                + f". On fresh seeds the chosen configs score {100 * abs(mean_gap):.2f} points "
                f"{'below' if mean_gap >= 0 else 'above'} the search's best on average (optimism "
                f"from {100 * low[0]:+.2f} for {low[1]} to {100 * high[0]:+.2f} for {high[1]}); "
                "so the best cell of this table is picked on the fresh seeds' dev.")
    every = [dict(r, dev=r["dev_every_seed"]) for r in rows]
    picked, picked_every = compared_rows(rows, reference), compared_rows(every, reference)
    if picked and picked_every and (picked[1]["encoder"], picked[1]["graph"]) != (
            picked_every[1]["encoder"], picked_every[1]["graph"]):
        sentence += (" Picked on every seed's dev, the best GCN-style cell would be "
                     f"{_named(picked_every)} instead of {_named(picked)}.")
    return lines + [sentence, ""]


def _named(compared: tuple[dict, dict, dict | None]) -> str:
    """The best cell with its comparison to the reference: "gat-dependency (+3.12, p = 0.144:
    equal)"."""
    ref, best, _ = compared
    if "p" not in best:
        return cell_name(best)
    return (f"{cell_name(best)} ({100 * best['delta']:+.2f} vs {cell_name(ref)}, "
            f"p {p_text(best['p'], '= ')}: "
            f"{outcome_word(best['delta'], best['p'])})")
