"""``features``: frozen MiniLM token features for MR, cold and read from the cache."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import figure, log, timed
from textgnn.data import load_dataset


def bench_features(limit: int | None) -> tuple[dict, list[dict]]:
    """Frozen MiniLM token features for all of MR: cold, then read from the cache."""
    from textgnn.features import ContextualFeatures
    from textgnn.parsing import Parser

    data = load_dataset("mr")
    texts = (data.train.texts + data.dev.texts + data.test.texts)[:limit]
    tokens = [p.tokens for p in Parser().tokenize(texts)]
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        ContextualFeatures("sentence-transformers/all-MiniLM-L6-v2", cache_dir=cache)(
            texts, tokens, progress=False)
        cold = time.perf_counter() - start
        cached = timed(lambda: ContextualFeatures("sentence-transformers/all-MiniLM-L6-v2",
                                                  cache_dir=cache)(texts, tokens, progress=False),
                       3, warmup=0)
    detail = {"texts": len(texts), "cold_s": cold, "cached": cached,
              "cold_texts_per_s": len(texts) / cold}
    log(f"features: {len(texts)} MR texts cold {cold:.1f}s, cached {cached['median']:.2f}s")
    figures = [figure("mr_minilm_features_cached_speedup", cold / cached["median"], None)]
    if limit is None:
        figures.insert(0, figure("mr_minilm_features_cold_seconds", cold, 180.0,
                                 higher_is_better=False, unit="s"))
    return detail, figures


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    return bench_features(2000 if quick else None)
