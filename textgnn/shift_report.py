"""From dev to test: does a table's gap show on dev too?

Every choice of a study reads dev: the search, each run's epoch, the table's best cell. Test
is read once, to report. Where the two come from one distribution (dev a slice of train, test
drawn like train), a cell's lead on test should show on dev as well, give or take the noise.
Where it does not, the lead is on what differs between the splits: 20NG's test set is the
later-dated half of the collection, while its dev is a slice of the earlier half.

So beside each table, one sentence: how each cell's score moves from dev to test (the range
over the table's cells, and which cells bound it), and the best GCN-style cell against the
reference on dev and on test, seeds paired. Dev's Δ is the mean over the seeds both cells have: the
records keep test predictions only, so dev gets no bootstrap; a reader weighs it against the
seeds' spread, which the sentence gives. The verdict per regime repeats dev's Δ where test
finds a difference (``dev_vs_reference`` of the best cell's row). Nothing is trained.
"""

from __future__ import annotations

import numpy as np

from .cost_report import cell_name
from .verdict import compared_rows


def paired_delta(best: dict, ref: dict, cells: dict, split: str,
                 metric: str) -> tuple[float, float, int]:
    """Mean and standard deviation (nan for one seed) over the seeds both rows' cells ran of
    best - ref on ``split`` ("dev" or "test"), and how many seeds."""
    mine, theirs = (cells[(row["encoder"], row["graph"])] for row in (best, ref))
    seeds = sorted(set(mine) & set(theirs))
    diffs = [mine[s][split][metric] - theirs[s][split][metric] for s in seeds]
    std = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
    return float(np.mean(diffs)), std, len(seeds)


def shift_lines(dataset: str, metric: str, rows: list[dict], cells: dict,
                reference: tuple[str, str]) -> list[str]:
    """The sentence on ``dataset``'s table from dev to test (see the module); none where the
    table lacks the reference or a GCN-style cell tested against it."""
    compared = compared_rows(rows, reference)
    if compared is None:
        return []
    ref, best, _ = compared
    scale = 100.0
    changes = sorted(((row["mean"] - row["dev_every_seed"]) * scale, cell_name(row)) for row in rows)
    (low, lowest), (high, highest) = changes[0], changes[-1]
    dev, dev_std, n = paired_delta(best, ref, cells, "dev", metric)
    test, _, _ = paired_delta(best, ref, cells, "test", metric)
    spread = "" if np.isnan(dev_std) else f" (seeds' std {scale * dev_std:.2f})"
    return [f"From dev to test on {dataset}: test {metric} minus dev {metric} (mean over every "
            f"seed) runs from {low:+.2f} ({lowest}) to {high:+.2f} ({highest}) across the "
            f"table's cells. {cell_name(best)} against {cell_name(ref)}, on the same {n} seeds: "
            f"{scale * dev:+.2f} on dev{spread}, {scale * test:+.2f} on test.", ""]
