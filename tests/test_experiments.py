import json

import numpy as np
import pytest
import yaml

from textgnn.experiments import (
    Study,
    _syntax_verdict,
    holm,
    mean_ci,
    paired_bootstrap,
    read_runs,
    report,
    run_study,
)


def test_holm_matches_the_textbook_example():
    # p-values 0.01, 0.04, 0.03, 0.005 -> sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_mean_ci():
    mean, std, half = mean_ci([0.70, 0.72, 0.74])
    assert mean == pytest.approx(0.72) and std == pytest.approx(0.02)
    assert half == pytest.approx(4.302653 * 0.02 / np.sqrt(3), rel=1e-5)


def test_paired_bootstrap_detects_a_real_difference_only():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 400)
    same = np.stack([gold] * 3)
    assert paired_bootstrap(gold, same, same) == (0.0, 1.0)
    noisy = np.where(rng.random((3, 400)) < 0.3, 1 - gold, gold)
    better = np.where(rng.random((3, 400)) < 0.1, 1 - gold, gold)
    delta, p = paired_bootstrap(gold, better, noisy)
    assert delta > 0.1 and p < 0.01
    delta, p = paired_bootstrap(gold, noisy, noisy[::-1])
    assert p > 0.05


def test_study_runs_resumes_and_reports(toy_data, tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "model": {"hidden": 16, "heads": 2, "ffn": 32, "layers": 1},
        "train": {"epochs": 2, "batch_size": 16, "lr": 0.01}, "data": {"min_freq": 1}}))
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump({
        "name": "toy", "config": "base.yaml", "datasets": [str(toy_data)],
        "graphs": ["none", "complete"], "encoders": ["gcn", "transformer"], "seeds": 1,
        "baselines": ["tfidf-lr"],
        "cells": [{"encoder": "transformer", "graph": "dependency+complete"},
                  {"encoder": "gcn", "graph": "window", "tag": "wide", "config": "wide.yaml",
                   "label": "w"}]}))
    # a tagged cell with its own base config, reported in its own table
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump({"base": "base.yaml", "model": {"hidden": 32}}))
    study = Study.load(tmp_path / "grid.yaml")
    runs_path = run_study(study, tmp_path / "results", jobs=2)
    runs = read_runs(runs_path)
    assert len(runs) == 7
    wide = next(r for r in runs if r["tag"] == "wide")
    assert wide["key"].endswith("/gcn~w-window@wide/seed0") and wide["config"]["model"]["hidden"] == 32
    assert any(r["key"].endswith("/transformer-complete/seed0") for r in runs)
    record = next(r for r in runs if r["encoder"] == "gcn")
    assert set(record) >= {"dataset", "graph", "encoder", "seed", "config", "dev", "test",
                           "params", "train_seconds", "test_predictions"}
    assert 0 <= record["test"]["accuracy"] <= 1 and len(record["test_predictions"]) == 40
    assert record["config"]["model"]["encoder"] == "gcn"
    # killed while writing the last record: the torn line is ignored and only that run redone
    lines = runs_path.read_text().splitlines()
    runs_path.write_text("\n".join(lines[:6]) + "\n" + lines[6][:30])
    torn_key = json.loads(lines[6])["key"]
    run_study(study, tmp_path / "results", jobs=1, match="*/no-such-cell/*")
    assert torn_key not in {r["key"] for r in read_runs(runs_path)}  # filtered out: not rerun
    run_study(study, tmp_path / "results", jobs=1, match=torn_key)
    assert {r["key"] for r in read_runs(runs_path)} == {r["key"] for r in runs}
    text = report(runs_path.parent)
    assert (runs_path.parent / "RESULTS.md").read_text() == text
    assert "| transformer | complete | 1 |" in text and "| tfidf-lr | - | 1 |" in text
    assert "Verdict for" in text
    assert "beyond self-attention vs the best pure cell" in text
    assert "| transformer-dependency+complete | 1 |" in text and "## Did syntax help?" in text
    assert "# Pretrained features: `wide`" in text and "· wide (test accuracy × 100)" in text
    assert "| gcn (w) | window | 1 |" in text
    gold = json.loads(next(runs_path.parent.glob("gold-*.json")).read_text())
    assert len(gold) == 40


def test_syntax_verdict_sentences():
    def outcome(cell, delta, p):
        return {"cell": cell, "delta": delta, "p": p, "syntax": "dependency" in cell}

    text = "\n".join(_syntax_verdict({
        "cola": [outcome("transformer-dependency+complete", 0.02, 0.01),
                 outcome("hybrid-window+complete", 0.03, 0.001)],
        "mr": [outcome("hybrid-dependency+complete", -0.01, 0.2)],
        "trec": [outcome("transformer-dependency+complete", -0.03, 0.002)]}))
    assert "on CoLA (acceptability is a syntactic judgement): it did:" in text
    assert "transformer-dependency+complete better (+2.00 points, p = 0.01)" in text
    assert "hybrid-window" not in text  # no parse in that cell: not evidence about syntax
    assert "mr: did not help (hybrid-dependency+complete no significant difference" in text
    assert "trec: did not help (transformer-dependency+complete worse" in text
    assert _syntax_verdict({"mr": [outcome("hybrid-window+complete", 0.1, 0.001)]}) == []
