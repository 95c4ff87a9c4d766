"""Loading a model directory never unpickles and fails with one clear message."""

import json
import pickle

import pytest
import torch

import textgnn
from textgnn.config import load_config
from textgnn.errors import TextGNNError
from textgnn.features import Vocab
from textgnn.pipeline import Pipeline


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    config = load_config(None, ["graph.kind=window", "model.hidden=16", "model.ffn=32",
                                "model.heads=2", "model.layers=1"])
    pipeline = Pipeline(config, Vocab(["<unk>", "good", "bad"]), ["neg", "pos"])
    return pipeline.save_pretrained(tmp_path / "model")


def drop_manifest(path):
    (path / "manifest.json").unlink()


def test_round_trip_and_manifest(model_dir):
    assert json.loads((model_dir / "manifest.json").read_text())["sha256"].keys() == {
        "config.json", "model.safetensors", "vocab.json", "labels.json"}
    loaded = textgnn.load(model_dir)
    assert loaded.labels == ["neg", "pos"] and loaded.vocab.tokens == ["<unk>", "good", "bad"]
    assert loaded.predict(["good"])[0]["label"] in ("neg", "pos")


def test_pickle_renamed_to_safetensors(model_dir):
    drop_manifest(model_dir)
    (model_dir / "model.safetensors").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(TextGNNError, match="model.safetensors: not a readable safetensors file"):
        textgnn.load(model_dir)


def test_truncated_weights(model_dir):
    drop_manifest(model_dir)
    data = (model_dir / "model.safetensors").read_bytes()
    (model_dir / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(TextGNNError, match="not a readable safetensors file"):
        textgnn.load(model_dir)


def test_manifest_catches_a_changed_file(model_dir):
    data = bytearray((model_dir / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF  # flip bits inside a weight: still a valid file, wrong numbers
    (model_dir / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(TextGNNError, match="SHA-256 does not match manifest.json"):
        textgnn.load(model_dir)


def test_weights_that_do_not_match_the_config(model_dir):
    drop_manifest(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["config"]["model"]["hidden"] = 32
    config["config"]["model"]["ffn"] = 64
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(TextGNNError, match="does not match config.json"):
        textgnn.load(model_dir)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c.update(format_version=99), "format version 99 is newer"),
    (lambda c: c.pop("format_version"), "no integer format_version"),
    (lambda c: c.pop("relations"), "missing key 'relations'"),
    (lambda c: c["config"]["model"].update(layers="two"), r"model\.layers: expected int"),
    (lambda c: c["config"]["model"].update(encoder="lstm"),
     r"config.json: model.encoder must be one of gcn, gat.*got 'lstm'"),
])
def test_invalid_config_json(model_dir, edit, message):
    drop_manifest(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    edit(config)
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(TextGNNError, match=message):
        textgnn.load(model_dir)


def test_not_json_and_missing_files(model_dir):
    drop_manifest(model_dir)
    (model_dir / "labels.json").write_text("{not json")
    with pytest.raises(TextGNNError, match="labels.json: not valid JSON"):
        textgnn.load(model_dir)
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(TextGNNError, match="missing model.safetensors"):
        textgnn.load(model_dir)
