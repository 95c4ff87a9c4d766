"""``parse``: parsing and graph building against bare spaCy ``nlp.pipe``, cold and cached."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, figure, log, timed
from textgnn.config import load_config
from textgnn.data import load_dataset
from textgnn.features import Vocab
from textgnn.pipeline import Pipeline


def bench_parsing(count: int) -> tuple[dict, list[dict]]:
    texts = load_dataset("mr", splits=("test",)).test.texts[:count]
    config = load_config(REPO / "configs" / "base.yaml", ["graph.kind=dependency"])
    with tempfile.TemporaryDirectory() as cache:
        pipeline = Pipeline(config, Vocab([]), ["a"])
        pipeline.parser.cache_dir = Path(cache)
        nlp = pipeline.parser.nlp

        def bare():
            for _ in nlp.pipe(texts, batch_size=config.graph.parse_batch_size):
                pass

        start = time.perf_counter()
        bare()
        bare_s = time.perf_counter() - start
        start = time.perf_counter()
        pipeline.token_graphs(texts, progress=False)
        cold_s = time.perf_counter() - start
        cached = timed(lambda: pipeline.token_graphs(texts, progress=False), 3, warmup=0)
    detail = {"texts": count, "bare_nlp_pipe_s": bare_s, "cold_parse_build_s": cold_s,
              "cached_parse_build": cached, "bare_texts_per_s": count / bare_s,
              "cold_texts_per_s": count / cold_s}
    log(f"parse: bare {count / bare_s:.0f}/s, cold {count / cold_s:.0f}/s, "
        f"cached {count / cached['median']:.0f}/s")
    return detail, [
        figure("parse_build_vs_bare_nlp_pipe", bare_s / cold_s, 0.9),
        figure("cached_rerun_speedup", cold_s / cached["median"], 50.0),
    ]


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    return bench_parsing(1000 if quick else 3554)
