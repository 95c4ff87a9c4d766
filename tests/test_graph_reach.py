"""How far a token sees (textgnn/graph_reach.py): reach counted by hand on small graphs."""

import json

import numpy as np
import pytest

from textgnn.graph_reach import _sentence, dataset_reach, local_arcs, reach
from textgnn.graphs import GraphBuilder, TokenGraph
from textgnn.parsing import ParsedText


def test_reach_counts_the_nodes_within_each_number_of_hops():
    # a path 0-1-2-3-4: balls of 2,3,3,3,2 nodes in one hop, 3,4,5,4,3 in two, 4,5,5,5,4 in three
    path = TokenGraph(list("abcde"), np.array([[0, 1, 2, 3], [1, 2, 3, 4]]), np.zeros(4, int),
                      np.arange(5))
    assert reach(path, 3) == pytest.approx([13 / 25, 19 / 25, 23 / 25])
    # the window graph of width 2 on five tokens is the path's two-hop ball in one hop
    [window] = GraphBuilder("window", window=2).build_many([ParsedText(list("abcde"))])
    assert reach(window, 1) == pytest.approx([19 / 25])
    assert reach(TokenGraph.edgeless(["a", "b"]), 2) == [0.5, 0.5]  # a node reaches itself only


def test_dependency_reach_follows_the_parse_and_crosses_sentences_by_their_roots():
    # "a b c d": b is the root; a -> b, c -> b, d -> c
    tree = ParsedText(list("abcd"), [1, 1, 1, 2], ["det", "ROOT", "dobj", "amod"])
    [graph] = GraphBuilder("dependency").build_many([tree])
    assert reach(graph, 2) == pytest.approx([(2 + 3 + 3 + 2) / 16, (3 + 4 + 4 + 3) / 16])
    # two one-word sentences: their roots are joined (`sent`), so each reaches the other
    [two] = GraphBuilder("dependency").build_many([ParsedText(["x", "y"], [0, 1], ["ROOT"] * 2)])
    assert reach(two, 1) == [1.0]
    # arcs of spans 3, 2 and 1 (every word's head is the last): two within a window of 2
    assert local_arcs(ParsedText(list("abcd"), [3, 3, 3, 3], ["x"] * 3 + ["ROOT"]), 2) == (2, 3)


def test_dataset_reach_and_the_complete_graph_cut(tmp_path):
    short = ParsedText(list("abcd"), [1, 1, 1, 2], ["det", "ROOT", "dobj", "amod"])
    long = ParsedText(["w"] * 1000, [i + 1 for i in range(999)] + [999], ["dep"] * 999 + ["ROOT"])
    row = dataset_reach([short, long], hops=2, window=2, max_tokens=512)
    assert row["texts"] == 2 and row["tokens_mean"] == 502 and row["over_cut"] == 0.5
    assert row["complete"] == pytest.approx((1 + 512 / 1000) / 2)  # the Transformer reads 512
    assert "the Transformer 75.6 % in one (it cuts the 50.0 % of texts over 512 tokens); " in (
        _sentence("long", row))
    # every arc of both texts spans one token: all are window edges
    assert row["local_arcs"] == 1.0
    # the long chain: a middle node reaches 3 nodes in one hop, 5 in two (of 1,000)
    assert row["reach"]["dependency"][1] == pytest.approx(
        (reach(GraphBuilder("dependency").build(short), 2)[1]
         + (5 * 996 + 3 + 4 + 4 + 3) / 1000 / 1000) / 2)


def test_reach_command_writes_the_report(toy_data, tmp_path, capsys):
    from textgnn.cli import main

    out = tmp_path / "reach"
    assert main(["reach", str(toy_data), "--hops", "2", "--out", str(out), "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    numbers = json.loads((out / "reach.json").read_text())[toy_data.name]
    assert numbers["texts"] == 40 and len(numbers["reach"]["window"]) == 2
    assert printed[toy_data.name]["dependency"] == numbers["reach"]["dependency"]
    text = (out / "REACH.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| {toy_data.name} |"))
    assert f"| {100 * numbers['reach']['window'][1]:.1f} % |" in row
    assert f"- **{toy_data.name}**: in 2 hops a token reaches" in text
    assert "(it cuts" not in text  # no toy text is over 512 tokens
    assert (out / "reach.png").stat().st_size > 10_000
    assert main(["reach", str(toy_data), "--hops", "0", "--out", str(out)]) != 0
    assert "--hops" in capsys.readouterr().err
