"""`experiment --plan`: what a study has left, its runs and its searches' trials, with the CPU
hours spent and estimated."""

import json

import pytest
import yaml
from conftest import write_study

from textgnn.experiments import run_study
from textgnn.plan import plan
from textgnn.report import report
from textgnn.run_records import read_runs


def test_plan_scales_a_dataset_with_no_trial_from_another_by_training_tokens(toy_data, tmp_path,
                                                                            capsys):
    """A search over the toy and a copy of it whose every text is three times as long: with
    trials on the toy alone, the long copy's trials and runs cost the same cell's on the toy
    times 3, counted as scaled; a cell with no trial anywhere stays unestimated."""
    import optuna

    from textgnn.plan import search_plan

    long = tmp_path / "long"
    long.mkdir()
    for split in ("train", "test"):
        rows = [json.loads(line) for line in (toy_data / f"{split}.jsonl").read_text().splitlines()]
        (long / f"{split}.jsonl").write_text("".join(
            json.dumps(dict(r, text=" ".join([r["text"]] * 3))) + "\n" for r in rows))
    template = "tuned/s/{dataset}/{encoder}-{graph}.yaml"
    capped = {"data.max_train": 40}  # the runs read what the trials read: only length differs
    study = write_study(tmp_path, name="scaled", datasets={str(toy_data): capped, str(long): capped},
                        graphs=[], encoders=[], seeds=1,
                        cells=[{"encoder": e, "graph": "window", "config": template}
                               for e in ("gcn", "gat")])
    (tmp_path / "tune").mkdir()
    (tmp_path / "tune" / "s.yaml").write_text(yaml.safe_dump({
        "name": "s", "config": "../base.yaml",
        "datasets": {str(toy_data): {"data.max_train": 40}, str(long): {"data.max_train": 40}},
        "cells": [{"encoder": "gcn", "graph": "window"}, {"encoder": "gat", "graph": "window"}],
        "trials": 2, "space": {"train.lr": {"low": 0.001, "high": 0.1}}}))
    out = tmp_path / "results"
    (out / "s").mkdir(parents=True)
    cell = optuna.create_study(study_name=f"{toy_data.name}/gcn-window",
                               storage=f"sqlite:///{out / 's' / 'optuna.sqlite3'}")
    for value, cpu in ((0.5, 100.0), (0.7, 300.0)):  # gcn's budget spent on the toy; gat none
        cell.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE, value=value, params={"train.lr": 0.01},
            distributions={"train.lr": optuna.distributions.FloatDistribution(0.001, 0.1)},
            user_attrs={"cpu_seconds": cpu}, intermediate_values={1: 0.5}))
    toy_row, long_row = sorted(search_plan(study, out), key=lambda r: r["dataset"] == str(long))
    # the toy: gat not started, at gcn's mean; the long copy: gcn's mean times 3 for both cells
    assert (toy_row["scaled"], toy_row["unestimated"]) == (0, 0)
    assert toy_row["cpu_hours_left"] == pytest.approx(2 * 200 / 3600)
    assert (long_row["finished"], long_row["scaled"], long_row["unestimated"]) == (0, 2, 2)
    assert long_row["cpu_hours_left"] == pytest.approx(2 * 3 * 200 / 3600)
    # the runs: gcn's chosen trial (300 s) on the toy, 3x that on the long copy; gat unknown
    toy_row, long_row = sorted(plan(study, out), key=lambda r: r["dataset"] == long.name)
    assert (toy_row["scaled"], toy_row["unestimated"]) == (0, 1)
    assert toy_row["cpu_hours_left"] == pytest.approx(300 / 3600)
    assert (long_row["scaled"], long_row["unestimated"]) == (1, 1)
    assert long_row["cpu_hours_left"] == pytest.approx(3 * 300 / 3600)
    from textgnn.cli import main

    main(["experiment", str(study.path), "--plan", "--out", str(out)])
    assert ("(0.3 for 4 runs, 0.4 for 6 search trials; of those, 1 runs and 2 trials scaled "
            "from other datasets), besides 2 runs and 2 trials") in capsys.readouterr().out


def test_plan_puts_a_union_cell_not_started_at_its_dearest_parts_cost(toy_data, tmp_path):
    """A search not started on the hybrid (window+complete) nor on gat-dependency: the hybrid's
    trials cost at least what the cells on its dearest part cost (the complete graph's, not
    the mean of every cell's); gat-dependency, whose graph no cell has, the mean of them all."""
    import optuna

    from textgnn.plan import search_plan

    cells = [("gcn", "window"), ("transformer", "window"), ("transformer", "complete"),
             ("hybrid", "window+complete"), ("gat", "dependency")]
    template = "tuned/s/{dataset}/{encoder}-{graph}.yaml"
    study = write_study(tmp_path, name="union", datasets={str(toy_data): {}}, graphs=[],
                        encoders=[], seeds=1,
                        cells=[{"encoder": e, "graph": g, "config": template} for e, g in cells])
    (tmp_path / "tune").mkdir()
    (tmp_path / "tune" / "s.yaml").write_text(yaml.safe_dump({
        "name": "s", "config": "../base.yaml", "datasets": {str(toy_data): {}},
        "cells": [{"encoder": e, "graph": g} for e, g in cells],
        "trials": 2, "space": {"train.lr": {"low": 0.001, "high": 0.1}}}))
    out = tmp_path / "results"
    (out / "s").mkdir(parents=True)
    storage = f"sqlite:///{out / 's' / 'optuna.sqlite3'}"
    for (encoder, graph), cpu in zip(cells, (100.0, 300.0, 500.0), strict=False):
        cell = optuna.create_study(study_name=f"{toy_data.name}/{encoder}-{graph}", storage=storage)
        for _ in range(2):
            cell.add_trial(optuna.trial.create_trial(
                state=optuna.trial.TrialState.COMPLETE, value=0.5, params={"train.lr": 0.01},
                distributions={"train.lr": optuna.distributions.FloatDistribution(0.001, 0.1)},
                user_attrs={"cpu_seconds": cpu}, intermediate_values={1: 0.5}))
    [row] = search_plan(study, out)
    assert (row["planned"], row["finished"], row["unestimated"]) == (10, 6, 0)
    # the hybrid: 2 trials at the complete graph's 500 s (the window's cells' mean is 200);
    # gat-dependency: 2 at the mean of the three cells, 300 s
    assert row["cpu_hours_left"] == pytest.approx((2 * 500 + 2 * 300) / 3600)
    # the runs, one seed a cell, all waiting for a config: the three searched cells at their
    # chosen trial's cost, the hybrid at the complete graph's; gat-dependency has no estimate
    [row] = plan(study, out)
    assert (row["planned"], row["waiting"], row["unestimated"]) == (5, 5, 1)
    assert row["cpu_hours_left"] == pytest.approx((100 + 300 + 500 + 500) / 3600)


def test_plan_counts_runs_recorded_ready_and_waiting_for_a_config(toy_data, tmp_path):
    """``experiment --plan`` runs nothing: a cell whose tuned config is not written yet waits
    (its file named); the others are ready until recorded. A study run leaves the waiting
    cells for later instead of failing them."""
    study = write_study(tmp_path, name="plan", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=2, baselines=["tfidf-lr"],
                        cells=[{"encoder": "gat", "graph": "window",
                                "config": "tuned/{dataset}/{encoder}-{graph}.yaml"}])
    out = tmp_path / "results"
    [row] = plan(study, out)
    assert (row["part"], row["planned"], row["recorded"], row["ready"], row["waiting"]) == (
        "short texts", 5, 0, 3, 2)
    assert row["missing"][0].endswith(f"tuned/{toy_data.name}/gat-window.yaml")
    assert (row["cpu_hours"], row["cpu_hours_left"], row["unestimated"]) == (0, 0, 5)
    run_study(study, out, match="*/tfidf-lr-*")
    run_study(study, out, match="*/gcn-window/seed0", runs=tmp_path / "elsewhere")  # --runs
    assert (tmp_path / "elsewhere" / "plan" / f"{toy_data.name}/gcn-window/seed0" / "history.csv"
            ).is_file()
    [row] = plan(study, out)
    assert (row["recorded"], row["ready"], row["waiting"]) == (2, 1, 2)
    # CPU hours: the records' own; the seed left costs what its cell's recorded seed cost,
    # the cells that wait have no recorded seed and so no estimate
    cpu = {r["encoder"]: r["cost"]["cpu_seconds"] / 3600
           for r in read_runs(out / "plan" / "runs.jsonl")}
    assert row["cpu_hours"] == pytest.approx(cpu["gcn"] + cpu["tfidf-lr"])
    assert (row["cpu_hours_left"], row["unestimated"]) == (pytest.approx(cpu["gcn"]), 2)
    # the report says how much of the whole study its tables hold (a study still running)
    text = report(out / "plan")
    assert "**In progress: 2 of the 5 planned runs are recorded** (short texts 2/5)" in text
    assert f"experiment {study.path} --plan" in text
    [row] = plan(study, out, exclude="*/gat-*")  # --exclude: the cells still to be tuned
    assert (row["planned"], row["recorded"], row["ready"], row["waiting"]) == (3, 2, 1, 0)
    # running the cells that wait: nothing runs, nothing fails, they are left for later
    done = run_study(study, out, match="*/gat-*")
    assert (done.finished, done.failed, len(done.waiting)) == (0, {}, 2)
    assert not (out / "plan" / "failures.jsonl").exists()
    # a cell seed added to the study file counts at once, before any run of the new plan
    study.path.write_text(study.path.read_text().replace("seeds: 2", "seeds: 3"))
    assert "**In progress: 2 of the 7 planned runs are recorded**" in report(out / "plan")
    study.path.write_text("name: [")  # a file mid-edit: the counts the last run wrote
    assert "**In progress: 2 of the 5 planned runs are recorded**" in report(out / "plan")


def test_plan_estimates_cells_without_seeds_from_their_searchs_trials(toy_data, tmp_path, capsys):
    """A cell with no recorded seed costs what its search's chosen trial cost, scaled by the
    training examples a run reads over a trial's (the search read a subsample; a
    low-resource run a share of it); the search's own trials left cost the mean of the
    cell's finished ones. The search is found by tune's layout: tuned/<s>/ from tune/<s>.yaml."""
    import optuna

    from textgnn.plan import search_file, search_plan

    template = "tuned/s/{dataset}/{encoder}-{graph}.yaml"
    study = write_study(tmp_path, name="est", datasets={str(toy_data): {"data.max_train": None}},
                        graphs=[], encoders=[], seeds=2,
                        cells=[{"encoder": e, "graph": "window", "config": template}
                               for e in ("gcn", "gat")],
                        low_resource={"datasets": [str(toy_data)], "fractions": [0.5],
                                      "config": template, "cells": [{"encoder": "gcn",
                                                                     "graph": "window"}]})
    (tmp_path / "tune").mkdir()
    (tmp_path / "tune" / "s.yaml").write_text(yaml.safe_dump({
        "name": "s", "config": "../base.yaml", "datasets": {str(toy_data): {"data.max_train": 40}},
        "cells": [{"encoder": "gcn", "graph": "window"}, {"encoder": "gat", "graph": "window"}],
        "trials": 2, "space": {"train.lr": {"low": 0.001, "high": 0.1}}}))
    assert search_file(tmp_path / template) == tmp_path / "tune" / "s.yaml"
    assert search_file(tmp_path / "wide.yaml") is None
    out = tmp_path / "results"
    (out / "s").mkdir(parents=True)
    storage = f"sqlite:///{out / 's' / 'optuna.sqlite3'}"
    trials = {"gcn": [("COMPLETE", 0.5, 100.0), ("COMPLETE", 0.7, 300.0)],  # budget spent
              "gat": [("PRUNED", None, 50.0)]}  # one of two: no complete trial yet
    for encoder, rows in trials.items():
        cell = optuna.create_study(study_name=f"{toy_data.name}/{encoder}-window", storage=storage)
        for state, value, cpu in rows:
            cell.add_trial(optuna.trial.create_trial(
                state=optuna.trial.TrialState[state], value=value, params={"train.lr": 0.01},
                distributions={"train.lr": optuna.distributions.FloatDistribution(0.001, 0.1)},
                user_attrs={"cpu_seconds": cpu}, intermediate_values={1: 0.5}))
    train = 144  # the toy's 160 training texts less the 10 % carved out as dev
    short, low = sorted(plan(study, out), key=lambda r: r["part"] != "short texts")
    # gcn: the chosen trial's 300 s on 40 texts, for all 144; gat: nothing to go by yet
    assert (short["waiting"], short["unestimated"]) == (4, 2)
    assert short["cpu_hours_left"] == pytest.approx(2 * 300 * train / 40 / 3600)
    assert (low["part"], low["unestimated"]) == ("low resource", 0)
    assert low["cpu_hours_left"] == pytest.approx(2 * 300 * train * 0.5 / 40 / 3600)
    [row] = search_plan(study, out)
    assert (row["search"], row["planned"], row["finished"], row["unestimated"]) == ("s", 4, 3, 0)
    assert row["cpu_hours"] == pytest.approx(450 / 3600)
    assert row["cpu_hours_left"] == pytest.approx(50 / 3600)  # gat's second trial
    from textgnn.cli import main

    main(["experiment", str(study.path), "--plan", "--out", str(out)])
    printed = capsys.readouterr().out  # 2 x 1080 s + 2 x 540 s of runs, 50 s of trials
    assert ("left: 0.9 CPU h estimated (0.9 for 6 runs, 0.0 for 1 search trials; of those, 0 "
            "runs and 0 trials scaled from other datasets), besides 2 runs and 0 trials with no "
            "estimate yet\nwaiting for 2 config file(s)") in printed


def test_plan_costs_a_started_run_by_its_own_epochs(toy_data, tmp_path):
    """A ready run with a checkpoint (running, or cut off) has left its CPU seconds per epoch
    so far times the epochs left to ``train.epochs``; while its cell has no recorded seed,
    the seeds not started cost what it would to that limit. An ended run (its
    ``metrics.json`` written) is not started: its record is due."""
    import torch
    from safetensors.torch import save_file

    study = write_study(tmp_path, name="started", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=3)
    out, runs = tmp_path / "results", tmp_path / "elsewhere"
    [row] = plan(study, out, runs=runs)
    assert (row["ready"], row["started"], row["unestimated"]) == (3, 0, 3)
    run_dir = runs / "started" / toy_data.name / "gcn-window" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"train": {"epochs": 10}}))
    save_file({"x": torch.zeros(1)}, str(run_dir / "checkpoint.safetensors"),
              metadata={"state": json.dumps({"epoch": 4, "elapsed": 90.0, "cpu_elapsed": 40.0})})
    [row] = plan(study, out, runs=runs)
    # seed0: 10 CPU s an epoch, 6 epochs left; seeds 1 and 2: 10 epochs each at that rate
    assert (row["started"], row["unestimated"]) == (1, 0)
    assert row["cpu_hours_left"] == pytest.approx((10 * 6 + 2 * 10 * 10) / 3600)
    (run_dir / "metrics.json").write_text("{}")
    [row] = plan(study, out, runs=runs)
    assert (row["started"], row["unestimated"]) == (0, 3)
