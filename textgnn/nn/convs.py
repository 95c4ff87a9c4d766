r"""The message functions, looked up by name.

Each entry is one message-passing step :math:`x_i' = \mathrm{AGG}_{j \in N(i)}\,
\phi(x_i, x_j, e_{ij})` at a fixed hidden size; the block around it (dropout, residual,
norm, FFN) is shared and lives in :mod:`textgnn.nn.backbone`. All convs take the same
constructor arguments and ``forward(x, edge_index, edge_type)``, so adding an encoder is one
class plus one ``@register`` line. Edge types reach every conv when ``num_edge_types > 0``.
"""

from __future__ import annotations

import difflib
import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import softmax

from ..errors import TextGNNError
from .dropout import dropout

CONVS: dict[str, type[nn.Module]] = {}
# GAT's edge-type embedding size: the conv maps it through a per-edge linear layer, so a
# small size keeps that cost low; it only has to produce one attention logit per head.
EDGE_DIM = 16


def register(name: str):
    def wrap(cls):
        CONVS[name] = cls
        return cls
    return wrap


def conv_class(name: str) -> type[nn.Module]:
    if name not in CONVS:
        close = difflib.get_close_matches(name, [*CONVS, "finetune"], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TextGNNError(f"unknown encoder {name!r}; {hint}choose one of {', '.join(CONVS)}, "
                           "or finetune (the pretrained encoder alone, no graph)")
    return CONVS[name]


def make_conv(name: str, hidden: int, heads: int, num_edge_types: int,
              attention_dropout: float, **options) -> nn.Module:
    """``options`` (model settings such as ``local``) reach only the convs that list them in
    their ``options`` attribute."""
    cls = conv_class(name)
    wanted = {k: v for k, v in options.items() if k in getattr(cls, "options", ())}
    return cls(hidden, heads, num_edge_types, attention_dropout, **wanted)


def _embed_types(embedding: nn.Embedding, edge_type: Tensor) -> Tensor:
    """(E,) -> (E, D); a union's (E, K) sums its K per-part rows.

    The sparse gcn path and gatv2 keep the embedding call rather than :func:`_type_rows`:
    its backward sums gradients in another order, and the recorded runs reproduce bit for
    bit only with the one they were trained with.
    """
    rows = embedding(edge_type)
    return rows.sum(-2) if edge_type.dim() == 2 else rows


def _type_rows(table: Tensor, types: Tensor, union: bool) -> Tensor:
    """(T, D) rows per edge type -> (*types.shape, D), a union's last axis summed.

    index_select rather than an embedding call: its backward (index_add) is several times
    faster on CPU for the millions of lookups of a dense (B, n, n) type matrix.
    """
    rows = table.index_select(0, types.reshape(-1)).view(*types.shape, table.size(1))
    return rows.sum(-2) if union else rows


def attention_math(q: Tensor, k: Tensor, v: Tensor, keep: Tensor | None,
                   bias: Tensor | None = None, dropout_p: float = 0.0) -> Tensor:
    r""":math:`\mathrm{softmax}(q k^\top / \sqrt{d} + b)\, v` over the keys where ``keep``
    (broadcast to the scores; None: every key) is True. The result and gradients are
    bit-identical (tested) to ``scaled_dot_product_attention`` with
    ``attn_mask=bias.masked_fill(~keep, -inf)`` (or ``keep``) on its math backend, the one
    CPU runs with dropout or a bias needing a gradient: the same operations in the same
    order. Written out, it skips that backend's search for query rows with every key masked,
    which a graph never has (every graph has a node), and adds the bias before masking
    instead of building a masked copy of it.
    """
    scale = math.sqrt(1 / math.sqrt(q.size(-1)))  # split between q and k, as the backend does
    scores = (q * scale) @ (k.transpose(-2, -1) * scale)
    if bias is not None:
        scores = scores + bias
    if keep is not None:
        scores = scores.masked_fill_(~keep, float("-inf"))
    weights = torch.softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights @ v


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
    the conv, so the same edge set is seen by every encoder. ``heads`` is unused. On a batch
    of complete graphs the same sum runs as one batched matrix product over padded graphs
    (``dense=True``), instead of one message tensor per edge: :math:`n^2` edges per text.
    """

    dense_capable = True
    keep_weights = False  # set by `explain`/`probe`: store ``edge_weights`` on the next forward

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float):
        super().__init__()
        self.conv = GCNConv(hidden, hidden, add_self_loops=False, normalize=True)
        self.type_logit = nn.Embedding(num_edge_types, 1) if num_edge_types else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        if self.type_logit is not None:
            nn.init.zeros_(self.type_logit.weight)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                layout: DenseLayout | None = None) -> Tensor:
        if layout is not None:
            return self._dense(x, layout)
        weight = None
        if self.type_logit is not None:
            weight = 2 * torch.sigmoid(_embed_types(self.type_logit, edge_type).squeeze(-1))
        if self.keep_weights:  # the normalised weight each edge's message is scaled by
            _, norm = gcn_norm(edge_index, weight, x.size(0), add_self_loops=False)
            self.edge_weights = norm.detach()
        return self.conv(x, edge_index, weight)

    def _dense(self, x: Tensor, layout: DenseLayout) -> Tensor:
        pair = layout.pair_mask.to(x.dtype)  # (B, n, n): 0 where either end is padding
        if self.type_logit is None:
            weight = pair
        else:
            logits = layout.gather_types(self.type_logit.weight).squeeze(1)
            weight = 2 * torch.sigmoid(logits) * pair
        # Row i holds the edges into i, so a row sum is i's degree, as gcn_norm computes it.
        scale = weight.sum(-1).clamp(min=torch.finfo(x.dtype).tiny).rsqrt()
        adjacency = scale.unsqueeze(-1) * weight * scale.unsqueeze(-2)
        out = layout.from_dense(adjacency @ layout.to_dense(self.conv.lin(x)))
        return out if self.conv.bias is None else out + self.conv.bias


class TypedGATConv(GATConv):
    """PyG's ``GATConv`` given its edge term as a ready logit per edge and head (``edge_attr``
    (E, heads)) instead of edge features to project: with one embedding per edge type, the
    projection runs once per type rather than once per edge."""

    def edge_update(self, alpha_j: Tensor, alpha_i: Tensor | None, edge_attr: Tensor | None,
                    index: Tensor, ptr: Tensor | None, dim_size: int | None) -> Tensor:
        alpha = alpha_j if alpha_i is None else alpha_j + alpha_i
        if edge_attr is not None:
            alpha = alpha + edge_attr
        alpha = softmax(F.leaky_relu(alpha, self.negative_slope), index, ptr, dim_size)
        return dropout(alpha, self.dropout, self.training)


@register("gat")
class GAT(nn.Module):
    r"""Graph attention (PyG ``GATConv``), heads concatenated back to the hidden size:

    .. math::
        \alpha_{ij} = \mathrm{softmax}_j\big(\mathrm{LeakyReLU}(a^\top[W x_i \,\|\, W x_j
        \,\|\, W_e e_{t(j,i)}])\big),\qquad x_i' = \big\|_{h} \sum_j \alpha^h_{ij} W^h x_j

    with :math:`e_t` a learned ``EDGE_DIM``-sized embedding of the edge type, its term
    :math:`a^\top W_e e_t` computed once per type and gathered per edge. On a batch of
    complete graphs the same attention runs on padded (B, heads, n, n) score matrices
    (``dense=True``).
    """

    conv_class = TypedGATConv
    dense_capable = True
    keep_weights = False

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float):
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
                layout: DenseLayout | None = None) -> Tensor:
        if layout is not None:
            return self._dense(x, layout)
        edge_attr = None if self.edge_embedding is None else self.edge_term(edge_type)
        if self.keep_weights:  # attention per edge and head, (E, H)
            out, (_, alpha) = self.conv(x, edge_index, edge_attr, return_attention_weights=True)
            self.edge_weights = alpha.detach()
            return out
        return self.conv(x, edge_index, edge_attr)

    def type_logits(self) -> Tensor:
        """(T, heads): each edge type's term in the attention logit. lin_edge has no bias, so
        a type's logit is linear in its embedding: one logit per type, summed over a union's
        parts, equals the logit of the summed embeddings."""
        conv = self.conv
        projected = conv.lin_edge(self.edge_embedding.weight).view(-1, conv.heads, conv.out_channels)
        return (projected * conv.att_edge).sum(-1)

    def edge_term(self, edge_type: Tensor) -> Tensor:
        """(E,) or a union's (E, K) edge types -> the conv's ``edge_attr``: (E, heads) logits."""
        return _type_rows(self.type_logits(), edge_type, edge_type.dim() == 2)

    def _dense(self, x: Tensor, layout: DenseLayout) -> Tensor:
        conv = self.conv
        heads, channels = conv.heads, conv.out_channels
        h = layout.to_dense(conv.lin(x)).view(*layout.mask.shape, heads, channels)  # (B, n, H, C)
        score = ((h * conv.att_dst).sum(-1).unsqueeze(2)  # target i: (B, n, 1, H)
                 + (h * conv.att_src).sum(-1).unsqueeze(1))  # source j: (B, 1, n, H)
        if self.edge_embedding is not None:
            # rows, not DenseLayout.gather_types' columns: the logits are computed, not a
            # leaf, and a transposed gradient would change the order of the sums after it
            score = score + _type_rows(self.type_logits(), layout.types, layout.types.dim() == 4)
        score = F.leaky_relu(score, conv.negative_slope).permute(0, 3, 1, 2)  # (B, H, i, j)
        score = score.masked_fill(~layout.mask[:, None, None, :], float("-inf"))
        alpha = dropout(torch.softmax(score, -1), conv.dropout, self.training)
        out = (alpha @ h.transpose(1, 2)).transpose(1, 2).flatten(2)  # (B, n, H * C)
        out = layout.from_dense(out)
        return out if conv.bias is None else out + conv.bias


@register("gatv2")
class GATv2(GAT):
    """GATv2 (PyG ``GATv2Conv``): the attention MLP sees both endpoints before LeakyReLU, so
    there is no cheap dense form; it always runs as message passing."""

    conv_class = GATv2Conv
    dense_capable = False

    def edge_term(self, edge_type: Tensor) -> Tensor:
        """GATv2Conv takes the edge embeddings themselves: (E, EDGE_DIM)."""
        return _embed_types(self.edge_embedding, edge_type)


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
    bias. On a union such as ``dependency+complete`` the bias is the sum of a per-relation
    and a per-offset term: self-attention that knows the parse. When every graph of a batch
    is complete the same function runs as dense ``scaled_dot_product_attention`` over padded
    graphs (``dense=True``), which avoids one tensor per edge; both paths give the same
    outputs and gradients.
    """

    dense_capable = True
    keep_weights = False

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float):
        super().__init__(aggr="add", node_dim=0)
        self.heads, self.head_dim = heads, _head_dim(hidden, heads)
        self.attention_dropout = attention_dropout
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
                layout: DenseLayout | None = None) -> Tensor:
        if layout is not None:
            return self.out(self._dense(x, layout))
        shape = (-1, self.heads, self.head_dim)
        q, k, v = self.query(x).view(shape), self.key(x).view(shape), self.value(x).view(shape)
        bias = (None if self.type_bias is None
                else _type_rows(self.type_bias.weight, edge_type, edge_type.dim() == 2))  # (E, H)
        out = self.propagate(edge_index, q=q, k=k, v=v, bias=bias)
        return self.out(out.reshape(x.size(0), -1))

    def message(self, q_i: Tensor, k_j: Tensor, v_j: Tensor, bias: Tensor | None,
                index: Tensor, ptr: Tensor | None, size_i: int | None) -> Tensor:
        score = (q_i * k_j).sum(-1) / math.sqrt(self.head_dim)
        if bias is not None:
            score = score + bias
        alpha = softmax(score, index, ptr, size_i)
        if self.keep_weights:  # attention per edge and head, (E, H)
            self.edge_weights = alpha.detach()
        alpha = dropout(alpha, self.attention_dropout, self.training)
        return v_j * alpha.unsqueeze(-1)

    def _dense(self, x: Tensor, layout: DenseLayout) -> Tensor:
        # (B, 1, 1, n): attend to real nodes only; None when no graph is padded, as in a
        # length bucket of equal lengths, which saves a pass over the scores
        keep = None if bool(layout.mask.all()) else layout.mask[:, None, None, :]
        bias = (None if self.type_bias is None
                else layout.gather_types(self.type_bias.weight))
        dense = layout.to_dense(x)  # (B, n, hidden); padded rows are computed, then dropped
        shape = (*dense.shape[:2], self.heads, self.head_dim)
        q, k, v = (lin(dense).view(shape).transpose(1, 2) for lin in (self.query, self.key, self.value))
        rate = self.attention_dropout if self.training else 0.0
        # On CPU, SDPA trains with dropout on its math backend; elsewhere it picks a fused
        # kernel, which is faster and rounds differently, so it stays for eval and GPU.
        if rate > 0 and not q.is_cuda:
            out = attention_math(q, k, v, keep, bias, rate)
        else:
            mask = keep if bias is None else bias
            if bias is not None and keep is not None:
                mask = bias.masked_fill(~keep, float("-inf"))
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=rate)
        return layout.from_dense(out.transpose(1, 2).flatten(2))


@register("hybrid")
class Hybrid(nn.Module):
    r"""A local conv and global attention side by side (the idea of GraphGPS), summed:

    .. math::
        x_i' = \mathrm{local}(x, E_{\mathrm{sparse}})_i + \mathrm{attention}(x, E_{\mathrm{complete}})_i

    It reads a union graph whose last part is ``complete`` (``dependency+complete``,
    ``window+complete``): the local conv (``model.local``: a registered conv, or ``none``)
    sees the edges of the other parts with their types; the attention (the ``transformer``
    conv) sees every edge with its ``complete`` type and keeps the dense fast path. With
    ``local="none"`` it is exactly the ``transformer`` conv on the complete graph.
    """

    dense_capable = True
    options = ("local",)

    def __init__(self, hidden: int, heads: int, num_edge_types: int, attention_dropout: float,
                 local: str = "gcn"):
        super().__init__()
        if local in ("hybrid", "transformer"):
            raise TextGNNError(f"model.local must be a local conv such as gcn or gat, got {local!r}")
        self.local = None if local == "none" else make_conv(local, hidden, heads, num_edge_types,
                                                            attention_dropout)
        self.attention = Transformer(hidden, heads, num_edge_types, attention_dropout)

    def reset_parameters(self) -> None:
        if self.local is not None:
            self.local.reset_parameters()
        self.attention.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                layout: DenseLayout | None = None) -> Tensor:
        if edge_type.dim() != 2:
            raise TextGNNError("the hybrid encoder needs a union graph ending in complete, "
                               "e.g. graph.kind=dependency+complete")
        out = self.attention(x, edge_index, edge_type[:, -1],
                             None if layout is None else layout.part(-1))
        if self.local is not None:
            local_type = edge_type[:, :-1]
            keep = (local_type != 0).any(-1)  # type 0 = <none>: not an edge of a local part
            local_type = local_type[keep]
            out = out + self.local(x, edge_index[:, keep],
                                   local_type[:, 0] if local_type.size(1) == 1 else local_type)
        return out


class DenseLayout:
    """A batch of complete graphs in padded dense form, computed once per forward pass.

    ``mask`` (B, n) marks real nodes; ``types`` (B, n, n) holds the type of the edge
    source j -> target i at ``[graph, i, j]`` ((B, n, n, K) for a union of K kinds);
    ``slots`` (N,) is each node's row in the flattened (B * n) padded layout. Moving rows
    with ``index_copy``/``index_select`` on flat slots costs a fraction of boolean-mask or
    two-index advanced indexing (forward and backward) and gives the same values.

    When every graph's types are those of the longest graph on its real pairs (relative
    offsets, which depend on positions only), ``types`` keeps a batch axis of 1 and
    everything gathered from it broadcasts over the batch: a parameter is gathered once per
    batch rather than once per text, and its gradient is summed over the batch before the
    scatter into its rows, B times fewer scattered positions.
    """

    def __init__(self, mask: Tensor, types: Tensor, slots: Tensor):
        self.mask, self.slots = mask, slots
        self.types = _shared_types(types, self.pair_mask)
        self._parts: dict[int, DenseLayout] = {}  # every layer asks for the same part

    @functools.cached_property
    def pair_mask(self) -> Tensor:
        """(B, n, n): True where both ends are real nodes."""
        return self.mask.unsqueeze(2) & self.mask.unsqueeze(1)

    def gather_types(self, table: Tensor) -> Tensor:
        """(T, D) rows per edge type -> (B or 1, D, n, n), a union's K rows summed.

        Gathered from the table's columns: with a few floats per row (D is 1 or the number
        of heads) that costs a fraction of gathering rows, forward and backward, and the
        gradient is summed in the same order. It reaches ``table`` transposed, which a
        parameter's ``.grad`` undoes; a computed table should be gathered by rows.
        """
        cols = table.t().index_select(1, self.types.reshape(-1))
        cols = cols.view(table.size(1), *self.types.shape)  # (D, B, n, n[, K])
        return (cols.sum(-1) if self.types.dim() == 4 else cols).transpose(0, 1)

    def part(self, k: int) -> DenseLayout:
        """The same layout with only part ``k``'s types of a union."""
        if k not in self._parts:
            self._parts[k] = DenseLayout(self.mask, self.types[..., k], self.slots)
        return self._parts[k]

    def to_dense(self, t: Tensor) -> Tensor:
        """(N, ...) node rows -> (B, n, ...) padded with zeros."""
        rows = t.new_zeros((self.mask.numel(), *t.shape[1:])).index_copy(0, self.slots, t)
        return rows.view(*self.mask.shape, *t.shape[1:])

    def from_dense(self, t: Tensor) -> Tensor:
        """(B, n, ...) -> (N, ...): the real nodes' rows, in node order."""
        return t.reshape(-1, *t.shape[2:]).index_select(0, self.slots)


def _shared_types(types: Tensor, pair_mask: Tensor) -> Tensor:
    """``types`` (B, n, n[, K]) as (1, n, n[, K]) if every graph's real pairs hold the types
    of the longest graph (graph 0 when several are longest), else unchanged."""
    if types.size(0) == 1:
        return types
    longest = int(pair_mask[:, -1, -1].int().argmax())  # a graph with a node in the last slot
    pattern = types[longest:longest + 1]
    same = types == pattern
    if types.dim() == 4:
        same = same.all(-1)
    return pattern if bool((same | ~pair_mask).all()) else types


def _slots(batch: Tensor, counts: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """(B, n) real-node mask and each node's flat slot, graph-major, in node order."""
    first = (torch.cumsum(counts, 0) - counts).index_select(0, batch)
    node_slot = torch.arange(batch.numel(), device=batch.device) - first
    mask = torch.arange(n, device=batch.device) < counts.unsqueeze(1)
    return mask, batch * n + node_slot


def lengths_layout(batch: Tensor, types: Tensor) -> DenseLayout:
    """The dense layout of a batch of complete graphs whose edge types follow from node
    positions alone, from ``batch`` (node -> graph) and ``types`` (n, n), or (n, n, K) for a
    union, the types of the longest graph (every other graph's are its top-left corner): the layout
    :func:`complete_layout` finds from those graphs' n^2 edges each, without the edges."""
    counts = torch.bincount(batch)
    n = int(counts.max())
    if types.shape[:2] != (n, n):
        raise TextGNNError(f"complete_types is {tuple(types.shape)}, the longest graph has {n} nodes")
    mask, slots = _slots(batch, counts, n)
    return DenseLayout(mask, types.long().unsqueeze(0), slots)


def complete_layout(edge_index: Tensor, edge_type: Tensor, batch: Tensor) -> DenseLayout | None:
    """The dense layout if every graph in the batch is complete with self-loops, else None.

    Checked from the edges themselves (every (target, source) slot of every graph covered
    exactly once), so it is correct whatever builder produced the graphs.
    """
    counts = torch.bincount(batch)
    if counts.numel() == 0 or int(counts.min()) == 0:
        return None
    if edge_index.size(1) != int((counts * counts).sum()):
        return None
    # index_select rather than indexing with [] throughout: on n^2 edges per graph the
    # latter is several times slower on CPU, and this runs on every forward pass
    source, target = edge_index
    if not torch.equal(batch.index_select(0, target), batch.index_select(0, source)):
        return None
    n = int(counts.max())
    mask, slots = _slots(batch, counts, n)
    node_slot = slots - batch * n
    types = torch.full((counts.numel() * n * n, *edge_type.shape[1:]), -1, dtype=torch.long,
                       device=batch.device)
    cell = slots.index_select(0, target) * n + node_slot.index_select(0, source)
    types.index_copy_(0, cell, edge_type)
    types = types.view(counts.numel(), n, n, *edge_type.shape[1:])
    pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)
    if bool(((types.view(*types.shape[:3], -1)[..., 0] < 0) & pair_mask).any()):
        return None  # duplicate edges hid a missing pair
    return DenseLayout(mask, types.clamp(min=0), slots)
