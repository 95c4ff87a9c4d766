"""The shared backbone: node features -> [Block(conv)] x L -> pooling -> classifier head.

Only the conv inside a block changes between encoders; everything else (embeddings,
positions, dropout, residuals, norms, FFN, pooling, head) is the same module, so a
comparison between encoders is a comparison between message functions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_max_pool, global_mean_pool
from torch_geometric.nn.aggr import AttentionalAggregation

from ..config import ModelConfig
from ..errors import TextGNNError
from .convs import DenseLayout, complete_layout, conv_class, lengths_layout, make_conv
from .dropout import Dropout, kernel


class Block(nn.Module):
    r"""One message-passing layer with the Transformer's update (post-norm):

    .. math::
        h = \mathrm{LN}(x + \mathrm{Dropout}(\mathrm{conv}(x))),\qquad
        x' = \mathrm{LN}(h + \mathrm{Dropout}(W_2\,\mathrm{Dropout}(\mathrm{GELU}(W_1 h))))

    which is ``torch.nn.TransformerEncoderLayer(norm_first=False, activation="gelu")``
    with its self-attention replaced by ``conv``.
    """

    def __init__(self, conv: nn.Module, hidden: int, ffn: int, dropout: float):
        super().__init__()
        self.conv = conv
        self.norm1 = nn.LayerNorm(hidden)
        self.linear1 = nn.Linear(hidden, ffn)
        self.linear2 = nn.Linear(ffn, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                layout: DenseLayout | None = None) -> Tensor:
        x = self.norm1(x + self.dropout(self.conv(x, edge_index, edge_type, layout)))
        ffn = self.linear2(self.dropout(nn.functional.gelu(self.linear1(x))))
        return self.norm2(x + self.dropout(ffn))


class SinusoidalPositions(nn.Module):
    """Fixed sine/cosine absolute positions (Vaswani et al., 2017)."""

    def __init__(self, hidden: int, max_positions: int):
        super().__init__()
        pos = torch.arange(max_positions).unsqueeze(1)
        freq = torch.exp(torch.arange(0, hidden, 2) * (-math.log(10000.0) / hidden))
        table = torch.zeros(max_positions, hidden)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq[: hidden // 2])
        self.register_buffer("table", table, persistent=False)

    def forward(self, pos: Tensor) -> Tensor:
        return self.table[pos.clamp(max=self.table.size(0) - 1)]


class LearnedPositions(nn.Module):
    """A trained vector per absolute position; positions past the table share the last."""

    def __init__(self, hidden: int, max_positions: int):
        super().__init__()
        self.table = nn.Embedding(max_positions, hidden)

    def forward(self, pos: Tensor) -> Tensor:
        return self.table(pos.clamp(max=self.table.num_embeddings - 1))


POSITIONS = {"sinusoidal": SinusoidalPositions, "learned": LearnedPositions}


class MeanPool(nn.Module):
    def forward(self, x: Tensor, batch: Tensor, size: int) -> Tensor:
        return global_mean_pool(x, batch, size)


class MaxPool(nn.Module):
    def forward(self, x: Tensor, batch: Tensor, size: int) -> Tensor:
        return global_max_pool(x, batch, size)


class AttentionPool(nn.Module):
    """Softmax-gated sum of node states, the gate a learned linear score per node."""

    def __init__(self, hidden: int):
        super().__init__()
        self.aggr = AttentionalAggregation(gate_nn=nn.Linear(hidden, 1))

    def forward(self, x: Tensor, batch: Tensor, size: int) -> Tensor:
        return self.aggr(x, batch, dim_size=size)


POOLING = {
    "mean": lambda hidden: MeanPool(),
    "max": lambda hidden: MaxPool(),
    "attention": AttentionPool,
}


def _choice(table: dict, name: str, what: str):
    if name not in table:
        raise TextGNNError(f"unknown {what} {name!r}; choose one of {', '.join(table)}")
    return table[name]


FEATURES = ("learned", "static", "contextual")


class Backbone(nn.Module):
    """Node features + graph -> class logits, for any registered conv.

    Nodes start as (``model.features``) a learned embedding of the token id, a pretrained
    ``static`` vector of the token id (frozen unless ``tune_static``) projected to the
    hidden size, or a precomputed ``contextual`` vector (``x`` holds it) projected likewise.
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, num_classes: int, num_edge_types: int,
                 feature_dim: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.embedding = self.project = None
        if cfg.features == "learned":
            self.embedding = nn.Embedding(vocab_size, cfg.hidden)
        else:
            if cfg.features == "static":
                self.embedding = nn.Embedding(vocab_size, feature_dim)
                self.embedding.weight.requires_grad_(cfg.tune_static)
            self.project = nn.Linear(feature_dim, cfg.hidden)
        self.positions = None
        if cfg.positions != "none":
            make = _choice(POSITIONS, cfg.positions, "position encoding")
            self.positions = make(cfg.hidden, cfg.max_positions)
        self.embedding_dropout = Dropout(cfg.embedding_dropout)
        types = num_edge_types if cfg.edge_types else 0
        self.blocks = nn.ModuleList(
            Block(make_conv(cfg.encoder, cfg.hidden, cfg.heads, types, cfg.attention_dropout,
                            local=cfg.local),
                  cfg.hidden, cfg.ffn, cfg.dropout)
            for _ in range(cfg.layers)
        )
        self.dense = cfg.dense and getattr(conv_class(cfg.encoder), "dense_capable", False)
        self.pool = _choice(POOLING, cfg.pooling, "pooling")(cfg.hidden)
        self.head_dropout = Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, num_classes)

    def node_states(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                    pos: Tensor | None = None, batch: Tensor | None = None,
                    complete_types: Tensor | None = None) -> Tensor:
        """Node states after the last block; ``batch`` (node -> graph) enables the dense path
        of convs that have one, when every graph of the batch is complete. Index tensors may
        come narrow (graphs are stored as int32/int16) and are widened here.

        ``complete_types`` (n, n), or (n, n, K) for a union of K parts, stands for the
        edges of a batch of complete graphs whose edge types follow from positions (see
        :func:`~textgnn.nn.convs.lengths_layout`): the dense path then needs no edges, and
        ``edge_index`` holds only those of a union's parts other than ``complete`` (what the
        hybrid's local conv reads), none for the complete graph alone."""
        if complete_types is not None and not (self.dense and batch is not None):
            raise TextGNNError("complete_types replaces the edges only on the dense path "
                               "(model.dense with a dense-capable encoder, and batch given)")
        with kernel(self.cfg.dropout_kernel):
            return self._node_states(x, edge_index.long(), edge_type.long(), pos, batch,
                                     complete_types)

    def _node_states(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                     pos: Tensor | None, batch: Tensor | None,
                     complete_types: Tensor | None) -> Tensor:
        if self.training and self.cfg.word_dropout > 0:
            # Replacing whole tokens by <unk> (id 0, or a zero vector) regularises more than
            # feature dropout.
            drop = torch.rand(x.shape[:1], device=x.device) < self.cfg.word_dropout
            x = x.masked_fill(drop.view(-1, *[1] * (x.dim() - 1)), 0)
        h = x.float() if self.embedding is None else self.embedding(x)
        if self.project is not None:
            h = self.project(h)
        if self.positions is not None:
            h = h + self.positions(pos.long())
        h = self.embedding_dropout(h)
        layout = None
        if complete_types is not None:
            layout = lengths_layout(batch, complete_types)
        elif self.dense and batch is not None:
            layout = complete_layout(edge_index, edge_type, batch)
        for block in self.blocks:
            h = block(h, edge_index, edge_type, layout)
        return h

    def forward(self, batch, x: Tensor | None = None) -> Tensor:
        """``batch``: a PyG Batch with x, edge_index, edge_type, pos, batch; ``x`` replaces
        ``batch.x`` (node features computed by an enclosing model)."""
        h = self.node_states(batch.x if x is None else x, batch.edge_index, batch.edge_type,
                             batch.pos, batch.batch, getattr(batch, "complete_types", None))
        pooled = self.pool(h, batch.batch, batch.num_graphs)
        with kernel(self.cfg.dropout_kernel):
            return self.head(self.head_dropout(pooled))

    def parameter_counts(self) -> dict[str, int]:
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        convs = sum(count(b.conv) for b in self.blocks)
        return {
            "total": count(self),
            "embedding": sum(count(m) for m in (self.embedding, self.project) if m is not None),
            "conv": convs,
            "blocks_other": sum(count(b) for b in self.blocks) - convs,
            "pool_and_head": count(self.pool) + count(self.head),
        }
