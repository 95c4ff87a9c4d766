"""How the project draws a figure: matplotlib on its file-only backend, imported when a
figure is drawn (so importing the package stays fast), and one way to save one."""

from __future__ import annotations

from pathlib import Path


def subplots(*args, **kwargs):
    """``plt.subplots`` on the Agg backend: figures are written to files, on machines with
    no display (servers, CI, studies running in the background)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_figure(fig, path: str | Path, dpi: int = 110) -> None:
    """Lay the figure out, write it and close it: a study draws dozens, and pyplot keeps every
    figure left open in memory."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
