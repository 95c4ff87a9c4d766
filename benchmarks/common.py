"""What every benchmark part shares: timing with a baseline in the same run, the figure
records BENCHMARKS.md is made from, and the repository's paths and offline settings."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TEXTGNN_DATA", str(REPO.parent / "shared" / "data"))
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _spread(times: list[float]) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "trials": len(times)}


def timed(fn, repeats: int, warmup: int = 1) -> dict:
    for _ in range(warmup):
        fn()
    return _spread([_seconds(fn) for _ in range(repeats)])


def paired(baseline, candidate, repeats: int, warmup: int = 1) -> dict:
    """Time ``candidate`` and ``baseline`` alternately; ``ratio`` is the median over trials of
    baseline time / candidate time (candidate speed relative to the baseline). Each ratio
    compares two steps taken moments apart, so load on the other core or a clock change
    shifts both sides instead of whichever was timed during it."""
    for _ in range(warmup):
        baseline()
        candidate()
    ratios, times = [], []
    for _ in range(repeats):
        base = _seconds(baseline)
        times.append(_seconds(candidate))
        ratios.append(base / times[-1])
    return _spread(times) | {"ratio": statistics.median(ratios), "ratio_min": min(ratios),
                             "ratio_max": max(ratios)}


def figure(name: str, value: float, target: float | None, higher_is_better: bool = True,
           unit: str = "") -> dict:
    ok = None if target is None else (value >= target if higher_is_better else value <= target)
    return {"name": name, "value": round(value, 4), "target": target, "ok": ok, "unit": unit}
