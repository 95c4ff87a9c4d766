"""Datasets: a registry name or a directory of JSONL/CSV files, loaded through ``datasets``.

A name (``mr``, ``sst2`` ...) resolves first to ``$TEXTGNN_DATA/<name>/`` and only then to
its public hub copy. A directory holds ``train``, optional ``dev`` and ``test`` files, each
``.jsonl`` (one ``{"text": ..., "label": ...}`` object per line) or ``.csv`` (header with
text/label columns). Files are checked line by line before ``datasets`` reads them, so a
bad line is reported with its file and line number instead of an Arrow traceback.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import TextGNNError

SPLITS = ("train", "dev", "test")
FORMATS = ("jsonl", "csv")


@dataclass(frozen=True)
class HubSource:
    """Where a registry dataset lives on the Hugging Face hub, and how its columns map."""

    repo: str
    config: str | None = None
    text: str = "text"
    label: str = "label"
    splits: tuple[tuple[str, str], ...] = (("train", "train"), ("test", "test"))


# Hub copies are the public versions of the same corpora; their splits can differ from the
# TextGCN / Kim splits in $TEXTGNN_DATA (e.g. rotten_tomatoes has its own 8530/1066/1066).
REGISTRY: dict[str, HubSource | None] = {
    "mr": HubSource(
        "cornell-movie-review-data/rotten_tomatoes",
        splits=(("train", "train"), ("dev", "validation"), ("test", "test")),
    ),
    "sst2": HubSource(
        "SetFit/sst2", splits=(("train", "train"), ("dev", "validation"), ("test", "test"))
    ),
    "trec": HubSource("CogComp/trec", label="coarse_label"),
    "cola": HubSource(
        "nyu-mll/glue", config="cola", text="sentence", splits=(("train", "train"),
                                                                  ("dev", "validation"))
    ),
    "20ng": HubSource("SetFit/20_newsgroups"),
    # No maintained public hub copy of the TextGCN splits: these need local files.
    "r8": None,
    "ohsumed": None,
}


@dataclass
class Split:
    texts: list[str]
    labels: list[str]
    source: str  # file (or hub id) it came from, for error messages

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Dataset:
    name: str
    train: Split
    dev: Split
    test: Split | None

    def split(self, name: str) -> Split:
        split = getattr(self, name, None) if name in SPLITS else None
        if split is None:
            raise TextGNNError(
                f"dataset {self.name!r} has no {name!r} split; available: "
                + ", ".join(s for s in SPLITS if getattr(self, s) is not None)
            )
        return split


def data_root() -> Path | None:
    root = os.environ.get("TEXTGNN_DATA")
    return Path(root) if root else None


def resolve_directory(name_or_path: str) -> Path | None:
    """The local directory behind a dataset name or path, or None if only the hub has it."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    root = data_root()
    if root is not None and (root / name_or_path).is_dir():
        return root / name_or_path
    if name_or_path in REGISTRY:
        return None
    raise TextGNNError(
        f"unknown dataset {name_or_path!r}: not a directory"
        + (f", not in TEXTGNN_DATA={root}" if root else " (TEXTGNN_DATA is not set)")
        + f", not a registry name ({', '.join(REGISTRY)})"
    )


def _split_file(directory: Path, split: str) -> Path | None:
    found = [directory / f"{split}.{fmt}" for fmt in FORMATS if (directory / f"{split}.{fmt}").is_file()]
    if len(found) > 1:
        raise TextGNNError(f"{directory}: both {found[0].name} and {found[1].name}; keep one")
    return found[0] if found else None


def _check_record(record: object, where: str, text_field: str, label_field: str) -> None:
    if not isinstance(record, dict):
        raise TextGNNError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key in (text_field, label_field):
        if key not in record:
            raise TextGNNError(f"{where}: missing field {key!r}")
    if not isinstance(record[text_field], str):
        raise TextGNNError(f"{where}: field {text_field!r} must be a string")
    if not isinstance(record[label_field], (str, int)) or isinstance(record[label_field], bool):
        raise TextGNNError(f"{where}: field {label_field!r} must be a string or an integer")


def jsonl_records(lines: Iterable[str], where: str) -> Iterator[tuple[int, object]]:
    """The parsed object of each non-blank line of a JSONL file, with its line number; a
    malformed line stops with ``where`` (the file) and its line number."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TextGNNError(f"{where}, line {lineno}: malformed JSON ({exc.msg})") from None
        yield lineno, record


def validate_file(path: Path, text_field: str = "text", label_field: str = "label") -> int:
    """Check every record of a JSONL/CSV file; return the number of records."""
    n = 0
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for lineno, record in jsonl_records(handle, str(path)):
                _check_record(record, f"{path}, line {lineno}", text_field, label_field)
                n += 1
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            for key in (text_field, label_field):
                if key not in header:
                    raise TextGNNError(f"{path}, line 1: header has no column {key!r}")
            for row in reader:
                if row.get(text_field) is None or row.get(label_field) is None:
                    raise TextGNNError(f"{path}, line {reader.line_num}: too few columns")
                n += 1
    if n == 0:
        raise TextGNNError(f"{path}: empty file (no records)")
    return n


def read_split(path: Path, text_field: str = "text", label_field: str = "label") -> Split:
    """Validate, then load one file through ``datasets``."""
    import datasets

    validate_file(path, text_field, label_field)
    datasets.disable_progress_bars()
    builder = "json" if path.suffix == ".jsonl" else "csv"
    features = datasets.Features(
        {text_field: datasets.Value("string"), label_field: datasets.Value("string")}
    )
    table = datasets.load_dataset(
        builder, data_files={"split": str(path)}, split="split", features=features
        if builder == "csv" else None,
    )
    texts = list(table[text_field])
    labels = [str(label) for label in table[label_field]]
    return Split(texts, labels, str(path))


def _read_hub(name: str, source: HubSource) -> dict[str, Split]:
    import datasets

    try:
        loaded = datasets.load_dataset(source.repo, source.config)
    except Exception as exc:  # offline, renamed repo, ...: the user needs the local route
        raise TextGNNError(
            f"dataset {name!r}: not found under TEXTGNN_DATA and the hub copy {source.repo!r} "
            f"could not be loaded ({type(exc).__name__}: {exc}). Point TEXTGNN_DATA at a "
            f"folder holding {name}/train.jsonl"
        ) from None
    out = {}
    for ours, theirs in source.splits:
        table = loaded[theirs]
        feature = table.features[source.label]
        names = getattr(feature, "names", None)
        labels = [names[y] if names else str(y) for y in table[source.label]]
        out[ours] = Split(list(table[source.text]), labels, f"{source.repo}:{theirs}")
    return out


def training_examples(train: Split, cfg, seed: int) -> Split:
    """The examples a run trains on: ``data.max_train`` of them at random (seeded by
    ``seed``, the run's seed), then a stratified ``data.train_fraction`` (seeded by
    ``data.split_seed``, so every run and baseline of a dataset sees the same subset)."""
    import random

    if cfg.max_train is not None and cfg.max_train < len(train):
        keep = sorted(random.Random(seed).sample(range(len(train)), cfg.max_train))
        train = Split([train.texts[i] for i in keep], [train.labels[i] for i in keep], train.source)
    if cfg.train_fraction is not None and cfg.train_fraction < 1:
        train = stratified_subset(train, cfg.train_fraction, cfg.split_seed)
    return train


def stratified_subset(split: Split, fraction: float, seed: int) -> Split:
    """A seeded ``fraction`` of every label's examples (at least one each, so no label goes
    missing from training), in their original order."""
    import random

    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(split.labels):
        by_label.setdefault(label, []).append(i)
    keep = sorted(i for label in sorted(by_label) for i in
                  rng.sample(by_label[label], max(1, round(fraction * len(by_label[label])))))
    return Split([split.texts[i] for i in keep], [split.labels[i] for i in keep],
                 f"{split.source} ({fraction:.0%} stratified)")


def stratified_dev_split(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out a seeded, stratified ``fraction`` of train as dev."""
    from sklearn.model_selection import train_test_split

    indices = list(range(len(train)))
    counts: dict[str, int] = {}
    for label in train.labels:
        counts[label] = counts.get(label, 0) + 1
    stratify = train.labels if min(counts.values()) >= 2 else None
    keep, held = train_test_split(
        indices, test_size=fraction, random_state=seed, stratify=stratify
    )
    keep, held = sorted(keep), sorted(held)
    pick = lambda idx, tag: Split(  # noqa: E731
        [train.texts[i] for i in idx], [train.labels[i] for i in idx], f"{train.source} ({tag})"
    )
    return pick(keep, "train part"), pick(held, "held-out dev")


def load_configured(cfg, name: str | None = None, splits: tuple[str, ...] = SPLITS) -> Dataset:
    """:func:`load_dataset` with the settings of a ``DataConfig`` (``name`` overrides
    ``cfg.name``), so training, evaluation and studies split the data the same way."""
    return load_dataset(name or cfg.name, dev_fraction=cfg.dev_fraction, split_seed=cfg.split_seed,
                        text_field=cfg.text_field, label_field=cfg.label_field, splits=splits,
                        test_from=cfg.test_from)


def split_texts(data: str, split: str, limit: int | None = None) -> list[str]:
    """The non-blank texts of one split of a dataset (name or directory), the first ``limit``
    if given; a dataset whose test labels are not public (CoLA) has its dev file as test, as
    its studies do."""
    dataset = load_dataset(data, splits=(split,))
    chosen = getattr(dataset, split)
    if split == "test" and chosen is None:
        chosen = load_dataset(data, splits=("test",), test_from="dev").test
    if chosen is None or not chosen.texts:
        raise TextGNNError(f"dataset {data}: no {split} split")
    texts = [t for t in chosen.texts if t.strip()]
    return texts[:limit] if limit else texts


def load_dataset(
    name_or_path: str,
    *,
    dev_fraction: float = 0.1,
    split_seed: int = 0,
    text_field: str = "text",
    label_field: str = "label",
    splits: tuple[str, ...] = SPLITS,
    test_from: str = "test",
) -> Dataset:
    """Load train/dev/test. Without a dev file, dev is a stratified slice of train.

    ``splits`` limits which files are read (evaluation only needs one); train is always
    read when dev must be carved out of it. ``test_from="dev"`` makes the dev file the test
    set and carves dev out of train (CoLA: its test labels are not public).
    """
    if test_from not in ("test", "dev"):
        raise TextGNNError(f"data.test_from must be 'test' or 'dev', got {test_from!r}")
    if test_from == "dev":
        splits = tuple(set(splits) | {"train", "dev"})
    directory = resolve_directory(name_or_path)
    if directory is None:
        source = REGISTRY[name_or_path]
        if source is None:
            raise TextGNNError(
                f"dataset {name_or_path!r} has no public hub copy; set TEXTGNN_DATA to a folder "
                f"holding {name_or_path}/train.jsonl and test.jsonl"
            )
        found = _read_hub(name_or_path, source)
    else:
        files = {s: _split_file(directory, s) for s in SPLITS}
        if files["train"] is None:
            raise TextGNNError(f"{directory}: no train.jsonl or train.csv")
        wanted = set(splits) | ({"train"} if files["dev"] is None and "dev" in splits else set())
        found = {
            s: read_split(path, text_field, label_field)
            for s, path in files.items()
            if path is not None and s in wanted
        }
    if test_from == "dev":
        found["test"] = found.pop("dev", None)
    train = found.get("train")
    dev = found.get("dev")
    if dev is None and train is not None:
        train, dev = stratified_dev_split(train, dev_fraction, split_seed)
    empty = Split([], [], "(not loaded)")
    return Dataset(str(name_or_path), train or empty, dev or empty, found.get("test"))
