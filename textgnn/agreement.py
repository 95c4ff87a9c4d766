"""Do two encoders learn the same function? How often their test predictions agree, beside
how often two seeds of one encoder agree.

Equal accuracy does not mean the same predictions: a GCN on a window graph and the
Transformer on the complete graph may score alike while getting different texts wrong. Two
runs of one cell that differ only in their seed set the scale: if the two encoders agree
about as often as an encoder's own reruns do, the data cannot tell them apart; if they agree
less, they learned different functions, and "equal" hides a difference an ensemble or a
per-text analysis could use. Agreement here is the share of test texts on which two runs
predict the same label, averaged over pairs of runs (seeds s ≠ t within a cell, every seed
pair across two cells). Beside them the table's strongest baseline (a bag of n-grams, best on
dev): a graph model that agrees with it about as often as with its own reruns has learned
much the same function as a bag of words. Descriptive: no test is made on it.
"""

from __future__ import annotations

from itertools import combinations, product

import numpy as np

from .baselines import BASELINES
from .cost_report import cell_name
from .verdict import compared_rows, strongest_baseline


def agreement(a: np.ndarray, b: np.ndarray | None = None) -> float | None:
    """Mean share of texts on which two runs predict alike: over the pairs of rows of ``a``
    (its seeds) when ``b`` is None, else over every row of ``a`` with every row of ``b``.
    None when ``a`` alone has fewer than two rows."""
    pairs = list(combinations(a, 2)) if b is None else list(product(a, b))
    if not pairs:
        return None
    return float(np.mean([np.mean(x == y) for x, y in pairs]))


def compared_predictions(rows: list[dict], cells: dict, reference: tuple[str, str]):
    """The cells a table's explanations compare (its best GCN-style cell, the reference, the
    graph-free control and the strongest baseline, those it has) with each one's test
    predictions, (seeds, texts) by cell name: (best, ref, bag, shown rows, predictions); None
    where the table lacks the reference or a tested GCN-style cell."""
    if (compared := compared_rows(rows, reference)) is None:
        return None
    ref, best, control = compared
    bag = strongest_baseline(rows, BASELINES)
    shown = [r for r in (best, ref, control, bag) if r is not None]
    preds = {cell_name(r): np.asarray([run["test_predictions"] for run in
                                       cells[(r["encoder"], r["graph"])].values()])
             for r in shown}
    return best, ref, bag, shown, preds


def agreement_lines(dataset: str, rows: list[dict], cells: dict,
                    reference: tuple[str, str]) -> list[str]:
    """A small table and a sentence: the best GCN-style cell, the reference, the graph-free
    control and the strongest baseline (best on dev: does a graph model learn a bag of
    n-grams' function?), each against its own seeds and against the others."""
    if (compared := compared_predictions(rows, cells, reference)) is None:
        return []
    best, ref, bag, shown, preds = compared
    names = list(preds)

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    lines = [f"### {dataset}: do they learn the same function?", "",
             "Share of test texts (%) on which two runs predict the same label: on the "
             "diagonal two seeds of one cell (mean over seed pairs), elsewhere a run of each "
             "cell (mean over all pairs of their seeds).", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for x in names:
        lines.append(f"| {x} | " + " | ".join(
            pct(agreement(preds[x]) if x == y else agreement(preds[x], preds[y])) for y in names)
            + " |")
    b, r = cell_name(best), cell_name(ref)
    within = {name: agreement(preds[name]) for name in (b, r)}
    sentence = (f"On {dataset}, {b} and {r} predict alike on {pct(agreement(preds[b], preds[r]))} % "
                "of the test texts")
    if None not in within.values():
        sentence += (f", two seeds of {b} on {pct(within[b])} % and two of {r} on "
                     f"{pct(within[r])} %")
    if bag is not None:
        k = cell_name(bag)
        sentence += (f"; {b} and the strongest baseline, {k}, on "
                     f"{pct(agreement(preds[b], preds[k]))} %, {r} and {k} on "
                     f"{pct(agreement(preds[r], preds[k]))} %")
    return lines + ["", sentence + ".", ""]
