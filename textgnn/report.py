"""What a study found: tables with confidence intervals, paired significance tests, plots
and generated verdicts, written to ``RESULTS.md`` (``python -m textgnn report results/<study>``).

Everything here is computed from ``runs.jsonl`` and the gold labels stored beside it; the
markdown is never edited by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .baselines import BASELINES
from .errors import TextGNNError
from .experiments import read_runs

REFERENCE = ("transformer", "complete")  # the cell every other cell is compared with
# ... and within a tagged group of cells (pretrained features), the fine-tuned encoder, or
# where a dataset lacks it, the Transformer on the complete graph on the same features
TAGGED_REFERENCE = ("finetune", "none")

# Published numbers (test accuracy, %) shown beside ours: (model, number, source and inputs).
ANCHORS = {
    "mr": [("TextGCN", 76.74, "Yao et al., AAAI 2019; one corpus graph, no pretrained vectors"),
           ("TextING", 79.82, "Zhang et al., ACL 2020; GloVe-300 vectors"),
           ("CNN-rand", 76.1, "Kim, EMNLP 2014; random vectors, 10-fold CV")],
    "sst2": [("CNN-rand", 82.7, "Kim, EMNLP 2014; random vectors")],
    "trec": [("CNN-rand", 91.2, "Kim, EMNLP 2014; random vectors")],
    "r8": [("TextGCN", 97.07, "Yao et al., AAAI 2019; no pretrained vectors"),
           ("TextING", 98.04, "Zhang et al., ACL 2020; GloVe-300 vectors")],
}
# The project's targets for a graph model from scratch (%): the bar it must clear and the goal.
TARGETS = {"mr": (75.0, 80.0), "sst2": (80.0, 84.0), "trec": (89.0, 93.0), "r8": (96.0, 97.5)}
# ... and on pretrained features, beside published pretrained models (test accuracy, %)
PRETRAINED_ANCHORS = {
    "mr": [("TextING", 79.82, "Zhang et al., ACL 2020; GloVe-300 vectors"),
           ("BERT", 85.7, "fine-tuned, as reported by Lin et al., Findings of ACL 2021"),
           ("BertGCN", 86.0, "Lin et al., Findings of ACL 2021; BERT-base + a corpus GCN"),
           ("RoBERTa", 89.4, "fine-tuned, as reported by Lin et al."),
           ("RoBERTaGCN", 89.7, "Lin et al.")],
}
PRETRAINED_TARGETS = {"mr": (82.5, 87.0)}


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean, sample standard deviation and the half-width of a 95 % t interval."""
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return float(arr.mean()), 0.0, float("nan")
    std = float(arr.std(ddof=1))
    return float(arr.mean()), std, float(stats.t.ppf(0.975, arr.size - 1) * std / math.sqrt(arr.size))


def paired_bootstrap(gold: np.ndarray, preds_a: np.ndarray, preds_b: np.ndarray,
                     samples: int = 2000, seed: int = 0, metric: str = "accuracy") -> tuple[float, float]:
    """Mean difference a - b of ``metric`` (accuracy or mcc) over seeds and its two-sided
    bootstrap p-value.

    ``preds_*`` are (seeds, examples), seeds paired by row. Examples are resampled with
    replacement, the same resample for every seed of both models; the p-value is twice the
    smaller tail of the resampled differences around zero.
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, gold.size, size=(samples, gold.size))
    if metric == "accuracy":  # linear in the examples: average per example first
        correct = (preds_a == gold).astype(float).mean(0) - (preds_b == gold).astype(float).mean(0)
        observed, diffs = float(correct.mean()), correct[idx].mean(1)
    elif metric == "mcc":
        rows = np.concatenate([np.arange(gold.size)[None, :], idx])  # row 0: the test set as is
        diffs = (_mcc_rows(gold, preds_a, rows) - _mcc_rows(gold, preds_b, rows)).mean(0)
        observed, diffs = float(diffs[0]), diffs[1:]
    else:
        raise TextGNNError(f"paired_bootstrap: unknown metric {metric!r}; choose accuracy or mcc")
    tail = min((diffs <= 0).mean(), (diffs >= 0).mean())
    return observed, float(min(1.0, 2 * tail))


def _mcc_rows(gold: np.ndarray, preds: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(seeds, resamples): the multiclass Matthews correlation of each seed's predictions on
    each row of example indices ``idx``, from the class counts (0 where undefined, as in
    scikit-learn)."""
    classes = np.unique(np.concatenate([gold, preds.ravel()]))
    truth = np.searchsorted(classes, gold)[idx]
    n = idx.shape[1]
    true_counts = np.stack([(truth == k).sum(1) for k in range(classes.size)], 1)
    rows = []
    for guess in np.searchsorted(classes, preds):
        guess = guess[idx]
        guess_counts = np.stack([(guess == k).sum(1) for k in range(classes.size)], 1)
        numerator = (guess == truth).sum(1) * n - (true_counts * guess_counts).sum(1)
        denominator = np.sqrt((n * n - (guess_counts ** 2).sum(1)).astype(float)
                              * (n * n - (true_counts ** 2).sum(1)))
        rows.append(np.divide(numerator, denominator, out=np.zeros(len(idx)),
                              where=denominator > 0))
    return np.stack(rows)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    order = sorted(range(len(pvalues)), key=pvalues.__getitem__)
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def report(study_dir: str | Path, readme: str | Path | None = None) -> str:
    """RESULTS-style markdown for one study directory, written to ``RESULTS.md`` there with
    one bar chart per dataset; with ``readme``, the headline table replaces the block between
    ``<!-- <study>-table:start -->`` and ``<!-- <study>-table:end -->`` in that file."""
    import platform
    import time

    study_dir = Path(study_dir)
    runs = read_runs(study_dir / "runs.jsonl")
    if not runs:
        raise TextGNNError(f"{study_dir}: no runs.jsonl or no finished runs")
    hours = sum(r["train_seconds"] for r in runs) / 3600
    lines = [f"# Study `{study_dir.name}`", "",
             f"Generated by `python -m textgnn report {study_dir}` on {time.strftime('%Y-%m-%d')} "
             f"({platform.platform()}, {platform.python_version()}) from {len(runs)} runs; their "
             f"training took {hours:.1f} h in all (sum over runs, each on 1-2 CPU threads). "
             "Cells: mean ± std over seeds [95 % t-interval half-width]; Δ: difference in the "
             f"dataset's metric to `{REFERENCE[0]}` on the `{REFERENCE[1]}` graph, seeds paired, "
             "with a paired bootstrap over test examples (2,000 resamples; MCC recomputed on "
             "every resample for CoLA), Holm-corrected within the dataset.", ""]
    lines += _failure_lines(study_dir, {r["key"] for r in runs})
    syntax: dict[str, list[dict]] = {}
    headline = []
    plain = [r for r in runs if not r.get("tag") and r.get("fraction") is None]
    for dataset in sorted({r["dataset"] for r in plain}):
        section = _dataset_section(study_dir, dataset, [r for r in plain if r["dataset"] == dataset],
                                   REFERENCE, f"## {dataset}")
        syntax[dataset] = section["outcomes"]
        if section["headline"]:
            headline.append(section["headline"])
        lines += section["lines"]
        if _plot_dataset(section["rows"], dataset, section["metric"], study_dir / f"{dataset}.png"):
            lines += [f"![{dataset}]({dataset}.png)", ""]
    lines += _syntax_verdict(syntax)
    lines += _search_lines(plain)
    lines += _low_resource_lines(study_dir, runs)
    for tag in sorted({r["tag"] for r in runs if r.get("tag")}):
        tagged = [r for r in runs if r.get("tag") == tag]
        lines += [f"# Pretrained features: `{tag}`", "",
                  f"Cells tagged `{tag}` (their own base config, in `config` of each run); Δ: "
                  f"difference to `{TAGGED_REFERENCE[0]}` (the pretrained encoder fine-tuned "
                  f"alone) or, where a dataset lacks it, to `{REFERENCE[0]}` on the "
                  f"`{REFERENCE[1]}` graph on the same features (the row marked ref); seeds "
                  "paired, paired bootstrap, Holm within the dataset.", ""]
        tagged_syntax = {}
        for dataset in sorted({r["dataset"] for r in tagged}):
            mine = [r for r in tagged if r["dataset"] == dataset]
            reference = (TAGGED_REFERENCE if any(
                (r["encoder"], r["graph"]) == TAGGED_REFERENCE and not r.get("label") for r in mine)
                else REFERENCE)
            section = _dataset_section(study_dir, dataset, mine, reference,
                                       f"## {dataset} · {tag}", grid=False)
            tagged_syntax[dataset] = section["outcomes"]
            lines += section["lines"] + _pretrained_lines(dataset, tag, section)
        lines += _syntax_verdict(tagged_syntax, f"## Did syntax help on `{tag}` features?")
    text = "\n".join(lines) + "\n"
    (study_dir / "RESULTS.md").write_text(text)
    if readme is not None:
        _write_headline(Path(readme), study_dir, headline)
    return text


def _failure_lines(study_dir: Path, recorded: set[str]) -> list[str]:
    """The runs that failed and have not succeeded since, with their last error."""
    errors = {r["key"]: r["error"] for r in read_runs(study_dir / "failures.jsonl")}
    open_ = {k: e for k, e in errors.items() if k not in recorded}
    if not open_:
        return []
    return ([f"**{len(open_)} run(s) failed** and are missing from the tables below (their "
             "last error; `python -m textgnn experiment` tries them again):", ""]
            + [f"- `{k}`: {e}" for k, e in sorted(open_.items())] + [""])


def _write_headline(readme: Path, study_dir: Path, rows: list[dict]) -> None:
    start, end = f"<!-- {study_dir.name}-table:start -->", f"<!-- {study_dir.name}-table:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        raise TextGNNError(f"{readme}: no {start} ... {end} block to fill")
    table = [start, f"Generated by `python -m textgnn report {study_dir} --readme {readme}`; "
             f"details, significance tests and plots in [{study_dir}/RESULTS.md]"
             f"({study_dir}/RESULTS.md).", "",
             "| dataset | metric | best graph model from scratch | transformer-complete | "
             + " | ".join(b.label for b in BASELINES.values()) + " | seeds |",
             "|---|---|---|---:|" + "---:|" * len(BASELINES) + "---:|"]
    for r in rows:
        table.append(f"| {r['dataset']} | {r['metric']} | {r['best']} | {r['reference']} | "
                     + " | ".join(r["baselines"].get(name, "-") for name in BASELINES)
                     + f" | {r['seeds']} |")
    table.append(end)
    before, rest = text.split(start, 1)
    readme.write_text(before + "\n".join(table) + rest.split(end, 1)[1])


def _plot_dataset(rows: list[dict], dataset: str, metric: str, path: Path) -> bool:
    """Grouped bars: graphs on the axis, encoders as colours, std as error bars, the TF-IDF
    baseline as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [r for r in rows if r["encoder"] not in BASELINES]
    if not models:
        return False
    order = ["none", "window", "dependency", "complete"]  # then unions, by name
    graphs = sorted({r["graph"] for r in models},
                    key=lambda g: (order.index(g) if g in order else len(order), g))
    encoders = sorted({r["encoder"] for r in models})
    width = 0.8 / len(encoders)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(graphs)), 4))
    for k, encoder in enumerate(encoders):
        cells = {r["graph"]: r for r in models if r["encoder"] == encoder}
        xs = [i + (k - (len(encoders) - 1) / 2) * width for i, g in enumerate(graphs) if g in cells]
        ax.bar(xs, [100 * cells[g]["mean"] for g in graphs if g in cells], width,
               yerr=[100 * cells[g]["std"] for g in graphs if g in cells], capsize=3, label=encoder)
    styles = dict(zip(BASELINES, ["--", ":", "-."], strict=False))
    for r in rows:
        if r["encoder"] in BASELINES:
            ax.axhline(100 * r["mean"], color="black", ls=styles[r["encoder"]], lw=1,
                       label=BASELINES[r["encoder"]].label)
    low = min(100 * (r["mean"] - r["std"]) for r in rows)
    high = max(100 * (r["mean"] + r["std"]) for r in rows)
    ax.set_ylim(low - 0.15 * (high - low) - 0.5, high + 0.1 * (high - low) + 0.5)
    ax.set_xticks(range(len(graphs)), graphs, rotation=15)
    ax.set(ylabel=f"test {metric} (%)", title=f"{dataset}: mean ± std over seeds")
    ax.legend(fontsize=8, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _search_lines(runs: list[dict]) -> list[str]:
    """A hyperparameter search recorded as a study (cells labelled by variant, e.g.
    configs/tuning.yaml): each variant's mean dev metric over its runs, and the one that dev
    picks. Test numbers play no part in the choice."""
    variants: dict[str, list[dict]] = {}
    for r in runs:
        if r.get("label"):
            variants.setdefault(r["label"], []).append(r)
    if len(variants) < 2:
        return []
    means = {label: float(np.mean([r["dev"][_metric(r["dataset"])] for r in found]))
             for label, found in variants.items()}
    lines = ["## Search: variants by mean dev score", "",
             "| variant | runs | cells | mean dev × 100 |", "|---|---:|---|---:|"]
    for label in sorted(means, key=lambda v: -means[v]):
        cells = sorted({f"{r['dataset']}/{r['encoder']}-{r['graph']}" for r in variants[label]})
        lines.append(f"| {label} | {len(variants[label])} | {', '.join(cells)} | "
                     f"{100 * means[label]:.2f} |")
    best = max(means, key=means.get)
    return lines + ["", f"Chosen by dev: `{best}` (mean dev {100 * means[best]:.2f}).", ""]


def _metric(dataset: str) -> str:
    """The study's metric: Matthews correlation for CoLA, accuracy elsewhere."""
    return "mcc" if dataset == "cola" else "accuracy"


def _p_text(p: float, equals: str = "") -> str:
    # 2,000 bootstrap resamples cannot resolve a p-value below 0.001
    return "< 0.001" if p < 0.001 else f"{equals}{p:.3g}"


def _is_beyond(encoder: str, graph: str) -> bool:
    """A cell of the "beyond self-attention" family: a graph union or the hybrid block."""
    return "+" in graph or encoder == "hybrid"


def _dataset_section(study_dir: Path, dataset: str, runs: list[dict], reference: tuple[str, str],
                     title: str, grid: bool = True) -> dict:
    """The table of one dataset, each cell against ``reference``, and the
    beyond-self-attention comparisons; for the main ``grid`` also the verdict and the
    from-scratch headline."""
    metric = _metric(dataset)
    cells: dict[tuple[str, str], dict[int, dict]] = {}
    for r in runs:  # a labelled cell shows as "encoder (label)"
        encoder = f"{r['encoder']} ({r['label']})" if r.get("label") else r["encoder"]
        cells.setdefault((encoder, r["graph"]), {})[r["seed"]] = r
    gold_path = study_dir / f"gold-{dataset}.json"
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
               "dev": float(np.mean([by_seed[s]["dev"][metric] for s in by_seed]))}
        # a deterministic baseline's one run is paired with every reference seed
        baseline = encoder in BASELINES and not BASELINES[encoder].seeded
        paired = sorted(ref) if baseline else sorted(set(by_seed) & set(ref))
        if gold is not None and (encoder, graph) != reference and paired:
            mine = np.asarray([by_seed[min(by_seed) if baseline else s]["test_predictions"]
                               for s in paired])
            theirs = np.asarray([ref[s]["test_predictions"] for s in paired])
            row["delta"], p = paired_bootstrap(gold, mine, theirs, metric=metric)
            row["p_index"] = len(pvals)
            pvals.append(p)
        rows.append(row)
    adjusted = holm(pvals)
    scale = 100.0  # table shows metrics as percentages
    lines = [f"{title} (test {metric} × 100)", "",
             f"| encoder | graph | seeds | {metric} | macro-F1 | dev {metric} | params "
             f"| Δ {metric} vs reference | p (Holm) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(rows, key=lambda r: -r["mean"]):
        ci = "" if math.isnan(row["half"]) else f" [±{scale * row['half']:.2f}]"
        delta = f"{scale * row['delta']:+.2f}" if "delta" in row else ("ref" if (
            row["encoder"], row["graph"]) == reference else "-")
        p = "-"
        if "p_index" in row:
            p = _p_text(adjusted[row["p_index"]])
        lines.append(f"| {row['encoder']} | {row['graph']} | {row['n']} | "
                     f"{scale * row['mean']:.2f} ± {scale * row['std']:.2f}{ci} | "
                     f"{scale * row['macro_f1']:.2f} | {scale * row['dev']:.2f} | "
                     f"{row['params']:,} | {delta} | {p} |")
    lines.append("")
    graph_rows = [r for r in rows if r["encoder"] not in BASELINES]
    section = {"lines": lines, "outcomes": [], "rows": rows, "metric": metric, "headline": None}
    beyond_lines, section["outcomes"] = _beyond_section(dataset, metric, cells, gold, graph_rows)
    if not grid:
        lines += beyond_lines
        return section
    if any("delta" in r for r in graph_rows):
        better = [r for r in graph_rows if r.get("delta", 0) > 0 and adjusted[r["p_index"]] < 0.05]
        worse = [r for r in graph_rows if r.get("delta", 0) < 0 and adjusted[r["p_index"]] < 0.05]
        gcn_like = [r for r in better if r["encoder"] in ("gcn", "gat", "gatv2")
                    and r["graph"] in ("dependency", "window")]
        lines.append(
            f"Verdict for {dataset}: {len(better)} cell(s) significantly better and {len(worse)} "
            f"significantly worse than the Transformer on the complete graph (Holm p < 0.05); "
            + ("a GCN-style encoder on a linguistic graph beats it: "
               + ", ".join(f"{r['encoder']}-{r['graph']}" for r in gcn_like) + "." if gcn_like
               else "no GCN-style encoder on a linguistic graph beats it significantly."))
        lines.append("")
    lines += _scratch_lines(dataset, metric, rows, section)
    lines += beyond_lines
    return section


def _low_resource_lines(study_dir: Path, runs: list[dict]) -> list[str]:
    """Per dataset, each share of the training set: the table of its cells against the
    Transformer on the complete graph at the same share (the full-data grid is the 100 %
    point), and a plot of the test metric against the share."""
    low = [r for r in runs if r.get("fraction") is not None]
    if not low:
        return []
    lines = ["# Low resource", "",
             "Cells trained on a stratified share of the training set (`data.train_fraction`, "
             "seeded by `data.split_seed`: the same examples for every cell and baseline of a "
             "dataset); dev and test unchanged; 100 % is the full-data grid above. Δ: "
             f"difference to `{REFERENCE[0]}` on the `{REFERENCE[1]}` graph at the same share, "
             "seeds paired, paired bootstrap, Holm within the dataset and share.", ""]
    for dataset in sorted({r["dataset"] for r in low}):
        mine = [r for r in low if r["dataset"] == dataset]
        cells = {(r["encoder"], r["graph"]) for r in mine}
        full = [r for r in runs if r["dataset"] == dataset and r.get("fraction") is None
                and not r.get("tag") and not r.get("label") and (r["encoder"], r["graph"]) in cells]
        curves: dict[str, list[tuple[float, float, float]]] = {}
        metric = _metric(dataset)
        for fraction in sorted({r["fraction"] for r in mine}) + [1.0]:
            at = full if fraction == 1.0 else [r for r in mine if r["fraction"] == fraction]
            if not at:
                continue
            section = _dataset_section(study_dir, dataset, at, REFERENCE,
                                       f"## {dataset} · {fraction:.0%} of train", grid=False)
            lines += section["lines"]
            for row in section["rows"]:
                name = row["encoder"] if row["graph"] == "-" else f"{row['encoder']}-{row['graph']}"
                curves.setdefault(name, []).append((fraction, row["mean"], row["std"]))
        path = study_dir / f"{dataset}-low-resource.png"
        _plot_curves(curves, dataset, metric, path)
        lines += [f"![{dataset}, low resource]({path.name})", ""]
    return lines


def _plot_curves(curves: dict[str, list[tuple[float, float, float]]], dataset: str, metric: str,
                 path: Path) -> None:
    """Test metric (mean ± std over seeds) against the share of the training set, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in sorted(curves.items()):
        xs, means, stds = zip(*sorted(points), strict=True)
        style = "--" if name in BASELINES else "-"
        ax.errorbar([100 * x for x in xs], [100 * m for m in means], [100 * s for s in stds],
                    ls=style, marker="o", ms=3, capsize=2, label=name)
    ax.set(xscale="log", xlabel="share of the training set (%)", ylabel=f"test {metric} (%)",
           title=f"{dataset}: low resource, mean ± std over seeds")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _scratch_lines(dataset: str, metric: str, rows: list[dict], section: dict) -> list[str]:
    """The best graph model from scratch beside TF-IDF, the published numbers and the
    project's targets; also fills ``section["headline"]``."""
    models = [r for r in rows if r["encoder"] not in BASELINES]
    if not models:
        return []
    best = max(models, key=lambda r: r["mean"])
    baselines = {r["encoder"]: r for r in rows if r["encoder"] in BASELINES}
    ref = next((r for r in rows if (r["encoder"], r["graph"]) == REFERENCE), None)
    fmt = lambda r: "-" if r is None else f"{100 * r['mean']:.2f}"  # noqa: E731
    line = (f"Best graph model from scratch on {dataset}: {best['encoder']}-{best['graph']} "
            f"{fmt(best)} {metric} ({best['n']} seeds)")
    for name, r in baselines.items():
        line += (f"; {BASELINES[name].label} {fmt(r)} "
                 + ("(beaten)" if best["mean"] > r["mean"] else "(not beaten)"))
    line += _published(dataset, metric, 100 * best["mean"], ANCHORS, TARGETS)
    section["headline"] = {"dataset": dataset, "metric": metric, "seeds": best["n"],
                           "best": f"{best['encoder']}-{best['graph']} {fmt(best)}",
                           "reference": fmt(ref),
                           "baselines": {name: fmt(r) for name, r in baselines.items()}}
    return [line + ".", ""]


def _published(dataset: str, metric: str, got: float, anchors: dict, targets: dict) -> str:
    """The published numbers and the project's bar and goal beside a result ``got`` (%)."""
    if metric != "accuracy":
        return ""
    text = ""
    if anchors.get(dataset):
        text += "; published: " + ", ".join(f"{m} {v} ({src})" for m, v, src in anchors[dataset])
    if dataset in targets:
        bar, goal = targets[dataset]
        text += f"; target >= {bar}: {'met' if got >= bar else f'missed by {bar - got:.2f}'}"
        text += f", project goal {goal}: " + ("reached" if got >= goal else f"gap {goal - got:.2f}")
    return text


def _pretrained_lines(dataset: str, tag: str, section: dict) -> list[str]:
    """The best graph model (not the fine-tuned encoder alone) on a tag's features."""
    models = [r for r in section["rows"]
              if r["model"] not in BASELINES and r["model"] != TAGGED_REFERENCE[0]]
    if not models:
        return []
    best = max(models, key=lambda r: r["mean"])
    metric = section["metric"]
    got = 100 * best["mean"]
    return [f"Best graph model on `{tag}` features on {dataset}: {best['encoder']}-{best['graph']} "
            f"{got:.2f} {metric} ({best['n']} seeds)"
            + _published(dataset, metric, got, PRETRAINED_ANCHORS, PRETRAINED_TARGETS) + ".", ""]


def _beyond_section(dataset: str, metric: str, cells: dict, gold, rows: list[dict]):
    """Each union/hybrid cell against the best pure (single-graph) cell of the dataset. Pure
    cells are those trained like the union/hybrid ones: not a labelled variant (fine-tuned
    token states, mixed logits) and not the fine-tuned encoder alone."""
    extra = [r for r in rows if _is_beyond(r["encoder"], r["graph"])]
    pure = [r for r in rows if not _is_beyond(r["encoder"], r["graph"])
            and not r["label"] and (r["encoder"], r["graph"]) != TAGGED_REFERENCE]
    if not extra or not pure or gold is None:
        return [], []
    best = max(pure, key=lambda r: r["mean"])
    best_runs = cells[(best["encoder"], best["graph"])]
    outcomes, pvals = [], []
    for r in extra:
        mine = cells[(r["encoder"], r["graph"])]
        seeds = sorted(set(mine) & set(best_runs))
        if not seeds:
            continue
        delta, p = paired_bootstrap(gold, np.asarray([mine[s]["test_predictions"] for s in seeds]),
                                    np.asarray([best_runs[s]["test_predictions"] for s in seeds]),
                                    metric=metric)
        outcomes.append({"cell": f"{r['encoder']}-{r['graph']}", "mean": r["mean"], "n": r["n"],
                         "delta": delta, "seeds": len(seeds),
                         "syntax": "dependency" in r["graph"].split("+")})
        pvals.append(p)
    for outcome, p in zip(outcomes, holm(pvals), strict=True):
        outcome["p"] = p
    best_name = f"{best['encoder']}-{best['graph']}"
    lines = [f"### {dataset}: beyond self-attention vs the best pure cell ({best_name}, "
             f"{100 * best['mean']:.2f})", "",
             f"| cell | seeds | {metric} | Δ {metric} vs {best_name} | p (Holm) |",
             "|---|---:|---:|---:|---:|"]
    for o in outcomes:
        p = _p_text(o["p"])
        lines.append(f"| {o['cell']} | {o['seeds']} | {100 * o['mean']:.2f} | "
                     f"{100 * o['delta']:+.2f} | {p} |")
    return lines + [""], [o | {"best": best_name} for o in outcomes]


def _outcome_word(o: dict) -> str:
    if o["p"] >= 0.05:
        return "no significant difference"
    return "better" if o["delta"] > 0 else "worse"


def _syntax_verdict(outcomes: dict[str, list[dict]], title: str = "## Did syntax help?") -> list[str]:
    """One generated paragraph: did the parse help where it was expected to (CoLA)?"""
    syntax = {d: [o for o in found if o["syntax"]] for d, found in outcomes.items()}
    syntax = {d: found for d, found in syntax.items() if found}
    if not syntax:
        return []

    def summary(dataset: str) -> str:
        return "; ".join(f"{o['cell']} {_outcome_word(o)} ({100 * o['delta']:+.2f} points, "
                         f"p {_p_text(o['p'], '= ')})" for o in syntax[dataset])

    def helped(dataset: str) -> bool:
        return any(o["p"] < 0.05 and o["delta"] > 0 for o in syntax[dataset])

    lines = [title, "",
             "Cells whose graph includes the dependency parse, each against the best pure cell "
             "of its dataset (paired bootstrap, Holm within the dataset)."]
    if "cola" in syntax:
        lines.append(f"Expected to help on CoLA (acceptability is a syntactic judgement): it "
                     f"{'did' if helped('cola') else 'did not'}: {summary('cola')}.")
    others = [d for d in syntax if d != "cola"]
    if others:
        lines.append("Where it was not specifically expected: " + "; ".join(
            f"{d}: {'helped' if helped(d) else 'did not help'} ({summary(d)})" for d in others) + ".")
    return lines + [""]
