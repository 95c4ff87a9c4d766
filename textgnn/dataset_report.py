"""One dataset's table of a study: each cell (mean over seeds, 95 % interval, dev, params)
against the reference cell with a paired bootstrap, Holm-corrected; the best GCN-style cell
against the graph-free control and the strongest baseline; and below the table the sections
that explain it (the verdict line, the from-scratch headline, the searches behind tuned cells,
cost, text length, classes, agreement, the seeds' vote, beyond self-attention).

``report`` assembles a study from these sections; ``low_resource_report`` builds one per share
of the training set.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .agreement import agreement_lines
from .baselines import BASELINES
from .beyond_report import beyond_section
from .class_report import class_lines
from .cost_report import cell_name, cost_lines, mean_cost
from .experiments import gold_and_lengths
from .length_report import length_lines
from .metrics import study_metric
from .plan import search_file
from .selection_report import TUNED, Retrained, selection_dev, selection_lines
from .shift_report import paired_delta, shift_lines
from .stats import best_on_dev, holm, mean_ci, p_text, paired_bootstrap, paired_runs
from .targets import ANCHORS, TARGETS, published
from .tuning import Search
from .tuning_curve import convergence_lines
from .tuning_report import capped_trials, dataset_trials, trial_scores
from .verdict import REFERENCE, compared_rows, control_row, linguistic_cells, strongest_baseline
from .vote_report import vote_lines


def baseline_label(row: dict) -> str:
    """A baseline's row as tables and plots name it, e.g. "WideMLP (tuned)"."""
    return BASELINES[row["model"]].label + (f" ({row['label']})" if row.get("label") else "")


def best_model(rows: list[dict]) -> dict | None:
    """A table's best graph model from scratch: its best row on dev but the baselines."""
    models = [r for r in rows if r["model"] not in BASELINES]
    return best_on_dev(models) if models else None


def dataset_rows(study_dir: Path, dataset: str, runs: list[dict], reference: tuple[str, str],
                 searched: dict[str, Retrained]) -> tuple[list[dict], dict, np.ndarray | None, str]:
    """One dataset's cells as table rows (mean over seeds, interval, dev, cost), each against
    ``reference`` seeds paired, Holm within the table, and the best GCN-style cell against the
    control, the strongest baseline and attention on its own graph; with the runs by cell, the
    gold labels (None where the study has none stored) and the metric. ``searched``: the runs
    whose dev score a search saw (:func:`~textgnn.selection_report.searched_runs`), left out
    of the dev a cell is picked on."""
    metric = study_metric(dataset)
    cells: dict[tuple[str, str], dict[int, dict]] = {}
    for r in runs:  # a labelled cell shows as "encoder (label)"
        encoder = f"{r['encoder']} ({r['label']})" if r.get("label") else r["encoder"]
        cells.setdefault((encoder, r["graph"]), {})[r["seed"]] = r
    gold_path = gold_and_lengths(study_dir, dataset)[0]
    gold = np.asarray(json.loads(gold_path.read_text())) if gold_path.is_file() else None
    ref = cells.get(reference, {})
    rows, pvals = [], []
    for (encoder, graph), by_seed in sorted(cells.items()):
        values = [by_seed[s]["test"][metric] for s in sorted(by_seed)]
        mean, std, half = mean_ci(values)
        first = next(iter(by_seed.values()))
        row = {"encoder": encoder, "model": first["encoder"], "graph": graph, "label": first.get("label"),
               "n": len(values), "mean": mean, "std": std,
               "half": half, "params": first["params"],
               "macro_f1": float(np.mean([by_seed[s]["test"]["macro_f1"] for s in by_seed])),
               "dev": selection_dev(by_seed, metric, searched),
               "dev_every_seed": float(np.mean([by_seed[s]["dev"][metric] for s in by_seed])),
               "cost": mean_cost(list(by_seed.values()))}
        # a deterministic baseline's one run is paired with every reference seed
        baseline = first["encoder"] in BASELINES and not BASELINES[first["encoder"]].seeded
        paired = sorted(ref) if baseline else sorted(set(by_seed) & set(ref))
        if gold is not None and (encoder, graph) != reference and paired:
            mine = np.asarray([by_seed[min(by_seed) if baseline else s]["test_predictions"]
                               for s in paired])
            theirs = np.asarray([ref[s]["test_predictions"] for s in paired])
            row["paired"] = paired_bootstrap(gold, mine, theirs, metric=metric)
            row["delta"], row["p_index"] = row["paired"].delta, len(pvals)
            pvals.append(row["paired"].p)
        rows.append(row)
    adjusted = holm(pvals)
    for row in rows:
        if "p_index" in row:
            row["p"], row["interval"] = adjusted[row["p_index"]], row["paired"].interval(len(pvals))
    _against_control(rows, cells, gold, metric)
    if gold is not None and (compared := compared_rows(rows, reference)) is not None:
        ref_row, best, _ = compared  # the rows the verdict compares
        _against_baseline(best, rows, cells, gold, metric)
        _against_attention(best, cells, gold, metric)
        mean, std, _ = paired_delta(best, ref_row, cells, "dev", metric)
        best["dev_vs_reference"] = (mean, std)
    return rows, cells, gold, metric


def dataset_section(study_dir: Path, dataset: str, runs: list[dict], reference: tuple[str, str],
                    title: str, searched: dict[str, Retrained], grid: bool = True) -> dict:
    """The table of one dataset (:func:`dataset_rows`) and the beyond-self-attention
    comparisons; for the main ``grid`` also the verdict and the from-scratch headline."""
    rows, cells, gold, metric = dataset_rows(study_dir, dataset, runs, reference, searched)
    scale = 100.0  # table shows metrics as percentages
    lines = [f"{title} (test {metric} × 100)", "",
             f"| encoder | graph | seeds | {metric} | macro-F1 | dev {metric} | params "
             f"| Δ {metric} vs reference | p (Holm) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(rows, key=lambda r: -r["mean"]):
        ci = "" if math.isnan(row["half"]) else f" [±{scale * row['half']:.2f}]"
        delta = f"{scale * row['delta']:+.2f}" if "delta" in row else ("ref" if (
            row["encoder"], row["graph"]) == reference else "-")
        p = p_text(row["p"]) if "p" in row else "-"
        lines.append(f"| {row['encoder']} | {row['graph']} | {row['n']} | "
                     f"{scale * row['mean']:.2f} ± {scale * row['std']:.2f}{ci} | "
                     f"{scale * row['macro_f1']:.2f} | {scale * row['dev']:.2f} | "
                     f"{row['params']:,} | {delta} | {p} |")
    lines.append("")
    graph_rows = [r for r in rows if r["model"] not in BASELINES]
    section = {"lines": lines, "outcomes": [], "rows": rows, "metric": metric, "headline": None}
    beyond_lines, section["outcomes"] = beyond_section(dataset, metric, cells, gold, graph_rows)
    if not grid:
        lines += beyond_lines
        return section
    if any("delta" in r for r in graph_rows):
        better = [r for r in graph_rows if r.get("delta", 0) > 0 and r["p"] < 0.05]
        worse = [r for r in graph_rows if r.get("delta", 0) < 0 and r["p"] < 0.05]
        gcn_like = [r for r in better if r["encoder"] in ("gcn", "gat", "gatv2")
                    and r["graph"] in ("dependency", "window")]
        lines.append(
            f"Verdict for {dataset}: {len(better)} cell(s) significantly better and {len(worse)} "
            f"significantly worse than the Transformer on the complete graph (Holm p < 0.05); "
            + ("a GCN-style encoder on a linguistic graph beats it: "
               + ", ".join(cell_name(r) for r in gcn_like) + "." if gcn_like
               else "no GCN-style encoder on a linguistic graph beats it significantly."))
        lines.append("")
    lines += _scratch_lines(dataset, metric, rows, section)
    lines += _tuning_lines(study_dir, runs)
    lines += selection_lines(dataset, metric, rows, cells, searched, reference)
    lines += shift_lines(dataset, metric, rows, cells, reference)
    lines += beyond_lines
    lines += cost_lines(dataset, metric, rows, reference, study_dir / f"{dataset}-cost.png")
    lengths_path = gold_and_lengths(study_dir, dataset)[1]
    lengths = np.asarray(json.loads(lengths_path.read_text())) if lengths_path.is_file() else None
    length, section["beyond_cut"] = length_lines(dataset, metric, rows, cells, gold, lengths,
                                                 reference, study_dir / f"{dataset}-length.png")
    lines += length
    lines += class_lines(dataset, rows, cells, gold, reference)
    lines += agreement_lines(dataset, rows, cells, reference)
    lines += vote_lines(dataset, metric, rows, cells, gold, reference)
    return section


def _against_control(rows: list[dict], cells: dict, gold, metric: str) -> None:
    """Each GCN-style cell on a linguistic graph against the table's graph-free control,
    seeds paired, Holm over those comparisons: ``row["against_control"]`` = (Δ, p) and
    ``row["control_interval"]`` Δ's interval jointly over them (``stats.Paired.interval``). What
    the graph itself adds; a cell that beats the Transformer by as much as the control does
    owes its gain to the encoder, not to the graph."""
    control = control_row(rows)
    if control is None or gold is None:
        return
    theirs = cells[(control["encoder"], control["graph"])]
    tested, pvals = [], []
    for row in linguistic_cells(rows):
        if paired := paired_runs(gold, cells[(row["encoder"], row["graph"])], theirs, metric):
            tested.append((row, paired[0]))
            pvals.append(paired[0].p)
    for (row, paired), p in zip(tested, holm(pvals), strict=True):
        row["against_control"] = (paired.delta, p)
        row["control_interval"] = paired.interval(len(tested))


def _against_baseline(best: dict, rows: list[dict], cells: dict, gold, metric: str) -> None:
    """The table's best GCN-style cell on a linguistic graph, ``best``, against
    its strongest baseline, the one best on dev: ``row["against_baseline"]`` =
    (baseline's label, Δ, p), seeds paired (a deterministic baseline's one run with every
    seed). Whether the graph model is competitive with a bag of n-grams (TF-IDF + LR reads
    word bigrams, WideMLP single words)."""
    if (bag := strongest_baseline(rows, BASELINES)) is None:
        return
    ours, theirs = cells[(best["encoder"], best["graph"])], cells[(bag["encoder"], bag["graph"])]
    if not BASELINES[bag["model"]].seeded:
        theirs = dict.fromkeys(ours, next(iter(theirs.values())))
    if paired := paired_runs(gold, ours, theirs, metric):
        best["against_baseline"] = (baseline_label(bag), paired[0].delta, paired[0].p)
        best["baseline_interval"] = paired[0].interval()


def _against_attention(best: dict, cells: dict, gold, metric: str) -> None:
    """The table's best GCN-style cell on a linguistic graph, ``best``, against
    self-attention on the same graph, the Transformer reading the same edges: ``row[
    "against_attention"]`` = (that cell's name, Δ, p), seeds paired, one test per table, and
    ``row["attention_interval"]``. Self-attention is message passing on the complete graph;
    on one graph, in the shared backbone, the two differ only in the conv, the message
    function (each on its own tuned hyperparameters). A cell that beats the Transformer on the
    complete graph but not attention on its own graph owes that gain to the edges it reads,
    not to its message function."""
    attention = (REFERENCE[0], best["graph"])  # the reference's encoder on the cell's graph
    if attention not in cells:
        return
    if paired := paired_runs(gold, cells[(best["encoder"], best["graph"])], cells[attention],
                             metric):
        best["against_attention"] = ("-".join(attention), paired[0].delta, paired[0].p)
        best["attention_interval"] = paired[0].interval()


def _scratch_lines(dataset: str, metric: str, rows: list[dict], section: dict) -> list[str]:
    """The best graph model from scratch beside TF-IDF, the published numbers and the
    project's targets; also fills ``section["headline"]``."""
    models = [r for r in rows if r["model"] not in BASELINES]
    if not models:
        return []
    best = best_on_dev(models)
    baselines = {r["encoder"]: r for r in rows if r["model"] in BASELINES}
    ref = next((r for r in rows if (r["encoder"], r["graph"]) == REFERENCE), None)
    fmt = lambda r: "-" if r is None else f"{100 * r['mean']:.2f}"  # noqa: E731
    line = (f"Best graph model from scratch on {dataset} (chosen on dev): "
            f"{cell_name(best)} {fmt(best)} {metric} ({best['n']} seeds)")
    for r in baselines.values():
        line += (f"; {baseline_label(r)} {fmt(r)} "
                 + ("(beaten)" if best["mean"] > r["mean"] else "(not beaten)"))
    line += published(dataset, metric, 100 * best["mean"], ANCHORS, TARGETS)
    section["headline"] = {"dataset": dataset, "metric": metric, "seeds": best["n"],
                           "cell": cell_name(best), "mean": best["mean"],
                           "tfidf": baselines.get("tfidf-lr", {}).get("mean"),
                           "reference": fmt(ref),
                           # the headline's columns, by label: "WideMLP", "WideMLP (tuned)"
                           "baselines": {baseline_label(r): fmt(r) for r in baselines.values()}}
    return [line + ".", ""]


def tuned_searches(runs: list[dict]) -> dict[str, set[str]]:
    """The searches whose choices ``runs`` trained on (a config under ``tuned/<search>/``),
    each with the cells it chose for."""
    searches: dict[str, set[str]] = {}
    for r in runs:
        if match := TUNED.search(r.get("config_file") or ""):
            searches.setdefault(match["search"], set()).add(match["cell"])
    return searches


def _tuning_lines(study_dir: Path, runs: list[dict]) -> list[str]:
    """Which cells trained on configs a search chose, and where that search is reported
    (trials per cell, best dev, chosen values): ``results/<search>/TUNING.md`` beside the
    study's directory."""
    lines = []
    for search, cells in sorted(tuned_searches(runs).items()):
        report = study_dir.parent / search / "TUNING.md"
        where = (f"[{search}/TUNING.md](../{search}/TUNING.md)" if report.is_file()
                 else f"`{search}` (no TUNING.md beside this study)")
        # a baseline's config is named for its graph "-": wide-mlp--.yaml
        names = sorted(cell.removesuffix("--") for cell in cells)
        lines += [f"Tuned cells ({', '.join(names)}): configs chosen on dev by the "
                  f"search `{search}`, the same number of trials per cell; trials, best dev "
                  f"and chosen values: {where}.", ""]
        lines += _budget_lines(study_dir.parent / search / "optuna.sqlite3", runs, search,
                               set(names))
    return lines


def _budget_lines(storage: Path, runs: list[dict], search: str, names: set[str]) -> list[str]:
    """Whether the search's budget sufficed for the cells ``names`` this study trained on its
    choices (``tuning_curve``'s sentences), where its search file (``tune``'s layout) and its
    storage are at hand. The search's other cells are left out: a cell added to a shared search
    for another study (the hybrid of ``tune/documents.yaml``) is not this table's."""
    files = {f for r in runs if (m := TUNED.search(r.get("config_file") or ""))
             and m["search"] == search and (f := search_file(r["config_file"]))}
    if len(files) != 1 or not storage.is_file():
        return []
    found = Search.load(files.pop())
    dataset = runs[0]["dataset"]
    cells = [cell for cell in dataset_trials(found, f"sqlite:///{storage.resolve()}", dataset)
             if cell.name in names]
    return convergence_lines(dataset, trial_scores(cells), found.trials, None,
                             capped_trials(cells))
