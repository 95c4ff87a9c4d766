"""``train``: training throughput of every encoder x graph against the dense
``torch.nn.TransformerEncoder`` a user would otherwise pick, at 16 to 1,024 tokens a text."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from benchmarks.common import REPO, figure, log, paired, timed
from textgnn.config import load_config
from textgnn.data import load_dataset
from textgnn.features import Vocab
from textgnn.pipeline import Pipeline

ENCODERS = ("gcn", "gat", "transformer")
GRAPHS = ("dependency", "window", "complete")
TOKENS_PER_BATCH = 2048


class DenseBaseline(nn.Module):
    """What a user would otherwise pick: embeddings + torch.nn.TransformerEncoder on padded
    batches + mean pooling + linear head, at the backbone's sizes."""

    def __init__(self, vocab_size: int, hidden: int, heads: int, ffn: int, layers: int,
                 dropout: float, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden)
        layer = nn.TransformerEncoderLayer(hidden, heads, ffn, dropout, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(hidden, classes)

    def forward(self, ids: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embedding(ids), src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        return self.head((h * keep).sum(1) / keep.sum(1))


def training_step(model: nn.Module, inputs: tuple, target: torch.Tensor):
    """One full optimisation step (forward, loss, backward, AdamW update) as a closure."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters())

    def step():
        loss = nn.functional.cross_entropy(model(*inputs), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def texts_of_length(n_tokens: int, count: int) -> list[str]:
    """20NG posts with between 1.2n and 3n whitespace tokens (truncated to n parser tokens
    later), so every text fills its length without parsing huge posts."""
    data = load_dataset("20ng", splits=("train",))
    out = [t for t in data.train.texts if n_tokens * 1.2 <= len(t.split()) <= n_tokens * 3]
    if len(out) < count:
        raise SystemExit(f"only {len(out)} 20NG texts of about {n_tokens} tokens")
    return out[:count]


def bench_training(lengths: list[int], repeats: int) -> tuple[list[dict], list[dict]]:

    base = load_config(REPO / "configs" / "base.yaml")
    m = base.model
    details, figures = [], []
    for n in lengths:
        batch_size = max(1, TOKENS_PER_BATCH // n)
        texts = texts_of_length(n, batch_size)
        parsed_cache: dict[str, list] = {}
        row = {"tokens": n, "batch_size": batch_size}
        torch.manual_seed(0)
        baseline = DenseBaseline(5000, m.hidden, m.heads, m.ffn, m.layers, m.dropout, 2)
        ids = torch.randint(1, 5000, (batch_size, n))
        pad = torch.zeros(batch_size, n, dtype=torch.bool)
        y = torch.randint(0, 2, (batch_size,))
        baseline_step = training_step(baseline, (ids, pad), y)
        # short texts take milliseconds a step: more trials for the same confidence
        trials = repeats * 4 if n <= 64 else repeats
        row["baseline"] = timed(baseline_step, trials)
        base_gps = batch_size / row["baseline"]["median"]
        row["baseline_graphs_per_s"] = base_gps
        # the 9 configs, then the transformer without edge types: no relative-position bias,
        # exactly the work of the dense baseline (which has no position information either)
        variants = [(g, e, []) for g in GRAPHS for e in ENCODERS]
        variants.append(("complete", "transformer", ["model.edge_types=false"]))
        for graph, encoder, extra in variants:
            config = load_config(REPO / "configs" / "base.yaml", [
                f"graph.kind={graph}", f"model.encoder={encoder}", f"data.max_tokens={n}", *extra])
            pipeline = Pipeline(config, Vocab(["<unk>"] + [f"w{i}" for i in range(4999)]),
                                ["a", "b"])
            if graph not in parsed_cache:
                parsed_cache[graph] = pipeline.graphs(texts, ["a"] * len(texts), progress=False)
            data = parsed_cache[graph]
            for d in data:
                d.x = torch.randint(1, 5000, (d.num_nodes,))
            batch = pipeline.collate(data)
            edges = (pipeline.builder.batch_edges([d.num_nodes for d in data])[0].shape[1]
                     if pipeline.builder.lengths_only else batch.num_edges)  # n^2 a text, not made
            stats = paired(baseline_step, training_step(pipeline.model, (batch,), batch.y),
                           trials)
            gps, ratio = batch_size / stats["median"], stats["ratio"]
            key = f"{encoder}-{graph}" + ("-notypes" if extra else "")
            row[key] = stats | {"graphs_per_s": gps, "edges": int(edges)}
            log(f"train n={n:5d} {key:22s} {gps:9.1f} graphs/s  ratio {ratio:.2f} "
                f"({stats['ratio_min']:.2f}-{stats['ratio_max']:.2f})")
            target = None
            if key.startswith("transformer-complete") and n <= 256:
                target = 0.9
            elif encoder in ("gcn", "gat") and graph in ("window", "dependency") and n <= 64:
                target = 1.0
            if target is not None:
                figures.append(figure(f"train_graphs_per_s_ratio/{key}/{n}", ratio, target))
        details.append(row)
    return details, figures


def plot_scaling(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    lengths = [r["tokens"] for r in rows]
    per_text = lambda stats, r: 1000 * stats["median"] / r["batch_size"]  # noqa: E731
    styles = {"dependency": "-", "window": "--", "complete": ":"}
    colors = {"gcn": "tab:blue", "gat": "tab:orange", "transformer": "tab:green"}
    for graph in GRAPHS:
        for encoder in ENCODERS:
            key = f"{encoder}-{graph}"
            ax.plot(lengths, [per_text(r[key], r) for r in rows], styles[graph],
                    color=colors[encoder], marker="o", ms=3, label=key)
    ax.plot(lengths, [per_text(r["baseline"], r) for r in rows], "-", color="black", lw=2,
            label="torch TransformerEncoder (dense)")
    ax.set(xscale="log", yscale="log", xlabel="tokens per text",
           ylabel="training-step time per text (ms)",
           title=f"Training cost vs text length ({TOKENS_PER_BATCH} tokens per batch)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(quick: bool, out: Path) -> tuple[list[dict], list[dict]]:
    rows, figures = bench_training([16, 64, 256, 1024] if not quick else [16, 64, 256],
                                   3 if quick else 7)
    plot_scaling(rows, out / "scaling.png")
    return rows, figures
