r"""The message functions, looked up by name.

Each entry is one message-passing step :math:`x_i' = \mathrm{AGG}_{j \in N(i)}\,
\phi(x_i, x_j, e_{ij})` at a fixed hidden size; the block around it (dropout, residual,
norm, FFN) is shared and lives in :mod:`textgnn.nn.backbone`. All convs take the same
constructor arguments and ``forward(x, edge_index, edge_type)``, so adding an encoder is one
class plus one ``@register`` line. Edge types reach every conv when ``num_edge_types > 0``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, MessagePassing
from torch_geometric.utils import softmax

from ..errors import TextGNNError

CONVS: dict[str, type[nn.Module]] = {}
# GAT's edge-type embedding size: the conv maps it through a per-edge linear layer, so a
# small size keeps that cost low; it only has to produce one attention logit per head.
EDGE_DIM = 16


def register(name: str):
    def wrap(cls):
        CONVS[name] = cls
        return cls
    return wrap


def make_conv(name: str, hidden: int, heads: int, num_edge_types: int,
              attention_dropout: float, dense: bool = True) -> nn.Module:
    if name not in CONVS:
        raise TextGNNError(f"unknown encoder {name!r}; choose one of {', '.join(CONVS)}")
    return CONVS[name](hidden, heads, num_edge_types, attention_dropout, dense)


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

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float,
                 dense: bool = True):
        super().__init__()
        self.conv = GCNConv(hidden, hidden, add_self_loops=False, normalize=True)
        self.type_logit = nn.Embedding(num_edge_types, 1) if num_edge_types else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        if self.type_logit is not None:
            nn.init.zeros_(self.type_logit.weight)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                batch: Tensor | None = None) -> Tensor:
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

    with :math:`e_t` a learned ``EDGE_DIM``-sized embedding of the edge type.
    """

    conv_class = GATConv

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float,
                 dense: bool = True):
        super().__init__()
        self.edge_embedding = nn.Embedding(num_edge_types, EDGE_DIM) if num_edge_types else None
        self.conv = self.conv_class(
            hidden, _head_dim(hidden, heads), heads=heads, concat=True, add_self_loops=False,
            dropout=attention_dropout, edge_dim=EDGE_DIM if num_edge_types else None,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        if self.edge_embedding is not None:
            _init_edge_embedding(self.edge_embedding)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                batch: Tensor | None = None) -> Tensor:
        edge_attr = self.edge_embedding(edge_type) if self.edge_embedding is not None else None
        return self.conv(x, edge_index, edge_attr)


@register("gatv2")
class GATv2(GAT):
    """GATv2 (PyG ``GATv2Conv``): the attention MLP sees both endpoints before LeakyReLU."""

    conv_class = GATv2Conv


@register("transformer")
class Transformer(MessagePassing):
    r"""Multi-head scaled dot-product attention over the neighbours, with a learned bias per
    edge type and head, then an output projection:

    .. math::
        \alpha^h_{ij} = \mathrm{softmax}_{j \in N(i)}\Big(\frac{(W^h_q x_i)^\top
        (W^h_k x_j)}{\sqrt{d_h}} + b^h_{t(j,i)}\Big),\qquad
        x_i' = W_o \big\|_h \sum_{j \in N(i)} \alpha^h_{ij}\, W^h_v x_j

    On the complete graph with self-loops and no edge types this is exactly the
    self-attention sub-layer of ``torch.nn.TransformerEncoderLayer`` (tested); with the
    relative-offset types of the complete graph, :math:`b` is a T5-style relative position
    bias. When every graph of a batch is complete the same function runs as dense
    ``scaled_dot_product_attention`` over padded graphs (``dense=True``), which avoids one
    tensor per edge; both paths give the same outputs and gradients.
    """

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float,
                 dense: bool = True):
        super().__init__(aggr="add", node_dim=0)
        self.heads, self.head_dim = heads, _head_dim(hidden, heads)
        self.attention_dropout = attention_dropout
        self.dense = dense
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.type_bias = nn.Embedding(num_edge_types, heads) if num_edge_types else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.query, self.key, self.value, self.out):
            lin.reset_parameters()
        if self.type_bias is not None:
            nn.init.zeros_(self.type_bias.weight)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                batch: Tensor | None = None) -> Tensor:
        shape = (-1, self.heads, self.head_dim)
        q, k, v = self.query(x).view(shape), self.key(x).view(shape), self.value(x).view(shape)
        bias = self.type_bias(edge_type) if self.type_bias is not None else None  # (E, H)
        if self.dense and batch is not None:
            layout = complete_layout(edge_index, batch, x.size(0))
            if layout is not None:
                return self.out(self._dense(q, k, v, bias, layout))
        out = self.propagate(edge_index, q=q, k=k, v=v, bias=bias)
        return self.out(out.reshape(x.size(0), -1))

    def message(self, q_i: Tensor, k_j: Tensor, v_j: Tensor, bias: Tensor | None,
                index: Tensor, ptr: Tensor | None, size_i: int | None) -> Tensor:
        score = (q_i * k_j).sum(-1) / math.sqrt(self.head_dim)
        if bias is not None:
            score = score + bias
        alpha = softmax(score, index, ptr, size_i)
        alpha = F.dropout(alpha, p=self.attention_dropout, training=self.training)
        return v_j * alpha.unsqueeze(-1)

    def _dense(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None,
               layout: DenseLayout) -> Tensor:
        batch_size, n = layout.mask.shape
        to_dense = lambda t: layout.scatter_nodes(t).transpose(1, 2)  # noqa: E731  (B, H, n, C)
        # Additive mask: -inf on padded keys, the edge-type bias on real (target, source) pairs.
        attn = q.new_full((batch_size, n, n, self.heads), float("-inf"))
        attn[layout.graph, layout.target, layout.source] = 0.0 if bias is None else bias
        out = F.scaled_dot_product_attention(
            to_dense(q), to_dense(k), to_dense(v), attn_mask=attn.permute(0, 3, 1, 2),
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        return out.transpose(1, 2)[layout.mask].reshape(q.size(0), -1)


class DenseLayout:
    """Where each node and edge of a batch of complete graphs sits in padded dense form."""

    def __init__(self, graph: Tensor, target: Tensor, source: Tensor, mask: Tensor,
                 node_graph: Tensor, node_slot: Tensor):
        self.graph, self.target, self.source = graph, target, source  # per edge
        self.mask = mask  # (B, n) True where a real node sits
        self.node_graph, self.node_slot = node_graph, node_slot  # per node

    def scatter_nodes(self, t: Tensor) -> Tensor:
        out = t.new_zeros((*self.mask.shape, *t.shape[1:]))
        out[self.node_graph, self.node_slot] = t
        return out


def complete_layout(edge_index: Tensor, batch: Tensor, num_nodes: int) -> DenseLayout | None:
    """The dense layout if every graph in the batch is complete with self-loops, else None.

    Checked from the edges themselves (each (target, source) slot of every graph covered
    exactly once), so it is correct whatever builder produced the graphs.
    """
    counts = torch.bincount(batch)
    if edge_index.size(1) != int((counts * counts).sum()):
        return None
    ptr = torch.cumsum(counts, 0) - counts
    node_slot = torch.arange(num_nodes, device=batch.device) - ptr[batch]
    source, target = edge_index
    graph = batch[target]
    if not torch.equal(graph, batch[source]):
        return None
    n = int(counts.max())
    covered = torch.zeros(counts.numel(), n, n, dtype=torch.bool, device=batch.device)
    covered[graph, node_slot[target], node_slot[source]] = True
    if int(covered.sum()) != edge_index.size(1):
        return None  # duplicate edges hide a missing pair
    mask = torch.arange(n, device=batch.device) < counts.unsqueeze(1)
    return DenseLayout(graph, node_slot[target], node_slot[source], mask, batch, node_slot)
