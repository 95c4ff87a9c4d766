"""``cluster``: the 9 MR configs (3 encoders x 3 graphs) as a study on a Dask LocalCluster of
2 workers, against the same runs on the process pool studies used before Dask (2 threads,
each starting its runs as forkserver processes), timed pool, Dask, pool in one process run;
the figure is Dask's wall time over the mean of the two pool timings."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import REPO, figure, log
from textgnn.experiments import _train_cell, run_study
from textgnn.study import Study, resolved_config

ENCODERS, GRAPHS = ["gcn", "gat", "transformer"], ["window", "dependency", "complete"]


def bench_cluster(overrides: list[str]) -> tuple[dict, list[dict]]:
    study = Study(name="mr9", config=REPO / "configs" / "base.yaml", datasets={"mr": overrides},
                  graphs=GRAPHS, encoders=ENCODERS, seeds=[0], overrides=["train.threads=1"])
    cells = study.cells()

    def pool(root: Path) -> float:  # the pool `experiment --jobs 2` ran on before Dask
        start = time.perf_counter()
        with ThreadPoolExecutor(2) as threads:
            list(threads.map(lambda c: _train_cell(resolved_config(study, c), root / c.key, 1), cells))
        return time.perf_counter() - start

    # pool, Dask, pool: this machine's speed drifts by more than 10 % within minutes, so Dask
    # is compared with the mean of the pool just before and just after it
    with tempfile.TemporaryDirectory() as tmp:
        before = pool(Path(tmp) / "pool-before")
        start = time.perf_counter()
        done = run_study(study, Path(tmp) / "results", jobs=2)
        dask_s = time.perf_counter() - start
        after = pool(Path(tmp) / "pool-after")
    if done.failed or done.finished != len(cells):
        raise RuntimeError(f"the study on Dask failed: {done.failed}")
    pool_s = (before + after) / 2
    log(f"9 MR configs ({' '.join(overrides)}): process pool {before:.0f} s and {after:.0f} s, "
        f"Dask LocalCluster {dask_s:.0f} s")
    return {"overrides": overrides, "pool_seconds_before": before, "pool_seconds_after": after,
            "dask_seconds": dask_s}, [
        figure("dask_localcluster_over_process_pool_wall", dask_s / pool_s, 1.1, higher_is_better=False)]


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    # both sides train the same 9 runs: the MR configs as they are, or (quick) on 1,000
    # sentences for 2 epochs, where the cluster's start-up weighs far more
    return bench_cluster(["data.max_train=1000", "train.epochs=2"] if quick else [])
