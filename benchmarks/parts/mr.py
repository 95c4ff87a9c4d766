"""``mr``: the wall time of training the 9 MR configs (3 encoders x 3 graphs), two at once."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, figure, log

# quick: every config on 1,000 training sentences for 2 epochs (the figure has no target then)
QUICK = ["data.max_train=1000", "train.epochs=2"]


def bench_mr_configs(overrides: list[str]) -> tuple[dict, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "scripts/mr_table.py", "--jobs", "2", "--runs", tmp,
                        "--no-write", *[a for o in overrides for a in ("--set", o)]],
                       cwd=REPO, check=True, capture_output=True)
        minutes = (time.perf_counter() - start) / 60
    log(f"9 MR configs{' ' + ' '.join(overrides) if overrides else ''}: {minutes:.1f} min")
    target = None if overrides else 20.0  # the target is for the full configs
    return {"wall_minutes": minutes, "overrides": overrides}, [
        figure("mr_9_configs_wall_minutes", minutes, target, higher_is_better=False, unit="min")]


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    return bench_mr_configs(QUICK if quick else [])
