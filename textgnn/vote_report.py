"""Variance or bias? What the seeds' majority vote says about a gap.

A cell's score is the mean over its seeds' runs. A model whose seeds disagree on many texts
loses accuracy to variance, which a vote over the runs' predictions removes; a model wrong
the same way on every seed loses it to bias, which no vote removes. So beside a table, the
majority vote of each compared cell's seeds (ties go to the label of the earliest seed among
the tied): if the best GCN-style cell's vote reaches the strongest baseline that its runs
trail, the gap between them was the graph model's variance, not what it can represent.

The vote costs as many trainings as the cell has seeds, so it explains a gap and does not
contest it: the verdict and the targets stay on the mean over seeds. Read from the runs'
stored test predictions; nothing is trained.
"""

from __future__ import annotations

import numpy as np

from .agreement import compared_predictions
from .cost_report import cell_name
from .stats import p_text, paired_bootstrap, score


def majority_vote(preds: np.ndarray) -> np.ndarray:
    """(seeds, texts) label ids -> (texts,): each text's most frequent label over the seeds;
    a tie goes to the label the earliest seed among the tied predicted."""
    preds = np.asarray(preds)
    labels = np.unique(preds)
    counts = np.stack([(preds == label).sum(0) for label in labels])  # (labels, texts)
    tied = counts == counts.max(0)  # (labels, texts): the most frequent labels
    first = np.full(counts.shape, preds.shape[0])  # the earliest seed predicting each label
    for seed in range(preds.shape[0] - 1, -1, -1):
        first[np.searchsorted(labels, preds[seed]), np.arange(preds.shape[1])] = seed
    return labels[np.argmin(np.where(tied, first, preds.shape[0] + 1), axis=0)]


def vote_lines(dataset: str, metric: str, rows: list[dict], cells: dict, gold: np.ndarray | None,
               reference: tuple[str, str]) -> list[str]:
    """A table (the best GCN-style cell, the reference, the graph-free control and the
    strongest baseline: the mean of their runs beside their seeds' vote) and a sentence on
    how much of the best cell's gap to the strongest baseline the vote closes, with a paired
    bootstrap over test texts of the vote against the baseline, which the best cell's row
    keeps for the verdict: ``best["vote_vs_baseline"]`` = (Δ, p)."""
    if gold is None or (compared := compared_predictions(rows, cells, reference)) is None:
        return []
    best, _, bag, shown, preds = compared
    if len(preds[cell_name(best)]) < 3:  # a vote of two seeds is one seed's tie-break
        return []
    votes = {name: majority_vote(p) for name, p in preds.items()}
    scale = 100.0
    lines = [f"### {dataset}: variance or bias?", "",
             f"Test {metric} × 100: the mean of each cell's runs beside the majority vote of its "
             "seeds' predictions (ties to the earliest seed's label). A gap that the vote closes "
             "was the seeds' variance; one it leaves was the model's bias. The vote costs a "
             "training per seed: an explanation, not a contestant.", "",
             "| cell | seeds | mean of runs | vote of seeds | vote − mean |",
             "|---|---:|---:|---:|---:|"]
    for r in shown:
        name = cell_name(r)
        vote = score(gold, votes[name], metric)
        lines.append(f"| {name} | {len(preds[name])} | {scale * r['mean']:.2f} | "
                     f"{scale * vote:.2f} | {scale * (vote - r['mean']):+.2f} |")
    if bag is None:
        return lines + [""]
    b, k = cell_name(best), cell_name(bag)
    theirs = votes[k] if len(preds[k]) > 1 else preds[k][0]
    paired = paired_bootstrap(gold, votes[b][None, :], theirs[None, :], metric=metric)
    best["vote_vs_baseline"] = (paired.delta, paired.p)
    their_score = score(gold, theirs, metric)
    gap = their_score - best["mean"]
    sentence = (f"On {dataset}, the vote of {b}'s {len(preds[b])} seeds scores "
                f"{scale * score(gold, votes[b], metric):.2f} (its runs {scale * best['mean']:.2f} "
                f"on average) against the strongest baseline, {k}, at {scale * their_score:.2f}"
                f"{' (its vote)' if len(preds[k]) > 1 else ''}: Δ {scale * paired.delta:+.2f}, "
                f"p {p_text(paired.p, '= ')} (paired bootstrap over test texts)")
    if gap > 0:
        closed = (score(gold, votes[b], metric) - best["mean"]) / gap
        sentence += (f"; its runs trail that score by {scale * gap:.2f} points, and the vote "
                     + ("passes it" if closed >= 1 else f"closes {100 * closed:.0f} % of that gap"))
    return lines + ["", sentence + ".", ""]
