"""The training loop: plain PyTorch, AdamW, early stopping on dev accuracy.

A run directory gets the resolved ``config.yaml``, ``model/`` (the best dev epoch),
``history.csv`` (written every epoch), ``metrics.json`` and ``curve.png``.
Test data is touched once, after training, to report; it never steers a choice.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from .config import Config
from .data import Split, load_dataset
from .errors import TextGNNError
from .features import Vocab
from .pipeline import Pipeline, resolve_device


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cap_split(split: Split, limit: int | None, seed: int) -> Split:
    """A seeded random subset of ``limit`` examples (order kept), for quick runs."""
    if limit is None or limit >= len(split):
        return split
    keep = sorted(random.Random(seed).sample(range(len(split)), limit))
    return Split([split.texts[i] for i in keep], [split.labels[i] for i in keep], split.source)


class BucketBatchSampler:
    """Seeded batches of similar-length texts in random order.

    Each epoch shuffles the examples, sorts them by length within windows of ``bucket``
    batches, cuts batches and shuffles the batch order: batches hold texts of similar length
    (little padding for the dense path, even edge counts for the sparse one) while their
    order and make-up still change every epoch. ``bucket <= 1`` is a plain shuffle.
    """

    def __init__(self, lengths: list[int], batch_size: int, bucket: int, seed: int):
        self.lengths, self.batch_size, self.bucket = lengths, batch_size, bucket
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        if self.bucket <= 1:
            yield from (order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size))
            return
        window = self.batch_size * self.bucket
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start:start + window], key=self.lengths.__getitem__)
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]


def _check_labels(split: Split, known: set[str]) -> None:
    unknown = sorted(set(split.labels) - known)
    if unknown:
        raise TextGNNError(f"{split.source}: label(s) {', '.join(map(repr, unknown[:5]))} do not "
                           f"occur in the training data")


def _warn_about(config: Config) -> None:
    m, g = config.model, config.graph
    if m.positions == "none" and not m.edge_types and g.kind in ("complete", "none"):
        log(f"warning: {m.encoder} on the {g.kind} graph with no positions and no edge types sees "
            "a bag of words: word order is invisible to it")


def plot_history(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], label="train")
    ax_loss.plot(epochs, [r["dev_loss"] for r in rows], label="dev")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(epochs, [r["train_accuracy"] for r in rows], label="train")
    ax_acc.plot(epochs, [r["dev_accuracy"] for r in rows], label="dev")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(config: Config, out_dir: str | Path, progress: bool = True) -> dict:
    """Train one model; return the summary that ``train.py`` prints."""
    out_dir = Path(out_dir)
    t_start = time.perf_counter()
    seed_everything(config.train.seed)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    device = resolve_device(config.train.device)
    _warn_about(config)

    # Built first so an unknown graph kind, encoder or pooling stops before any data is read.
    scratch = Pipeline(config, Vocab([]), ["?"])
    d = config.data
    data = load_dataset(d.name, dev_fraction=d.dev_fraction, split_seed=d.split_seed,
                        text_field=d.text_field, label_field=d.label_field,
                        test_from=d.test_from)
    train_split = cap_split(data.train, d.max_train, config.train.seed)
    labels = sorted(set(train_split.labels))
    for split in (data.dev, data.test):
        if split is not None:
            _check_labels(split, set(labels))
    log(f"data {d.name}: train {len(train_split)}, dev {len(data.dev)}, "
        f"test {len(data.test) if data.test else 0}; labels {labels}")

    train_tokens = [p.tokens for p in scratch.parse(train_split.texts, progress)]
    vocab = Vocab.build(train_tokens, d.min_freq, d.lowercase)
    seed_everything(config.train.seed)  # model init must not depend on what ran before
    pipeline = Pipeline(config, vocab, labels, scratch.relations, parser=scratch.parser).to(device)
    model = pipeline.model
    counts = model.parameter_counts()
    log(f"model {config.model.encoder} on {config.graph.kind} graph: vocab {len(vocab)}, "
        f"edge types {len(pipeline.builder.edge_types)}, parameters "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    train_graphs = pipeline.graphs(train_split.texts, train_split.labels, progress)
    dev_graphs = pipeline.graphs(data.dev.texts, data.dev.labels, progress)

    from torch_geometric.loader import DataLoader

    sampler = BucketBatchSampler([g.num_nodes for g in train_graphs], config.train.batch_size,
                                 config.train.bucket, config.train.seed)
    loader = DataLoader(train_graphs, batch_sampler=sampler)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr,
                                  weight_decay=config.train.weight_decay)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    history: list[dict] = []
    best_acc, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, config.train.epochs + 1):
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not progress, unit="batch")
        for batch in bar:
            batch = batch.to(device)
            logits = model(batch)
            loss = torch.nn.functional.cross_entropy(logits, batch.y)
            optimizer.zero_grad()
            loss.backward()
            if config.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
            optimizer.step()
            total_loss += loss.item() * batch.num_graphs
            correct += int((logits.argmax(-1) == batch.y).sum())
            seen += batch.num_graphs
        dev_logits = pipeline.logits(dev_graphs)
        dev_y = torch.cat([g.y for g in dev_graphs])
        row = {
            "epoch": epoch,
            "train_loss": total_loss / seen,
            "train_accuracy": correct / seen,
            "dev_loss": float(torch.nn.functional.cross_entropy(dev_logits, dev_y)),
            "dev_accuracy": float((dev_logits.argmax(-1) == dev_y).float().mean()),
            "seconds": time.perf_counter() - t_start,
        }
        history.append(row)
        _write_history(history, out_dir / "history.csv")
        log(f"epoch {epoch:3d}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}"
            f"  dev loss {row['dev_loss']:.4f} acc {row['dev_accuracy']:.4f}")
        if row["dev_accuracy"] > best_acc:
            best_acc, best_epoch = row["dev_accuracy"], epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= config.train.patience:
            log(f"early stop: no dev gain for {config.train.patience} epochs; best epoch {best_epoch}")
            break
    train_seconds = time.perf_counter() - t_start
    model.load_state_dict(best_state)
    pipeline.save_pretrained(out_dir / "model")

    metrics = {"dev": pipeline.evaluate_graphs(dev_graphs)}
    if data.test is not None:
        metrics["test"] = pipeline.evaluate(data.test.texts, data.test.labels, data.test.source)
    metrics |= {"best_epoch": best_epoch, "epochs_run": len(history), "params": counts,
                "train_seconds": train_seconds}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_history(history, out_dir / "curve.png")
    brief = lambda m: {k: m[k] for k in ("n", "accuracy", "macro_f1", "mcc")}  # noqa: E731
    return {
        "run_dir": str(out_dir),
        "dev": brief(metrics["dev"]),
        "test": brief(metrics["test"]) if "test" in metrics else None,
        "best_epoch": best_epoch,
        "params": counts["total"],
        "train_seconds": round(train_seconds, 2),
    }


def _write_history(rows: list[dict], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
