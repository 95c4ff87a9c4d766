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
from itertools import chain

import numpy as np
import torch

from .errors import TextGNNError
from .parsing import ParsedText

UNK_TYPE = "<unk>"
NONE_TYPE = "<none>"  # in a union: the edge is absent from this part (always type id 0)
# the kinds whose edges follow from a text's length alone: no parse, no tokens
LENGTH_KINDS = ("none", "window", "complete")


@dataclass
class TokenGraph:
    tokens: list[str]
    edge_index: np.ndarray  # int64, shape (2, E)
    edge_type: np.ndarray  # int64, (E,) or (E, K) for a union of K kinds; ids into edge_types
    position: np.ndarray  # int64, shape (N,)

    @property
    def num_nodes(self) -> int:
        return len(self.tokens)

    @classmethod
    def edgeless(cls, tokens: list[str]) -> TokenGraph:
        """The nodes alone: what is stored of a graph whose edges a batch makes."""
        empty = np.zeros((2, 0), dtype=np.int64)
        return cls(list(tokens), empty, empty[0], np.arange(len(tokens), dtype=np.int64))


def _pairs_within(n: int, max_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (src, dst) with src < dst <= src + max_offset, sorted by (src, dst).

    O(n * max_offset) memory: a window over an 11k-token post must not build all n^2 pairs.
    """
    k = min(max_offset, max(n - 1, 0))
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    dst = src + np.tile(np.arange(1, k + 1, dtype=np.int64), n)
    keep = dst < n
    return src[keep], dst[keep]


@dataclass
class Corpus:
    """Many parsed texts laid end to end: node ``i`` of text ``t`` is ``starts[t] + i``.
    ``parsed`` is empty when only the lengths are known (:meth:`GraphBuilder.batch_edges`)."""

    parsed: list[ParsedText]
    lengths: np.ndarray  # (T,)
    starts: np.ndarray  # (T,)
    node_text: np.ndarray  # (N,) the text of every node

    @classmethod
    def of(cls, parsed: list[ParsedText]) -> Corpus:
        lengths = np.fromiter((len(p.tokens) for p in parsed), np.int64, len(parsed))
        starts = np.cumsum(lengths) - lengths
        return cls(parsed, lengths, starts, np.repeat(np.arange(len(parsed)), lengths))

    @classmethod
    def of_lengths(cls, lengths: np.ndarray) -> Corpus:
        """Texts known only by their lengths: enough for the kinds in ``LENGTH_KINDS``."""
        lengths = np.asarray(lengths, dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        return cls([], lengths, starts, np.repeat(np.arange(lengths.size), lengths))


class GraphBuilder:
    """Builds one kind of token graph; ``edge_types`` is its fixed edge-type vocabulary."""

    # name -> function of (builder, corpus) returning the forward edges of every text at once:
    # (src, dst, forward type ids, reverse type ids, text of each edge), node ids global,
    # grouped by text, each text's edges in their final order
    kinds: dict[str, Callable[[GraphBuilder, Corpus], tuple[np.ndarray, ...]]] = {}

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
        self._longest_memo: tuple[int, TokenGraph] | None = None  # see _longest
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
        # type id -> the type of the reversed edge (<relation> -> <relation>_rev, <unk> kept)
        self.reverse_type = np.arange(len(types), dtype=np.int64)
        for name, i in self.type_id.items():
            if f"{name}_rev" in self.type_id:
                self.reverse_type[i] = self.type_id[f"{name}_rev"]

    @property
    def needs_parse(self) -> bool:
        return "dependency" in self.kind.split("+")

    def _relative(self, src: np.ndarray, dst: np.ndarray, text: np.ndarray):
        offset = np.minimum(dst - src, self.clip)  # the source precedes the target by offset
        before = self.type_id["rel-1"] + 1 - offset  # rel-d sits d-1 slots left of rel-1
        after = self.type_id["rel+1"] - 1 + offset  # the reversed edge: source comes after
        return src, dst, before, after, text

    def build(self, parsed: ParsedText) -> TokenGraph:
        return self.build_many([parsed])[0]

    @property
    def lengths_only(self) -> bool:
        """Whether the edges follow from the text's length alone, so a batch can make them
        (:meth:`batch_edges`) instead of each text storing them: true of the complete graph,
        whose n^2 edges would otherwise dominate memory on long texts (all of 20NG cut at
        512 tokens: 0.9 G edges, 9 GB stored narrow), and of its unions with parts that need
        no parse either (``window+complete``, the hybrid's graph). A union with ``dependency``
        is stored: its types come from each text's parse."""
        kinds = [part.kind for part in self.parts]
        return "complete" in kinds and all(kind in LENGTH_KINDS for kind in kinds)

    def build_many(self, parsed: list[ParsedText]) -> list[TokenGraph]:
        """The graphs of many texts, computed in one vectorised pass over all their tokens
        (per-text Python overhead, not the arithmetic, dominates a cached re-run)."""
        return self._graphs(Corpus.of(parsed), [p.tokens for p in parsed])

    def _graphs(self, corpus: Corpus, tokens: list[list[str]]) -> list[TokenGraph]:
        """The graph of every text of ``corpus``, whose tokens are ``tokens``."""
        if len(self.parts) > 1:
            per_part = [p._graphs(corpus, tokens) for p in self.parts]
            return [self._union(list(graphs)) for graphs in zip(*per_part, strict=True)]
        edge_index, edge_type, size = self._edges(corpus)
        local = np.arange(corpus.node_text.size) - corpus.starts[corpus.node_text]
        cuts = np.cumsum(size)[:-1]
        return [TokenGraph(list(words), np.ascontiguousarray(ei), et, position)
                for words, ei, et, position in zip(
            tokens, np.split(edge_index, cuts, axis=1), np.split(edge_type, cuts),
            np.split(local, np.cumsum(corpus.lengths)[:-1]), strict=True)]

    def batch_edges(self, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The edges of texts of these lengths laid end to end, node ids offset as a PyG
        ``Batch`` offsets them: exactly the concatenation of their :meth:`build_many` graphs'
        edges, in the same order (so a model reads the same sums in the same order). Only
        for a kind that is :attr:`lengths_only`."""
        self._check_lengths_only()
        corpus = Corpus.of_lengths(lengths)
        if len(self.parts) == 1:
            edge_index, edge_type, size = self._edges(corpus)
            return edge_index + np.repeat(corpus.starts, size), edge_type
        graphs = self._length_graphs(corpus)
        size = [g.edge_index.shape[1] for g in graphs]
        return (np.concatenate([g.edge_index for g in graphs], axis=1) + np.repeat(corpus.starts, size),
                np.concatenate([g.edge_type for g in graphs]))

    def local_edges(self, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of :meth:`batch_edges` that a part other than ``complete`` holds, in
        its order, with all their types: what a dense model reads as edges beside
        :meth:`complete_types` (the hybrid's local conv reads a union's window). No edges for
        the complete graph alone.

        Made from the longest text's graph alone: the edges of a shorter text of length m
        are those with both ends below m, in the same (source, target) order with the
        same types, since these kinds' types follow from positions."""
        self._check_lengths_only()
        corpus = Corpus.of_lengths(lengths)
        if len(self.parts) == 1:
            return np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
        graph = self._longest(int(corpus.lengths.max()))
        local = [k for k, part in enumerate(self.parts) if part.kind != "complete"]
        keep = (graph.edge_type[:, local] != 0).any(1)
        edge_index, edge_type = graph.edge_index[:, keep], graph.edge_type[keep]
        last = edge_index.max(0)
        inside = [np.flatnonzero(last < m) for m in corpus.lengths]
        return (np.concatenate([edge_index[:, at] + start
                                for at, start in zip(inside, corpus.starts, strict=True)], axis=1),
                np.concatenate([edge_type[at] for at in inside]))

    def complete_types(self, n: int) -> np.ndarray | None:
        """(n, n): the type of the edge source j -> target i at ``[i, j]`` in a complete
        graph of ``n`` nodes, (n, n, K) for a :attr:`lengths_only` union of K parts; a
        shorter text's types are its top-left corner. What a dense layout needs instead of
        the edges. None unless this builds complete graphs (or their unions) with
        self-loops and both directions (else not every pair is an edge)."""
        if not (self.lengths_only and self.self_loops and self.reverse):
            return None
        if len(self.parts) > 1:
            graph = self._longest(n)
            types = np.zeros((n, n, len(self.parts)), dtype=np.int64)
            types[graph.edge_index[1], graph.edge_index[0]] = graph.edge_type
            return types
        target, source = np.indices((n, n))
        # the pair's forward edge runs from the earlier token to the later one
        _, _, before, after, _ = self._relative(np.minimum(source, target),
                                                np.maximum(source, target), None)
        types = np.where(source < target, before, after)
        np.fill_diagonal(types, self.type_id["self"])
        return types

    def _length_graphs(self, corpus: Corpus) -> list[TokenGraph]:
        """The graphs of texts known by their lengths alone, for a :attr:`lengths_only` kind;
        a union merges its parts text by text (``_union``), and no token is read."""
        return self._graphs(corpus, [[""] * int(n) for n in corpus.lengths])

    def _longest(self, n: int) -> TokenGraph:
        """The graph of one text of ``n`` tokens, for a :attr:`lengths_only` kind. The last
        one is kept: collate() asks :meth:`complete_types` and :meth:`local_edges` of each
        batch for it, and batches of texts cut at ``data.max_tokens`` share it. Read only."""
        if self._longest_memo is None or self._longest_memo[0] != n:
            self._longest_memo = (n, self._length_graphs(Corpus.of_lengths(np.array([n])))[0])
        return self._longest_memo[1]

    def _check_lengths_only(self) -> None:
        if not self.lengths_only:
            raise TextGNNError(f"the {self.kind!r} graph needs each text's parse, not only its length")

    def _edges(self, corpus: Corpus) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every text's edges, text after text, node ids local to their text: (edge_index,
        edge_type, edges per text)."""
        src, dst, fwd_type, rev_type, text = self.kinds[self.kind](self, corpus)
        starts, lengths = corpus.starts, corpus.lengths
        m = np.bincount(text, minlength=lengths.size)  # forward edges per text
        # each text's block, in a fixed order: forward, reversed (reverse), self-loops
        loops_at = m * (2 if self.reverse else 1)
        size = loops_at + (lengths if self.self_loops else 0)
        block = np.cumsum(size) - size
        pos = block[text] + np.arange(src.size) - (np.cumsum(m) - m)[text]
        src, dst = src - starts[text], dst - starts[text]  # back to per-text node ids
        edge_index = np.empty((2, int(size.sum())), dtype=np.int64)
        edge_type = np.empty(int(size.sum()), dtype=np.int64)
        edge_index[0, pos], edge_index[1, pos], edge_type[pos] = src, dst, fwd_type
        if self.reverse:
            pos = pos + m[text]
            edge_index[0, pos], edge_index[1, pos], edge_type[pos] = dst, src, rev_type
        if self.self_loops:
            local = np.arange(corpus.node_text.size) - starts[corpus.node_text]
            pos = (block + loops_at)[corpus.node_text] + local
            edge_index[:, pos] = local
            edge_type[pos] = self.type_id["self"]
        return edge_index, edge_type, size

    def _union(self, graphs: list[TokenGraph]) -> TokenGraph:
        n = graphs[0].num_nodes
        keys = [g.edge_index[0] * n + g.edge_index[1] for g in graphs]
        if "complete" in (part.kind for part in self.parts):
            # the union holds about n^2 edges anyway: mark them in an n^2 mask, which lists
            # them sorted with no sort (made per batch, a sort of each text's n^2 keys cost
            # 13x the complete graph's own edges)
            present = np.zeros(n * n, dtype=bool)
            for key in keys:
                present[key] = True
            union, row = np.flatnonzero(present), np.cumsum(present) - 1
            rows = [row[key] for key in keys]
        else:
            union = np.unique(np.concatenate(keys))  # sorted by (source, target)
            rows = [np.searchsorted(union, key) for key in keys]
        edge_type = np.zeros((union.size, len(graphs)), dtype=np.int64)  # 0 = <none>
        offset = 1
        for k, (part, graph, at) in enumerate(zip(self.parts, graphs, rows, strict=True)):
            edge_type[at, k] = graph.edge_type + offset
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
def _no_edges(builder: GraphBuilder, corpus: Corpus):
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, empty, empty, empty


@_register("window")
def _window_edges(builder: GraphBuilder, corpus: Corpus):
    # pairs (i, i + d), d = 1..window, kept when both ends lie in the same text; sorted by
    # (source, target) within each text
    k = builder.window
    src = np.repeat(np.arange(corpus.node_text.size, dtype=np.int64), k)
    dst = src + np.tile(np.arange(1, k + 1, dtype=np.int64), corpus.node_text.size)
    text = np.repeat(corpus.node_text, k)
    keep = dst < (corpus.starts + corpus.lengths)[text]
    return builder._relative(src[keep], dst[keep], text[keep])


@_register("complete")
def _complete_edges(builder: GraphBuilder, corpus: Corpus):
    # a loop over texts: one window as wide as the longest text would cost N * max(n)
    parts = [_pairs_within(int(n), int(n) - 1) for n in corpus.lengths]
    src = np.concatenate([s + start for (s, _), start in zip(parts, corpus.starts, strict=True)]
                         or [np.zeros(0, dtype=np.int64)])
    dst = np.concatenate([d + start for (_, d), start in zip(parts, corpus.starts, strict=True)]
                         or [np.zeros(0, dtype=np.int64)])
    text = np.repeat(np.arange(corpus.lengths.size), [s.size for s, _ in parts])
    return builder._relative(src, dst, text)


@_register("dependency")
def _dependency_edges(builder: GraphBuilder, corpus: Corpus):
    if any(p.heads is None for p in corpus.parsed):
        raise TextGNNError("the dependency graph needs a parse, got tokens only")
    n = corpus.node_text.size
    heads = np.fromiter(chain.from_iterable(p.heads for p in corpus.parsed), np.int64, n)
    heads += corpus.starts[corpus.node_text]
    child = np.arange(n, dtype=np.int64)
    arcs = heads != child
    unk = builder.type_id[UNK_TYPE]
    rel = np.fromiter((builder.type_id.get(d, unk) for p in corpus.parsed for d in p.deps),
                      np.int64, n)
    # consecutive sentence roots of one text are linked by a `sent` arc
    roots = child[~arcs]
    same_text = corpus.node_text[roots[:-1]] == corpus.node_text[roots[1:]]
    sent_src, sent_dst = roots[:-1][same_text], roots[1:][same_text]
    src = np.concatenate([heads[arcs], sent_src])
    dst = np.concatenate([child[arcs], sent_dst])
    fwd = np.concatenate([rel[arcs], np.full(sent_src.size, builder.type_id["sent"], dtype=np.int64)])
    text = corpus.node_text[dst]
    order = np.argsort(text, kind="stable")  # per text: its arcs (by dependent), then `sent`
    src, dst, fwd, text = src[order], dst[order], fwd[order], text[order]
    return src, dst, fwd, builder.reverse_type[fwd], text


def to_pyg(graph: TokenGraph, x, label: int | None = None):
    """TokenGraph -> ``torch_geometric.data.Data`` (x = token ids or a feature tensor,
    edge_type, pos, y).

    Indices are stored narrow (int32 edges and positions, int16 types) and widened per batch
    by the model: a training set is held in memory for the whole run, and on 20 Newsgroups
    (3.9 M tokens) int64 storage took 0.5 GB.
    """
    from torch_geometric.data import Data

    data = Data(
        x=x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.long),
        edge_index=torch.from_numpy(graph.edge_index.astype(np.int32)),
        edge_type=torch.from_numpy(graph.edge_type.astype(np.int16)),
        pos=torch.from_numpy(graph.position.astype(np.int32)),
        num_nodes=graph.num_nodes,
    )
    if label is not None:
        data.y = torch.tensor([label], dtype=torch.long)
    return data
