import json
import random

import pytest
import torch
from conftest import REPO, TINY, train_toy
from torch_geometric.data import Batch

from textgnn.batching import BucketBatchSampler, token_budget_batches
from textgnn.config import TrainConfig, load_config
from textgnn.errors import TextGNNError
from textgnn.features import Vocab
from textgnn.graphs import to_pyg
from textgnn.pipeline import Pipeline
from textgnn.training import lr_factor, train


def test_bucketed_batches_cover_every_example_once_with_similar_lengths():
    rng = random.Random(0)
    lengths = [rng.randint(1, 60) for _ in range(1000)]
    sampler = BucketBatchSampler(lengths, batch_size=32, bucket=10, seed=0)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        flat = [i for batch in epoch for i in batch]
        assert sorted(flat) == list(range(1000)) and len(epoch) == len(sampler) == 32
    assert first != second  # a new order every epoch
    assert [list(BucketBatchSampler(lengths, 32, 10, 0))] == [first]  # seeded

    def mean_spread(epoch):
        return sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch) / len(epoch)

    plain = list(BucketBatchSampler(lengths, 32, 0, 0))
    assert mean_spread(first) < 0.3 * mean_spread(plain)


def test_max_tokens_truncates_with_a_warning():
    cfg = load_config(None, ["graph.kind=complete", "data.max_tokens=5"])
    pipeline = Pipeline(cfg, Vocab([]), ["a"])
    with pytest.warns(UserWarning, match="truncated 1 of 2 texts"):
        graphs = pipeline.token_graphs(["one two three four five six seven", "short text"])
    assert graphs[0].num_nodes == 5 and graphs[0].edge_index.shape[1] == 25
    assert graphs[1].num_nodes == 2


def test_token_budget_bounds_batches_by_tokens():
    lengths = [5, 5, 5, 50, 5, 5]
    batches = token_budget_batches(list(range(6)), lengths, batch_size=4, max_tokens=12)
    assert batches == [[0, 1], [2], [3], [4, 5]]
    assert token_budget_batches(list(range(6)), lengths, 4, None) == [[0, 1, 2, 3], [4, 5]]
    sampler = BucketBatchSampler(lengths * 20, batch_size=8, bucket=3, seed=0, max_tokens=30)
    count = len(sampler)
    epoch = list(sampler)
    assert len(epoch) == count
    assert all(len(b) == 1 or sum((lengths * 20)[i] for i in b) <= 30 for b in epoch)


@pytest.mark.parametrize("kind", ["window", "complete", "dependency+complete"])
def test_graphs_built_a_chunk_of_texts_at_a_time_are_the_graphs_built_at_once(monkeypatch, kind):
    """pipeline.graphs builds GRAPH_CHUNK texts at a time (bounded memory on long documents):
    the graphs are exactly those of one pass over every text."""
    import textgnn.pipeline

    cfg = load_config(None, [f"graph.kind={kind}"])
    texts = ["the cat sat on the mat", "a dog ran", "the dog sat", "it rained all day", "no"]
    pipeline = Pipeline(cfg, Vocab.build([t.split() for t in texts], 1, True), ["x", "y"])
    at_once = pipeline.graphs(texts, progress=False)
    monkeypatch.setattr(textgnn.pipeline, "GRAPH_CHUNK", 2)
    chunked = pipeline.graphs(texts, progress=False)
    assert len(chunked) == len(at_once) == len(texts)
    for a, b in zip(at_once, chunked, strict=True):
        a, b = a.to_dict(), b.to_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


@pytest.mark.parametrize("encoder,kind", [("transformer", "complete"), ("gcn", "complete"),
                                          ("gatv2", "complete"), ("hybrid", "window+complete")])
def test_complete_graphs_store_no_edges_and_each_batch_makes_them(encoder, kind):
    """n^2 edges a text are not kept for a run: collate() gives a dense model the matrix of
    their types and a sparse one the edges the graphs would have stored (same order), and
    the logits are exactly those computed from the stored edges. The same holds for the
    union of a complete graph with a window (the hybrid's graph), whose edges need no parse:
    a dense model gets its (n, n, 2) types and the window's edges."""
    cfg = load_config(None, [f"graph.kind={kind}", "model.hidden=16", "model.heads=2",
                             "model.ffn=32", f"model.encoder={encoder}"])
    texts = ["the cat sat on the mat", "a dog ran", "the dog sat", "no"]
    pipeline = Pipeline(cfg, Vocab.build([t.split() for t in texts], 1, True), ["x", "y"])
    graphs = pipeline.graphs(texts, ["x", "y", "x", "y"], progress=False)
    assert [g.edge_index.shape[1] for g in graphs] == [0, 0, 0, 0]
    stored = Batch.from_data_list([to_pyg(t, g.x, int(g.y)) for t, g in
                                   zip(pipeline.token_graphs(texts), graphs, strict=True)])
    model = pipeline.model.eval()
    for dense in (True, False):
        model.dense = dense and encoder != "gatv2"  # gatv2 has no dense path
        made = pipeline.collate(graphs)
        if model.dense:
            window = (stored.edge_type[:, 0] != 0) if kind == "window+complete" else None
            assert torch.equal(made.edge_index, stored.edge_index[:, window].long()
                               if window is not None else torch.zeros(2, 0, dtype=torch.long))
            assert made.complete_types.shape == ((6, 6, 2) if window is not None else (6, 6))
        else:
            assert not hasattr(made, "complete_types")
            assert torch.equal(made.edge_index, stored.edge_index.long())
            assert torch.equal(made.edge_type, stored.edge_type.long())
        assert torch.equal(model(made), model(stored))


def test_graphs_are_stored_narrow_and_computed_as_wide():
    """Index tensors are kept as int32/int16 (a training set stays in memory all run); the
    model widens them, so the logits equal those computed from int64 inputs."""
    cfg = load_config(None, ["graph.kind=window", "model.hidden=16", "model.heads=2",
                             "model.ffn=32", "model.positions=learned", "model.encoder=gat"])
    texts = ["the cat sat on the mat", "a dog ran", "the dog sat"]
    vocab = Vocab.build([t.split() for t in texts], 1, True)
    pipeline = Pipeline(cfg, vocab, ["x", "y"])
    graphs = pipeline.graphs(texts, ["x", "y", "x"], progress=False)
    narrow = Batch.from_data_list(graphs)
    assert (graphs[0].edge_index.dtype, graphs[0].edge_type.dtype, graphs[0].pos.dtype) == (
        torch.int32, torch.int16, torch.int32)
    wide = narrow.clone()
    wide.edge_index, wide.edge_type, wide.pos = (wide.edge_index.long(), wide.edge_type.long(),
                                                 wide.pos.long())
    pipeline.model.eval()
    assert torch.equal(pipeline.model(narrow), pipeline.model(wide))


def test_linear_schedule_warms_up_then_decays_to_zero():
    linear = TrainConfig(schedule="linear", warmup=0.1)
    progress = [(step + 0.5) / 100 for step in range(100)]  # mid-step, as training asks
    factors = [lr_factor(p, linear) for p in progress]
    assert factors[0] == pytest.approx(0.05) and factors[9] == pytest.approx(0.95)
    assert max(factors) == factors[10] == pytest.approx(0.895 / 0.9)
    assert all(a < b for a, b in zip(factors[:10], factors[1:11], strict=True))  # rising
    assert all(a > b for a, b in zip(factors[10:-1], factors[11:], strict=True))  # then falling
    assert factors[-1] == pytest.approx(0.005 / 0.9)
    assert {lr_factor(p, TrainConfig()) for p in progress} == {1.0}
    with pytest.raises(TextGNNError, match=r"train.warmup must be in \[0, 1\); got 1.5"):
        load_config(None, ["train.schedule=linear", "train.warmup=1.5"])


def test_a_label_missing_from_training_is_refused_and_max_train_named(toy_data, tmp_path):
    """A one-text sample of the toy set holds one of its two labels: training refuses before
    any epoch and says that data.max_train's plain random sample is why."""
    config = load_config(REPO / "configs" / "base.yaml", [f"data.name={toy_data}", *TINY,
                                                          "data.max_train=1"])
    with pytest.raises(TextGNNError, match=r"label\(s\) '(positive|negative)' do not occur in "
                       r"the training data; data.max_train=1 draws a plain random sample"):
        train(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "history.csv").exists()


@pytest.mark.parametrize("cell", [("gcn", "window", "mean"), ("gat", "dependency", "max"),
                                  ("transformer", "complete", "attention"),
                                  ("hybrid", "dependency+complete", "mean")])
def test_deterministic_mode_changes_nothing_on_cpu(toy_data, tmp_path, cell):
    """train.deterministic (default on, for CUDA) picks the same CPU kernels: same numbers."""
    encoder, graph, pooling = cell
    runs = [train_toy(toy_data, tmp_path / flag, f"model.encoder={encoder}", f"graph.kind={graph}",
                      f"model.pooling={pooling}", f"train.deterministic={flag}")
            for flag in ("true", "false")]
    assert runs[0]["test"] == runs[1]["test"] and runs[0]["dev"] == runs[1]["dev"]
    preds = [json.loads((tmp_path / flag / "metrics.json").read_text())["test"]["predictions"]
             for flag in ("true", "false")]
    assert preds[0] == preds[1]


def test_ema_scores_and_keeps_the_moving_average_and_leaves_training_alone(toy_data, tmp_path):
    """train.ema: dev scores the moving average of the weights and the kept model is it, while
    the weights being trained are those of a run without it (the same training losses, to the
    bit); a run killed after an epoch resumes to the uninterrupted run's numbers, so the
    average is in the checkpoint."""
    import csv

    def config(ema: float):
        return load_config(REPO / "configs" / "base.yaml", [
            f"data.name={toy_data}", *TINY, "train.epochs=4", "train.patience=100",
            "graph.kind=window", f"train.ema={ema}", "train.threads=1"])

    def history(out):  # every epoch's row but its wall time
        with (out / "history.csv").open() as handle:
            return [{k: v for k, v in row.items() if k != "seconds"}
                    for row in csv.DictReader(handle)]

    threads = torch.get_num_threads()
    try:
        plain = train(config(0.0), tmp_path / "plain", progress=False)
        averaged = train(config(0.9), tmp_path / "ema", progress=False)

        class Killed(Exception):
            pass

        def kill_after_two(row: dict) -> None:
            if row["epoch"] == 2:
                raise Killed

        with pytest.raises(Killed):
            train(config(0.9), tmp_path / "killed", progress=False, on_epoch=kill_after_two)
        resumed = train(config(0.9), tmp_path / "killed", progress=False, resume=True)
    finally:
        torch.set_num_threads(threads)
    ours, theirs = history(tmp_path / "ema"), history(tmp_path / "plain")
    assert [r["train_loss"] for r in ours] == [r["train_loss"] for r in theirs]
    assert [r["dev_loss"] for r in ours] != [r["dev_loss"] for r in theirs]
    # the saved model is the scored average of the best epoch
    best = next(r for r in ours if int(r["epoch"]) == averaged["best_epoch"])
    assert averaged["dev"]["accuracy"] == pytest.approx(float(best["dev_accuracy"]), abs=1e-12)
    assert plain["test"] != averaged["test"] or plain["dev"] != averaged["dev"]
    assert resumed["test"] == averaged["test"] and resumed["dev"] == averaged["dev"]
    assert history(tmp_path / "killed") == ours
