"""The statistics of a study's report: mean and confidence interval over seeds, the paired
bootstrap over test examples and seeds (accuracy or MCC) with its interval, the same for two
cells' runs on the seeds both have, Holm's correction, how a p-value prints and a sentence
lists things, and which cell of a table a report calls its best."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import TextGNNError


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean, sample standard deviation and the half-width of a 95 % t interval."""
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return float(arr.mean()), 0.0, float("nan")
    std = float(arr.std(ddof=1))
    return float(arr.mean()), std, float(stats.t.ppf(0.975, arr.size - 1) * std / math.sqrt(arr.size))


@dataclass(frozen=True)
class Paired:
    """A paired comparison of two cells, a - b: the observed difference of the metric (mean
    over seeds), its two-sided bootstrap p-value and the resampled differences."""

    delta: float
    p: float
    resampled: np.ndarray

    def interval(self, comparisons: int = 1) -> tuple[float, float]:
        """The percentile interval of the difference, 95 % jointly over ``comparisons``
        (Bonferroni: each at level 1 - 0.05 / comparisons). Holm is never stricter than
        Bonferroni, so an interval that excludes 0 goes with a Holm p < 0.05 over the same
        comparisons; an interval around 0 bounds how large an "equal" difference can be."""
        tail = 0.05 / comparisons / 2
        low, high = np.quantile(self.resampled, [tail, 1 - tail])
        return float(low), float(high)


def paired_bootstrap(gold: np.ndarray, preds_a: np.ndarray, preds_b: np.ndarray,
                     samples: int = 2000, seed: int = 0, metric: str = "accuracy") -> Paired:
    """Mean difference a - b of ``metric`` (accuracy or mcc) over seeds, its two-sided
    bootstrap p-value and its resampled differences.

    ``preds_*`` are (seeds, examples), seeds paired by row. Both sources of chance in a
    score are resampled (Bouthillier et al., MLSys 2021): the test examples, with
    replacement and the same draw for every seed of both cells, and the training seeds, rows
    drawn with replacement in pairs. A gap that rests on one lucky seed is then not called
    significant, as it would be if the examples alone were resampled. The p-value is twice
    the smaller tail of the resampled differences around zero.
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, gold.size, size=(samples, gold.size))
    seeds = rng.integers(0, len(preds_a), size=(samples, len(preds_a)))
    if metric == "accuracy":  # linear in the examples: per seed, average per example first
        correct = (preds_a == gold).astype(float) - (preds_b == gold).astype(float)
        observed = float(correct.mean())
        per_seed = np.stack([row[idx].mean(1) for row in correct], 1)  # (samples, seeds)
    elif metric == "mcc":
        rows = np.concatenate([np.arange(gold.size)[None, :], idx])  # row 0: the test set as is
        per_seed = (_mcc_rows(gold, preds_a, rows) - _mcc_rows(gold, preds_b, rows)).T
        observed, per_seed = float(per_seed[0].mean()), per_seed[1:]
    else:
        raise TextGNNError(f"paired_bootstrap: unknown metric {metric!r}; choose accuracy or mcc")
    diffs = np.take_along_axis(per_seed, seeds, axis=1).mean(1)
    tail = min((diffs <= 0).mean(), (diffs >= 0).mean())
    return Paired(observed, float(min(1.0, 2 * tail)), diffs)


def paired_runs(gold, mine: dict, theirs: dict, metric: str) -> tuple[Paired, int] | None:
    """Two cells' runs (seed -> record) compared on the seeds both have: the paired
    bootstrap, and how many seeds; None when they share none."""
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return None
    return paired_bootstrap(gold, np.asarray([mine[s]["test_predictions"] for s in seeds]),
                            np.asarray([theirs[s]["test_predictions"] for s in seeds]),
                            metric=metric), len(seeds)


def score(gold: np.ndarray, preds: np.ndarray, metric: str) -> float:
    """One prediction vector's ``metric`` (accuracy or mcc) against ``gold``, as the
    bootstrap computes it."""
    preds = np.asarray(preds)
    if metric == "accuracy":
        return float(np.mean(preds == gold))
    if metric == "mcc":
        return float(_mcc_rows(gold, preds[None, :], np.arange(gold.size)[None, :])[0, 0])
    raise TextGNNError(f"score: unknown metric {metric!r}; choose accuracy or mcc")


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


def outcome_word(delta: float, p: float) -> str:
    """A paired comparison's outcome: "better" or "worse" at p < 0.05, else "equal"."""
    if p >= 0.05:
        return "equal"
    return "better" if delta > 0 else "worse"


def join_words(items: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c", as the generated sentences list things."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def p_text(p: float, equals: str = "") -> str:
    # 2,000 bootstrap resamples cannot resolve a p-value below 0.001
    return "< 0.001" if p < 0.001 else f"{equals}{p:.3g}"


def best_on_dev(rows: list[dict]) -> dict:
    """The row a report calls "the best" of several cells: the highest mean dev score over
    seeds (``row["dev"]``; for a tuned cell the report leaves out the run whose dev its
    search saw, ``selection_report``). Picking it by test score would select on test and
    report the winner of that selection with its luck included (the winner's curse); test is
    read only to report it."""
    return max(rows, key=lambda r: r["dev"])
