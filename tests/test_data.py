import json

import pytest
from conftest import write_jsonl

from textgnn.data import Split, load_dataset, stratified_dev_split
from textgnn.errors import TextGNNError

ROWS = [{"text": f"text number {i}", "label": "a" if i % 3 else "b"} for i in range(60)]


def test_directory_without_dev_gets_seeded_stratified_split(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS)
    write_jsonl(tmp_path / "test.jsonl", ROWS[:10])
    data = load_dataset(str(tmp_path), dev_fraction=0.1)
    assert (len(data.train), len(data.dev), len(data.test)) == (54, 6, 10)
    assert data.dev.labels.count("b") == 2  # 20 of 60 are b: a tenth of them, 2
    again = load_dataset(str(tmp_path), dev_fraction=0.1)
    assert again.dev.texts == data.dev.texts
    other = load_dataset(str(tmp_path), dev_fraction=0.1, split_seed=1)
    assert other.dev.texts != data.dev.texts
    assert not set(data.dev.texts) & set(data.train.texts)


def test_dev_file_is_used_when_present_and_csv_works(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(
        f'"{r["text"]}, with a comma",{r["label"]}\n' for r in ROWS))
    write_jsonl(tmp_path / "dev.jsonl", ROWS[:7])
    data = load_dataset(str(tmp_path))
    assert len(data.train) == 60 and len(data.dev) == 7 and data.test is None
    assert data.train.texts[0] == "text number 0, with a comma"


def test_registry_name_resolves_to_textgnn_data(shared_data):
    data = load_dataset("trec")
    assert len(data.train) + len(data.dev) == 5452 and len(data.test) == 500
    assert set(data.test.labels) == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}


@pytest.mark.parametrize(("content", "message"), [
    ('{"text": "fine", "label": "a"}\n{"text": "broken", "label": \n',
     r"train\.jsonl, line 2: malformed JSON"),
    ('{"text": "fine", "label": "a"}\n\n{"label": "a"}\n', r"train\.jsonl, line 3: missing field 'text'"),
    ('{"text": "no label here"}\n', r"train\.jsonl, line 1: missing field 'label'"),
    ('{"text": 3, "label": "a"}\n', r"line 1: field 'text' must be a string"),
    ('["text", "label"]\n', r"line 1: expected a JSON object"),
    ("", r"train\.jsonl: empty file"),
])
def test_bad_jsonl_names_file_and_line(tmp_path, content, message):
    (tmp_path / "train.jsonl").write_text(content)
    with pytest.raises(TextGNNError, match=message):
        load_dataset(str(tmp_path))


def test_csv_without_label_column(tmp_path):
    (tmp_path / "train.csv").write_text("sentence,label\nhello,a\n")
    with pytest.raises(TextGNNError, match=r"train\.csv, line 1: header has no column 'text'"):
        load_dataset(str(tmp_path))


def test_unknown_dataset_name(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTGNN_DATA", str(tmp_path))
    with pytest.raises(TextGNNError, match="unknown dataset 'nope'.*mr, sst2"):
        load_dataset("nope")


def test_stratified_split_survives_singleton_classes():
    split = Split([f"t{i}" for i in range(20)], ["a"] * 19 + ["b"], "mem")
    train, dev = stratified_dev_split(split, 0.1, 0)
    assert len(train) + len(dev) == 20 and len(dev) == 2
    assert json.dumps(sorted(train.texts + dev.texts)) == json.dumps(sorted(split.texts))


def test_dev_file_as_test_set(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS)
    write_jsonl(tmp_path / "dev.jsonl", ROWS[:7])
    data = load_dataset(str(tmp_path), test_from="dev")
    assert len(data.test) == 7 and len(data.dev) == 6 and len(data.train) == 54
    assert data.test.source.endswith("dev.jsonl")
    with pytest.raises(TextGNNError, match="test_from must be"):
        load_dataset(str(tmp_path), test_from="train")


def test_train_fraction_is_a_seeded_stratified_subset_with_every_label():
    from textgnn.config import load_config
    from textgnn.data import Split, training_examples

    train = Split([f"t{i}" for i in range(100)], ["a"] * 90 + ["b"] * 10, "train.jsonl")
    data = load_config(None, ["data.train_fraction=0.1"]).data
    part = training_examples(train, data, seed=7)
    assert sorted(part.labels) == ["a"] * 9 + ["b"]
    assert part.texts == sorted(part.texts, key=lambda t: int(t[1:]))  # original order
    assert training_examples(train, data, seed=8).texts == part.texts  # split_seed, not the run's
    other = load_config(None, ["data.train_fraction=0.1", "data.split_seed=1"]).data
    assert training_examples(train, other, seed=7).texts != part.texts
    tiny = training_examples(train, load_config(None, ["data.train_fraction=0.01"]).data, 0)
    assert sorted(tiny.labels) == ["a", "b"]  # at least one of each label
    capped = training_examples(train, load_config(None, ["data.max_train=50"]).data, 0)
    assert len(capped) == 50 and training_examples(train, data, 0).source.endswith("(10% stratified)")
