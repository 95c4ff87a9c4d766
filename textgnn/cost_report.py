"""What each cell of a dataset cost beside what it scored: the cost table, the accuracy-vs-cost
plot with its Pareto frontier, and one generated sentence on the question long documents ask:
did a sparse graph, reading the whole document, beat the complete graph, cut to fit
attention's O(n²) memory, at equal or lower cost?

Reads the rows ``dataset_report.dataset_section`` builds (one per cell, mean over seeds, with the
Holm-adjusted ``p`` against the reference and the mean ``cost`` of its runs); writes nothing
but the plot.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .baselines import BASELINES
from .figures import save_figure, subplots
from .stats import best_on_dev, outcome_word, p_text

SPARSE = ("window", "dependency")  # graphs with O(n) edges: they read the whole document


def trained_on(run: dict) -> str:
    """What trained a run: ``cpu``, or its accelerator (``cuda: NVIDIA H200``); a record from
    before the device was kept trained on the CPU (no study had used a GPU then)."""
    return (run.get("cost") or {}).get("device", "cpu")


def cpu_seconds(run: dict) -> float | None:
    """A run's CPU seconds as its cost: None where it did not count them, or trained on an
    accelerator (its CPU seconds miss the accelerator's work)."""
    return (run.get("cost") or {}).get("cpu_seconds") if trained_on(run) == "cpu" else None


def mean_cost(runs: list[dict]) -> dict:
    """The mean cost of a cell's runs (``cost`` of each record: CPU seconds in all and per
    epoch, wall seconds per epoch, peak RSS, mean tokens of a training document after any
    cut); the wall training seconds of every run. CPU seconds only where every run counted
    them on the CPU (records from before they were kept have none; a GPU run's miss its
    work)."""
    costs = [r.get("cost") or {} for r in runs]
    out = {"train_seconds": float(np.mean([r["train_seconds"] for r in runs]))}
    on_cpu = all(trained_on(r) == "cpu" for r in runs)
    for key in ("cpu_seconds", "cpu_seconds_per_epoch"):
        if on_cpu and all(c.get(key) is not None for c in costs):
            out[key] = float(np.mean([c[key] for c in costs]))
    for key in ("seconds_per_epoch", "peak_rss_gb", "tokens_per_document"):
        values = [c[key] for c in costs if c.get(key) is not None]
        if values:
            out[key] = float(np.mean(values))
    return out


def cpu_hours(runs: list[dict]) -> float | None:
    """The CPU hours of those of ``runs`` that trained on the CPU; None where there are none,
    or one of them did not count its CPU seconds."""
    seconds = [cpu_seconds(r) for r in runs if trained_on(r) == "cpu"]
    return None if not seconds or None in seconds else sum(seconds) / 3600


def accelerated(runs: list[dict]) -> str:
    """Which of ``runs`` trained on an accelerator, e.g. ``9 runs on cuda: NVIDIA H200``;
    empty where none did."""
    devices = Counter(trained_on(r) for r in runs)
    del devices["cpu"]
    return ", ".join(f"{n} run{'s' if n > 1 else ''} on {device}" for device, n in sorted(devices.items()))


def epoch_cost_ratio(mine: dict, theirs: dict) -> tuple[float, str] | None:
    """One cell's cost per epoch over another's (their mean ``cost``), in CPU seconds where both
    counted them, else wall seconds; with the measure's name. None when either lacks both."""
    for key, name in (("cpu_seconds_per_epoch", "CPU seconds per epoch"),
                      ("seconds_per_epoch", "seconds per epoch")):
        if mine.get(key) and theirs.get(key):
            return mine[key] / theirs[key], name
    return None


def cost_measure(rows: list[dict]) -> tuple[str, str]:
    """What the cells of a table are compared by: CPU seconds (the work done, whatever else
    shared the machine or paused a run) where every cell has them, else wall seconds; and
    its name in tables and plots."""
    if all("cpu_seconds" in r["cost"] for r in rows):
        return "cpu_seconds", "CPU s"
    return "train_seconds", "wall s"


def cell_name(row: dict) -> str:
    """A table row as the report names its cell: ``gcn-window``, a baseline's ``wide-mlp``, a
    labelled variant's ``gcn-dependency (tuned)``."""
    name = row["model"] if row["graph"] == "-" else f"{row['model']}-{row['graph']}"
    return name + (f" ({row['label']})" if row["label"] else "")


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def cost_lines(dataset: str, metric: str, rows: list[dict], reference: tuple[str, str],
               plot: Path) -> list[str]:
    """The cost table (sorted by training cost), the plot and the sentence."""
    if not any("seconds_per_epoch" in r["cost"] for r in rows):
        return []  # records from before costs were kept
    measure, name = cost_measure(rows)
    lines = [f"### {dataset}: accuracy and cost", "",
             "Mean over seeds, sorted by training cost: CPU seconds (all threads of the "
             "training process; the work done, however busy or paused the machine was) where "
             "every cell counted them, else wall seconds. Both are of the machine that ran the "
             "cell: compare within this table only. RSS is the training process's peak; "
             "tokens: mean nodes of a training document after any cut (`data.max_tokens`).", "",
             f"| cell | test {metric} | CPU s | CPU s / epoch | wall s | peak RSS (GB) | tokens / doc |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: r["cost"][measure]):
        c = r["cost"]
        lines.append(f"| {cell_name(r)} | {100 * r['mean']:.2f} | {_fmt(c.get('cpu_seconds'), '.0f')} | "
                     f"{_fmt(c.get('cpu_seconds_per_epoch'), '.1f')} | {c['train_seconds']:.0f} | "
                     f"{_fmt(c.get('peak_rss_gb'), '.2f')} | "
                     f"{_fmt(c.get('tokens_per_document'), '.0f')} |")
    lines.append("")
    if _plot(dataset, metric, rows, plot):
        lines += [f"![{dataset}: accuracy vs training cost]({plot.name})", ""]
    sentence = sparse_vs_complete(dataset, metric, rows, reference)
    return lines + ([sentence, ""] if sentence else [])


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (cost no higher and score no lower, one
    of them strictly), by increasing cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -np.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _plot(dataset: str, metric: str, rows: list[dict], path: Path) -> bool:
    """Test metric against mean training cost (log scale), one labelled point per cell, the
    frontier as a step line."""
    measure, name = cost_measure(rows)
    points = [(r["cost"][measure], 100 * r["mean"]) for r in rows]
    if len(points) < 2 or min(x for x, _ in points) <= 0:
        return False
    fig, ax = subplots(figsize=(7, 4.5))
    for row, (x, y) in zip(rows, points, strict=True):
        baseline = row["model"] in BASELINES
        ax.scatter([x], [y], marker="s" if baseline else "o",
                   color="gray" if baseline else None, zorder=3)
        ax.annotate(cell_name(row), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front = [points[i] for i in pareto(points)]
    ax.step([x for x, _ in front], [y for _, y in front], where="post", color="black", lw=1,
            ls="--", label="Pareto frontier")
    ax.set(xscale="log", xlabel=f"training cost per run, {name} (mean over seeds)",
           ylabel=f"test {metric} (%)", title=f"{dataset}: accuracy vs training cost")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return True


def sparse_vs_complete(dataset: str, metric: str, rows: list[dict],
                       reference: tuple[str, str]) -> str | None:
    """One sentence: the best cell on a sparse graph against the reference (the Transformer on
    the complete graph), by the paired test and by seconds per epoch (CPU seconds where both
    counted them)."""
    ref = next((r for r in rows if (r["encoder"], r["graph"]) == reference), None)
    sparse = [r for r in rows if r["graph"] in SPARSE and "p" in r]
    if ref is None or not sparse:
        return None
    best = best_on_dev(sparse)
    mine, theirs = best["cost"], ref["cost"]
    significant = best["p"] < 0.05
    outcome = ("significantly better" if significant and best["delta"] > 0 else
               "significantly worse" if significant else "not significantly different")
    ratio, per_epoch = epoch_cost_ratio(mine, theirs) or (None, "")
    cost = "" if ratio is None else f", at {ratio:.2f}× its {per_epoch}"
    # "truncated" only where the reference read fewer tokens than the sparse cell: on
    # sentences both read every token, and the complete graph is cut nowhere
    read = mine.get("tokens_per_document"), theirs.get("tokens_per_document")
    complete = ("the truncated complete graph" if None not in read and read[1] < read[0]
                else "the complete graph")
    if significant and best["delta"] > 0 and ratio is not None:
        answer = (f"the sparse graph beat {complete} at equal or lower cost" if ratio <= 1
                  else f"the sparse graph beat {complete}, but at a higher cost")
    else:
        answer = f"the sparse graph did not beat {complete}"
    tokens = lambda r: ("" if r["cost"].get("tokens_per_document") is None  # noqa: E731
                        else f", {r['cost']['tokens_per_document']:.0f} tokens per document")
    sentence = (f"On {dataset}, the best sparse-graph cell on dev, {cell_name(best)} "
                f"({100 * best['mean']:.2f}{tokens(best)}), against {cell_name(ref)} "
                f"({100 * ref['mean']:.2f}{tokens(ref)}): "
                f"{outcome} ({100 * best['delta']:+.2f} {metric} points, Holm p "
                f"{p_text(best['p'], '= ')}){cost}: {answer}.")
    if best.get("against_control"):  # reading everything, or the graph? (dataset_report._against_control)
        delta, p = best["against_control"]
        adds = {"better": "adds significantly to", "worse": "takes significantly from",
                "equal": "adds nothing significant to"}[outcome_word(delta, p)]
        sentence += (f" Against the graph-free control, which reads the same tokens with no edge "
                     f"between them, the graph {adds} that score ({100 * delta:+.2f} points, Holm "
                     f"p {p_text(p, '= ')}).")
    return sentence
