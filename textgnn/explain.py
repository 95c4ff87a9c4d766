"""Why did the model say that? The token graph of one text, each edge drawn as strongly as
the chosen layer weighs it: attention for ``gat`` / ``transformer`` (the global attention of
``hybrid``), the normalised edge weight for ``gcn``. Heads are averaged."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import TextGNNError
from .figures import save_figure, subplots
from .nn import Backbone


def explain(pipeline, text: str, layer: int = -1) -> dict:
    """Tokens, ``edges`` as ``[source, target, weight, type]`` and the prediction."""
    model = pipeline.model
    if not isinstance(model, Backbone):
        raise TextGNNError("explain draws graph encoders on learned, static or frozen contextual "
                           "features; this model fine-tunes its pretrained encoder")
    if not text.strip():
        raise TextGNNError("explain: give a non-empty TEXT")
    if not -len(model.blocks) <= layer < len(model.blocks):
        raise TextGNNError(f"--layer {layer} is out of range: the model has {len(model.blocks)} block(s)")
    [token_graph] = pipeline.token_graphs([text], progress=False)
    [data] = pipeline.graphs([text], progress=False)
    conv = model.blocks[layer].conv
    conv = getattr(conv, "attention", conv)  # hybrid: its global attention
    dense = model.dense
    conv.keep_weights, model.dense = True, False  # the sparse path sees every edge
    try:
        model.eval()
        with torch.no_grad():
            probs = torch.softmax(model(pipeline.collate([data])), -1)[0]
        weights = conv.edge_weights
        weights = (weights.mean(-1) if weights.dim() == 2 else weights).tolist()  # heads averaged
    finally:
        conv.keep_weights, model.dense = False, dense
        conv.edge_weights = None
    described = pipeline.builder.describe(token_graph)
    best = int(probs.argmax())
    return {
        "text": text, "tokens": described["tokens"], "layer": layer % len(model.blocks),
        "encoder": pipeline.config.model.encoder, "graph": pipeline.config.graph.kind,
        "label": pipeline.labels[best], "probability": float(probs[best]),
        "edges": [[s, d, w, t] for (s, d, t), w in zip(described["edges"], weights, strict=True)],
    }


def plot_explanation(result: dict, path: str | Path) -> Path:
    """Tokens on a line; an arc per edge (above: to a later token, below: to an earlier one),
    darker and thicker the more weight it carries; self-loops colour the token's marker."""
    from matplotlib import colormaps
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    tokens, edges = result["tokens"], result["edges"]
    n = len(tokens)
    top = max((w for s, d, w, _ in edges), default=1.0) or 1.0
    cmap = colormaps["Reds"]
    fig, ax = subplots(figsize=(max(6.0, 0.9 * n), 4.5))
    for s, d, w, _ in sorted(edges, key=lambda e: e[2]):  # strongest drawn last, on top
        if s == d:
            continue
        strength = w / top
        height = 0.35 * abs(d - s) * (1 if d > s else -1)
        arc = MPath([(s, 0), ((s + d) / 2, 2 * height), (d, 0)],
                    [MPath.MOVETO, MPath.CURVE3, MPath.CURVE3])
        ax.add_patch(PathPatch(arc, fill=False, color=cmap(0.15 + 0.85 * strength),
                               lw=0.4 + 3.5 * strength, alpha=0.25 + 0.75 * strength))
    loops = {s: w for s, d, w, _ in edges if s == d}
    ax.scatter(range(n), [0] * n, s=160, zorder=3, edgecolors="black",
               c=[cmap(0.15 + 0.85 * loops.get(i, 0) / top) for i in range(n)])
    for i, token in enumerate(tokens):
        ax.text(i, -0.12, token, ha="center", va="top", fontsize=10, zorder=4,
                rotation=30 if n > 12 else 0,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
    span = 0.35 * max((abs(d - s) for s, d, _, _ in edges), default=1) + 0.4
    ax.set(xlim=(-0.8, n - 0.2), ylim=(-span, span), yticks=[], xticks=[])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"{result['label']} ({result['probability']:.1%}) · {result['encoder']} on the "
                 f"{result['graph']} graph, layer {result['layer']}\n"
                 "edge darkness/width = weight (above: to a later token, below: to an earlier one)",
                 fontsize=10)
    path = Path(path)
    save_figure(fig, path, dpi=120)
    return path
