import numpy as np
import pytest
from conftest import SENTENCE

from textgnn.errors import TextGNNError
from textgnn.graphs import GraphBuilder
from textgnn.parsing import ParsedText, Parser


@pytest.fixture(scope="module")
def parser():
    return Parser()


@pytest.fixture(scope="module")
def parsed(parser):
    [p] = parser.parse([SENTENCE])
    return p


def undirected(graph, builder, drop_self=True):
    pairs = {}
    for s, d, t in builder.describe(graph)["edges"]:
        if drop_self and s == d:
            continue
        pairs.setdefault(frozenset((s, d)), set()).add(t)
    return pairs


def test_dependency_graph_is_the_parse_tree(parser, parsed):
    builder = GraphBuilder("dependency", relations=parser.relations)
    graph = builder.build(parsed)
    assert len(graph.tokens) == 14
    pairs = undirected(graph, builder)
    assert len(pairs) == 13
    # a tree: 13 arcs on 14 nodes and connected
    seen, frontier = {0}, [0]
    while frontier:
        node = frontier.pop()
        for pair in pairs:
            if node in pair:
                other = next(iter(pair - {node}), node)
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
    assert seen == set(range(14))
    relations = set(parser.relations)
    for (types) in pairs.values():
        forward = [t for t in types if not t.endswith("_rev")]
        assert len(forward) == 1 and forward[0] in relations
        assert types == {forward[0], forward[0] + "_rev"}
    edges = builder.describe(graph)["edges"]
    assert [3, 0, "det"] in edges and [0, 3, "det_rev"] in edges and [4, 3, "nsubj"] in edges


def test_window_graph_pairs(parsed):
    builder = GraphBuilder("window", window=2)
    pairs = undirected(builder.build(parsed), builder)
    expected = {frozenset((i, j)) for i in range(14) for j in range(14) if 0 < abs(i - j) <= 2}
    assert set(pairs) == expected
    assert pairs[frozenset((0, 2))] == {"rel-2", "rel+2"}


def test_complete_graph_has_all_pairs_with_clipped_offsets(parsed):
    builder = GraphBuilder("complete", clip=4)
    graph = builder.build(parsed)
    pairs = undirected(graph, builder)
    assert len(pairs) == 91
    for s, d, t in builder.describe(graph)["edges"]:
        if s == d:
            assert t == "self"
        else:
            offset = min(abs(d - s), 4)
            assert t == (f"rel-{offset}" if s < d else f"rel+{offset}")


def test_self_loops_and_reverse_are_options(parsed):
    full = GraphBuilder("window", window=1).build(parsed)
    assert full.edge_index.shape[1] == 13 * 2 + 14
    plain = GraphBuilder("window", window=1, self_loops=False, reverse=False).build(parsed)
    assert plain.edge_index.shape[1] == 13
    assert np.all(plain.edge_index[0] < plain.edge_index[1])
    none = GraphBuilder("none").build(parsed)
    assert np.array_equal(none.edge_index, np.stack([np.arange(14)] * 2))


def test_several_sentences_make_one_connected_tree(parser):
    [p] = parser.parse(["I liked it. The end was weak!  But the cast shines."])
    builder = GraphBuilder("dependency", relations=parser.relations, self_loops=False,
                           reverse=False)
    graph = builder.build(p)
    n = len(graph.tokens)
    assert graph.edge_index.shape[1] == n - 1  # a spanning tree over all sentences
    types = [t for _, _, t in builder.describe(graph)["edges"]]
    assert types.count("sent") == 2
    assert " " not in graph.tokens  # whitespace tokens dropped


def test_truncation_keeps_a_valid_tree(parser):
    [p] = parser.parse([SENTENCE])
    cut = p.truncate(5)
    assert cut.tokens == p.tokens[:5] and all(0 <= h < 5 for h in cut.heads)
    tokens_only = ParsedText(["a", "b", "c"]).truncate(2)
    assert tokens_only.tokens == ["a", "b"] and tokens_only.heads is None


@pytest.mark.parametrize("kind", ["dependency+complete", "dependency+window", "window+complete",
                                  "dependency+window+complete"])
def test_union_is_the_set_union_with_every_part_type_kept(parser, parsed, kind):
    union = GraphBuilder(kind, relations=parser.relations)
    graph = union.build(parsed)
    expected: dict[tuple[int, int], set[str]] = {}
    for part in kind.split("+"):
        builder = GraphBuilder(part, relations=parser.relations)
        for s, d, t in builder.describe(builder.build(parsed))["edges"]:
            expected.setdefault((s, d), set()).add(f"{part}:{t}")
    got = {(s, d): set(types) for s, d, types in union.describe(graph)["edges"]}
    assert got == expected
    assert graph.edge_type.shape == (graph.edge_index.shape[1], len(kind.split("+")))
    assert len(set(map(tuple, graph.edge_index.T))) == graph.edge_index.shape[1]  # no duplicates
    # an edge in both parts carries both types: the dependency arc 3 -> 0 is also 3 tokens apart
    if kind == "dependency+complete":
        assert got[(3, 0)] == {"dependency:det", "complete:rel+3"}
        assert got[(0, 5)] == {"complete:rel-5"}


def test_union_rejects_unknown_or_repeated_parts():
    with pytest.raises(TextGNNError, match="unknown graph kind 'tree'"):
        GraphBuilder("dependency+tree")
    with pytest.raises(TextGNNError, match="repeats"):
        GraphBuilder("window+window")


def test_unknown_kind_lists_choices():
    with pytest.raises(TextGNNError, match="dependency, window, complete|window"):
        GraphBuilder("tree")


def test_parse_cache_is_reused(tmp_path, monkeypatch):
    texts = ["A sentence to cache .", "And another one ."]
    first = Parser(cache_dir=tmp_path).parse(texts)
    second_run = Parser(cache_dir=tmp_path)

    def parse_again(*args, **kwargs):
        raise AssertionError("a cached text was parsed again")

    monkeypatch.setattr(second_run.nlp, "pipe", parse_again)
    assert second_run.parse(texts) == first
