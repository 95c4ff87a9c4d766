"""``beyond``: training speed of biased attention and the hybrid block on MR, as ratios to the
plain Transformer on the complete graph."""

from __future__ import annotations

from pathlib import Path

import torch

from benchmarks.common import REPO, figure, log, timed
from benchmarks.parts.train import training_step
from textgnn.config import load_config
from textgnn.data import load_dataset
from textgnn.features import Vocab
from textgnn.pipeline import Pipeline

BEYOND = (("transformer", "complete"), ("transformer", "dependency+complete"),
          ("hybrid", "dependency+complete"), ("hybrid", "window+complete"))


def bench_beyond(batches: int, repeats: int) -> tuple[dict, list[dict]]:
    """Training steps on real MR sentences (64 per batch, as in training): biased attention
    and the hybrid block as ratios to the plain transformer on the complete graph."""
    texts = load_dataset("mr", splits=("train",)).train.texts[: 64 * batches]
    vocab = Vocab.build([t.lower().split() for t in texts], min_freq=1)
    detail = {"texts": len(texts), "batch_size": 64}
    for encoder, graph in BEYOND:
        config = load_config(REPO / "configs" / "base.yaml",
                             [f"graph.kind={graph}", f"model.encoder={encoder}"])
        torch.manual_seed(0)
        pipeline = Pipeline(config, vocab, ["negative", "positive"])
        data = pipeline.graphs(texts, ["negative"] * len(texts), progress=False)
        steps = [training_step(pipeline.model, (b,), b.y) for b in
                 (pipeline.collate(data[i:i + 64]) for i in range(0, len(data), 64))]
        stats = timed(lambda steps=steps: [step() for step in steps], repeats)
        detail[f"{encoder}-{graph}"] = stats | {"graphs_per_s": len(texts) / stats["median"]}
        log(f"beyond {encoder}-{graph}: {len(texts) / stats['median']:.0f} graphs/s")
    ref = detail["transformer-complete"]["graphs_per_s"]
    figures = [figure(f"mr_train_speed_vs_transformer_complete/{e}-{g}",
                      detail[f"{e}-{g}"]["graphs_per_s"] / ref, None) for e, g in BEYOND[1:]]
    return detail, figures


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    return bench_beyond(4 if quick else 16, 3 if quick else 7)
