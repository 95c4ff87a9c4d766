import json

import numpy as np
import pytest
import torch
from conftest import train_toy
from test_cli import cli

from textgnn.config import load_config
from textgnn.explain import explain, plot_explanation
from textgnn.features import Vocab
from textgnn.pipeline import Pipeline

TEXT = "The quick brown fox jumped over the lazy dog ."


def pipeline_for(encoder, kind):
    torch.manual_seed(0)
    config = load_config(None, [f"model.encoder={encoder}", f"graph.kind={kind}", "model.hidden=16",
                                "model.ffn=32", "model.heads=2"])
    return Pipeline(config, Vocab(["<unk>", "the", "fox", "dog"]), ["a", "b"])


@pytest.mark.parametrize(("encoder", "kind"), [
    ("gat", "dependency"), ("transformer", "complete"), ("hybrid", "dependency+complete"),
    ("gcn", "window")])
def test_explain_weights_are_the_layer_attention(tmp_path, encoder, kind):
    pipeline = pipeline_for(encoder, kind)
    result = explain(pipeline, TEXT, layer=0)
    n = len(result["tokens"])
    assert abs(sum(pipeline.predict([TEXT])[0]["probs"].values()) - 1) < 1e-6
    assert result["label"] == pipeline.predict([TEXT])[0]["label"]
    incoming = np.zeros(n)
    for _, target, weight, _ in result["edges"]:
        incoming[target] += weight
    if encoder == "gcn":  # symmetric normalisation: w / sqrt(d_i d_j), d = weighted degree
        degree = np.zeros(n)
        for _, target, _, _ in result["edges"]:
            degree[target] += 1  # type weights start at 1
        for source, target, weight, _ in result["edges"]:
            assert weight == pytest.approx(1 / np.sqrt(degree[source] * degree[target]), rel=1e-5)
    else:  # attention over each node's neighbours sums to one
        assert incoming == pytest.approx(np.ones(n), abs=1e-5)
    png = plot_explanation(result, tmp_path / "x.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    # recording is switched off again and the dense path (all four encoders have one) restored
    assert pipeline.model.dense


def test_explain_command_writes_a_png(toy_data, tmp_path, capsys):
    train_toy(toy_data, tmp_path / "r", "graph.kind=dependency", "model.encoder=gat")
    out = tmp_path / "explain.png"
    code, stdout, _ = cli(capsys, "explain", "--model", tmp_path / "r" / "model", "--out", out,
                          "The film is great .")
    summary = json.loads(stdout)
    assert code == 0 and summary["label"] in ("positive", "negative") and out.is_file()
    code, _, err = cli(capsys, "explain", "--model", tmp_path / "r" / "model", "--out", out,
                       "--layer", "5", "x")
    assert code == 2 and "out of range: the model has 1 block(s)" in err
