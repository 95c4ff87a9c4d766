"""Which values went with a high dev score? A search's trials by the value of each discrete key.

A search's trials, read across the cells of a dataset, show which values of a discrete key
(pooling, hidden size, min_freq, layers) the high dev scores came with: for each value, the
number of complete trials that tried it, their best and their median dev score. It is a
hint, not an ablation, since every other key differs between the trials; but a value whose
best trial stays below another value's median is one the search's good configs avoided.
TUNING.md prints it under each dataset's table, where to look when a cell's starting point
(``default_trial``) scores far below what its search chose.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any, NamedTuple


class ValueRow(NamedTuple):
    key: str
    value: Any
    trials: int  # complete trials that tried the value
    best: float
    median: float


def value_rows(trials: Iterable[tuple[dict, float]], keys: list[str]) -> list[ValueRow]:
    """Per key of ``keys`` (in that order) that the ``(params, dev score)`` trials tried with
    at least two values, one row per value, numbers in order, then words: a key a trial does
    not have (heads for a GCN) leaves that trial out of its rows."""
    trials = list(trials)
    rows = []
    for key in keys:
        scores: dict[Any, list[float]] = {}
        for params, score in trials:
            if key in params:
                scores.setdefault(params[key], []).append(score)
        if len(scores) < 2:  # one value tried: nothing to set beside it
            continue
        rows += [ValueRow(key, value, len(s), max(s), statistics.median(s))
                 for value, s in sorted(scores.items(), key=_order)]
    return rows


def _order(item: tuple[Any, list[float]]) -> tuple[bool, float, str]:
    value = item[0]
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (not number, value if number else 0.0, str(value))


def value_lines(trials: Iterable[tuple[dict, float]], keys: list[str]) -> list[str]:
    """TUNING.md's paragraph and table of :func:`value_rows` (no lines if no key qualifies)."""
    trials = list(trials)
    rows = value_rows(trials, keys)
    if not rows:
        return []
    cells = ["| key | value | complete trials | best dev × 100 | median dev × 100 |",
             "|---|---|---:|---:|---:|"]
    cells += [f"| `{r.key}` | {r.value} | {r.trials} | {100 * r.best:.2f} | {100 * r.median:.2f} |"
              for r in rows]
    return [f"Values: the {len(trials)} complete trials of this dataset's cells by the "
            "value of each discrete key of the space, their best and median dev score. Every "
            "other key differs between them: what a value went with, not what it causes.", "",
            *cells, ""]
