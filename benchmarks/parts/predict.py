"""``predict``: single-text latency and batch throughput of saved models, parse cache cold."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, figure, log
from textgnn.data import load_dataset


def train_small_model(graph: str, out: Path) -> Path:
    subprocess.run([sys.executable, "train.py", "--config", "configs/base.yaml", "--quiet",
                    "--out", str(out), "--set", f"graph.kind={graph}", "--set", "data.max_train=2000",
                    "--set", "train.epochs=2"], cwd=REPO, check=True, capture_output=True)
    return out / "model"


def bench_predict(calls: int) -> tuple[dict, list[dict]]:
    import textgnn

    texts = load_dataset("sst2", splits=("test",)).test.texts
    details, figures = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TEXTGNN_CACHE"] = str(Path(tmp) / "cache")  # cold: every text is new
        for i, graph in enumerate(("window", "dependency")):
            model = textgnn.load(train_small_model(graph, Path(tmp) / graph))
            model.predict(["warm up the parser and the model ."])
            lat = []
            for text in texts[i * calls:(i + 1) * calls]:
                start = time.perf_counter()
                model.predict([text])
                lat.append(1000 * (time.perf_counter() - start))
            lat.sort()
            batch = texts[:1000]
            start = time.perf_counter()
            model.predict(batch)
            throughput = len(batch) / (time.perf_counter() - start)
            p50, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95)]
            details[graph] = {"p50_ms": p50, "p95_ms": p95, "calls": calls,
                              "batch_texts_per_s": throughput}
            log(f"predict {graph}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, batch {throughput:.0f}/s")
            figures.append(figure(f"predict_p50_ms/{graph}", p50,
                                  10.0 if graph == "window" else 20.0, higher_is_better=False,
                                  unit="ms"))
    os.environ.pop("TEXTGNN_CACHE")
    return details, figures


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    return bench_predict(100 if quick else 400)
