"""Shared fixtures. Tests run offline: a mistaken hub call fails at once."""

import json
import os
import random
import warnings
from pathlib import Path

import pytest

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
