import pytest

from textgnn.config import Config, load_config
from textgnn.errors import TextGNNError
from textgnn.features import Vocab
from textgnn.pipeline import Pipeline


def test_base_inheritance_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("model:\n  hidden: 64\n  layers: 3\ntrain:\n  lr: 0.01\n")
    (tmp_path / "exp.yaml").write_text("base: base.yaml\nmodel:\n  layers: 1\n")
    cfg = load_config(tmp_path / "exp.yaml", ["train.seed=7", "data.max_train=100",
                                              "model.positions=learned", "train.lr=1"])
    assert (cfg.model.hidden, cfg.model.layers) == (64, 1)
    assert cfg.train.seed == 7 and cfg.data.max_train == 100
    assert cfg.model.positions == "learned"
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_unknown_key_names_valid_keys(tmp_path):
    (tmp_path / "bad.yaml").write_text("model:\n  hiden: 64\n")
    with pytest.raises(TextGNNError, match=r"unknown config key 'hiden'; did you mean 'hidden'\?"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(TextGNNError, match="unknown config key 'bogus'"):
        load_config(None, ["bogus.key=1"])


def test_wrong_type_is_reported():
    with pytest.raises(TextGNNError, match=r"model\.layers: expected int"):
        load_config(None, ["model.layers=two"])
    with pytest.raises(TextGNNError, match="KEY=VALUE"):
        load_config(None, ["model.layers"])


@pytest.mark.parametrize(("override", "choices"), [
    ("model.encoder=gcnn", "did you mean 'gcn'.*gcn, gat, gatv2, transformer, hybrid"),
    ("model.encoder=finetuned", "did you mean 'finetune'"),
    ("graph.kind=tree", "none, window, complete, dependency"),
    ("graph.kind=dependncy+complete", "did you mean 'dependency'"),
    ("model.features=frozen", "learned, static, contextual"),
    ("model.pooling=sum", "mean, max, attention"),
    ("model.positions=rotary", "sinusoidal, learned"),
])
def test_unknown_names_list_the_choices(override, choices):
    # window: needs no parser, so the check is about the name alone
    defaults = [] if override.startswith("graph.") else ["graph.kind=window"]
    cfg = load_config(None, [*defaults, override])
    with pytest.raises(TextGNNError, match=choices):
        Pipeline(cfg, Vocab([]), ["a", "b"])


def test_missing_parser_and_pretrained_model_say_what_to_install():
    from textgnn.features import resolve_pretrained
    from textgnn.parsing import load_spacy

    with pytest.raises(TextGNNError, match=r"spaCy model 'xx_no_such_model' is not installed.*pip install"):
        load_spacy("xx_no_such_model")
    # offline (HF_HUB_OFFLINE=1 in the tests) the hub is not tried for long: one clear message
    with pytest.raises(TextGNNError, match=r"model.pretrained='no-such-org/no-such-model': no such "
                                           r"directory, and the hub download failed"):
        resolve_pretrained("no-such-org/no-such-model")
    cfg = load_config(None, ["graph.kind=window", "model.features=contextual"])
    with pytest.raises(TextGNNError, match="needs model.pretrained"):
        Pipeline(cfg, Vocab([]), ["a", "b"])
