"""Where a gap comes from, by class: on a dataset of three or more classes, the share of each
class's test texts that the best GCN-style cell, the Transformer and the graph-free control
get right (the class's recall), and the best cell against each of the other two within the
class.

A verdict of "equal" over the whole test set can hide a gain on one class and a loss on
another (TREC's question types, R8's and Ohsumed's topics of very different sizes), and a
gain can sit in one class that a structural prior suits. Within one class every gold label
is the same, so the comparison is of accuracy there (MCC is undefined on one class): the
paired bootstrap of ``stats`` on the class's texts, seeds paired, Holm over the classes. A
binary task gets no section: its two recalls restate its accuracy and its confusion matrix.
"""

from __future__ import annotations

import numpy as np

from .cost_report import cell_name
from .length_report import compare_on_subsets, predictions
from .stats import outcome_word, p_text
from .verdict import compared_rows


def class_lines(dataset: str, rows: list[dict], cells: dict, gold: np.ndarray | None,
                reference: tuple[str, str]) -> list[str]:
    """The section "By class" of one dataset's table: a row per class and one generated
    sentence; nothing for a binary task, or when the table lacks the reference, a GCN-style
    cell tested against it or the gold labels."""
    compared = compared_rows(rows, reference)
    if compared is None or gold is None or len(np.unique(gold)) < 3:
        return []
    ref, best, control = compared
    shown = [r for r in (ref, best, control) if r is not None]
    runs = {cell_name(r): cells[(r["encoder"], r["graph"])] for r in shown}  # seed -> record
    names = next(iter(runs[cell_name(best)].values())).get("labels")
    classes = np.unique(gold)
    masks = [gold == k for k in classes]
    right = {name: predictions(by_seed) == gold for name, by_seed in runs.items()}  # (seeds, texts)
    recall = {name: [float(ok[:, m].mean()) for m in masks] for name, ok in right.items()}
    tests = {cell_name(r): compare_on_subsets(runs[cell_name(best)], runs[cell_name(r)], gold,
                                              masks, "accuracy")
             for r in (ref, control) if r is not None}
    label = [names[k] if names and k < len(names) else str(k) for k in classes]
    header = "| class | texts | " + " | ".join(runs) + " | " + " | ".join(
        f"Δ vs {name} | p (Holm)" for name in tests) + " |"
    lines = [f"### {dataset} by class", "",
             f"Recall × 100 of each class (its test texts predicted right), mean over each "
             f"cell's seeds; Δ: {cell_name(best)}, the best GCN-style cell on dev, against each, "
             "seeds paired, paired bootstrap within the class, Holm over the classes.", "",
             header, "|---|---:|" + "---:|" * (len(runs) + 2 * len(tests))]
    for i, (name, m) in enumerate(zip(label, masks, strict=True)):
        cols = [f"{100 * recall[cell][i]:.2f}" for cell in runs]
        for found in tests.values():
            cols += ["-", "-"] if found[i] is None else [f"{100 * found[i][0]:+.2f}",
                                                          p_text(found[i][1])]
        lines.append(f"| {name} | {int(m.sum())} | " + " | ".join(cols) + " |")
    return lines + ["", _sentence(dataset, cell_name(best), label, tests), ""]


def _sentence(dataset: str, best: str, label: list[str],
              tests: dict[str, list[tuple[float, float] | None]]) -> str:
    parts = []
    for other, found in tests.items():
        words = {w: [name for name, t in zip(label, found, strict=True)
                     if t is not None and outcome_word(*t) == w] for w in ("better", "worse")}
        said = [f"significantly {w} on {', '.join(names)}" for w, names in words.items() if names]
        parts.append(f"against {other}, {'; '.join(said) if said else 'no class differs significantly'}")
    return f"On {dataset}, {best} by class (Holm over the classes): {'; '.join(parts)}."
