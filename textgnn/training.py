"""The training loop: plain PyTorch, AdamW, early stopping on dev accuracy.

A run directory gets the resolved ``config.yaml``, ``model/`` (the best dev epoch),
``history.csv`` (written every epoch), ``metrics.json`` and ``curve.png``.
Test data is touched once, after training, to report; it never steers a choice.
"""

from __future__ import annotations

import copy
import csv
import ctypes
import functools
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from sklearn.metrics import f1_score, matthews_corrcoef
from tqdm.auto import tqdm

from .batching import BucketBatchSampler, RankShard
from .checkpoint import load_training_state, save_training_state
from .config import Config
from .data import Split, load_configured
from .errors import TextGNNError
from .features import Vocab
from .metrics import summarize
from .pipeline import Pipeline, resolve_device


def usable_cpus() -> int:
    """CPUs this process may run on (respects ``taskset`` and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Tokens trained between two returns of freed heap memory to the OS: four full batches at
# the default 16,384-token budget. Counting tokens, not batches, trims where the churn is:
# every ~4 batches of 20NG posts, only every ~50 of MR sentences, whose small tensors leave
# little behind. On 20NG-sized batches, trimming every 5 batches instead of 20 cut the
# growth between trims from ~1.1 to ~0.8 GB for ~16 % more step time.
TRIM_TOKENS = 65536


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc's ``malloc_trim``; elsewhere a no-op).

    Batches of long texts allocate tensors of a different size at every step; glibc keeps
    freed blocks it cannot reuse, and on 20 Newsgroups resident memory grew by ~0.3 GB per
    epoch while live data stayed flat. Trimming changes no computed value.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# dev metrics that can choose the kept epoch and stop training (train.select)
SELECT = {
    "accuracy": None,  # computed inline, always logged
    "mcc": lambda gold, pred: float(matthews_corrcoef(gold, pred)),
    "macro_f1": lambda gold, pred: float(f1_score(gold, pred, average="macro", zero_division=0)),
}


def log(message: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 speaks
        print(message, file=sys.stderr, flush=True)


def init_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, device) under ``torchrun`` (gloo on CPU, NCCL on GPU: one GPU per
    process, by LOCAL_RANK); (0, 1, device) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    import torch.distributed as dist

    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise TextGNNError(
                f"torchrun process {local} has no GPU of its own ({torch.cuda.device_count()} "
                "visible): start at most one process per GPU (--nproc_per_node), or set "
                "train.device=cpu")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world, device


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


def train(config: Config, out_dir: str | Path, progress: bool = True,
          resume: bool = False) -> dict | None:
    """Train one model; return the summary that ``train.py`` prints (None on the ranks
    other than 0 under ``torchrun``, where ``train.batch_size`` is the global batch).

    A checkpoint is written after every epoch; with ``resume`` a run directory that has one
    continues from it and ends with exactly the metrics of an uninterrupted run.
    """
    out_dir = Path(out_dir)
    t_start = time.perf_counter()
    seed_everything(config.train.seed)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    rank, world, device = init_distributed(resolve_device(config.train.device))
    main = rank == 0  # only rank 0 writes files
    progress = progress and main
    _warn_about(config)
    select = config.train.select

    # Built first so an unknown graph kind, encoder or pooling stops before any data is read.
    scratch = Pipeline(config, Vocab([]), ["?"])
    d = config.data
    data = load_configured(d)
    train_split = cap_split(data.train, d.max_train, config.train.seed)
    labels = sorted(set(train_split.labels))
    for split in (data.dev, data.test):
        if split is not None:
            _check_labels(split, set(labels))
    log(f"data {d.name}: train {len(train_split)}, dev {len(data.dev)}, "
        f"test {len(data.test) if data.test else 0}; labels {labels}")

    train_tokens = [p.tokens for p in scratch.parse(train_split.texts, progress)]
    vocab = Vocab.build(train_tokens, d.min_freq, d.lowercase)
    del train_tokens
    seed_everything(config.train.seed)  # model init must not depend on what ran before
    pipeline = Pipeline(config, vocab, labels, scratch.relations, parser=scratch.parser).to(device)
    model = pipeline.model
    if config.model.features == "static" and config.model.encoder != "finetune":
        log(f"static vectors {config.model.pretrained}: {pipeline.init_static_vectors():.1%} "
            "of the vocabulary found")
    counts = model.parameter_counts()
    log(f"model {config.model.encoder} on {config.graph.kind} graph: vocab {len(vocab)}, "
        f"edge types {len(pipeline.builder.edge_types)}, parameters "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    train_graphs = pipeline.graphs(train_split.texts, train_split.labels, progress)
    dev_graphs = pipeline.graphs(data.dev.texts, data.dev.labels, progress)

    from torch_geometric.loader import DataLoader

    sampler = BucketBatchSampler([g.num_nodes for g in train_graphs], config.train.batch_size,
                                 config.train.bucket, config.train.seed,
                                 config.train.max_batch_tokens)
    loader = DataLoader(train_graphs, batch_sampler=RankShard(sampler, rank, world) if world > 1
                        else sampler)
    optimizer = torch.optim.AdamW(_parameter_groups(model, config), lr=config.train.lr,
                                  weight_decay=config.train.weight_decay)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    ckpt = out_dir / CHECKPOINT
    state = {"epoch": 0, "best_score": -2.0, "best_epoch": 0, "stopped": False, "history": [],
             "elapsed": 0.0}
    best_state = None
    if resume and ckpt.is_file():
        state, best_state = _restore(ckpt, model, optimizer, sampler)
        log(f"resumed from {ckpt} after epoch {state['epoch']}")
        t_start -= state["elapsed"]
    history = state["history"]
    board = _tensorboard(out_dir, state["epoch"]) if config.train.tensorboard and main else None
    step_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        torch.manual_seed(config.train.seed + rank)  # different dropout on each process
        # unused parameters exist (e.g. a pretrained encoder's pooler the head never reads)
        step_model = DistributedDataParallel(model, find_unused_parameters=True)
    for epoch in range(state["epoch"] + 1, config.train.epochs + 1):
        if state["stopped"]:
            break
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        # disable=None: tqdm stays silent when stderr is not a terminal, so logs stay clean
        bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=None if progress else True,
                   unit="batch")
        untrimmed = 0  # tokens trained since freed memory was last returned
        batches = len(loader)  # drawn with the epoch (a token budget makes it vary)
        for step, batch in enumerate(bar):
            # a function of the position in training alone: a resumed run follows it too
            factor = lr_factor((epoch - 1 + (step + 0.5) / batches) / config.train.epochs,
                               config.train)
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor
            untrimmed += batch.num_nodes
            if untrimmed >= TRIM_TOKENS:
                release_freed_memory()
                untrimmed = 0
            batch = batch.to(device)
            logits = step_model(batch)
            loss = torch.nn.functional.cross_entropy(logits, batch.y)
            optimizer.zero_grad()
            loss.backward()
            if config.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
            optimizer.step()
            total_loss += loss.item() * batch.num_graphs
            correct += int((logits.argmax(-1) == batch.y).sum())
            seen += batch.num_graphs
        if world > 1:  # training loss and accuracy over every process's share
            import torch.distributed as dist

            totals = torch.tensor([total_loss, correct, seen], dtype=torch.float64, device=device)
            dist.all_reduce(totals)
            total_loss, correct, seen = totals.tolist()
        # every process scores the whole dev set itself: identical weights give identical
        # early-stopping decisions without any further communication
        dev_logits = pipeline.logits(dev_graphs)
        release_freed_memory()
        dev_y = torch.cat([g.y for g in dev_graphs])
        row = {
            "epoch": epoch,
            "train_loss": total_loss / seen,
            "train_accuracy": correct / seen,
            "dev_loss": float(torch.nn.functional.cross_entropy(dev_logits, dev_y)),
            "dev_accuracy": float((dev_logits.argmax(-1) == dev_y).float().mean()),
        }
        if select != "accuracy":
            row[f"dev_{select}"] = SELECT[select](dev_y.numpy(), dev_logits.argmax(-1).numpy())
        row["seconds"] = time.perf_counter() - t_start
        history.append(row)
        if main:
            _write_history(history, out_dir / "history.csv")
        if board is not None:
            for name, value in row.items():
                if name != "epoch":
                    board.add_scalar(name, value, epoch)
            board.flush()
        log(f"epoch {epoch:3d}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}"
            f"  dev loss {row['dev_loss']:.4f} acc {row['dev_accuracy']:.4f}")
        if row[f"dev_{select}"] > state["best_score"]:
            state["best_score"], state["best_epoch"] = row[f"dev_{select}"], epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - state["best_epoch"] >= config.train.patience:
            log(f"early stop: no dev gain for {config.train.patience} epochs; "
                f"best epoch {state['best_epoch']}")
            state["stopped"] = True
        state["epoch"], state["elapsed"] = epoch, time.perf_counter() - t_start
        if main:
            _checkpoint(ckpt, model, best_state, optimizer, sampler, state)
    best_epoch = state["best_epoch"]
    if board is not None:
        board.close()
    train_seconds = time.perf_counter() - t_start
    del loader, sampler, train_graphs  # free the training graphs before the test set is built
    release_freed_memory()
    if world > 1:
        import torch.distributed as dist

        del step_model  # DDP's reducer holds a reference to the process group
        # A gloo worker thread may still have to take the GIL to free its last work item,
        # while the group's destructor joins those threads holding the GIL: about one
        # torchrun run in 100 hung there (py-spy: ~ProcessGroupGloo in std::thread::join, a
        # worker in gil_scoped_acquire). Sleeping hands the GIL over so they finish first.
        time.sleep(0.2)
        dist.destroy_process_group()
        if not main:
            return None
    model.load_state_dict(best_state)
    pipeline.save_pretrained(out_dir / "model")

    metrics = {"dev": pipeline.evaluate_graphs(dev_graphs)}
    if data.test is not None:
        metrics["test"] = pipeline.evaluate(data.test.texts, data.test.labels, data.test.source,
                                            progress)
    metrics |= {"best_epoch": best_epoch, "epochs_run": len(history), "params": counts,
                "train_seconds": train_seconds}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_history(history, out_dir / "curve.png")
    return {
        "run_dir": str(out_dir),
        "dev": summarize(metrics["dev"]),
        "test": summarize(metrics["test"]) if "test" in metrics else None,
        "best_epoch": best_epoch,
        "params": counts["total"],
        "train_seconds": round(train_seconds, 2),
    }


CHECKPOINT = "checkpoint.safetensors"


def _tensorboard(out_dir: Path, last_epoch: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TextGNNError("train.tensorboard: true needs `pip install tensorboard`") from None
    # a resumed run drops whatever the killed run logged after its last checkpoint
    return SummaryWriter(str(out_dir / "tensorboard"), purge_step=last_epoch + 1)


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


def _parameter_groups(model: torch.nn.Module, config: Config) -> list[dict]:
    """Trainable parameters; a pretrained encoder's get their own (lower) learning rate."""
    pretrained = getattr(model, "pretrained_parameters", lambda: [])()
    ids = {id(p) for p in pretrained}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups = [{"params": rest}]
    if pretrained:
        groups.insert(0, {"params": pretrained, "lr": config.train.pretrained_lr})
    return groups


def _checkpoint(path: Path, model, best_state: dict, optimizer, sampler, state: dict) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"best.{k}": v for k, v in best_state.items()}
    opt = optimizer.state_dict()
    for index, moments in opt["state"].items():
        tensors |= {f"optim.{index}.{name}": value for name, value in moments.items()}
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.sampler"] = sampler.generator.get_state()
    if torch.cuda.is_initialized():  # dropout on a GPU draws from the GPU's own generators
        tensors["rng.cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    np_state = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np_state[1].astype(np.int64))
    version, internal, gauss = random.getstate()
    save_training_state(path, tensors, state | {
        "optimizer_groups": opt["param_groups"],
        "rng_python": [version, list(internal), gauss],
        "rng_numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
    })


def _restore(path: Path, model, optimizer, sampler) -> tuple[dict, dict]:
    tensors, state = load_training_state(path)
    take = lambda prefix: {k[len(prefix):]: v for k, v in tensors.items()  # noqa: E731
                           if k.startswith(prefix)}
    model.load_state_dict(take("model."))
    moments: dict[int, dict] = {}
    for key, value in take("optim.").items():
        index, name = key.split(".", 1)
        moments.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": moments, "param_groups": state.pop("optimizer_groups")})
    torch.set_rng_state(tensors["rng.torch"])
    sampler.generator.set_state(tensors["rng.sampler"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["rng.cuda"])[:torch.cuda.device_count()])
    version, internal, gauss = state.pop("rng_python")
    random.setstate((version, tuple(internal), gauss))
    name, pos, has_gauss, cached = state.pop("rng_numpy")
    np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss,
                         cached))
    return state, take("best.")


def _write_history(rows: list[dict], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
