import re

import pytest
from conftest import REPO

from textgnn.cli import main
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
    ("model.encoder=gcnn", "one of gcn, gat, gatv2, transformer, hybrid, finetune; got 'gcnn' "
                           "(did you mean 'gcn'?)"),
    ("model.encoder=finetuned", "did you mean 'finetune'"),
    ("graph.kind=tree", "one of none, window, complete, dependency, or several joined by '+'"),
    ("graph.kind=dependncy+complete", "got 'dependncy' in 'dependncy+complete' (did you mean "
                                      "'dependency'?)"),
    ("graph.kind=window+window", "repeats a part"),
    ("model.features=frozen", "one of learned, static, contextual"),
    ("model.pooling=sum", "one of mean, max, attention"),
    ("model.positions=rotary", "one of none, sinusoidal, learned"),
    ("model.local=hybrid", "one of gcn, gat, gatv2, transformer, none"),
])
def test_unknown_names_list_the_choices(override, choices):
    with pytest.raises(TextGNNError, match=re.escape(f"--set {override}: ") + ".*" + re.escape(choices)):
        load_config(None, [override])


def test_a_name_registered_later_is_a_valid_choice():
    from textgnn.nn import CONVS, register

    @register("my-conv")
    class MyConv(CONVS["gcn"]):
        pass

    try:
        assert load_config(None, ["model.encoder=my-conv"]).model.encoder == "my-conv"
    finally:
        del CONVS["my-conv"]


def test_the_registries_still_check_names_given_to_them_directly():
    cfg = Config()
    cfg.model.pooling = "sum"  # a config built in code, never read: the registry checks it
    with pytest.raises(TextGNNError, match="unknown pooling 'sum'; choose one of mean, max"):
        Pipeline(cfg, Vocab([]), ["a", "b"])


# The values the issue found ending in tracebacks, then one per kind of key.
BAD_VALUES = [
    ("model.dropout=1.5", "model.dropout must be in [0, 1); got 1.5"),
    ("baseline.dropout=1.5", "baseline.dropout must be in [0, 1); got 1.5"),
    ("baseline.hidden=0", "baseline.hidden must be"),
    ("train.epochs=0", "train.epochs must be >= 1; got 0"),
    ("train.batch_size=0", "train.batch_size must be >= 1; got 0"),
    ("train.lr=-1", "train.lr must be > 0; got -1.0"),
    ("model.hidden=-5", "model.hidden must be >= 1; got -5"),
    ("graph.window=0", "graph.window must be >= 1; got 0"),
    ("data.max_train=0", "data.max_train must be >= 1; got 0"),  # optional int
    ("train.weight_decay=-0.5", "train.weight_decay must be >= 0; got -0.5"),  # float
    ("model.word_dropout=-0.1", "model.word_dropout must be in [0, 1); got -0.1"),  # probability
    ("data.dev_fraction=1", "data.dev_fraction must be in (0, 1); got 1.0"),  # open interval
    ("train.schedule=cosine", "train.schedule must be one of constant, linear; got 'cosine'"),
    ("train.select=auc", "train.select must be one of accuracy, mcc, macro_f1; got 'auc'"),
    ("data.test_from=train", "data.test_from must be one of test, dev; got 'train'"),
    ("train.device=gpu", "train.device must be auto, cpu, cuda or cuda:N; got 'gpu'"),
    ("model.layers=two", "model.layers: expected int, got 'two'"),  # type
    ("model.tune_static=1", "model.tune_static: expected bool, got 1"),
    ("model.heads=3", "model.hidden (64) must be a multiple of model.heads (3) for encoder gat"),
    ("model.encoder=hybrid", "model.encoder=hybrid needs a union graph ending in complete"),
    ("model.mix=0.5", "model.mix (a lambda in [0, 1]) needs a graph encoder on "
                      "model.features=contextual"),
]


@pytest.mark.parametrize(("override", "message"), BAD_VALUES)
def test_a_bad_value_is_one_error_line_naming_the_command_line(capsys, override, message):
    """Through the real command line (in process): exit status 2 and one ``error:`` line
    naming the --set, the key, the value and what is allowed, before any data is read."""
    code = main(["train", "--config", str(REPO / "configs" / "mr" / "gat-window.yaml"),
                 "--set", "data.max_train=200", "--set", override, "--out", "/nonexistent/run"])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith(f"error: --set {override}: ") and message in line


def test_a_bad_value_in_a_file_names_the_file(tmp_path):
    (tmp_path / "base.yaml").write_text("model:\n  dropout: 1.5\n")
    (tmp_path / "exp.yaml").write_text("base: base.yaml\ntrain:\n  epochs: 3\n")
    with pytest.raises(TextGNNError) as info:
        load_config(tmp_path / "exp.yaml")
    assert str(info.value) == f"{tmp_path / 'exp.yaml'}: model.dropout must be in [0, 1); got 1.5"
    # the same key set on the command line: the command line is named
    with pytest.raises(TextGNNError, match=r"^--set model.dropout=2: model.dropout must be in"):
        load_config(tmp_path / "exp.yaml", ["model.dropout=2"])
    # a relation names the --set of any key it reads
    with pytest.raises(TextGNNError, match=r"^--set model.heads=5: model.hidden \(64\)"):
        load_config(tmp_path / "exp.yaml", ["model.dropout=0.1", "model.encoder=transformer",
                                            "model.heads=5"])


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
