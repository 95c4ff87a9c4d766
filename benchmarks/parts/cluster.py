"""``cluster``: the 9 MR configs (3 encoders x 3 graphs) as a study on a Dask LocalCluster of
2 workers, against the same runs on the process pool studies used before Dask (2 threads,
each starting its runs as forkserver processes), in one process run, one after the other."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import REPO, figure, log
from textgnn.experiments import Study, _train_cell, resolved_config, run_study

ENCODERS, GRAPHS = ["gcn", "gat", "transformer"], ["window", "dependency", "complete"]


def bench_cluster(overrides: list[str]) -> tuple[dict, list[dict]]:
    study = Study(name="mr9", config=REPO / "configs" / "base.yaml", datasets={"mr": overrides},
                  graphs=GRAPHS, encoders=ENCODERS, seeds=[0], overrides=["train.threads=1"])
    cells = study.cells()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:  # the pool `experiment --jobs 2` ran on
            list(pool.map(lambda c: _train_cell(resolved_config(study, c), Path(tmp) / "pool" / c.key, 1),
                          cells))
        pool_s = time.perf_counter() - start
        start = time.perf_counter()
        done = run_study(study, Path(tmp) / "results", jobs=2)
        dask_s = time.perf_counter() - start
    if done.failed or done.finished != len(cells):
        raise RuntimeError(f"the study on Dask failed: {done.failed}")
    log(f"9 MR configs ({' '.join(overrides)}): process pool {pool_s:.0f} s, "
        f"Dask LocalCluster {dask_s:.0f} s")
    return {"overrides": overrides, "pool_seconds": pool_s, "dask_seconds": dask_s}, [
        figure("dask_localcluster_over_process_pool_wall", dask_s / pool_s, 1.1, higher_is_better=False)]


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    # both sides train the same 9 runs: the MR configs as they are, or (quick) on 1,000
    # sentences for 2 epochs, where the cluster's start-up weighs far more
    return bench_cluster(["data.max_train=1000", "train.epochs=2"] if quick else [])
