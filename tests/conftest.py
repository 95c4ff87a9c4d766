"""Shared fixtures. Tests run offline: a mistaken hub call fails at once."""

from __future__ import annotations

import json
import os
import random
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import yaml

if TYPE_CHECKING:
    from textgnn.study import Study

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TEXTGNN_DATA", str(REPO.parent / "shared" / "data"))
warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch_geometric")

SENTENCE = "The quick brown fox jumped over the lazy dog because it was tired."


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """One parse cache for the whole session, never the user's own."""
    os.environ["TEXTGNN_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = Path(os.environ["TEXTGNN_DATA"])
    if not (root / "mr" / "train.jsonl").is_file():
        pytest.skip(f"benchmark data not found under TEXTGNN_DATA={root}")
    return root


def _toy_texts(n: int, seed: int) -> list[dict]:
    """A small sentiment-like task that a tiny model learns in a few epochs."""
    rng = random.Random(seed)
    pos = ["great", "wonderful", "moving", "funny", "brilliant", "charming"]
    neg = ["dull", "boring", "awful", "tedious", "clumsy", "lifeless"]
    subjects = ["the film", "this movie", "the plot", "the cast", "the script", "it"]
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        word = rng.choice(pos if label == "positive" else neg)
        rows.append({"text": f"{rng.choice(subjects).capitalize()} is {word} and "
                             f"{rng.choice(subjects)} was {rng.choice(pos + neg)} .",
                     "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    write_jsonl(root / "train.jsonl", _toy_texts(160, 0))
    write_jsonl(root / "test.jsonl", _toy_texts(40, 1))
    return root


# A tiny model on the toy task: seconds to train, enough to exercise every path.
TINY = ["model.hidden=16", "model.heads=2", "model.ffn=32", "model.layers=1",
        "train.epochs=3", "train.batch_size=16", "data.min_freq=1", "train.lr=0.01"]


def train_toy(toy_data: Path, out: Path, *overrides: str) -> dict:
    """Train in this process through the command line's own path (``textgnn.cli.main``) and
    return the JSON summary it prints; a subprocess costs seconds of imports per run, so the
    tests that need a real process (a kill, torchrun, the exit status) start their own."""
    import contextlib
    import io

    from textgnn.cli import main

    args = ["train", "--config", str(REPO / "configs" / "base.yaml"), "--out", str(out), "--quiet"]
    for item in (f"data.name={toy_data}", *TINY, *overrides):
        args += ["--set", item]
    import torch

    stdout, stderr = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()  # train.threads would hold for the rest of the session
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(args)
    finally:
        torch.set_num_threads(threads)
    assert code == 0, stderr.getvalue()[-3000:]
    return json.loads(stdout.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="session")
def trained(toy_data, tmp_path_factory) -> tuple[Path, dict]:
    """One gcn on dependency graphs, shared by every test that only reads a trained model."""
    out = tmp_path_factory.mktemp("trained") / "run"
    return out, train_toy(toy_data, out, "graph.kind=dependency", "model.encoder=gcn")


# studies: a study file over tiny models, and study records made up for the report's tests

def write_study(tmp_path, **study) -> Study:
    """A study file over tiny models (2 epochs of a 16-wide, 1-layer backbone)."""
    from textgnn.study import Study

    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "model": {"hidden": 16, "heads": 2, "ffn": 32, "layers": 1},
        "train": {"epochs": 2, "patience": 2, "batch_size": 16, "lr": 0.01},
        "data": {"min_freq": 1}}))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({"config": "base.yaml", **study}))
    return Study.load(tmp_path / "study.yaml")


def fake_run(dataset, encoder, graph, seed, gold, correct, rng, tag="", label="", fraction=None,
             cost=None, paused=0.0):
    """A record as a study writes it, its test predictions right with probability ``correct``;
    ``cost``: (CPU seconds per epoch, peak RSS GB, tokens per document) of 10 epochs, which
    took as many wall seconds plus ``paused`` (a run stopped for a while); without it, 1 CPU
    second as a baseline counts (no epochs, no memory of its own)."""
    wall = (10 * cost[0] if cost else 1.0) + paused
    preds = np.where(rng.random(gold.size) < correct, gold, 1 - gold).tolist()
    acc = float(np.mean(np.asarray(preds) == gold))
    name = (f"{encoder}{'~' + label if label else ''}-{graph}{'@' + tag if tag else ''}"
            f"{'%' + str(fraction) if fraction else ''}")
    return {"key": f"{dataset}/{name}/seed{seed}", "dataset": dataset, "graph": graph,
            "encoder": encoder, "seed": seed, "tag": tag, "label": label, "fraction": fraction,
            "config": {},
            "dev": {"accuracy": acc, "macro_f1": acc, "mcc": 2 * acc - 1},
            "test": {"accuracy": acc, "macro_f1": acc, "mcc": 2 * acc - 1},
            "params": 10, "train_seconds": wall, "test_predictions": preds,
            "cost": {"seconds_per_epoch": wall / 10, "cpu_seconds": 10 * cost[0],
                     "cpu_seconds_per_epoch": cost[0], "peak_rss_gb": cost[1],
                     "tokens_per_document": cost[2]} if cost else {"cpu_seconds": 1.0}}


def write_runs(study_dir, runs, golds):
    """A study's directory as ``experiment`` leaves it: the runs and each dataset's gold
    labels; returns the directory."""
    study_dir.mkdir(parents=True, exist_ok=True)
    for dataset, gold in golds.items():
        (study_dir / f"gold-{dataset}.json").write_text(json.dumps(gold.tolist()))
    (study_dir / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    return study_dir
