"""Token graphs: who talks to whom, and under which edge type.

Every builder maps a :class:`~textgnn.parsing.ParsedText` to a :class:`TokenGraph` whose
``edge_index`` lists directed edges ``source -> target`` (messages flow from source to
target, PyG's convention); an undirected relation is listed in both directions.

Edge types
    ``self``                 a self-loop (when ``self_loops``)
    ``rel-d`` / ``rel+d``    the source is ``d`` tokens before / after the target; offsets
                             beyond ``clip`` share ``rel-<clip>`` / ``rel+<clip>``
    ``<relation>``           dependency arc head -> dependent (``nsubj``, ``amod`` ...)
    ``<relation>_rev``       the same arc dependent -> head (when ``reverse``)
    ``sent`` / ``sent_rev``  root of sentence k -> root of sentence k+1 (and back)

Several sentences in one text give one dependency graph: each sentence's tree is kept and
consecutive sentence roots are linked by a ``sent`` arc, so the text is one connected tree.

Unions
    ``graph.kind`` may join kinds with ``+`` (``dependency+complete``). The union's edges are
    the set union of its parts' edges, and every edge keeps one type per part: ``edge_type``
    has shape (E, K) for K parts, column k holding the type from part k, or ``<none>`` when
    the edge is absent from that part. Type names are namespaced by part
    (``dependency:nsubj``, ``complete:rel-2``), so a conv learns separate parameters per part
    and sums them over the columns: an edge that is both an ``nsubj`` arc and two tokens
    apart gets the ``nsubj`` bias plus the ``rel-2`` bias.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .errors import TextGNNError
from .parsing import ParsedText

UNK_TYPE = "<unk>"
NONE_TYPE = "<none>"  # in a union: the edge is absent from this part (always type id 0)


@dataclass
class TokenGraph:
    tokens: list[str]
    edge_index: np.ndarray  # int64, shape (2, E)
    edge_type: np.ndarray  # int64, (E,) or (E, K) for a union of K kinds; ids into edge_types
    position: np.ndarray  # int64, shape (N,)

    @property
    def num_nodes(self) -> int:
        return len(self.tokens)


def _pairs_within(n: int, max_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (src, dst) with src < dst <= src + max_offset, sorted by (src, dst).

    O(n * max_offset) memory: a window over an 11k-token post must not build all n^2 pairs.
    """
    k = min(max_offset, max(n - 1, 0))
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    dst = src + np.tile(np.arange(1, k + 1, dtype=np.int64), n)
    keep = dst < n
    return src[keep], dst[keep]


class GraphBuilder:
    """Builds one kind of token graph; ``edge_types`` is its fixed edge-type vocabulary."""

    # name -> function returning (src, dst, forward type ids, reverse type ids)
    kinds: dict[str, Callable[[GraphBuilder, ParsedText], tuple[np.ndarray, ...]]] = {}

    def __init__(self, kind: str, window: int = 2, clip: int = 8, self_loops: bool = True,
                 reverse: bool = True, relations: list[str] | None = None):
        parts = kind.split("+")
        for part in parts:
            if part not in self.kinds:
                close = difflib.get_close_matches(part, list(self.kinds), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise TextGNNError(f"unknown graph kind {part!r}; {hint}choose one of "
                                   f"{', '.join(self.kinds)}, or several joined by '+' "
                                   "(dependency+complete)")
        if len(set(parts)) < len(parts):
            raise TextGNNError(f"graph kind {kind!r} repeats a part")
        if window < 1:
            raise TextGNNError(f"graph.window must be >= 1, got {window}")
        if clip < 1:
            raise TextGNNError(f"graph.clip must be >= 1, got {clip}")
        self.kind, self.window, self.clip = kind, window, clip
        self.self_loops, self.reverse = self_loops, reverse
        self.parts = [self] if len(parts) == 1 else [
            GraphBuilder(part, window, clip, self_loops, reverse, relations) for part in parts]
        if len(parts) == 1:
            types = [UNK_TYPE, "self"]
            types += [f"rel-{d}" for d in range(clip, 0, -1)] + [f"rel+{d}" for d in range(1, clip + 1)]
            if kind == "dependency":
                rels = [r for r in relations or [] if r != "ROOT"] + ["sent"]
                types += rels + [f"{r}_rev" for r in rels]
        else:
            types = [NONE_TYPE] + [f"{p.kind}:{t}" for p in self.parts for t in p.edge_types]
        self.edge_types = types
        self.type_id = {t: i for i, t in enumerate(types)}

    @property
    def needs_parse(self) -> bool:
        return "dependency" in self.kind.split("+")

    def _relative(self, parsed: ParsedText, max_offset: int):
        src, dst = _pairs_within(len(parsed.tokens), max_offset)
        offset = np.minimum(dst - src, self.clip)  # the source precedes the target by offset
        before = self.type_id["rel-1"] + 1 - offset  # rel-d sits d-1 slots left of rel-1
        after = self.type_id["rel+1"] - 1 + offset  # the reversed edge: source comes after
        return src, dst, before, after

    def build(self, parsed: ParsedText) -> TokenGraph:
        if len(self.parts) > 1:
            return self._union([p.build(parsed) for p in self.parts])
        n = len(parsed.tokens)
        src, dst, fwd_type, rev_type = self.kinds[self.kind](self, parsed)
        parts_src, parts_dst, parts_type = [src], [dst], [fwd_type]
        if self.reverse:
            parts_src.append(dst)
            parts_dst.append(src)
            parts_type.append(rev_type)
        if self.self_loops:
            loop = np.arange(n, dtype=np.int64)
            parts_src.append(loop)
            parts_dst.append(loop)
            parts_type.append(np.full(n, self.type_id["self"], dtype=np.int64))
        edge_index = np.stack([np.concatenate(parts_src), np.concatenate(parts_dst)]).astype(np.int64)
        edge_type = np.concatenate(parts_type).astype(np.int64)
        return TokenGraph(list(parsed.tokens), edge_index, edge_type, np.arange(n, dtype=np.int64))

    def _union(self, graphs: list[TokenGraph]) -> TokenGraph:
        n = graphs[0].num_nodes
        keys = [g.edge_index[0] * n + g.edge_index[1] for g in graphs]
        union = np.unique(np.concatenate(keys))  # sorted by (source, target)
        edge_type = np.zeros((union.size, len(graphs)), dtype=np.int64)  # 0 = <none>
        offset = 1
        for k, (part, graph, key) in enumerate(zip(self.parts, graphs, keys, strict=True)):
            edge_type[np.searchsorted(union, key), k] = graph.edge_type + offset
            offset += len(part.edge_types)
        edge_index = np.stack([union // max(n, 1), union % max(n, 1)]).astype(np.int64)
        return TokenGraph(graphs[0].tokens, edge_index, edge_type, graphs[0].position)

    def describe(self, graph: TokenGraph) -> dict:
        """JSON-ready view: tokens and ``[source, target, type]`` for every edge; in a union
        the type is the list of the edge's namespaced types, one per part it belongs to."""
        def name(t):
            if np.ndim(t) == 0:
                return self.edge_types[t]
            return [self.edge_types[i] for i in t if i != 0]

        edges = [[int(s), int(d), name(t)]
                 for s, d, t in zip(graph.edge_index[0], graph.edge_index[1], graph.edge_type, strict=True)]
        return {"tokens": graph.tokens, "edges": edges}


def _register(name: str):
    def wrap(fn):
        GraphBuilder.kinds[name] = fn
        return fn
    return wrap


@_register("none")
def _no_edges(builder: GraphBuilder, parsed: ParsedText):
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, empty, empty


@_register("window")
def _window_edges(builder: GraphBuilder, parsed: ParsedText):
    return builder._relative(parsed, builder.window)


@_register("complete")
def _complete_edges(builder: GraphBuilder, parsed: ParsedText):
    return builder._relative(parsed, max(len(parsed.tokens) - 1, 0))


@_register("dependency")
def _dependency_edges(builder: GraphBuilder, parsed: ParsedText):
    if parsed.heads is None:
        raise TextGNNError("the dependency graph needs a parse, got tokens only")
    heads = np.asarray(parsed.heads, dtype=np.int64)
    child = np.arange(len(heads), dtype=np.int64)
    arcs = heads != child
    roots = child[~arcs]
    unk = builder.type_id[UNK_TYPE]
    rel = np.array([builder.type_id.get(d, unk) for d in parsed.deps], dtype=np.int64)
    rel_rev = np.array([builder.type_id.get(f"{d}_rev", unk) for d in parsed.deps], dtype=np.int64)
    src = np.concatenate([heads[arcs], roots[:-1]])
    dst = np.concatenate([child[arcs], roots[1:]])
    n_sent = max(len(roots) - 1, 0)
    fwd = np.concatenate([rel[arcs], np.full(n_sent, builder.type_id["sent"], dtype=np.int64)])
    rev = np.concatenate([rel_rev[arcs], np.full(n_sent, builder.type_id["sent_rev"], dtype=np.int64)])
    return src, dst, fwd, rev


def to_pyg(graph: TokenGraph, x, label: int | None = None):
    """TokenGraph -> ``torch_geometric.data.Data`` (x = token ids or a feature tensor,
    edge_type, pos, y)."""
    from torch_geometric.data import Data

    data = Data(
        x=x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.long),
        edge_index=torch.from_numpy(graph.edge_index),
        edge_type=torch.from_numpy(graph.edge_type),
        pos=torch.from_numpy(graph.position),
        num_nodes=graph.num_nodes,
    )
    if label is not None:
        data.y = torch.tensor([label], dtype=torch.long)
    return data
