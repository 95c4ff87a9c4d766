"""A run's record of its epochs: ``history.csv`` (rewritten atomically every epoch), the
optional TensorBoard log, and ``curve.png``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .errors import TextGNNError
from .figures import save_figure, subplots


def write_history(rows: list[dict], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def tensorboard(out_dir: Path, last_epoch: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TextGNNError("train.tensorboard: true needs `pip install tensorboard`") from None
    # a resumed run drops whatever the killed run logged after its last checkpoint
    return SummaryWriter(str(out_dir / "tensorboard"), purge_step=last_epoch + 1)


def plot_history(rows: list[dict], path: Path) -> None:
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], label="train")
    ax_loss.plot(epochs, [r["dev_loss"] for r in rows], label="dev")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(epochs, [r["train_accuracy"] for r in rows], label="train")
    ax_acc.plot(epochs, [r["dev_accuracy"] for r in rows], label="dev")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=100)
