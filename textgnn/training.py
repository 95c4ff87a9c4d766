"""The training loop: plain PyTorch, AdamW, early stopping on a dev metric.

    run = set_up(config, out_dir)          data, vocabulary, model, batches, optimiser
    for each epoch:
        train_epoch(run, epoch)            one pass over the training batches (and, with
                                           train.ema, the moving average of the weights)
        score_dev(run)                     dev loss and metrics (of that average, with it)
        end_epoch(run, row)                history, best epoch, early stop, checkpoint
    finish(run)                            the best epoch saved, scored on dev and test

A run directory gets the resolved ``config.yaml``, ``model/`` (the best dev epoch),
``history.csv`` (written every epoch), ``checkpoint.safetensors``, ``metrics.json`` and
``curve.png``. Test data is touched once, after training, to report; it never steers a choice.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm.auto import tqdm

from .batching import BucketBatchSampler, RankShard
from .checkpoint import CHECKPOINT, restore_checkpoint, save_checkpoint
from .config import Config
from .data import Dataset, Split, load_configured, training_examples
from .errors import TextGNNError
from .features import Vocab
from .history import plot_history, tensorboard, write_history
from .metrics import SELECT, summarize
from .pipeline import Pipeline, resolve_device
from .runtime import (
    cpu_kernels,
    destroy_distributed,
    device_name,
    init_distributed,
    log,
    peak_rss_gb,
    release_freed_memory,
    seed_everything,
    sum_over_ranks,
)

# Tokens trained between two returns of freed heap memory to the OS: four full batches at
# the default 16,384-token budget. Counting tokens, not batches, trims where the churn is:
# every ~4 batches of 20NG posts, only every ~50 of MR sentences, whose small tensors leave
# little behind. On 20NG-sized batches, trimming every 5 batches instead of 20 cut the
# growth between trims from ~1.1 to ~0.8 GB for ~16 % more step time.
TRIM_TOKENS = 65536


def _constant(progress: float, warmup: float) -> float:
    return 1.0


def _linear(progress: float, warmup: float) -> float:
    """A linear rise over the first ``warmup`` of training and a linear fall to 0 at its
    end: the usual recipe for fine-tuning a pretrained Transformer."""
    if progress < warmup:
        return progress / warmup
    return max(0.0, (1 - progress) / (1 - warmup))


# train.schedule: name -> the learning-rate factor at a point of training
SCHEDULES = {"constant": _constant, "linear": _linear}


def lr_factor(progress: float, train_config) -> float:
    """The learning rate at ``progress`` (the fraction of training done, 0 to 1) as a
    fraction of its base, under ``train.schedule``."""
    return SCHEDULES[train_config.schedule](progress, train_config.warmup)


@dataclass
class Run:
    """What a training run holds between its steps."""

    config: Config
    out_dir: Path
    rank: int
    world: int
    device: torch.device
    progress: bool
    data: Dataset
    pipeline: Pipeline
    train_graphs: list
    dev_graphs: list
    sampler: BucketBatchSampler
    loader: Any
    optimizer: torch.optim.Optimizer
    base_lrs: list[float]
    step_model: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    params: dict[str, int]
    tokens_per_document: float  # mean nodes of a training graph, after any truncation
    started: float  # perf_counter at the start, moved back by a resumed run's elapsed time
    # process_time at the start (CPU seconds of all this process's threads), moved back by a
    # resumed run's; None when resumed from a checkpoint that did not count them
    cpu_started: float | None
    # epoch, best_score, best_epoch, stopped, history, elapsed, cpu_elapsed, peak_rss_gb (the
    # highest of every process the run has had, a killed one's included): saved in every
    # checkpoint
    state: dict = field(default_factory=lambda: {
        "epoch": 0, "best_score": -2.0, "best_epoch": 0, "stopped": False, "history": [],
        "elapsed": 0.0, "cpu_elapsed": 0.0, "peak_rss_gb": 0.0})
    best_weights: dict | None = None
    board: Any = None  # a TensorBoard writer when train.tensorboard
    # with train.ema: the moving average of the weights (torch's AveragedModel), which dev
    # scores and the kept epoch saves
    average: Any = None

    @property
    def main(self) -> bool:
        return self.rank == 0  # only rank 0 writes files

    @property
    def model(self) -> torch.nn.Module:
        return self.pipeline.model

    @property
    def scored(self) -> torch.nn.Module:
        """The module whose weights dev scores and the kept epoch saves: the model, or with
        ``train.ema`` its moving average."""
        return self.model if self.average is None else self.average.module


def train(config: Config, out_dir: str | Path, progress: bool = True, resume: bool = False,
          on_epoch: Callable[[dict], None] | None = None, test: bool = True) -> dict | None:
    """Train one model; return the summary that ``train.py`` prints (None on the ranks
    other than 0 under ``torchrun``, where ``train.batch_size`` is the global batch).

    A checkpoint is written after every epoch; with ``resume`` a run directory that has one
    continues from it and ends with exactly the metrics of an uninterrupted run.
    ``on_epoch`` sees every epoch's history row, a resumed run's earlier epochs first (a
    tuner reports them to its pruner, and prunes by raising from it); ``test=False`` never
    reads the test set (tuning trials).
    """
    deterministic(config.train.deterministic)
    try:
        run = set_up(config, Path(out_dir), progress, resume)
        for row in run.state["history"] if on_epoch is not None else []:
            on_epoch(row)
        for epoch in range(run.state["epoch"] + 1, config.train.epochs + 1):
            if run.state["stopped"]:
                break
            row = train_epoch(run, epoch)
            row |= score_dev(run)
            end_epoch(run, row)
            if on_epoch is not None:
                on_epoch(row)
        return finish(run, test)
    except RuntimeError as exc:
        if "deterministic" not in str(exc):
            raise
        raise TextGNNError(f"{str(exc).splitlines()[0]} Set train.deterministic=false to allow "
                           "nondeterministic kernels (same-seed runs may then differ).") from None


def deterministic(on: bool) -> None:
    """Deterministic kernels or not. cuBLAS needs its workspace variable set before CUDA
    starts; scatter and index_add (message passing) then run deterministic CUDA kernels.
    On CPU the kernels in use are deterministic already and nothing changes (tested)."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on)


def set_up(config: Config, out_dir: Path, progress: bool, resume: bool) -> Run:
    """Data, vocabulary, model, batches and optimiser; the checkpoint's state on ``resume``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    seed_everything(config.train.seed)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    rank, world, device = init_distributed(resolve_device(config.train.device))
    _warn_about(config)

    # Built first so a missing parser or pretrained model stops before any data is read.
    scratch = Pipeline(config, Vocab([]), ["?"])
    d = config.data
    data = load_configured(d)
    train_split = training_examples(data.train, d, config.train.seed)
    labels = sorted(set(train_split.labels))
    for split in (data.dev, data.test):
        if split is not None:
            _check_labels(split, set(labels), d.max_train)
    log(f"data {d.name}: train {len(train_split)}, dev {len(data.dev)}, "
        f"test {len(data.test) if data.test else 0}; labels {labels}")

    train_parsed = scratch.parse(train_split.texts, progress and rank == 0)
    vocab = Vocab.build([p.tokens for p in train_parsed], d.min_freq, d.lowercase)
    seed_everything(config.train.seed)  # model init must not depend on what ran before
    pipeline = Pipeline(config, vocab, labels, scratch.relations, parser=scratch.parser).to(device)
    if config.model.features == "static" and config.model.encoder != "finetune":
        log(f"static vectors {config.model.pretrained}: {pipeline.init_static_vectors():.1%} "
            "of the vocabulary found")
    params = pipeline.model.parameter_counts()
    log(f"model {config.model.encoder} on {config.graph.kind} graph: vocab {len(vocab)}, "
        f"edge types {len(pipeline.builder.edge_types)}, parameters "
        + ", ".join(f"{k} {v:,}" for k, v in params.items()))

    show = progress and rank == 0
    # parsed once: tokenizing all of 20NG's training set again cost 24 CPU s a run
    train_graphs = pipeline.graphs(train_split.texts, train_split.labels, show,
                                   parsed=train_parsed)
    del train_parsed
    dev_graphs = pipeline.graphs(data.dev.texts, data.dev.labels, show)

    t = config.train
    sampler = BucketBatchSampler([g.num_nodes for g in train_graphs], t.batch_size, t.bucket,
                                 t.seed, t.max_batch_tokens)
    loader = torch.utils.data.DataLoader(
        train_graphs, batch_sampler=RankShard(sampler, rank, world) if world > 1 else sampler,
        collate_fn=pipeline.collate)
    optimizer = torch.optim.AdamW(_parameter_groups(pipeline.model, config), lr=t.lr,
                                  weight_decay=t.weight_decay, fused=t.fused_optimizer or None)
    run = Run(config, out_dir, rank, world, device, show, data, pipeline, train_graphs,
              dev_graphs, sampler, loader, optimizer, [g["lr"] for g in optimizer.param_groups],
              pipeline.model, params, sum(g.num_nodes for g in train_graphs) / len(train_graphs),
              started, cpu_started)
    if run.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    if t.ema:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        run.average = AveragedModel(run.model, multi_avg_fn=get_ema_multi_avg_fn(t.ema))
    checkpoint = out_dir / CHECKPOINT
    if resume and checkpoint.is_file():
        run.state, run.best_weights = restore_checkpoint(checkpoint, run.model, optimizer, sampler,
                                                         run.average)
        log(f"resumed from {checkpoint} after epoch {run.state['epoch']}")
        run.started -= run.state["elapsed"]
        cpu_elapsed = run.state.get("cpu_elapsed")
        run.cpu_started = None if cpu_elapsed is None else run.cpu_started - cpu_elapsed
    if t.tensorboard and run.main:
        run.board = tensorboard(out_dir, run.state["epoch"])
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        torch.manual_seed(t.seed + rank)  # different dropout on each process
        # unused parameters exist (e.g. a pretrained encoder's pooler the head never reads)
        run.step_model = DistributedDataParallel(run.model, find_unused_parameters=True)
    return run


def train_epoch(run: Run, epoch: int) -> dict:
    """One pass over the training batches; the epoch's training loss and accuracy (over
    every process's share under torchrun)."""
    config, model, optimizer = run.config, run.model, run.optimizer
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    # disable=None: tqdm stays silent when stderr is not a terminal, so logs stay clean
    bar = tqdm(run.loader, desc=f"epoch {epoch}", leave=False,
               disable=None if run.progress else True, unit="batch")
    untrimmed = 0  # tokens trained since freed memory was last returned
    batches = len(run.loader)  # drawn with the epoch (a token budget makes it vary)
    for step, batch in enumerate(bar):
        # a function of the position in training alone: a resumed run follows it too
        factor = lr_factor((epoch - 1 + (step + 0.5) / batches) / config.train.epochs,
                           config.train)
        for group, base in zip(optimizer.param_groups, run.base_lrs, strict=True):
            group["lr"] = base * factor
        untrimmed += batch.num_nodes
        if untrimmed >= TRIM_TOKENS:
            release_freed_memory()
            untrimmed = 0
        batch = batch.to(run.device)
        logits = run.step_model(batch)
        loss = torch.nn.functional.cross_entropy(logits, batch.y)
        optimizer.zero_grad()
        loss.backward()
        if config.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()
        if run.average is not None:
            run.average.update_parameters(model)
        value = loss.item()
        if not math.isfinite(value):  # training cannot recover from this: say so
            raise TextGNNError(f"epoch {epoch}, batch {step + 1}: the training loss is "
                               f"{value}; lower train.lr or raise train.grad_clip")
        total_loss += value * batch.num_graphs
        correct += int((logits.argmax(-1) == batch.y).sum())
        seen += batch.num_graphs
    if run.world > 1:
        total_loss, correct, seen = sum_over_ranks([total_loss, correct, seen], run.device)
    return {"epoch": epoch, "train_loss": total_loss / seen, "train_accuracy": correct / seen}


def score_dev(run: Run) -> dict:
    """Dev loss, accuracy and the selection metric. Every process scores the whole dev set
    itself: identical weights give identical early-stopping decisions without any further
    communication. With ``train.ema`` the moving average of the weights is scored."""
    with scored_weights(run):
        dev_logits = run.pipeline.logits(run.dev_graphs)
    release_freed_memory()
    dev_y = torch.cat([g.y for g in run.dev_graphs])
    row = {
        "dev_loss": float(torch.nn.functional.cross_entropy(dev_logits, dev_y)),
        "dev_accuracy": float((dev_logits.argmax(-1) == dev_y).float().mean()),
    }
    select = run.config.train.select
    if select != "accuracy":
        row[f"dev_{select}"] = SELECT[select](dev_y.numpy(), dev_logits.argmax(-1).numpy())
    return row


@contextmanager
def scored_weights(run: Run) -> Iterator[None]:
    """The weights dev scores, in the model for the duration: its own, or with ``train.ema``
    their moving average (the trained weights come back after)."""
    if run.average is None:
        yield
        return
    trained = copy.deepcopy(run.model.state_dict())
    run.model.load_state_dict(run.scored.state_dict())
    try:
        yield
    finally:
        run.model.load_state_dict(trained)


def end_epoch(run: Run, row: dict) -> None:
    """Record the epoch (history, TensorBoard, log), keep its weights if dev improved, stop
    after ``train.patience`` epochs without gain, and write the checkpoint."""
    state, epoch = run.state, row["epoch"]
    row["seconds"] = time.perf_counter() - run.started
    state["history"].append(row)
    if run.main:
        write_history(state["history"], run.out_dir / "history.csv")
    if run.board is not None:
        for name, value in row.items():
            if name != "epoch":
                run.board.add_scalar(name, value, epoch)
        run.board.flush()
    log(f"epoch {epoch:3d}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}"
        f"  dev loss {row['dev_loss']:.4f} acc {row['dev_accuracy']:.4f}")
    score, patience = row[f"dev_{run.config.train.select}"], run.config.train.patience
    if score > state["best_score"]:
        state["best_score"], state["best_epoch"] = score, epoch
        run.best_weights = copy.deepcopy(run.scored.state_dict())
    elif epoch - state["best_epoch"] >= patience:
        log(f"early stop: no dev gain for {patience} epochs; best epoch {state['best_epoch']}")
        state["stopped"] = True
    state["epoch"], state["elapsed"] = epoch, time.perf_counter() - run.started
    state["cpu_elapsed"] = None if run.cpu_started is None else time.process_time() - run.cpu_started
    state["peak_rss_gb"] = _run_peak_rss_gb(state)
    if run.main:
        save_checkpoint(run.out_dir / CHECKPOINT, run.model, run.best_weights, run.optimizer,
                        run.sampler, state,
                        None if run.average is None else run.average.state_dict())


def finish(run: Run, test: bool = True) -> dict | None:
    """Save the best epoch's model, score it on dev and (``test``) test, write
    ``metrics.json`` and ``curve.png``; the summary (None on ranks other than 0)."""
    state = run.state
    if run.board is not None:
        run.board.close()
    train_seconds = time.perf_counter() - run.started
    cpu_seconds = None if run.cpu_started is None else time.process_time() - run.cpu_started
    # free the training graphs before the test set is built
    run.loader = run.sampler = run.train_graphs = None
    release_freed_memory()
    if run.world > 1:
        run.step_model = None  # DDP's reducer holds a reference to the process group
        destroy_distributed()
        if not run.main:
            return None
    pipeline, data = run.pipeline, run.data
    run.model.load_state_dict(run.best_weights)
    pipeline.save_pretrained(run.out_dir / "model")

    metrics = {"dev": pipeline.evaluate_graphs(run.dev_graphs)}
    if test and data.test is not None:
        metrics["test"] = pipeline.evaluate(data.test.texts, data.test.labels, data.test.source,
                                            run.progress)
    epochs = len(state["history"])
    metrics |= {"best_epoch": state["best_epoch"], "epochs_run": epochs, "params": run.params,
                "train_seconds": train_seconds,
                # what the run cost, for accuracy-vs-cost comparisons (long documents). CPU
                # seconds are the work done, whatever else shared the machine or paused the run
                # (SIGSTOP, a suspended machine), which wall seconds also count; on a GPU they
                # miss the device's time
                "cost": {"seconds_per_epoch": train_seconds / epochs,
                         "cpu_seconds": cpu_seconds,
                         "cpu_seconds_per_epoch": None if cpu_seconds is None else cpu_seconds / epochs,
                         "peak_rss_gb": _run_peak_rss_gb(state),
                         "tokens_per_document": run.tokens_per_document,
                         "device": device_name(run.device), "cpu": cpu_kernels()}}
    (run.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_history(state["history"], run.out_dir / "curve.png")
    return {
        "run_dir": str(run.out_dir),
        "dev": summarize(metrics["dev"]),
        "test": summarize(metrics["test"]) if "test" in metrics else None,
        "best_epoch": state["best_epoch"],
        "params": run.params["total"],
        "train_seconds": round(train_seconds, 2),
    }


def _run_peak_rss_gb(state: dict) -> float:
    """The run's peak resident memory: this process's, or a killed process's before it
    resumed, whichever was higher (a checkpoint from before it was counted has none)."""
    return max(state.get("peak_rss_gb") or 0.0, peak_rss_gb())


def _check_labels(split: Split, known: set[str], max_train: int | None) -> None:
    unknown = sorted(set(split.labels) - known)
    if unknown:
        # max_train is a plain random sample (stratifying it would change the data of every
        # recorded run that used it), so a rare label can drop out of a small one
        hint = ("" if max_train is None else
                f"; data.max_train={max_train} draws a plain random sample of the training set, "
                "which can leave a rare label out: raise it, or use data.train_fraction, which "
                "keeps every label")
        raise TextGNNError(f"{split.source}: label(s) {', '.join(map(repr, unknown[:5]))} do not "
                           f"occur in the training data{hint}")


def _warn_about(config: Config) -> None:
    m, g = config.model, config.graph
    if m.positions == "none" and not m.edge_types and g.kind in ("complete", "none"):
        log(f"warning: {m.encoder} on the {g.kind} graph with no positions and no edge types sees "
            "a bag of words: word order is invisible to it")


def _parameter_groups(model: torch.nn.Module, config: Config) -> list[dict]:
    """Trainable parameters; a pretrained encoder's get their own (lower) learning rate."""
    pretrained = getattr(model, "pretrained_parameters", lambda: [])()
    ids = {id(p) for p in pretrained}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups = [{"params": rest}]
    if pretrained:
        groups.insert(0, {"params": pretrained, "lr": config.train.pretrained_lr})
    return groups
