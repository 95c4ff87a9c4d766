r"""The message functions, looked up by name.

Each entry is one message-passing step :math:`x_i' = \mathrm{AGG}_{j \in N(i)}\,
\phi(x_i, x_j, e_{ij})` at a fixed hidden size; the block around it (dropout, residual,
norm, FFN) is shared and lives in :mod:`textgnn.nn.backbone`. All convs take the same
constructor arguments and ``forward(x, edge_index, edge_type)``, so adding an encoder is one
class plus one ``@register`` line. Edge types reach every conv when ``num_edge_types > 0``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, TransformerConv

from ..errors import TextGNNError

CONVS: dict[str, type[nn.Module]] = {}


def register(name: str):
    def wrap(cls):
        CONVS[name] = cls
        return cls
    return wrap


def make_conv(name: str, hidden: int, heads: int, num_edge_types: int,
              attention_dropout: float) -> nn.Module:
    if name not in CONVS:
        raise TextGNNError(f"unknown encoder {name!r}; choose one of {', '.join(CONVS)}")
    return CONVS[name](hidden, heads, num_edge_types, attention_dropout)


def _head_dim(hidden: int, heads: int) -> int:
    if heads < 1 or hidden % heads:
        raise TextGNNError(f"model.hidden ({hidden}) must be a multiple of model.heads ({heads})")
    return hidden // heads


def _init_edge_embedding(embedding: nn.Embedding) -> None:
    # Norm about 1: a mild perturbation next to unit-variance node states at the start.
    nn.init.normal_(embedding.weight, std=embedding.embedding_dim ** -0.5)


@register("gcn")
class GCN(nn.Module):
    r"""Graph convolution with a learned weight per edge type:

    .. math::
        x_i' = \sum_{j \in N(i)} \frac{w_{t(j,i)}}{\sqrt{\hat d_i \hat d_j}}\, W x_j + b,
        \qquad w_t = 2\,\sigma(\theta_t),\ \hat d_i = \sum_{j} w_{t(j,i)}

    :math:`w_t` starts at 1 (plain GCN). Self-loops come from the graph builder, not from
    the conv, so the same edge set is seen by every encoder. ``heads`` is unused.
    """

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float):
        super().__init__()
        self.conv = GCNConv(hidden, hidden, add_self_loops=False, normalize=True)
        self.type_logit = nn.Embedding(num_edge_types, 1) if num_edge_types else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        if self.type_logit is not None:
            nn.init.zeros_(self.type_logit.weight)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        weight = None
        if self.type_logit is not None:
            weight = 2 * torch.sigmoid(self.type_logit(edge_type).squeeze(-1))
        return self.conv(x, edge_index, weight)


@register("gat")
class GAT(nn.Module):
    r"""Graph attention (PyG ``GATConv``), heads concatenated back to the hidden size:

    .. math::
        \alpha_{ij} = \mathrm{softmax}_j\big(\mathrm{LeakyReLU}(a^\top[W x_i \,\|\, W x_j
        \,\|\, W_e e_{t(j,i)}])\big),\qquad x_i' = \big\|_{h} \sum_j \alpha^h_{ij} W^h x_j

    with :math:`e_t` a learned embedding of the edge type.
    """

    conv_class = GATConv

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float):
        super().__init__()
        self.edge_embedding = nn.Embedding(num_edge_types, hidden) if num_edge_types else None
        self.conv = self.conv_class(
            hidden, _head_dim(hidden, heads), heads=heads, concat=True, add_self_loops=False,
            dropout=attention_dropout, edge_dim=hidden if num_edge_types else None,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        if self.edge_embedding is not None:
            _init_edge_embedding(self.edge_embedding)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        edge_attr = self.edge_embedding(edge_type) if self.edge_embedding is not None else None
        return self.conv(x, edge_index, edge_attr)


@register("gatv2")
class GATv2(GAT):
    """GATv2 (PyG ``GATv2Conv``): the attention MLP sees both endpoints before LeakyReLU."""

    conv_class = GATv2Conv


@register("transformer")
class Transformer(nn.Module):
    r"""Multi-head scaled dot-product attention over the neighbours, then an output
    projection:

    .. math::
        \alpha^h_{ij} = \mathrm{softmax}_{j \in N(i)}\Big(\frac{(W^h_q x_i)^\top
        (W^h_k x_j + W^h_e e_{t(j,i)})}{\sqrt{d_h}}\Big),\qquad
        x_i' = W_o \big\|_h \sum_j \alpha^h_{ij}\,(W^h_v x_j + W^h_e e_{t(j,i)})

    On the complete graph with self-loops and no edge types this is exactly the
    self-attention sub-layer of ``torch.nn.TransformerEncoderLayer`` (tested).
    """

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float):
        super().__init__()
        self.edge_embedding = nn.Embedding(num_edge_types, hidden) if num_edge_types else None
        self.conv = TransformerConv(
            hidden, _head_dim(hidden, heads), heads=heads, concat=True, root_weight=False,
            dropout=attention_dropout, edge_dim=hidden if num_edge_types else None,
        )
        self.out = nn.Linear(hidden, hidden)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        self.out.reset_parameters()
        if self.edge_embedding is not None:
            _init_edge_embedding(self.edge_embedding)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        edge_attr = self.edge_embedding(edge_type) if self.edge_embedding is not None else None
        return self.out(self.conv(x, edge_index, edge_attr))

