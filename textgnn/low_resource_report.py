"""The low-resource section of a study: per dataset and share of the training set, the
table of its cells against the Transformer at the same share (``dataset_report``), a plot of
the test metric against the share with the best GCN-style cell's Δ and p above each share,
and how far each cell's seeds spread at each share."""

from __future__ import annotations

from pathlib import Path

from .baselines import BASELINES
from .cost_report import cell_name
from .dataset_report import best_model, dataset_rows, dataset_section
from .figures import save_figure, subplots
from .metrics import study_metric
from .selection_report import Retrained
from .stats import p_text
from .verdict import REFERENCE, Outcome, regime_outcome


def share_name(dataset: str, fraction: float) -> str:
    """A share of a dataset as the verdict and the checks name it: "mr · 1%"."""
    return f"{dataset} · {fraction:.0%}"


def table_name(dataset: str, fraction: float | None) -> str:
    """The table a run or cell belongs to, as the verdict and the checks name it: its
    dataset's main table ("mr") or a share of its curve ("mr · 1%")."""
    return dataset if fraction is None else share_name(dataset, fraction)


def share_outcomes(study_dir: Path, runs: list[dict], searched: dict[str, Retrained]
                   ) -> dict[str, tuple[Outcome | None, dict]]:
    """Per dataset and share of a study's low-resource runs (:func:`share_name`): the best
    GCN-style cell against the Transformer and the row of the best graph model from scratch,
    as :func:`low_resource_lines` computes them, without its tables and plots (a study that
    checks another's curves)."""
    found = {}
    for dataset, fraction in sorted({(r["dataset"], r["fraction"]) for r in runs
                                     if r.get("fraction") is not None}):
        at = [r for r in runs if r["dataset"] == dataset and r.get("fraction") == fraction]
        rows = dataset_rows(study_dir, dataset, at, REFERENCE, searched)[0]
        if (best := best_model(rows)) is not None:
            where = share_name(dataset, fraction)
            found[where] = (regime_outcome("low resource", where, rows, REFERENCE), best)
    return found


def low_resource_lines(study_dir: Path, runs: list[dict], searched: dict[str, Retrained]
                       ) -> tuple[list[str], list, dict[str, tuple[Outcome | None, dict]]]:
    """Per dataset, each share of the training set: the table of its cells against the
    Transformer on the complete graph at the same share (the full-data grid is the 100 %
    point), and a plot of the test metric against the share; the verdict's outcome at each
    share below 100 %; and per share what a study that checks this one sets beside it (as
    :func:`share_outcomes` gives it)."""
    low = [r for r in runs if r.get("fraction") is not None]
    if not low:
        return [], [], {}
    outcomes, checked = [], {}
    shared = {r["dataset"] for r in low}
    full_data = ("100 % is the full-data grid above" if any(
        r.get("fraction") is None and r["dataset"] in shared for r in runs)
        else "this study has no full-data runs: its curves end at its largest share")
    lines = ["# Low resource", "",
             "Cells trained on a stratified share of the training set (`data.train_fraction`, "
             "seeded by `data.split_seed`: the same examples for every cell and baseline of a "
             f"dataset); dev and test unchanged; {full_data}. Δ: "
             f"difference to `{REFERENCE[0]}` on the `{REFERENCE[1]}` graph at the same share, "
             "seeds paired, paired bootstrap, Holm within the dataset and share.", ""]
    for dataset in sorted(shared):
        mine = [r for r in low if r["dataset"] == dataset]
        cells = {(r["encoder"], r["graph"]) for r in mine}
        full = [r for r in runs if r["dataset"] == dataset and r.get("fraction") is None
                and not r.get("tag") and not r.get("label") and (r["encoder"], r["graph"]) in cells]
        curves: dict[str, list[tuple[float, float, float]]] = {}
        dashed: set[str] = set()  # the baselines' curves
        marks: dict[float, Outcome] = {}  # the best GCN-style cell against the Transformer
        spread: dict[str, dict[float, float | None]] = {}  # std over seeds, None for one run
        metric = study_metric(dataset)
        for fraction in sorted({r["fraction"] for r in mine}) + [1.0]:
            at = full if fraction == 1.0 else [r for r in mine if r["fraction"] == fraction]
            if not at:
                continue
            section = dataset_section(study_dir, dataset, at, REFERENCE,
                                       f"## {share_name(dataset, fraction)} of train", searched,
                                       grid=False)
            lines += section["lines"]
            outcome = regime_outcome("low resource", share_name(dataset, fraction),
                                     section["rows"], REFERENCE)
            if outcome is not None:
                marks[fraction] = outcome
                if fraction < 1:  # the full-data point is the short-texts regime's
                    outcomes.append(outcome)
            if fraction < 1 and (best := best_model(section["rows"])) is not None:
                checked[share_name(dataset, fraction)] = (outcome, best)
            for row in section["rows"]:
                name = cell_name(row)
                curves.setdefault(name, []).append((fraction, row["mean"], row["std"]))
                spread.setdefault(name, {})[fraction] = row["std"] if row["n"] > 1 else None
                if row["model"] in BASELINES:
                    dashed.add(name)
        path = study_dir / f"{dataset}-low-resource.png"
        plot_curves(curves, dashed, dataset, metric, path, marks)
        lines += [f"![{dataset}, low resource]({path.name})", ""]
        lines += spread_lines(dataset, metric, spread, dashed)
    return lines, outcomes, checked


def spread_lines(dataset: str, metric: str, spread: dict[str, dict[float, float | None]],
                  baselines: set[str]) -> list[str]:
    """How far each cell's seeds spread at each share (``spread``: cell -> share -> std over
    seeds, None for a cell of one run): a model that loses with few labels may do so on
    average or by some seeds failing, and the two call for different remedies. A table, and a
    sentence on the shares where the Transformer's seeds spread more than every other graph
    model's (descriptive: no test)."""
    reference = f"{REFERENCE[0]}-{REFERENCE[1]}"
    if reference not in spread:
        return []
    shares = sorted({f for by_share in spread.values() for f in by_share})
    shown = lambda sd: "-" if sd is None else f"{100 * sd:.2f}"  # noqa: E731
    lines = [f"Spread over seeds on {dataset}: the std of test {metric} × 100 over each cell's "
             "seeds at each share (\"-\": a single run, as a deterministic baseline has).", "",
             "| cell | " + " | ".join(f"{f:.0%}" for f in shares) + " |",
             "|---|" + "---:|" * len(shares)]
    lines += [f"| {name} | " + " | ".join(shown(spread[name].get(f)) for f in shares) + " |"
              for name in sorted(spread)]
    mine = spread[reference]
    models = [n for n in spread if n not in baselines and n != reference]
    widest = [f for f in shares if mine.get(f) is not None and models
              and all(mine[f] > (spread[n].get(f) or 0.0) for n in models)]
    if not widest:
        return lines + ["", "At no share do the Transformer's seeds spread more than every other "
                        "graph model's.", ""]
    worst = max(widest, key=lambda f: mine[f])
    others = max(spread[n].get(worst) or 0.0 for n in models)
    return lines + ["", f"The Transformer's seeds spread more than every other graph model's at "
                    f"{len(widest)} of {len(shares)} shares "
                    f"({', '.join(f'{f:.0%}' for f in widest)}); most at {worst:.0%}: std "
                    f"{100 * mine[worst]:.2f} points against at most {100 * others:.2f} for the "
                    "others.", ""]


def plot_curves(curves: dict[str, list[tuple[float, float, float]]], dashed: set[str],
                 dataset: str, metric: str, path: Path, marks: dict[float, Outcome]) -> None:
    """Test metric (mean ± std over seeds) against the share of the training set, log scale;
    above each share, the best GCN-style cell's Δ against the Transformer there and its Holm
    p (the table's), and a star on that cell's point where the difference is significant."""
    fig, ax = subplots(figsize=(7.5, 5))
    for name, points in sorted(curves.items()):
        xs, means, stds = zip(*sorted(points), strict=True)
        style = "--" if name in dashed else "-"
        ax.errorbar([100 * x for x in xs], [100 * m for m in means], [100 * s for s in stds],
                    ls=style, marker="o", ms=3, capsize=2, label=name)
    significant = [(100 * f, 100 * o.mean) for f, o in marks.items() if o.word != "equal"]
    if significant:
        ax.scatter(*zip(*significant, strict=True), marker="*", s=160, facecolor="none",
                   edgecolor="black", zorder=4,
                   label="best GCN-style cell ≠ Transformer\n(Holm p < 0.05)")
    for fraction, o in marks.items():
        ax.annotate(f"{o.cell}\n{100 * o.delta:+.1f}, p {p_text(o.p, '= ')}",
                    (100 * fraction, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=6)
    ax.set(xscale="log", xlabel="share of the training set (%)", ylabel=f"test {metric} (%)")
    ax.set_title(f"{dataset}: low resource, mean ± std over seeds; above each share, the best "
                 "GCN-style cell's Δ vs the Transformer", fontsize=9, pad=30)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)
