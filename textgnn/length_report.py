"""Where a gap comes from: one dataset's test set cut into bins by text length, and in each
bin the best GCN-style cell against the Transformer and against the graph-free control.

The study's argument is about length. Attention over the complete graph costs O(n²), so on
long documents the Transformer is cut (at 512 tokens, as BERT is) while a sparse graph reads
everything; if that is why a sparse graph wins, its gain must sit in the texts longer than
the cut. On sentences, a structural prior (a window, a parse) may matter more as sentences
grow. The bins are the test set's length quartiles; every cut of a cell in the table that
some test text exceeds is a bin edge instead of the quartiles above it, so the texts a
truncated cell never read whole form a bin of their own.

Each bin's comparison is the paired bootstrap of ``stats`` on that bin's texts, seeds paired,
Holm-corrected over the bins of one column. A text's length is its tokens as the parser's
tokenizer cuts them, before any cut (``lengths-<dataset>.json``, written by the study).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .baselines import BASELINES
from .cost_report import cell_name
from .figures import save_figure, subplots
from .stats import best_on_dev, holm, outcome_word, p_text, paired_bootstrap
from .verdict import BeyondCut, compared_rows

QUANTILES = (0.25, 0.5, 0.75)


def length_bins(lengths: np.ndarray, cuts: set[int]) -> list[tuple[int, int]]:
    """``(low, high]`` token ranges that each hold at least one text: edges at every cut
    shorter than the longest text and at the length quartiles below the shortest such cut,
    so that the texts beyond a cut stay together."""
    longest = int(lengths.max())
    cuts = {c for c in cuts if c < longest}
    edges = {q for q in (int(np.quantile(lengths, q)) for q in QUANTILES)
             if q < min(cuts, default=longest)} | cuts
    bounds = [0, *sorted(e for e in edges if 0 < e < longest), longest]
    return [(low, high) for low, high in zip(bounds, bounds[1:], strict=False)
            if np.any((lengths > low) & (lengths <= high))]


def _bin_name(low: int, high: int, cuts: set[int]) -> str:
    name = f"≤ {high}" if low == 0 else f"{low + 1}–{high}"
    return name + (f" (beyond the {low} cut)" if low in cuts else "")


def _score(gold: np.ndarray, preds: np.ndarray, metric: str) -> float:
    """Mean over seeds (rows of ``preds``) of the metric on these texts."""
    if metric == "accuracy":
        return float((preds == gold).mean())
    from sklearn.metrics import matthews_corrcoef

    return float(np.mean([matthews_corrcoef(gold, p) for p in preds]))


def predictions(by_seed: dict[int, dict], seeds: list[int] | None = None) -> np.ndarray:
    """(seeds, texts): the runs of ``seeds``, by default all of the cell's."""
    return np.asarray([by_seed[s]["test_predictions"] for s in (seeds or sorted(by_seed))])


def compare_on_subsets(mine: dict, theirs: dict, gold: np.ndarray, masks: list[np.ndarray],
                       metric: str) -> list[tuple[float, float] | None]:
    """One cell's runs against another's (seed -> record) on each subset of the test texts
    (boolean ``masks``), on the seeds both have: Δ and p of the paired bootstrap within the
    subset, Holm over the subsets; None for each subset when they share no seed."""
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return [None] * len(masks)
    a, b = predictions(mine, seeds), predictions(theirs, seeds)
    tests = [paired_bootstrap(gold[m], a[:, m], b[:, m], metric=metric) for m in masks]
    return [(t.delta, p) for t, p in zip(tests, holm([t.p for t in tests]), strict=True)]


def length_lines(dataset: str, metric: str, rows: list[dict], cells: dict, gold: np.ndarray | None,
                 lengths: np.ndarray | None, reference: tuple[str, str],
                 path: Path) -> tuple[list[str], BeyondCut | None]:
    """The section "By text length" of one dataset's table: a table of the bins, one generated
    sentence and a plot (written to ``path``); nothing when the table lacks the reference, a
    GCN-style cell tested against it, the gold labels or the lengths. Also the best cell
    against the reference on the texts beyond the reference's own cut, for the verdict, or
    None where the reference reads every text whole."""
    compared = compared_rows(rows, reference)
    if compared is None or gold is None or lengths is None or len(lengths) != len(gold):
        return [], None
    ref, best, control = compared
    baselines = [r for r in rows if r["model"] in BASELINES]
    baseline = best_on_dev(baselines) if baselines else None
    shown = [r for r in (ref, best, control, baseline) if r is not None]
    runs = {cell_name(r): cells[(r["encoder"], r["graph"])] for r in shown}  # seed -> record
    cuts = {c for r in shown for run in runs[cell_name(r)].values()
            if (c := run["config"]["data"].get("max_tokens"))}
    bins = length_bins(lengths, cuts)
    masks = [(lengths > low) & (lengths <= high) for low, high in bins]
    # each cell's metric per bin, mean over its own seeds (the table and the plot)
    preds = {name: predictions(by_seed) for name, by_seed in runs.items()}  # (seeds, texts)
    scores = {name: [_score(gold[m], p[:, m], metric) for m in masks] for name, p in preds.items()}
    against_ref, against_control = (
        compare_on_subsets(runs[cell_name(best)], runs[cell_name(other)] if other else {}, gold,
                           masks, metric) for other in (ref, control))
    scale = 100.0
    lines = [f"### {dataset} by text length", "",
             f"The test set in bins of text length (tokens before any cut; the length "
             f"quartiles, and the texts longer than a cell's cut in a bin of their own), test "
             f"{metric} × 100 per bin, mean over each cell's "
             f"seeds; Δ: {cell_name(best)}, the best GCN-style cell on dev, against each, seeds paired, "
             "paired bootstrap within the bin, Holm over the bins.", "",
             "| tokens | texts | " + " | ".join(cell_name(r) for r in shown)
             + f" | Δ vs {cell_name(ref)} | p (Holm) |"
             + (f" Δ vs {cell_name(control)} | p (Holm) |" if control else ""),
             "|---|---:|" + "---:|" * (len(shown) + 2 + (2 if control else 0))]
    for i, (b, m, vs_ref, vs_control) in enumerate(
            zip(bins, masks, against_ref, against_control, strict=True)):
        row = (f"| {_bin_name(*b, cuts)} | {int(m.sum())} | "
               + " | ".join(f"{scale * scores[cell_name(r)][i]:.2f}" for r in shown)
               + f" | {scale * vs_ref[0]:+.2f} | {p_text(vs_ref[1])} |")
        if control is not None:
            row += (" - | - |" if vs_control is None
                    else f" {scale * vs_control[0]:+.2f} | {p_text(vs_control[1])} |")
        lines.append(row)
    lines += ["", _sentence(dataset, cell_name(best), cell_name(ref), bins, cuts, against_ref,
                            cell_name(control) if control else None, against_control), ""]
    if _plot(dataset, metric, bins, masks, cuts,
             [(cell_name(r), scores[cell_name(r)], r is baseline) for r in shown], path):
        lines += [f"![{dataset} by length]({path.name})", ""]
    ref_cut = next(iter(runs[cell_name(ref)].values()))["config"]["data"].get("max_tokens")
    beyond = next((BeyondCut(*t, low, int(m.sum()), len(lengths))
                   for (low, _), m, t in zip(bins, masks, against_ref, strict=True)
                   if low == ref_cut and t is not None), None)
    return lines, beyond


def _sentence(dataset: str, best: str, ref: str, bins: list[tuple[int, int]], cuts: set[int],
              against_ref: list, control: str | None, against_control: list) -> str:
    def where(tests: list) -> str:
        found = [_bin_name(*b, set()) for b, t in zip(bins, tests, strict=True)
                 if t is not None and outcome_word(*t) != "equal"]
        if not found:
            return "no bin"
        return f"the bin{'s' if len(found) > 1 else ''} of {', '.join(found)} tokens"

    ref_deltas = ", ".join(f"{100 * d:+.2f}" for d, _ in against_ref)
    sentence = (f"On {dataset}, {best} against {ref} from the shortest bin to the longest: "
                f"{ref_deltas} points; significant (Holm p < 0.05) in {where(against_ref)}.")
    for (low, _), (delta, p) in zip(bins, against_ref, strict=True):
        if low not in cuts:
            continue
        sentence += (f" On the texts longer than {low} tokens, which a cell cut at {low} never "
                     f"reads whole, {best} is {outcome_word(delta, p)} "
                     f"({100 * delta:+.2f} points, Holm p {p_text(p, '= ')}).")
    if control is not None:
        sentence += (f" Against the graph-free control {control}, the graph's difference is "
                     "significant in " + where(against_control) + ".")
    return sentence


def _plot(dataset: str, metric: str, bins: list[tuple[int, int]], masks: list[np.ndarray],
          cuts: set[int], series: list[tuple[str, list[float], bool]], path: Path) -> bool:
    """The metric per length bin, one line per cell (a baseline dashed and gray)."""
    if len(bins) < 2:
        return False
    fig, ax = subplots(figsize=(7, 4.5))
    x = np.arange(len(bins))
    for label, scores, baseline in series:
        ax.plot(x, [100 * v for v in scores], marker="o", label=label,
                **({"color": "gray", "ls": "--"} if baseline else {}))
    ax.set_xticks(x, [f"{_bin_name(low, high, set())}\n{int(m.sum())} texts"
                      for (low, high), m in zip(bins, masks, strict=True)], fontsize=8)
    for i, (low, _) in enumerate(bins):
        if low in cuts:
            ax.axvline(i - 0.5, color="black", lw=1, ls=":")
            ax.annotate(f"cut at {low}", (i - 0.5, ax.get_ylim()[0]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel="test text length, tokens (bins)", ylabel=f"test {metric} (%)",
           title=f"{dataset}: {metric} by text length")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return True
