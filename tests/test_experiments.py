"""Running a study: resumable, reproducible runs in child processes, low-resource shares,
per-dataset seeds and configs, one writer per study, records superseded or reused."""

import ast
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, TINY, write_study

from textgnn.errors import TextGNNError
from textgnn.experiments import run_study
from textgnn.plan import plan
from textgnn.report import report
from textgnn.run_records import read_runs
from textgnn.runtime import cpu_kernels, mkl_path
from textgnn.study import Study, resolved_config


def test_study_runs_resumes_and_reproduces(toy_data, tmp_path):
    # a tagged cell with its own base config, reported in its own table
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump({"base": "base.yaml", "model": {"hidden": 32}}))
    study = write_study(tmp_path, name="toy", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=2, baselines=["tfidf-lr", "wide-mlp"],
                        cells=[{"encoder": "transformer", "graph": "window", "tag": "wide",
                                "config": "wide.yaml", "label": "w"}])
    runs_path = run_study(study, tmp_path / "results", jobs=2).runs
    runs = read_runs(runs_path)
    assert len(runs) == 1 + 2 + 2 + 2  # tfidf-lr once, wide-mlp per seed, grid, tagged cell
    wide = next(r for r in runs if r["tag"] == "wide" and r["seed"] == 0)  # jobs=2: any order
    assert wide["key"].endswith("/transformer~w-window@wide/seed0")
    assert wide["config"]["model"]["hidden"] == 32 and wide["config"]["model"]["encoder"] == "transformer"
    assert wide["config_file"].endswith("wide.yaml")  # where each config came from
    assert any(r["key"].endswith("/gcn-window/seed1") for r in runs)
    record = next(r for r in runs if r["encoder"] == "gcn" and not r["tag"])
    assert set(record) >= {"dataset", "graph", "encoder", "seed", "config", "dev", "test",
                           "params", "train_seconds", "test_predictions"}
    assert 0 <= record["test"]["accuracy"] <= 1 and len(record["test_predictions"]) == 40
    cost = record["cost"]  # what the run cost: time per epoch, memory, tokens read per text
    assert cost["seconds_per_epoch"] > 0 and 0.1 < cost["peak_rss_gb"] < 16
    assert 0 < cost["cpu_seconds_per_epoch"] < cost["cpu_seconds"]
    assert 6 < cost["tokens_per_document"] < 15  # the toy sentences: 8 to 11 tokens
    assert cost["device"] == "cpu"  # what trained it: CPU seconds miss an accelerator's work
    # and on what CPU kernels: the same config and seed retrain bit for bit on the same ones
    assert cost["cpu"] == cpu_kernels() and cost["cpu"]["torch_kernels"]
    assert record["config"]["model"]["encoder"] == "gcn"
    baseline = next(r for r in runs if r["encoder"] == "tfidf-lr")
    assert baseline["search"]["chosen_C"] in baseline["search"]["C"]
    assert baseline["cost"]["cpu_seconds"] > 0 and baseline["cost"]["cpu"] == cost["cpu"]
    wide = sorted((r for r in runs if r["encoder"] == "wide-mlp"), key=lambda r: r["seed"])
    assert [r["seed"] for r in wide] == [0, 1] and wide[0]["params"] > 1024 * 20
    assert 1 <= wide[0]["search"]["best_epoch"] <= wide[0]["search"]["epochs"]
    assert len(json.loads((runs_path.parent / f"gold-{toy_data.name}.json").read_text())) == 40
    # the test texts' lengths in tokens, beside the gold labels (the report's length bins);
    # the toy sentences' tokens are their words and the full stop
    lengths_path = runs_path.parent / f"lengths-{toy_data.name}.json"
    texts = [json.loads(line)["text"] for line in (toy_data / "test.jsonl").read_text().splitlines()]
    assert json.loads(lengths_path.read_text()) == [len(t.split()) for t in texts]
    lengths_path.unlink()  # a study recorded before lengths were kept

    # killed while writing the last record: the torn line is ignored, only that run is redone
    run_root = tmp_path / "runs" / "toy"
    stamps = {p: p.stat().st_mtime_ns for p in run_root.rglob("metrics.json")}
    lines = runs_path.read_text().splitlines()
    torn_key = json.loads(lines[-1])["key"]
    runs_path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:30])
    run_study(study, tmp_path / "results", jobs=1, match="*/no-such-cell/*")
    assert torn_key not in {r["key"] for r in read_runs(runs_path)}  # filtered out: not rerun
    assert json.loads(lengths_path.read_text()) == [len(t.split()) for t in texts]  # written again
    run_study(study, tmp_path / "results", jobs=1)
    assert sorted(r["key"] for r in read_runs(runs_path)) == sorted(r["key"] for r in runs)
    changed = [p for p, t in stamps.items() if p.stat().st_mtime_ns != t]
    expected = [] if torn_key.split("/")[1].endswith("--") else [torn_key]  # baselines: no run dir
    assert [p.parent.relative_to(run_root).as_posix() for p in changed] == expected

    # any single run reproduces its recorded test accuracy on its own, in a new process
    # (scripts/reproduce.py, through train.py); a record made on other CPU kernels says so
    # (on the fields the record names: one made before MKL's path was recorded still counts
    # as made here)
    elsewhere = record | {"key": record["key"] + "-elsewhere",
                          "cost": record["cost"] | {"cpu": {"model": "another CPU"}}}
    older = record | {"key": record["key"] + "-older", "cost": record["cost"] | {
        "cpu": {k: v for k, v in cost["cpu"].items() if k != "mkl"}}}
    (tmp_path / "moved").mkdir()
    (tmp_path / "moved" / "runs.jsonl").write_text(
        "\n".join(json.dumps(r) for r in (record, elsewhere, older)))
    again = subprocess.run([sys.executable, "scripts/reproduce.py", str(tmp_path / "moved"),
                            record["key"], elsewhere["key"], older["key"]], cwd=REPO,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    here, moved, old = (json.loads(line) for line in again.stdout.splitlines())
    assert here["retrained"] == here["recorded"] == record["test"]["accuracy"]
    assert here["same_predictions"] and "recorded_on" not in here and "recorded_on" not in old
    assert moved["recorded_on"] == {"model": "another CPU"} and moved["retrained_on"] == cost["cpu"]


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="torch built without MKL")
def test_the_record_names_the_code_path_mkl_takes_and_what_pins_it():
    """MKL picks its kernels by CPU vendor and model, not only by vector width, so a run's
    record names the path it took, and MKL_CBWR (conditional numerical reproducibility) shows
    in it, as MKL took it: an instruction-set branch (AVX2) on Intel CPUs only, COMPATIBLE
    on any. Each in a new process: MKL prints the banner it is read from once per process;
    where the user runs MKL verbose, the banner is theirs, and nothing is recorded."""
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "MKL_VERBOSE")}
    probe = [sys.executable, "-c", "from textgnn.runtime import mkl_path; print(repr(mkl_path()))"]

    def path_with(**pins: str) -> str:
        out = subprocess.run(probe, env=env | pins, capture_output=True, text=True, check=True,
                             cwd=REPO).stdout
        assert out.count("\n") == 1  # one line: MKL's own verbose lines were kept from it
        return ast.literal_eval(out)

    auto, compatible, avx2 = path_with(), path_with(MKL_CBWR="COMPATIBLE"), path_with(MKL_CBWR="AVX2")
    assert auto.startswith("Intel(R)") and auto.endswith("; CNR:OFF")
    assert compatible.endswith("; CNR:COMPATIBLE")  # the branch every x86 CPU honours
    if cpu_kernels()["model"].startswith("Intel"):
        assert "(Intel(R) AVX2)" in avx2 and avx2.endswith("; CNR:AVX2") and avx2 != auto
    else:  # MKL takes an instruction-set branch on Intel CPUs only; elsewhere it says so
        assert avx2.endswith("; CNR:AUTO")
    assert cpu_kernels()["mkl"] == mkl_path()
    theirs = subprocess.run(probe, env=env | {"MKL_VERBOSE": "1"}, capture_output=True,
                            text=True, check=True, cwd=REPO)
    assert ast.literal_eval(theirs.stdout.splitlines()[-1]) is None


def test_low_resource_cells_train_on_a_share_of_train(toy_data, tmp_path):
    study = write_study(tmp_path, name="low", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=2, baselines=["tfidf-lr"],
                        low_resource={"datasets": [str(toy_data)], "fractions": [0.25, 0.5],
                                      "cells": [{"encoder": "gcn", "graph": "window"}],
                                      "baselines": ["tfidf-lr", "wide-mlp"]})
    keys = [c.key for c in study.cells()]
    toy = toy_data.name
    assert {f"{toy}/gcn-window%0.25/seed1", f"{toy}/tfidf-lr--%0.5/seed0",
            f"{toy}/wide-mlp--%0.25/seed1"} <= set(keys)
    assert f"{toy}/tfidf-lr--%0.25/seed1" not in keys  # deterministic: one run per share
    assert len(keys) == 1 + 2 + 2 * (1 + 2 + 2)  # full grid; per share: LR, WideMLP, gcn
    runs = read_runs(run_study(study, tmp_path / "results", jobs=1, match="*%0.25/seed0").runs)
    assert sorted(r["encoder"] for r in runs) == ["gcn", "tfidf-lr", "wide-mlp"]
    for r in runs:
        assert r["fraction"] == 0.25 and r["config"]["data"]["train_fraction"] == 0.25
    gcn = next(r for r in runs if r["encoder"] == "gcn")
    assert gcn["key"] == f"{toy}/gcn-window%0.25/seed0"
    log = (tmp_path / "runs" / "low" / gcn["key"] / "train.log").read_text()
    assert "train 36," in log  # a quarter of the 144 training sentences, 18 of each label
    # a baseline's epochs are in its run directory too, one line per epoch it trained
    wide = next(r for r in runs if r["encoder"] == "wide-mlp")
    lines = (tmp_path / "runs" / "low" / wide["key"] / "train.log").read_text().splitlines()
    assert len(lines) == wide["search"]["epochs"] and lines[0].startswith("epoch   1  dev_accuracy ")


def test_a_cell_config_may_name_a_config_per_dataset_and_cell(toy_data, tmp_path):
    """Tuned configs differ per dataset and cell: a cell's config path may hold {dataset},
    {encoder} and {graph}."""
    tuned = tmp_path / "tuned" / toy_data.name
    tuned.mkdir(parents=True)
    (tuned / "gat-window.yaml").write_text(yaml.safe_dump({"base": "../../base.yaml",
                                                           "model": {"hidden": 24, "heads": 3}}))
    study = write_study(tmp_path, name="t", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=1,
                        cells=[{"encoder": "gat", "graph": "window",
                                "config": "tuned/{dataset}/{encoder}-{graph}.yaml"}],
                        low_resource={"datasets": [str(toy_data)], "fractions": [0.5],
                                      "config": "tuned/{dataset}/{encoder}-{graph}.yaml",
                                      "cells": [{"encoder": "gat", "graph": "window"}]})
    configs = {c.key: resolved_config(study, c) for c in study.cells()}
    assert configs[f"{toy_data.name}/gcn-window/seed0"]["model"]["hidden"] == 16  # the study's
    for key in (f"{toy_data.name}/gat-window/seed0", f"{toy_data.name}/gat-window%0.5/seed0"):
        assert configs[key]["model"]["hidden"] == 24 and configs[key]["train"]["epochs"] == 2


def test_run_processes_started_from_several_threads_report_their_exit_codes():
    """Study runs are forkserver processes started and reaped from the study's threads:
    every one's exit code arrives (a race between two threads' polls turned some into 255)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from textgnn.experiments import run_context, run_to_end

    def one(i: int) -> int:
        return run_to_end(run_context().Process(target=time.sleep, args=(0.001 * (i % 5),)))

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(one, range(200)))
    assert codes == [0] * 200


def test_a_spawned_run_is_the_forkserver_run(toy_data, tmp_path, monkeypatch):
    """Where CUDA is present a run's process is spawned, not forked from the forkserver
    (forked ones failed their first CUDA call): the same run either way, to the metric."""
    import multiprocessing

    import torch

    from textgnn import experiments
    from textgnn.config import load_config

    method = experiments.run_context().get_start_method()
    assert method == ("spawn" if torch.cuda.is_available() else "forkserver")
    config = load_config(REPO / "configs" / "base.yaml", [f"data.name={toy_data}", *TINY,
                                                          "train.epochs=2", "train.device=cpu"]).to_dict()
    forked = experiments._train_cell(config, tmp_path / "forked", 1)
    monkeypatch.setattr(experiments, "run_context", lambda: multiprocessing.get_context("spawn"))
    spawned = experiments._train_cell(config, tmp_path / "spawned", 1)
    assert forked["test"]["accuracy"] > 0 and forked["epochs_run"] == 2
    assert (spawned["dev"], spawned["test"]) == (forked["dev"], forked["test"])


def test_study_continues_a_killed_run_from_its_checkpoint(toy_data, tmp_path):
    study = write_study(tmp_path, name="one", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=1)
    runs_path = run_study(study, tmp_path / "results", jobs=1).runs
    (first,) = read_runs(runs_path)
    run_dir = next((tmp_path / "runs" / "one").rglob("checkpoint.safetensors")).parent
    # killed after the last checkpoint, before its metrics and its record were written
    (run_dir / "metrics.json").unlink()
    runs_path.write_text("")
    run_study(study, tmp_path / "results", jobs=1)
    (again,) = read_runs(runs_path)
    assert "resumed from" in (run_dir / "train.log").read_text()
    assert again["test_predictions"] == first["test_predictions"]
    assert again["test"] == first["test"]
    # a finished run whose record was removed (say, to rerun it on changed code) starts afresh
    runs_path.write_text("")
    run_study(study, tmp_path / "results", jobs=1)
    assert "resumed from" not in (run_dir / "train.log").read_text()
    assert len(read_runs(runs_path)) == 1


def test_a_dataset_sets_its_own_seeds_and_a_bad_count_names_its_key(tmp_path):
    """`seeds:` in a dataset's entry replaces the study's for its baselines and grid, not for a
    cell with its own; `--seeds` still caps it; a count that is not one names file and key."""
    study = {"name": "s", "config": "base.yaml", "encoders": ["gcn"], "graphs": ["window"],
             "seeds": 5, "baselines": ["wide-mlp"],
             "datasets": {"mr": {"train.threads": 1}, "20ng": {"seeds": 3, "data.max_train": 9}},
             "cells": [{"encoder": "gat", "graph": "window", "seeds": 2}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(study))
    loaded = Study.load(path)
    assert loaded.datasets["20ng"] == ["data.max_train=9"]  # `seeds` is no config override
    seeds = {}
    for c in loaded.cells():
        seeds.setdefault((c.dataset, c.encoder), []).append(c.seed)
    assert seeds == {("mr", "wide-mlp"): [0, 1, 2, 3, 4], ("mr", "gcn"): [0, 1, 2, 3, 4],
                     ("mr", "gat"): [0, 1], ("20ng", "wide-mlp"): [0, 1, 2],
                     ("20ng", "gcn"): [0, 1, 2], ("20ng", "gat"): [0, 1]}
    assert {c.seed for c in loaded.cells(seeds=1)} == {0}
    for where, bad in [("datasets.20ng.seeds", {"datasets": {"20ng": {"seeds": "three"}}}),
                       ("seeds", {"seeds": 0}), ("cells[0].seeds", {"cells": [
                           {"encoder": "gat", "graph": "window", "seeds": [0, 1.5]}]})]:
        path.write_text(yaml.safe_dump({**study, **bad}))
        with pytest.raises(TextGNNError, match=re.escape(f"{path}: {where}: ") + ".* not a number"):
            Study.load(path)


def test_claim2_seeds_per_cell_and_baselines_that_need_no_tuned_config():
    """configs/claim2.yaml: 5 seeds on the sentence datasets, 3 on the documents (a cell's own
    `seeds`), and baselines resolved from the base config with the dataset's overrides, so
    they run before any search has finished; `null` undoes the search's subsample."""
    study = Study.load(REPO / "configs" / "claim2.yaml")
    cells = [c for c in study.cells() if c.fraction is None]
    seeds = {}
    for c in cells:
        seeds.setdefault((c.dataset, c.encoder, c.graph), set()).add(c.seed)
    assert seeds[("mr", "gcn", "window")] == set(range(5))
    assert seeds[("20ng", "gcn", "window")] == set(range(3))
    assert seeds[("20ng", "transformer", "complete")] == set(range(3))
    # the graph-free control on every dataset, the documents included
    assert {d for d, e, g in seeds if (e, g) == ("gcn", "none")} == {d for d, _, _ in seeds}
    # every tuned config a cell waits for is one a search writes: none waits forever
    from textgnn.plan import search_file
    from textgnn.tuning import Search

    searches = {path: Search.load(path) for path in {search_file(c.config) for c in cells
                                                    if c.config and "tuned" in c.config.parts}}
    assert {p.name for p in searches} == {"sentences.yaml", "documents.yaml"}
    for c in study.cells():
        if c.config and "tuned" in c.config.parts:
            search = searches[search_file(c.config)]
            assert c.dataset in search.datasets and (c.encoder, c.graph) in search.cells, c.key
    # a dataset's own seeds: 3 for the documents' baselines too, 5 on the others
    assert seeds[("ohsumed", "wide-mlp", "-")] == set(range(3)) and seeds[("r8", "tfidf-lr", "-")] == {0}
    assert {c.seed for c in cells if c.dataset == "20ng" and c.encoder == "wide-mlp"
            and c.label == "tuned"} == set(range(3)) == seeds[("20ng", "wide-mlp", "-")]
    assert seeds[("r8", "wide-mlp", "-")] == set(range(5)) == seeds[("mr", "wide-mlp", "-")]
    assert all(c.seed < 2 for c in study.cells(seeds=2))
    assert {d for d, _, _ in seeds} == {"mr", "sst2", "trec", "cola", "r8", "20ng", "ohsumed"}
    assert len(study.cells(seeds=2)) < len(study.cells())  # --seeds limits every cell
    baseline = next(c for c in cells if c.dataset == "20ng" and c.encoder == "wide-mlp")
    config = resolved_config(study, baseline)
    assert config["data"]["max_train"] is None and config["data"]["name"] == "20ng"
    cola = resolved_config(study, next(c for c in cells if c.dataset == "cola"
                                       and c.encoder == "tfidf-lr"))
    assert cola["data"]["test_from"] == "dev" and cola["train"]["select"] == "mcc"
    tuned = next(c for c in cells if c.dataset == "20ng" and c.encoder == "transformer"
                 and c.graph == "complete")
    assert str(tuned.config).endswith("configs/tuned/documents/{dataset}/transformer-complete.yaml")
    tuned_wide = {c.dataset for c in cells if c.encoder == "wide-mlp" and c.label == "tuned"}
    assert tuned_wide == {d for d, _, _ in seeds}  # WideMLP searched like the cells, everywhere
    pretrained = {(c.encoder, c.label) for c in cells if c.tag == "mpnet"}
    assert pretrained == {("finetune", ""), ("gcn", "tuned"), ("gat", "tuned")}
    schedules = [{k: v for k, v in resolved_config(study, c)["train"].items() if k != "seed"}
                 for c in cells if c.tag == "mpnet" and c.seed == 0]
    assert all(s == schedules[0] for s in schedules)  # the same schedule for all three


def test_a_second_process_on_the_same_study_is_refused(toy_data, tmp_path):
    """Two writers of one runs.jsonl could interleave lines: while one process holds the
    study, another is refused at once with the holder named, and nothing is written."""
    from textgnn.experiments import sole_writer

    study = write_study(tmp_path, name="held", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=1)
    out = tmp_path / "results" / "held"
    out.mkdir(parents=True)
    refused = pytest.raises(TextGNNError, match=r"study held is being run by another process \(pid \d+")
    with sole_writer(out / ".lock", "study held"), refused:
        run_study(study, tmp_path / "results")
    assert not (out / "runs.jsonl").exists()


def test_tfidf_lr_picks_c_by_the_dev_metric_the_config_selects_on(toy_data):
    """On CoLA the study selects on dev MCC; the baseline's C must be chosen the same way:
    the chosen C is the first with the best dev MCC, recomputed here for every C."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import matthews_corrcoef

    from textgnn.baselines import LR_C, _data, tfidf_lr
    from textgnn.config import load_config

    config = load_config(None, [f"data.name={toy_data}", "train.select=mcc"]).to_dict()
    got = tfidf_lr(config)
    assert got["search"]["on"] == "dev mcc"
    _, data = _data(config)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    x = vectorizer.fit_transform(data.train.texts)
    dev = [matthews_corrcoef(data.dev.labels, LogisticRegression(C=c, max_iter=2000).fit(
        x, data.train.labels).predict(vectorizer.transform(data.dev.texts))) for c in LR_C]
    assert got["search"]["chosen_C"] == LR_C[int(np.argmax(dev))]
    assert got["dev"]["mcc"] == pytest.approx(max(dev))


def test_a_run_whose_cell_config_changed_is_superseded_and_run_again(toy_data, tmp_path):
    """A search run on with a larger budget rewrites a cell's tuned config: the runs recorded
    on the old values are not the cell's any more. The plan counts them as changed, the next
    study run moves their records to superseded.jsonl (nothing lost) and trains them again;
    the other cells' records, and a baseline (which reads no model key), stay."""
    tuned = tmp_path / "tuned" / toy_data.name
    tuned.mkdir(parents=True)
    config = tuned / "gat-window.yaml"
    config.write_text(yaml.safe_dump({"base": "../../base.yaml", "model": {"hidden": 24}}))
    study = write_study(tmp_path, name="changed", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=1, baselines=["tfidf-lr"],
                        cells=[{"encoder": "gat", "graph": "window",
                                "config": "tuned/{dataset}/{encoder}-{graph}.yaml"}])
    out = tmp_path / "results"
    first = {r["key"]: r for r in read_runs(run_study(study, out).runs)}
    assert len(first) == 3
    [row] = plan(study, out)
    assert (row["recorded"], row["ready"], row["changed"]) == (3, 0, 0)
    gat = f"{toy_data.name}/gat-window/seed0"
    config.write_text(yaml.safe_dump({"base": "../../base.yaml",
                                      "model": {"hidden": 32, "dropout": 0.2}}))
    [row] = plan(study, out)
    assert (row["recorded"], row["ready"], row["changed"]) == (2, 1, 1)
    done = run_study(study, out)
    assert (done.finished, done.failed) == (1, {})
    runs = {r["key"]: r for r in read_runs(done.runs)}
    assert sorted(runs) == sorted(first)
    assert runs[gat]["config"]["model"]["hidden"] == 32 and runs[gat]["params"] != first[gat]["params"]
    for key in set(first) - {gat}:
        assert runs[key] == first[key]
    [old] = read_runs(out / "changed" / "superseded.jsonl")
    assert old["superseded"]["changed"] == ["model.hidden", "model.dropout"]
    assert {k: v for k, v in old.items() if k != "superseded"} == first[gat]
    [row] = plan(study, out)
    assert (row["recorded"], row["ready"], row["changed"]) == (3, 0, 0)
    assert ("1 earlier run of 1 cell superseded: the cell's config changed after they ran "
            "(model.hidden, model.dropout)") in report(out / "changed")


def test_a_study_reuses_another_studys_records_on_the_same_config(toy_data, tmp_path):
    """A check that changes one cell of another study names it in `reuse:`: a run whose key
    and config that study has recorded is copied (the same config and seed retrain bit for
    bit), the rest train. The plan counts the copies apart, with no CPU hours left, and the
    report says what was reused and whether the runs trained here that the other study also
    recorded agree with it."""
    out = tmp_path / "results"
    first = write_study(tmp_path, name="first", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn", "gat"], seeds=1, baselines=["tfidf-lr"])
    run_study(first, out, exclude="*/gcn-window/*")  # its gcn trains after the check's
    # the check: gat on other values, gcn and the baseline as in `first`
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump({"base": "base.yaml",
                                                        "model": {"hidden": 32}}))
    check = write_study(tmp_path, name="check", datasets=[str(toy_data)], graphs=["window"],
                        encoders=["gcn"], seeds=1, baselines=["tfidf-lr"], reuse=["first"],
                        cells=[{"encoder": "gat", "graph": "window", "config": "wide.yaml"}])
    [row] = plan(check, out)
    assert (row["recorded"], row["ready"], row["reusable"]) == (0, 3, 1)
    done = run_study(check, out)
    assert (done.finished, done.failed) == (2, {})  # gcn and the changed gat
    mine = {r["encoder"]: r for r in read_runs(done.runs)}
    theirs = {r["encoder"]: r for r in read_runs(out / "first" / "runs.jsonl")}
    assert mine["tfidf-lr"] == theirs["tfidf-lr"] | {"reused": "first"}
    assert "reused" not in mine["gat"] and mine["gat"]["config"]["model"]["hidden"] == 32
    assert (out / "check" / f"gold-{toy_data.name}.json").is_file()
    [row] = plan(check, out)
    assert (row["recorded"], row["ready"], row["reusable"]) == (3, 0, 0)
    run_study(first, out)  # now `first` has the gcn run the check trained on the same config
    text = report(out / "check")
    assert ("1 of the study's 3 runs are records of `first`, taken as they are (the study "
            "file's `reuse:`)") in text
    assert ("Of the runs trained here, 1 has a record on the same config in `first`: the test "
            "predictions are identical in 1 of 1.") in text
    with pytest.raises(TextGNNError, match="reuse"):  # a study reusing itself
        write_study(tmp_path, name="check", datasets=[str(toy_data)], seeds=1,
                    baselines=["tfidf-lr"], reuse=["check"])
