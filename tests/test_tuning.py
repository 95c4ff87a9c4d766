"""The tuner: Optuna's TPE and median pruner over tiny models, an equal budget per cell."""

import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from optuna.trial import TrialState

from textgnn.checkpoint import CHECKPOINT, checkpoint_state
from textgnn.config import Config, load_config
from textgnn.training import train
from textgnn.tuning import Search, cell_name, resumed_uncounted, storage_url, trials_table, tune, wall_seconds

TRIALS = 4


def write_search(tmp_path, toy_data) -> Search:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "model": {"hidden": 16, "heads": 2, "ffn": 32, "layers": 1},
        "train": {"epochs": 2, "patience": 2, "batch_size": 16},
        "data": {"min_freq": 1}}))
    (tmp_path / "search.yaml").write_text(yaml.safe_dump({
        "name": "tiny", "config": "base.yaml", "datasets": [str(toy_data)],
        "cells": [{"encoder": "gcn", "graph": "window"}, {"encoder": "transformer", "graph": "window"}],
        "trials": TRIALS, "seed": 0, "pruner": {"startup_trials": 2, "warmup_epochs": 1},
        "space": {"train.lr": {"low": 0.001, "high": 0.05, "log": True},
                  "model.dropout": {"low": 0.0, "high": 0.5},
                  "model.pooling": {"choices": ["mean", "max"]},
                  "model.heads": {"choices": [1, 2], "encoders": ["transformer"]}}}))
    return Search.load(tmp_path / "search.yaml")


def run_tune(search, root):
    return tune(search, root / "results", root / "runs", root / "configs")


def finished(rows):
    """(cell, params, value, state) of the complete and pruned trials, in trial order."""
    return [(r["cell"], r["params"], r["value"], r["state"]) for r in rows
            if r["state"] in ("COMPLETE", "PRUNED")]


@pytest.fixture(scope="module")
def searched(toy_data, tmp_path_factory):
    """One uninterrupted search: (search, its root, its trials, TUNING.md)."""
    root = tmp_path_factory.mktemp("searched")
    search = write_search(root, toy_data)
    report = run_tune(search, root)
    return search, root, trials_table(search, storage_url(search, root / "results")), report


def test_same_seed_same_trials_and_an_equal_budget_per_cell(searched, toy_data, tmp_path):
    search, root, first, report = searched
    run_tune(search, tmp_path / "b")
    again = trials_table(search, storage_url(search, tmp_path / "b" / "results"))
    assert finished(first) == finished(again) and len(finished(first)) == 2 * TRIALS
    cells = {r["cell"] for r in first}
    assert cells == {f"{toy_data.name}/gcn-window", f"{toy_data.name}/transformer-window"}
    for cell in cells:
        assert sum(row[0] == cell for row in finished(first)) == TRIALS
    assert all("model.heads" not in r["params"] for r in first if "/gcn-" in r["cell"])
    assert all("model.heads" in r["params"] for r in first if "/transformer-" in r["cell"])
    assert len({json.dumps(r["params"], sort_keys=True) for r in first}) == len(first)  # explored

    # a second run of a finished search trains nothing and changes nothing
    run_tune(search, root)
    assert trials_table(search, storage_url(search, root / "results")) == first

    # the chosen config is the best trial's and retrains to its dev score
    text = report.read_text()
    assert f"| gcn | window | {TRIALS} (" in text and "| transformer | window |" in text
    assert f"Fixed for every cell of a dataset: {toy_data.name}: -" in text  # the protocol
    # an ended or pruned trial keeps no checkpoint (only one cut off needs it)
    assert not list((root / "runs").rglob("checkpoint*")) and list((root / "runs").rglob("history.csv"))
    # what each trial cost in CPU seconds, pruned ones too, and each cell's CPU hours
    assert all(r["cpu_seconds"] > 0 for r in first if r["state"] in ("COMPLETE", "PRUNED"))
    row = next(line for line in text.splitlines() if line.startswith("| gcn | window |"))
    assert float(row.split("|")[6]) >= 0
    assert f"Spent so far: {2 * TRIALS} finished trials" in text
    assert f"{2 * TRIALS} finished trials, " in text.split(f"## {toy_data.name}")[1]
    # did the budget suffice: the cells whose best dev rose at the last trial, as the trials say
    gains = {}
    for cell in ("gcn-window", "transformer-window"):
        scores = [value if state == "COMPLETE" else None for name, _, value, state in finished(first)
                  if name == f"{toy_data.name}/{cell}"]
        before = max((v for v in scores[:-1] if v is not None), default=None)
        if scores[-1] is not None and before is not None and scores[-1] > before:
            gains[cell] = scores[-1] - before
    budget_line = next(line for line in text.splitlines() if line.startswith("Budget: "))
    assert budget_line.startswith(f"Budget: in the last quarter of the budget (trial {TRIALS}), ")
    for cell in ("gcn-window", "transformer-window"):
        assert (f"{cell} +" in budget_line) == (cell in gains)
    assert all(f"{cell} +{100 * gain:.2f}" in budget_line for cell, gain in gains.items())
    assert (root / "results" / "tiny" / f"{toy_data.name}-search.png").is_file()
    # the epoch limit (2 epochs): the complete trials whose best dev came at epoch 2
    complete = [r for r in first if r["state"] == "COMPLETE"]
    capped = sum(max(r["intermediate"], key=r["intermediate"].get) == "2" for r in complete)
    epochs_line = next(line for line in text.splitlines() if line.startswith("Epochs: "))
    assert (epochs_line.startswith(f"Epochs: {capped} of the {len(complete)} complete trials had "
                                   "their best dev score at the last epoch") if capped else
            epochs_line.startswith(f"Epochs: none of the {len(complete)} complete trials"))
    bests = [max((r for r in complete if r["cell"].endswith(f"/{cell}")), key=lambda r: r["value"])
             for cell in ("gcn-window", "transformer-window")]
    chosen = [b["cell"].split("/")[1] for b in bests
              if max(b["intermediate"], key=b["intermediate"].get) == "2"]
    assert not capped or epochs_line.endswith(
        f"in {'this cell' if len(chosen) == 1 else 'these cells'}: {', '.join(chosen)}." if chosen
        else "No cell's best trial, whose config the study trains, is one of them.")
    chosen = root / "configs" / "tiny" / toy_data.name / "gcn-window.yaml"
    best = max((r for r in first if r["state"] == "COMPLETE" and "/gcn-" in r["cell"]),
               key=lambda r: r["value"])
    config = load_config(chosen)
    assert config.train.lr == best["params"]["train.lr"] and config.graph.kind == "window"
    summary = train(config, tmp_path / "again", progress=False, test=False)
    assert summary["dev"]["accuracy"] == best["value"] and summary["test"] is None


def test_a_study_report_judges_the_budget_of_its_own_cells_only(searched, toy_data, tmp_path):
    """A study that trains one cell of a two-cell search: beside its table, the budget and
    epoch-limit sentences speak of that cell alone, not of the search's other cell (another
    study's, added to a shared search)."""
    import shutil

    from textgnn.experiments import run_study
    from textgnn.report import report
    from textgnn.study import Study

    search, root, first, _ = searched
    # the search laid out as `tune` lays it out by default: tune/<s>.yaml writes tuned/<s>/
    (tmp_path / "configs" / "tune").mkdir(parents=True)
    shutil.copy(root / "base.yaml", tmp_path / "configs" / "base.yaml")
    spec = yaml.safe_load((root / "search.yaml").read_text()) | {"config": "../base.yaml"}
    (tmp_path / "configs" / "tune" / "tiny.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "results" / "tiny").mkdir(parents=True)
    shutil.copy(root / "results" / "tiny" / "optuna.sqlite3", tmp_path / "results" / "tiny")
    moved = Search.load(tmp_path / "configs" / "tune" / "tiny.yaml")
    tune(moved, tmp_path / "results", tmp_path / "runs", tmp_path / "configs" / "tuned")
    assert trials_table(moved, storage_url(moved, tmp_path / "results")) == first  # none trained

    chosen = tmp_path / "configs" / "tuned" / "tiny" / toy_data.name / "gcn-window.yaml"
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({
        "name": "one", "config": "configs/base.yaml", "datasets": [str(toy_data)], "seeds": 1,
        "cells": [{"encoder": "gcn", "graph": "window", "config": str(chosen)}]}))
    run_study(Study.load(tmp_path / "study.yaml"), tmp_path / "results")
    lines = report(tmp_path / "results" / "one").splitlines()
    assert "Tuned cells (gcn-window): configs chosen on dev by the search `tiny`" in "\n".join(lines)
    budget = next(line for line in lines if line.startswith("Budget: "))
    epochs = next(line for line in lines if line.startswith("Epochs: "))
    assert "transformer-window" not in budget + epochs
    gcn = [(value, state) for cell, _, value, state in finished(first)
           if cell == f"{toy_data.name}/gcn-window"]
    before = max((v for v, state in gcn[:-1] if state == "COMPLETE"), default=None)
    rose = gcn[-1][1] == "COMPLETE" and before is not None and gcn[-1][0] > before
    assert budget.startswith(f"Budget: in the last quarter of the budget (trial {TRIALS}), "
                             + ("the one cell still raised" if rose else "no cell raised"))
    complete = sum(state == "COMPLETE" for _, state in gcn)
    assert f" of the {complete} complete trials" in epochs or (
        f"none of the {complete} complete trials" in epochs)


def test_the_budget_line_reads_the_last_quarter_of_each_curve(tmp_path):
    """Budget 8: the last quarter is trials 7-8. A pruned trial (None) keeps the curve flat; a
    cell short of its budget is left out of the sentence but drawn."""
    from textgnn.tuning_curve import Capped, convergence_lines, last_quarter_gain, running_best

    rising = [None, 0.50, 0.55, None, 0.52, 0.56, 0.54, 0.60]
    flat = [0.70, 0.71, 0.65, 0.72, None, 0.60, 0.69, 0.72]
    assert running_best(rising) == [None, 0.50, 0.55, 0.55, 0.55, 0.56, 0.56, 0.60]
    assert last_quarter_gain(rising, 8) == (pytest.approx(0.04), 7)
    assert last_quarter_gain(flat, 8) == (0.0, 7)  # a tie is no gain
    assert last_quarter_gain(rising[:5], 8) is None  # budget not spent
    assert last_quarter_gain([None] * 8, 8) is None  # nothing completed before the quarter
    lines = convergence_lines("toy", {"gat-window": rising, "gcn-none": flat, "wide-mlp": [0.5]},
                              8, tmp_path / "toy-search.png")
    assert lines[0] == ("Budget: in the last quarter of the budget (trials 7-8), 1 of the 2 "
                        "cells that have spent it still raised the best dev score (gat-window "
                        "+4.00 points), so more trials might raise it further; the other had its "
                        "best by trial 6.")
    assert lines[2] == "![toy: best dev score by trial](toy-search.png)"
    assert (tmp_path / "toy-search.png").stat().st_size > 10_000
    lines = convergence_lines("toy", {"gcn-none": flat}, 8, tmp_path / "b.png")
    assert lines[0] == ("Budget: in the last quarter of the budget (trials 7-8), no cell raised "
                        "its best dev score: each had its best by trial 6.")
    lines = convergence_lines("toy", {"gcn-none": flat}, 8, None,
                              {"gcn-none": Capped(2, 6, False), "gat-window": Capped(0, 5, False)})
    assert lines[2] == ("Epochs: 2 of the 11 complete trials had their best dev score at the last "
                        "epoch their config allows (`train.epochs`), still improving when it "
                        "stopped them (gcn-none 2 of 6); longer training might raise them. No "
                        "cell's best trial, whose config the study trains, is one of them.")
    assert len(lines) == 4  # no path: no plot line
    lines = convergence_lines("toy", {}, 8, None, {"gcn-none": Capped(2, 6, True),
                                                   "gat-window": Capped(1, 5, True),
                                                   "gcn-window": Capped(1, 5, False)})
    assert lines[0].endswith("them. The best trial, whose config the study trains, is one of them "
                             "in these cells: gcn-none, gat-window.")


def test_the_values_table_sets_each_discrete_value_beside_the_others(searched):
    """Each value of a discrete key tried by 2+ values: its complete trials, best and median
    dev; a key a trial lacks leaves it out. In TUNING.md, from the search's own trials."""
    from textgnn.tuning_values import ValueRow, value_lines, value_rows

    trials = [({"pooling": "max", "layers": 1, "lr": 0.1}, 0.60),
              ({"pooling": "mean", "layers": 2, "heads": 4}, 0.70),
              ({"pooling": "max", "layers": 10, "heads": 4}, 0.50),
              ({"pooling": "max", "layers": 2}, 0.80)]
    assert value_rows(trials, ["layers", "pooling", "heads", "missing"]) == [
        ValueRow("layers", 1, 1, 0.60, 0.60), ValueRow("layers", 2, 2, 0.80, 0.75),
        ValueRow("layers", 10, 1, 0.50, 0.50),  # numbers in order, not as text ("10" < "2")
        ValueRow("pooling", "max", 3, 0.80, 0.60), ValueRow("pooling", "mean", 1, 0.70, 0.70)]
    assert value_lines(trials, ["heads"]) == []  # one value tried: no table

    search, _, rows, report = searched
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    text = report.read_text()
    for pooling in ("max", "mean"):  # the seeded search tries both
        scores = [100 * r["value"] for r in complete if r["params"]["model.pooling"] == pooling]
        assert scores and (f"| `model.pooling` | {pooling} | {len(scores)} | {max(scores):.2f} | "
                           f"{statistics.median(scores):.2f} |") in text
    assert f"Values: the {len(complete)} complete trials of this dataset's cells" in text
    assert "`train.lr`" not in text.split("Values:")[1]  # a float range is not discrete


def test_report_only_rewrites_the_report_and_configs_without_a_trial(searched, toy_data, tmp_path,
                                                                    capsys):
    """`tune --report-only` on a finished search: TUNING.md and the chosen configs come back as
    they were, from the storage alone, and no trial runs (the trial records are unchanged and no
    run directory is made). A search with no storage yet is one clear error."""
    from textgnn.cli import main

    search, root, first, report = searched
    text = report.read_text()
    chosen = root / "configs" / "tiny" / toy_data.name / "gcn-window.yaml"
    config = chosen.read_text()
    report.unlink()
    chosen.unlink()
    capsys.readouterr()
    code = main(["tune", str(root / "search.yaml"), "--report-only", "--out", str(root / "results"),
                 "--configs", str(root / "configs"), "--runs", str(tmp_path / "runs")])
    assert code == 0 and json.loads(capsys.readouterr().out)["report"] == str(report)
    assert report.read_text() == text and chosen.read_text() == config
    assert trials_table(search, storage_url(search, root / "results")) == first
    assert not (tmp_path / "runs").exists()
    code = main(["tune", str(root / "search.yaml"), "--report-only", "--out", str(tmp_path / "none")])
    assert code != 0 and "search tiny has no trials yet; run it first" in capsys.readouterr().err


def test_a_cell_another_process_searches_is_left_to_it(searched, toy_data, tmp_path, capsys):
    """Two tune processes on one SQLite search share its cells: a cell whose lock another
    process holds is skipped at once (none of its trials runs here) while the others are
    searched; once free, it gets the very trials an uninterrupted search gives it."""
    from textgnn.runtime import exclusive

    search, _, first, _ = searched
    root = tmp_path / "shared"
    url = storage_url(search, root / "results")
    lock = Path(url.removeprefix("sqlite:///")).parent / ".locks" / toy_data.name / "transformer-window.lock"
    with exclusive(lock) as (held, _):
        assert held
        capsys.readouterr()
        run_tune(search, root)
    err = capsys.readouterr().err
    assert (f"tune {toy_data.name}/transformer-window: searched by another process now "
            f"(pid {os.getpid()}") in err
    assert {row[0] for row in finished(trials_table(search, url))} == {f"{toy_data.name}/gcn-window"}
    # the report lists the cell left to the other process, as one still to search
    from textgnn.tuning_report import write_report

    text = write_report(search, url, root / "partial").read_text()
    assert "| transformer | window | 0 (not started) | - |" in text
    assert "**In progress:** 1 of 2 cells have their 4 trials" in text
    run_tune(search, root)
    assert finished(trials_table(search, url)) == finished(first)


def test_a_killed_search_resumes_without_repeating_finished_trials(searched, toy_data, tmp_path):
    search = write_search(tmp_path, toy_data)
    root = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "textgnn", "tune", str(tmp_path / "search.yaml"), "--out",
         str(root / "results"), "--runs", str(root / "runs"), "--configs", str(root / "configs")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=os.environ | {"PYTHONPATH": str(REPO)})
    url = storage_url(search, root / "results")
    deadline = time.time() + 240
    while len(finished(trials_table(search, url))) < 2:  # killed inside the first cell
        assert proc.poll() is None and time.time() < deadline, "the search ended before the kill"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = finished(trials_table(search, url))
    assert 2 <= len(before) < 2 * TRIALS
    # a cell short of its budget gets no config, and the report says it is in progress
    from textgnn.tuning import write_configs
    from textgnn.tuning_report import write_report

    complete = {cell for cell in {row[0] for row in before}
                if sum(row[0] == cell for row in before) >= TRIALS}
    written = write_configs(search, url, root / "configs" / "tiny", list(search.datasets))
    assert {f"{toy_data.name}/{path.stem}" for path in written} == complete
    # where the kill fell decides whether the second cell has started: either way its row
    # says so, and the report counts the cells done
    text = write_report(search, url, root / "partial").read_text()
    assert f"**In progress:** {len(complete)} of 2 cells have their {TRIALS} trials" in text
    for encoder in ("gcn", "transformer"):
        if f"{toy_data.name}/{encoder}-window" not in complete:
            assert re.search(rf"\| {encoder} \| window \| (0 \(not started\)|\d \(\d pruned of "
                             rf"{TRIALS}, in progress\)) \|", text)
    run_tune(search, root)
    after = trials_table(search, url)
    assert finished(after)[:len(before)] == before  # kept, not repeated
    for cell in {r["cell"] for r in after}:
        assert sum(row[0] == cell for row in finished(after)) == TRIALS
    # the trial cut off is marked failed, and the resumed search proposed exactly what the
    # uninterrupted one did
    assert sum(r["state"] == "FAIL" for r in after) <= 1
    assert not any(r["state"] == "RUNNING" for r in after)
    assert finished(after) == finished(searched[2])


def test_cells_on_dask_survive_a_worker_killed_mid_trial_with_the_same_trials(searched, toy_data,
                                                                               tmp_path):
    """The search with --jobs 2: each cell a task on a LocalCluster of 2 workers; one worker
    is killed with SIGKILL while a trial runs. The cell is started again on a worker, the
    trial cut off is marked failed, and the trials are those of the sequential search."""
    search = write_search(tmp_path, toy_data)
    url = storage_url(search, tmp_path / "results")
    result: dict = {}

    def run() -> None:
        try:
            result["report"] = tune(search, tmp_path / "results", tmp_path / "runs",
                                    tmp_path / "configs", jobs=2, retries=2)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    victim, deadline = None, time.monotonic() + 180
    while victim is None and thread.is_alive() and time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the storage may not exist yet
            victim = _running_trial_pid(search, url)
        time.sleep(0.01)
    assert victim is not None and victim != os.getpid(), "no trial seen running on a worker"
    os.kill(victim, signal.SIGKILL)
    thread.join(300)
    assert not thread.is_alive() and "error" not in result, result.get("error")
    after = trials_table(search, url)
    assert finished(after) == finished(searched[2])
    assert sum(r["state"] == "FAIL" for r in after) == 1
    assert not any(r["state"] == "RUNNING" for r in after)
    for cell in ("gcn-window", "transformer-window"):  # the same chosen values
        chosen = Path("configs") / "tiny" / toy_data.name / f"{cell}.yaml"
        assert load_config(tmp_path / chosen) == load_config(searched[1] / chosen)


def _running_trial_pid(search: Search, url: str) -> int | None:
    import optuna

    for dataset in search.datasets:
        for encoder, graph in search.cells:
            try:
                study = optuna.load_study(study_name=cell_name(dataset, encoder, graph), storage=url)
            except KeyError:
                continue
            for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if "worker" in trial.user_attrs:
                    return int(trial.user_attrs["worker"].rpartition(":")[2])
    return None


def test_a_cell_may_set_its_own_keys(tmp_path, toy_data):
    search = write_search(tmp_path, toy_data)
    raw = yaml.safe_load((tmp_path / "search.yaml").read_text())
    raw["cells"][1]["set"] = {"data.max_tokens": 5}  # the transformer cut at 5 tokens
    (tmp_path / "cut.yaml").write_text(yaml.safe_dump(raw))
    cut = Search.load(tmp_path / "cut.yaml")
    assert cut.trial_config(str(toy_data), "transformer", "window", {})["data"]["max_tokens"] == 5
    assert cut.trial_config(str(toy_data), "gcn", "window", {})["data"]["max_tokens"] is None
    assert search.cell_overrides == {}


def test_a_cell_may_be_searched_on_some_datasets_only(tmp_path, toy_data):
    """A cell added to a search for one dataset's question (the Transformer on 20NG's
    dependency graph) runs there alone, with the same budget; the other cells are searched on
    every dataset; naming a dataset the search lacks is refused."""
    import shutil

    from textgnn.errors import TextGNNError

    write_search(tmp_path, toy_data)
    other = tmp_path / "other"
    shutil.copytree(toy_data, other)
    raw = yaml.safe_load((tmp_path / "search.yaml").read_text())
    raw["datasets"] = [str(toy_data), str(other)]
    raw["cells"][1]["datasets"] = [str(other)]
    (tmp_path / "some.yaml").write_text(yaml.safe_dump(raw))
    search = Search.load(tmp_path / "some.yaml")
    assert search.cells_of(str(toy_data)) == [("gcn", "window")]
    assert search.cells_of(str(other)) == [("gcn", "window"), ("transformer", "window")]
    run_tune(search, tmp_path)
    rows = finished(trials_table(search, storage_url(search, tmp_path / "results")))
    cells = [f"{toy_data.name}/gcn-window", "other/gcn-window", "other/transformer-window"]
    assert sorted({row[0] for row in rows}) == sorted(cells)
    assert all(sum(row[0] == cell for row in rows) == TRIALS for cell in cells)
    written = sorted(str(f.relative_to(tmp_path / "configs")) for f in
                     (tmp_path / "configs").rglob("*.yaml"))
    assert written == sorted(f"tiny/{cell}.yaml" for cell in cells)
    raw["cells"][1]["datasets"] = ["20ng"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TextGNNError, match=r"cell transformer-window: datasets \['20ng'\] are "
                                           r"not the search's"):
        Search.load(tmp_path / "bad.yaml")


def test_a_bad_search_file_is_one_clear_error(tmp_path, toy_data):
    search = write_search(tmp_path, toy_data)
    raw = yaml.safe_load((tmp_path / "search.yaml").read_text())
    raw["space"]["model.hidden"] = {"low": 8}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    from textgnn.errors import TextGNNError

    with pytest.raises(TextGNNError, match="space.model.hidden: give low and high, or choices"):
        Search.load(tmp_path / "bad.yaml")
    raw["space"].pop("model.hidden")
    raw["cells"].append({"encoder": "lstm", "graph": "window"})
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TextGNNError, match="model.encoder must be one of"):
        Search.load(tmp_path / "bad.yaml")
    raw["cells"].pop()
    raw["pruner"]["warmup_epoch"] = 1  # a typo must not fall back to the default silently
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TextGNNError, match=r"unknown pruner key\(s\) \['warmup_epoch'\]"):
        Search.load(tmp_path / "bad.yaml")
    assert search.trials == TRIALS


def test_a_raised_budget_with_its_startup_stated_keeps_the_recorded_trials(searched, toy_data,
                                                                          tmp_path):
    """Raising ``trials`` moves TPE's default startup count (half the budget); with
    ``sampler.startup_trials`` stated as the smaller search had it, a search of the larger
    budget run from scratch proposes the smaller one's trials first, so a budget raised midway
    stays reproducible."""
    search, root, first, _ = searched
    assert search.tpe_startup() == TRIALS // 2
    write_search(tmp_path, toy_data)  # the same base config beside it
    raw = yaml.safe_load((root / "search.yaml").read_text())
    raw |= {"trials": TRIALS + 2, "sampler": {"startup_trials": TRIALS // 2}}
    (tmp_path / "more.yaml").write_text(yaml.safe_dump(raw))
    more = Search.load(tmp_path / "more.yaml")
    run_tune(more, tmp_path)
    larger = finished(trials_table(more, storage_url(more, tmp_path / "results")))
    for cell in {row[0] for row in finished(first)}:
        mine = [row for row in larger if row[0] == cell]
        assert len(mine) == TRIALS + 2
        assert mine[:TRIALS] == [row for row in finished(first) if row[0] == cell]


def test_a_search_continued_from_a_smaller_one_copies_its_trials_and_runs_only_the_rest(
        searched, toy_data, tmp_path):
    """``continues:`` runs a finished search on to a larger budget in a search of its own: the
    smaller one's trials are copied in, not rerun, and the trials after them are those a search
    of the larger budget run from scratch would propose; a search that would propose other
    trials first is refused."""
    import shutil

    from textgnn.errors import TextGNNError

    search, root, first, _ = searched
    results = tmp_path / "results"
    shutil.copytree(root / "results" / "tiny", results / "tiny")  # the smaller search, done
    write_search(tmp_path, toy_data)
    raw = yaml.safe_load((tmp_path / "search.yaml").read_text())
    raw |= {"name": "tiny-more", "trials": TRIALS + 2, "sampler": {"startup_trials": TRIALS // 2},
            "continues": "search.yaml"}
    (tmp_path / "more.yaml").write_text(yaml.safe_dump(raw))
    more = Search.load(tmp_path / "more.yaml")
    report = tune(more, results, tmp_path / "runs", tmp_path / "configs")
    rows = finished(trials_table(more, storage_url(more, results)))
    for cell in {row[0] for row in finished(first)}:
        mine = [row for row in rows if row[0] == cell]
        assert len(mine) == TRIALS + 2
        assert mine[:TRIALS] == [row for row in finished(first) if row[0] == cell]
    # only the 2 new trials of each cell ran: one run directory each
    assert len(list((tmp_path / "runs" / "tiny-more").glob("*/*/*"))) == 2 * 2
    # from scratch, the larger search proposes the same trials
    fresh = tmp_path / "fresh"
    scratch = Search.load(tmp_path / "more.yaml")
    scratch.continues = None
    tune(scratch, fresh / "results", fresh / "runs", fresh / "configs")
    assert finished(trials_table(scratch, storage_url(scratch, fresh / "results"))) == rows
    assert "It runs on from search `tiny` (search.yaml): a cell both have starts with that " \
           f"search's {TRIALS} trials, copied in." in report.read_text()
    # the startup count would move with the budget: the first trials would differ
    raw["sampler"] = {}
    raw["trials"] = 3 * TRIALS
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TextGNNError, match=r"continues search.yaml: its cells draw 2 trials at "
                                           r"random first, this search 6; state "
                                           r"sampler.startup_trials: 2"):
        Search.load(tmp_path / "bad.yaml")
    raw |= {"sampler": {"startup_trials": TRIALS // 2}, "seed": 1}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TextGNNError, match="continues search.yaml: its seed differs"):
        Search.load(tmp_path / "bad.yaml")
    raw["seed"] = 0
    (tmp_path / "self.yaml").write_text(yaml.safe_dump(raw | {"continues": "self.yaml"}))
    with pytest.raises(TextGNNError, match="cannot run on from itself"):
        Search.load(tmp_path / "self.yaml")
    raw["cells"][0]["set"] = {"data.max_tokens": 5}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TextGNNError, match=f"cell {toy_data.name}/gcn-window has another config"):
        Search.load(tmp_path / "bad.yaml")


def test_a_default_trial_trains_the_cells_own_config_and_a_search_may_run_on_to_it(
        searched, toy_data, tmp_path):
    """``default_trial: N``: every cell's N-th trial is not sampled but trains the cell's
    config as it stands, so a search holds the starting point it is meant to improve on; a
    finished search may run on to one more trial that is its default."""
    import shutil

    import optuna

    from textgnn.errors import TextGNNError

    search, root, first, _ = searched
    results = tmp_path / "results"
    shutil.copytree(root / "results" / "tiny", results / "tiny")
    write_search(tmp_path, toy_data)
    raw = yaml.safe_load((tmp_path / "search.yaml").read_text())
    raw |= {"name": "tiny-default", "trials": TRIALS + 1, "default_trial": TRIALS + 1,
            "sampler": {"startup_trials": TRIALS // 2}, "continues": "search.yaml"}
    (tmp_path / "default.yaml").write_text(yaml.safe_dump(raw))
    more = Search.load(tmp_path / "default.yaml")
    with pytest.MonkeyPatch.context() as patch:  # a pruner that cuts off every trial it may
        patch.setattr(optuna.trial.Trial, "should_prune", lambda self: True)
        report = tune(more, results, tmp_path / "runs", tmp_path / "configs")
    url = storage_url(more, results)
    rows = finished(trials_table(more, url))
    for dataset, encoder, graph in more.shared_cells(search):
        name = cell_name(dataset, encoder, graph)
        trials = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
        assert len(trials) == TRIALS + 1  # none waiting, none twice
        assert [r for r in rows if r[0] == name][:TRIALS] == [r for r in finished(first)
                                                              if r[0] == name]
        default = trials[TRIALS]
        assert default.user_attrs["default"] is True
        assert default.user_attrs["config"] == more.trial_config(dataset, encoder, graph, {})
        assert not any(t.user_attrs.get("default") for t in trials[:TRIALS])
        assert default.state == TrialState.COMPLETE  # not pruned, though the pruner says so
    assert "Trial 5 of every cell is neither sampled nor pruned: it trains the cell's config " \
           "as it stands, with the base config's value (`base.yaml`) of every searched key, to " \
           "its end." in report.read_text()
    # from scratch, the same five trials
    scratch = Search.load(tmp_path / "default.yaml")
    scratch.continues = None
    tune(scratch, tmp_path / "fresh" / "results", tmp_path / "fresh" / "runs",
         tmp_path / "fresh" / "configs")
    assert finished(trials_table(scratch, storage_url(scratch, tmp_path / "fresh" / "results"))) \
        == rows
    # a default trial among the copied ones would not be the trial that was run there
    (tmp_path / "early.yaml").write_text(yaml.safe_dump(raw | {"default_trial": 2}))
    with pytest.raises(TextGNNError, match="its default trial is None, this search's 2; a "
                                           "default trial may only come after the trials copied in"):
        Search.load(tmp_path / "early.yaml")
    raw.pop("continues")
    (tmp_path / "zero.yaml").write_text(yaml.safe_dump(raw | {"default_trial": 0}))
    with pytest.raises(TextGNNError, match="default_trial must be one of the trials 1 to 5, got 0"):
        Search.load(tmp_path / "zero.yaml")
    raw["space"]["model.pooling"] = {"choices": ["max"]}  # the base config pools by mean
    (tmp_path / "outside.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TextGNNError, match=rf"cell {toy_data.name}/gcn-window has "
                                           r"model.pooling='mean', outside the space \['max'\]"):
        Search.load(tmp_path / "outside.yaml")


def test_widemlp_is_searched_like_a_cell_and_a_study_trains_its_choice(tmp_path, toy_data):
    """WideMLP as a search cell: only the `baseline.*` dimensions that name it, the same
    budget, a chosen config with no graph or encoder; a study cell on that config reproduces
    the best trial's dev score, and its report says whether the budget sufficed. TF-IDF + LR,
    which picks its C by itself, is refused."""
    from textgnn.errors import TextGNNError
    from textgnn.experiments import run_study
    from textgnn.report import report
    from textgnn.run_records import read_runs
    from textgnn.study import Study

    (tmp_path / "base.yaml").write_text(yaml.safe_dump({"train": {"patience": 2, "threads": 1}}))
    # tune's layout: configs/tune/<search>.yaml writes configs/tuned/<search>/
    spec = {"name": "wide", "config": "../../base.yaml", "datasets": [str(toy_data)],
            "cells": [{"encoder": "wide-mlp", "graph": "-"}], "trials": 3, "seed": 0,
            "pruner": {"startup_trials": 2, "warmup_epochs": 1},
            "space": {"baseline.lr": {"low": 0.001, "high": 0.01, "log": True, "encoders": ["wide-mlp"]},
                      "baseline.hidden": {"choices": [32, 64], "encoders": ["wide-mlp"]},
                      "model.dropout": {"low": 0.0, "high": 0.5}}}
    (tmp_path / "configs" / "tune").mkdir(parents=True)
    (tmp_path / "configs" / "tune" / "wide.yaml").write_text(yaml.safe_dump(spec))
    search = Search.load(tmp_path / "configs" / "tune" / "wide.yaml")
    tune(search, tmp_path / "results", tmp_path / "runs", tmp_path / "configs" / "tuned")
    trials = finished(trials_table(search, storage_url(search, tmp_path / "results")))
    assert len(trials) == 3 and all(set(params) == {"baseline.lr", "baseline.hidden"}
                                    for _, params, _, _ in trials)
    chosen = tmp_path / "configs" / "tuned" / "wide" / toy_data.name / "wide-mlp--.yaml"
    raw = yaml.safe_load(chosen.read_text())
    assert "graph" not in raw and "model" not in raw and set(raw["baseline"]) == {"lr", "hidden"}
    best = max((t for t in trials if t[3] == "COMPLETE"), key=lambda t: t[2])
    assert load_config(chosen).baseline.hidden == best[1]["baseline.hidden"]

    (tmp_path / "study.yaml").write_text(yaml.safe_dump({
        "name": "widestudy", "config": "base.yaml", "datasets": [str(toy_data)], "seeds": 1,
        "cells": [{"encoder": "wide-mlp", "graph": "-", "label": "tuned", "config": str(chosen)}]}))
    done = run_study(Study.load(tmp_path / "study.yaml"), tmp_path / "results")
    [record] = read_runs(done.runs)
    assert record["key"] == f"{toy_data.name}/wide-mlp~tuned--/seed0"
    assert record["dev"]["accuracy"] == best[2]  # the trial, trained again as a study run
    # the budget's last quarter is trial 3: did it raise the best of trials 1-2?
    scores = [value if state == "COMPLETE" else None for _, _, value, state in trials]
    before = max((v for v in scores[:2] if v is not None), default=None)
    rose = None not in (before, scores[2]) and scores[2] > before
    text = report(tmp_path / "results" / "widestudy")
    budget = next(line for line in text.splitlines() if line.startswith("Budget: "))
    assert budget.startswith("Budget: in the last quarter of the budget (trial 3), ")
    assert ("the one cell still raised the best dev score (wide-mlp +" in budget) == rose

    spec["cells"] = [{"encoder": "tfidf-lr", "graph": "-"}]
    (tmp_path / "configs" / "tune" / "lr.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(TextGNNError, match="tfidf-lr chooses its own setting on dev"):
        Search.load(tmp_path / "configs" / "tune" / "lr.yaml")


def test_a_trial_cut_off_continues_from_its_last_epoch(toy_data, tmp_path, capfd):
    """The search killed while a trial is past its first epoch's checkpoint: the rerun marks
    that trial failed, proposes the same values at the same place, finds its run directory
    and continues it (its earlier epochs reported to the pruner again), ending where a trial
    trained from scratch on those values ends."""
    search = write_search(tmp_path, toy_data)
    raw = yaml.safe_load((tmp_path / "base.yaml").read_text())
    raw["train"] |= {"epochs": 6, "patience": 6}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(raw))
    root, url = tmp_path / "cut", storage_url(search, tmp_path / "cut" / "results")
    proc = subprocess.Popen(
        [sys.executable, "-m", "textgnn", "tune", str(tmp_path / "search.yaml"), "--out",
         str(root / "results"), "--runs", str(root / "runs"), "--configs", str(root / "configs")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=os.environ | {"PYTHONPATH": str(REPO)})
    cut, deadline = None, time.time() + 240
    while cut is None:
        assert proc.poll() is None and time.time() < deadline, "no trial seen past its first epoch"
        with contextlib.suppress(Exception):  # the storage may not exist yet
            cut = _trial_past_first_epoch(search, url)
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    spent = checkpoint_state(Path(cut.user_attrs["run_dir"]) / CHECKPOINT)
    capfd.readouterr()
    report = run_tune(search, root).read_text()
    log = capfd.readouterr().err
    trials = _trials(search, url)
    [failed] = [t for t in trials if t.state == TrialState.FAIL]
    again = [t for t in trials if t.user_attrs.get("run_dir") == failed.user_attrs["run_dir"]
             and t.state != TrialState.FAIL]
    assert len(again) == 1 and again[0].params == failed.params
    assert f"resumed from {failed.user_attrs['run_dir']}" in log
    assert set(again[0].intermediate_values) >= set(failed.intermediate_values)  # replayed
    # the first trials of a cell are never pruned (startup_trials 2): the cut one completes
    assert again[0].state == TrialState.COMPLETE and failed.number < 2
    # its cost holds the cut-off attempt's up to the checkpoint it resumed from
    assert again[0].user_attrs["resumed_after_cpu_seconds"] == spent["cpu_elapsed"] > 0
    assert again[0].user_attrs["cpu_seconds"] > spent["cpu_elapsed"]
    assert wall_seconds(again) == pytest.approx(again[0].duration.total_seconds() + spent["elapsed"])
    assert "continued from the checkpoint of an attempt cut off" not in report
    fresh = train(Config.from_dict(again[0].user_attrs["config"]), tmp_path / "fresh",
                  progress=False, test=False)
    assert fresh["dev"]["accuracy"] == again[0].value


def test_trials_resumed_before_their_earlier_attempt_counted_are_named():
    """A finished trial in the run directory of a cut-off attempt that had trained an epoch,
    lacking that attempt's seconds (resumed before they were carried), counts as
    undercounted, with the attempt's epochs estimated at the trial's own rate; one that has
    them, one after an attempt cut before its first epoch, or one no attempt shares a
    directory with, does not."""
    import optuna

    study = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}

    def add(state, run_dir, epochs, **attrs):
        study.add_trial(optuna.trial.create_trial(
            state=state, params={"x": 0.5}, distributions=dist,
            value=0.5 if state == TrialState.COMPLETE else None,
            intermediate_values={e: 0.5 for e in range(1, epochs + 1)},
            user_attrs={"run_dir": run_dir, **attrs}))

    add(TrialState.FAIL, "a", 6)
    add(TrialState.COMPLETE, "a", 10, cpu_seconds=40.0)  # 4 epochs of its own: 10 s each
    add(TrialState.FAIL, "b", 6)
    add(TrialState.COMPLETE, "b", 10, cpu_seconds=40.0, resumed_after_seconds=12.0)
    add(TrialState.FAIL, "c", 0)  # cut before its first epoch: no checkpoint to continue
    add(TrialState.COMPLETE, "c", 10, cpu_seconds=100.0)
    add(TrialState.COMPLETE, "d", 10, cpu_seconds=100.0)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert resumed_uncounted(study, trials) == (1, pytest.approx(60.0))
    assert resumed_uncounted(study, trials[1:]) == (0, 0.0)


def _trials(search: Search, url: str) -> list:
    import optuna

    return [t for dataset in search.datasets for encoder, graph in search.cells
            for t in optuna.load_study(study_name=cell_name(dataset, encoder, graph),
                                       storage=url).get_trials(deepcopy=False)]


def _trial_past_first_epoch(search: Search, url: str):
    """A RUNNING trial whose run directory holds a checkpoint (an epoch done), or None."""
    for trial in _trials(search, url):
        run_dir = trial.user_attrs.get("run_dir")
        if trial.state == TrialState.RUNNING and run_dir and any(Path(run_dir).glob("checkpoint*")):
            return trial
    return None
