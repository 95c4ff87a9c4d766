"""Did the budget suffice? How each cell's best dev score grew over its trials.

An equal budget is only fair if it is enough for every cell: a cell still improving at its
last trials may be held back by the budget, not by its encoder. For each dataset of a search,
TUNING.md gets the best dev score so far after each finished trial, one line per cell
(``<dataset>-search.png``), and a sentence on the last quarter of the budget: which cells
still raised their best there, and by how much. Pruned trials count toward the budget but
carry no final score, so the curve stays flat through them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

from .figures import save_figure, subplots


class Capped(NamedTuple):
    """A cell's trials against its epoch limit (``train.epochs``)."""

    hit: int  # complete trials whose best dev score came at the last allowed epoch
    complete: int  # complete trials
    chosen: bool  # whether the cell's best trial (the config the study trains) is one of them


def running_best(values: list[float | None]) -> list[float | None]:
    """The best score after each finished trial (None until a trial completes); ``values``
    are the trials' dev scores in the order they finished, None for a pruned trial."""
    best, out = None, []
    for value in values:
        if value is not None and (best is None or value > best):
            best = value
        out.append(best)
    return out


def last_quarter_gain(values: list[float | None], budget: int) -> tuple[float, int] | None:
    """How much a cell's best rose over the last quarter of its budget (trials
    budget - ceil(budget / 4) + 1 to budget), and the first trial of that quarter; None until the
    cell has spent its budget or before any trial of the earlier three quarters completed."""
    if len(values) < budget:
        return None
    start = budget - math.ceil(budget / 4)  # trials before the last quarter
    curve = running_best(values[:budget])
    if start < 1 or curve[start - 1] is None:
        return None
    return curve[-1] - curve[start - 1], start + 1


def convergence_lines(dataset: str, cells: dict[str, list[float | None]], budget: int,
                      path: Path | None, capped: dict[str, Capped] | None = None
                      ) -> list[str]:
    """The sentence on the last quarter of the budget, the one on the epoch limit (``capped``:
    name -> its trials against the limit) and, where ``path`` is given, the plot of every
    cell's running best (``cells``: name -> dev scores of its finished trials, in order, None if
    pruned)."""
    gains = {name: gain for name, values in cells.items()
             if (gain := last_quarter_gain(values, budget)) is not None}
    lines = []
    if gains:
        first = next(iter(gains.values()))[1]
        rising = sorted(((g, name) for name, (g, _) in gains.items() if g > 0), reverse=True)
        n, r = len(gains), len(rising)
        scope = "" if n == len(cells) else " that has spent it" if n == 1 else " that have spent it"
        every = "both" if n == 2 else f"all {n}"
        cells_said = (f"the one cell{scope}" if n == 1 else f"{every} cells{scope}" if r == n
                      else f"{r} of the {n} cells{scope}")
        span = f"trial {budget}" if first == budget else f"trials {first}-{budget}"
        where = f"Budget: in the last quarter of the budget ({span}), "
        if rising:
            listed = ", ".join(f"{name} +{100 * g:.2f}" for g, name in rising)
            rest = ("" if r == n else f"; the other had its best by trial {first - 1}" if n - r == 1
                    else f"; the other {n - r} had their best by trial {first - 1}")
            lines += [f"{where}{cells_said} still raised the best dev score ({listed} points), "
                      f"so more trials might raise {'it' if r == 1 else 'them'} further{rest}.", ""]
        else:
            lines += [f"{where}{'no' if n == 1 else 'none of the'} {'cell' if n == 1 else f'{n} cells'}"
                      f"{scope} raised its best dev score: each had its best by trial "
                      f"{first - 1}.", ""]
    lines += _cap_lines(capped or {})
    if path is not None and _plot(dataset, cells, budget, path):
        lines += [f"![{dataset}: best dev score by trial]({path.name})", ""]
    return lines


def _cap_lines(capped: dict[str, Capped]) -> list[str]:
    """Training's own budget: how many complete trials were still improving at the epoch
    limit, so that a reader sees where longer training, not other values, might help; and
    whether a cell's chosen trial was one of them, the case where the study itself trains a
    config the limit may have held back."""
    total = sum(c.complete for c in capped.values())
    if not total:
        return []
    hit = {name: c for name, c in capped.items() if c.hit}
    if not hit:
        return [f"Epochs: none of the {total} complete trials had its best dev score at the last "
                "epoch its config allows (`train.epochs`).", ""]
    listed = ", ".join(f"{name} {c.hit} of {c.complete}" for name, c in hit.items())
    chosen = [name for name, c in hit.items() if c.chosen]
    said = ("The best trial, whose config the study trains, is one of them in "
            f"{'this cell' if len(chosen) == 1 else 'these cells'}: {', '.join(chosen)}."
            if chosen else
            "No cell's best trial, whose config the study trains, is one of them.")
    return [f"Epochs: {sum(c.hit for c in hit.values())} of the {total} complete trials had "
            f"their best dev score at the last epoch their config allows (`train.epochs`), "
            f"still improving when it stopped them ({listed}); longer training might raise "
            f"them. {said}", ""]


def _plot(dataset: str, cells: dict[str, list[float | None]], budget: int, path: Path) -> bool:
    curves = {name: running_best(values[:budget]) for name, values in cells.items()}
    curves = {name: c for name, c in curves.items() if any(v is not None for v in c)}
    if not curves:
        return False
    from matplotlib.ticker import MaxNLocator

    fig, ax = subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        trials = [i + 1 for i, v in enumerate(curve) if v is not None]
        ax.step(trials, [100 * v for v in curve if v is not None], where="post", marker=".",
                label=name)
    quarter = budget - math.ceil(budget / 4)
    ax.axvspan(quarter + 0.5, budget + 0.5, color="gray", alpha=0.12, lw=0,
               label="last quarter of the budget")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="finished trials (complete + pruned)", ylabel="best dev score so far (%)",
           title=f"{dataset}: best dev score by trial", xlim=(0.5, budget + 0.5))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return True
