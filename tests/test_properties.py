"""Property-based tests (Hypothesis): graph builders on any token sequence or parse, and
predict on any text. 100 examples each here; ``pytest -m slow`` runs 10,000."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgnn.config import load_config
from textgnn.features import Vocab
from textgnn.graphs import UNK_TYPE, GraphBuilder
from textgnn.parsing import ParsedText, Parser
from textgnn.pipeline import Pipeline

RELATIONS = ["ROOT", "amod", "det", "nsubj", "obj", "punct"]
FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=10_000, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def parses(draw):
    """A random parse: every token hangs from an earlier token or is a sentence root."""
    n = draw(st.integers(1, 40))
    heads = [0]
    for i in range(1, n):
        heads.append(i if draw(st.integers(0, 5)) == 0 else draw(st.integers(0, i - 1)))
    deps = [draw(st.sampled_from(RELATIONS[1:])) if h != i else "ROOT" for i, h in enumerate(heads)]
    return ParsedText([f"w{i}" for i in range(n)], heads, deps)


def _connected(n: int, edge_index: np.ndarray) -> bool:
    seen, frontier = {0}, [0]
    neighbours = [[] for _ in range(n)]
    for s, d in edge_index.T:
        neighbours[s].append(d)
        neighbours[d].append(s)
    while frontier:
        for m in neighbours[frontier.pop()]:
            if m not in seen:
                seen.add(m)
                frontier.append(m)
    return len(seen) == n


def check_graph(parsed: ParsedText, window: int, relations=RELATIONS) -> None:
    n = len(parsed.tokens)
    for kind in ("window", "complete", "dependency", "dependency+complete"):
        builder = GraphBuilder(kind, window=window, relations=relations)
        graph = builder.build(parsed)
        ei, et = graph.edge_index, graph.edge_type
        assert ei.shape[0] == 2 and ((ei >= 0) & (ei < n)).all()
        assert ((et >= 0) & (et < len(builder.edge_types))).all()
        assert len({(s, d) for s, d in ei.T}) == ei.shape[1]  # no duplicate edge
        if kind == "window":  # self-loops + both directions of every pair within the window
            assert ei.shape[1] == n + 2 * sum(max(n - d, 0) for d in range(1, window + 1))
        if kind in ("complete", "dependency+complete"):
            assert ei.shape[1] == n * n
        if kind == "dependency":
            assert _connected(n, ei)
            assert builder.type_id[UNK_TYPE] not in et  # every relation is a known type
            assert ei.shape[1] == n + 2 * (n - 1)  # a tree: n - 1 arcs, both ways, + loops


@FAST
@given(parses(), st.integers(1, 6))
def test_graph_builders_on_any_parse(parsed, window):
    check_graph(parsed, window)


@pytest.mark.slow
@SLOW
@given(parses(), st.integers(1, 6))
def test_graph_builders_on_any_parse_slow(parsed, window):
    check_graph(parsed, window)


@FAST
@given(st.lists(parses(), min_size=1, max_size=6), st.integers(1, 4))
def test_building_many_at_once_equals_one_by_one(parsed, window):
    for kind in ("none", "window", "complete", "dependency", "dependency+window"):
        builder = GraphBuilder(kind, window=window, relations=RELATIONS)
        for together, p in zip(builder.build_many(parsed), parsed, strict=True):
            alone = builder.build(p)
            assert np.array_equal(together.edge_index, alone.edge_index)
            assert np.array_equal(together.edge_type, alone.edge_type)
            assert np.array_equal(together.position, np.arange(len(p.tokens)))


@FAST
@given(parses(), st.integers(1, 4), st.booleans(), st.booleans(),
       st.sampled_from(["dependency+complete", "window+complete", "dependency+window",
                        "dependency+window+complete"]))
def test_a_union_lists_every_parts_edge_once_in_order_with_its_types(parsed, window, self_loops,
                                                                      reverse, kind):
    # the union of the parts' edges, sorted by (source, target), each edge with the type its
    # part gives it in that part's column (offset past the earlier parts' types, 0 = absent)
    union = GraphBuilder(kind, window=window, self_loops=self_loops, reverse=reverse,
                         relations=RELATIONS)
    graph, n = union.build(parsed), len(parsed.tokens)
    keys = graph.edge_index[0] * n + graph.edge_index[1]
    assert (np.diff(keys) > 0).all()
    expected: dict[tuple[int, int], list[int]] = {}
    offset = 1
    for k, part in enumerate(union.parts):
        built = part.build(parsed)
        for s, d, t in zip(*built.edge_index, built.edge_type, strict=True):
            expected.setdefault((int(s), int(d)), [0] * len(union.parts))[k] = int(t) + offset
        offset += len(part.edge_types)
    assert {(int(s), int(d)): [int(t) for t in types] for s, d, types
            in zip(*graph.edge_index, graph.edge_type, strict=True)} == expected


@FAST
@given(st.lists(st.integers(1, 30), min_size=1, max_size=6), st.integers(1, 9),
       st.booleans(), st.booleans(),
       st.sampled_from(["complete", "window+complete", "complete+window", "none+complete"]),
       st.integers(1, 4))
def test_a_batch_makes_the_edges_its_graphs_would_store(lengths, clip, self_loops, reverse,
                                                        kind, window):
    # what collate() puts in a batch of complete graphs, or of their unions with a window:
    # their stored edges (a union's one type per part), node ids offset text after text, in
    # the same order
    builder = GraphBuilder(kind, window=window, clip=clip, self_loops=self_loops, reverse=reverse)
    assert builder.lengths_only
    graphs = builder.build_many([ParsedText([f"w{i}" for i in range(n)]) for n in lengths])
    starts = np.cumsum(lengths) - np.asarray(lengths)
    edge_index, edge_type = builder.batch_edges(np.asarray(lengths))
    assert np.array_equal(edge_index, np.concatenate(
        [g.edge_index + start for g, start in zip(graphs, starts, strict=True)], axis=1))
    assert np.array_equal(edge_type, np.concatenate([g.edge_type for g in graphs]))
    # what a dense model gets instead: the types of the longest graph, [target, source],
    # every other graph's being its top-left corner, and the edges of a union's other parts
    types = builder.complete_types(max(lengths))
    assert (types is None) == (not (self_loops and reverse))
    for g in graphs if types is not None else []:
        (source, target), n = g.edge_index, g.num_nodes
        assert np.array_equal(types[target, source], g.edge_type)
        assert g.edge_index.shape[1] == n * n
    local_index, local_type = builder.local_edges(np.asarray(lengths))
    parts = kind.split("+")
    local = (np.zeros(edge_type.shape[0], dtype=bool) if len(parts) == 1 else
             (edge_type[:, [k for k, part in enumerate(parts) if part != "complete"]] != 0).any(1))
    assert np.array_equal(local_index, edge_index[:, local])
    assert np.array_equal(local_type, edge_type[local])


@pytest.fixture(scope="module")
def parser():
    return Parser()


# any text: every Unicode category, lone surrogates included, and control characters
TEXT = st.text(st.characters(exclude_categories=()), max_size=200)


@FAST
@given(TEXT)
def test_real_parses_of_any_text_give_valid_connected_graphs(parser, text):
    text = text.encode("utf-8", "replace").decode("utf-8")  # the parser's own input contract
    [parsed] = parser.parse([text], progress=False)
    if parsed.tokens:
        check_graph(parsed, 2, parser.relations)


@pytest.fixture(scope="module")
def pipelines():
    """Untrained models: the properties hold for any weights."""
    torch.manual_seed(0)
    out = []
    for overrides in (["graph.kind=window", "model.encoder=gcn"],
                      ["graph.kind=complete", "model.encoder=transformer", "data.max_tokens=64"]):
        config = load_config(None, overrides + ["model.hidden=16", "model.ffn=32", "model.heads=2"])
        out.append(Pipeline(config, Vocab(["<unk>", "good", "bad", "film"]), ["neg", "pos", "neu"]))
    return out


def check_predict(pipelines, texts) -> None:
    for pipeline in pipelines:
        results = pipeline.predict(texts)
        assert len(results) == len(texts)
        for text, result in zip(texts, results, strict=True):
            assert result["text"] is text
            if text.strip():
                assert abs(sum(result["probs"].values()) - 1) < 1e-5
                assert result["label"] in pipeline.labels
            else:
                assert "error" in result and "probs" not in result


@FAST
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_predict_gives_one_result_per_text(pipelines, texts):
    check_predict(pipelines, texts)


@pytest.mark.slow
@SLOW
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_predict_gives_one_result_per_text_slow(pipelines, texts):
    check_predict(pipelines, texts)


def test_predict_on_hostile_inputs(pipelines):
    texts = ["", "   \n\t", "😀🎉👍🏽", "مرحبا بالعالم", "e\u0301e\u0301 cafe\u0301", "a\x00b\x07c\x1b[31m",
             "bad \ud800 surrogate \udfff", "<p>Hello <b>world</b><script>x()</script></p>",
             "word " * 40_000, "One. Two! Three? " * 200]
    with pytest.warns(UserWarning, match="truncated"):
        check_predict(pipelines, texts)
