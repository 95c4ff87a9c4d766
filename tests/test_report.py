"""A study's report from its records: tables, verdicts per regime, checks, costs, lengths,
classes, the seeds' vote, targets and the README block (records made up; no model trains,
one test runs a TF-IDF baseline)."""

import json
import re

import numpy as np
import pytest
import yaml
from conftest import fake_run, write_runs, write_study

from textgnn.agreement import agreement
from textgnn.beyond_report import syntax_verdict
from textgnn.cost_report import pareto, sparse_vs_complete
from textgnn.experiments import run_study
from textgnn.length_report import length_bins
from textgnn.report import _search_lines, report
from textgnn.run_records import read_runs
from textgnn.targets import against_bar


def test_report_tables_verdicts_plots_and_readme(tmp_path):
    rng = np.random.default_rng(0)
    golds = {d: rng.integers(0, 2, 300) for d in ("toy", "toy2")}
    correct = {("gcn", "none"): 0.6, ("gcn", "complete"): 0.7, ("transformer", "none"): 0.65,
               ("transformer", "complete"): 0.8}
    runs = [fake_run(d, e, g, s, golds[d], c, rng) for d in golds for (e, g), c in correct.items()
            for s in range(2)]
    runs += [fake_run(d, "tfidf-lr", "-", 0, golds[d], 0.75, rng) for d in golds]
    runs += [fake_run(d, "wide-mlp", "-", s, golds[d], 0.9, rng) for d in golds for s in range(2)]
    # a WideMLP on its own tuned config: a baseline in every table, never a graph model
    runs += [fake_run("toy", "wide-mlp", "-", s, golds["toy"], 0.95, rng, label="tuned") for s in range(2)]
    runs += [fake_run("toy", "transformer", "dependency+complete", s, golds["toy"], 0.82, rng)
             for s in range(2)]
    runs += [fake_run("toy", e, g, s, golds["toy"], c, rng, tag="wide", label=label)
             for e, g, c, label in [("gcn", "window", 0.7, "w"), ("transformer", "none", 0.7, ""),
                                    ("transformer", "dependency+complete", 0.75, "")]
             for s in range(2)]
    runs += [fake_run("toy", e, "complete", s, golds["toy"], c, rng, fraction=0.1)
             for e, c in [("gcn", 0.55), ("transformer", 0.6)] for s in range(2)]
    runs += [fake_run("toy", "wide-mlp", "-", s, golds["toy"], 0.7, rng, fraction=0.1) for s in range(2)]
    # the README block is named after the study's folder
    study_dir = write_runs(tmp_path / "toy", runs, golds)
    text = report(study_dir)
    assert (study_dir / "RESULTS.md").read_text() == text
    # aggregation by hand: mean and sample std over the two seeds
    values = [r["test"]["accuracy"] for r in runs if r["dataset"] == "toy"
              and r["encoder"] == "gcn" and r["graph"] == "complete" and r["fraction"] is None]
    mean, std = sum(values) / 2, abs(values[0] - values[1]) / 2 ** 0.5
    assert f"| gcn | complete | 2 | {100 * mean:.2f} ± {100 * std:.2f}" in text
    assert "| transformer | complete | 2 |" in text and "| tfidf-lr | - | 1 |" in text
    assert "| wide-mlp | - | 2 |" in text and "| wide-mlp (tuned) | - | 2 |" in text
    assert "; WideMLP (tuned) " in text
    assert "Best graph model from scratch on toy (chosen on dev): transformer-dependency+complete" in text
    assert "; TF-IDF + LR" in text and "; WideMLP" in text and "(not beaten)" in text
    assert "Verdict for" in text and "Best graph model from scratch on toy" in text
    assert "beyond self-attention vs the best pure cell" in text
    assert "| transformer-dependency+complete | 2 |" in text and "## Did syntax help?" in text
    assert "# Pretrained features: `wide`" in text and "· wide (test accuracy × 100)" in text
    assert "| gcn (w) | window | 2 |" in text
    # within the tag, a union cell is compared with the best unlabelled single-graph cell
    # (the labelled variant is trained differently)
    tagged = text[text.index("# Pretrained features: `wide`"):]
    assert "beyond self-attention vs the best pure cell (transformer-none" in tagged
    assert "| transformer-dependency+complete | 2 |" in tagged
    assert "## Did syntax help on `wide` features?" in tagged
    assert (study_dir / "toy.png").read_bytes()[:4] == b"\x89PNG"
    # the low-resource runs have their own section, each share against the transformer at
    # that share, the full grid as the 100 % point, and a plot; they leave the main table alone
    low = text[text.index("# Low resource"):]
    assert "## toy · 10% of train" in low and "## toy · 100% of train" in low
    share = low[low.index("## toy · 10% of train"):low.index("## toy · 100% of train")]
    assert "| gcn | complete | 2 |" in share and "| wide-mlp | - | 2 |" in share
    assert "| tfidf-lr |" not in share and "| gcn | none |" not in share
    assert (study_dir / "toy-low-resource.png").read_bytes()[:4] == b"\x89PNG"
    assert f"| gcn | complete | 2 | {100 * mean:.2f} ± {100 * std:.2f}" in text[:text.index("# Low")]

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- toy-table:start -->\nold\n<!-- toy-table:end -->\nrest\n")
    report(study_dir, readme)
    filled = readme.read_text()
    assert "old" not in filled and filled.startswith("intro\n") and filled.endswith("rest\n")
    assert "| toy | accuracy | " in filled and "| TF-IDF + LR | WideMLP | WideMLP (tuned) | seeds |" in filled


def test_headline_shows_each_baseline_variant_a_dataset_ran(tmp_path):
    """The README headline has a column for every baseline and for each variant some dataset
    ran (the tuned WideMLP), so the strongest bag of words of each row is in view; "-" where a
    dataset did not run it."""
    from textgnn.report import _write_headline

    readme = tmp_path / "README.md"
    readme.write_text("<!-- s-table:start -->\n<!-- s-table:end -->\n")
    row = {"metric": "accuracy", "cell": "gcn-window", "mean": 0.75, "reference": "74.00",
           "seeds": 5}
    rows = [row | {"dataset": "mr", "tfidf": 0.7662,
                   "baselines": {"TF-IDF + LR": "76.62", "WideMLP": "76.09",
                                 "WideMLP (tuned)": "76.38"}},
            row | {"dataset": "r8", "tfidf": 0.973, "baselines": {"TF-IDF + LR": "97.30"}}]
    _write_headline(readme, tmp_path / "s", rows, [], [], [])
    text = readme.read_text()
    assert "| transformer-complete | TF-IDF + LR | WideMLP | WideMLP (tuned) | seeds |" in text
    assert "| mr | accuracy | gcn-window 75.00 | 74.00 | 76.62 | 76.09 | 76.38 | 5 |" in text
    assert "| r8 | accuracy | gcn-window 75.00 | 74.00 | 97.30 | - | - | 5 |" in text


def test_a_study_sets_the_verdicts_of_the_studies_that_check_it_beside_its_own(tmp_path):
    """A study file's `checks:` names studies that repeat some of its datasets (or shares of
    its low-resource curves) with one change; the report computes each from its own records
    and says, in RESULTS.md and the README block, where the outcome against the Transformer
    moves and where it holds."""
    rng = np.random.default_rng(0)
    golds = {d: rng.integers(0, 2, 400) for d in ("trec", "mr")}
    transformer = 0.6

    def study(gcn: dict[str, float], datasets, fraction=None) -> list[dict]:
        return [fake_run(d, e, g, s, golds[d], c, rng, fraction=fraction)
                for d in datasets for s in range(2)
                for e, g, c in [("transformer", "complete", transformer), ("gcn", "window", gcn[d])]]

    main = write_runs(tmp_path / "results" / "main",
                      study({"trec": 0.9, "mr": 0.9}, ["trec", "mr"])
                      + study({"mr": 0.9}, ["mr"], fraction=0.01), golds)
    # the check repeats trec and MR's 1 % share, where its gcn is no better than the Transformer
    check = write_runs(tmp_path / "results" / "wider",
                       study({"trec": transformer}, ["trec"])
                       + study({"mr": transformer}, ["mr"], fraction=0.01), golds)
    (check / "planned.json").write_text(json.dumps({"study": None, "parts": {"short texts": 8}}))
    write_study(tmp_path, name="main", datasets=["trec", "mr"], seeds=2,
                cells=[{"encoder": "gcn", "graph": "window"}],
                checks=[{"study": "wider", "change": "a wider search"}])
    (main / "planned.json").write_text(json.dumps({"study": str(tmp_path / "study.yaml"),
                                                   "parts": {"short texts": 8}}))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- main-table:start -->\n<!-- main-table:end -->\n")
    text = report(main, readme)
    section = text[text.index("# Does the verdict hold?"):text.index("# Targets")]
    assert "## `wider`: a wider search" in section
    assert "**In progress: 4 of the 8 planned runs are recorded** (short texts 4/8)" in section
    rows = [line for line in section.splitlines() if line.startswith("| trec |")]
    assert len(rows) == 2 and "| `main` | gcn-window |" in rows[0] and "| better |" in rows[0]
    assert "| `wider` | gcn-window |" in rows[1] and "| equal |" in rows[1]
    assert "| 89.0: missed by" in rows[1]  # TREC's bar, against the check's best graph model
    assert not any(line.startswith("| mr |") for line in section.splitlines())  # not repeated
    shares = [line for line in section.splitlines() if line.startswith("| mr · 1% |")]
    assert len(shares) == 2 and "| `main` |" in shares[0] and "| better |" in shares[0]
    assert "| `wider` |" in shares[1] and "| equal |" in shares[1]
    sentence = next(line for line in section.splitlines() if line.startswith("Checked by"))
    assert sentence.startswith("Checked by `wider` (a wider search): the best GCN-style cell "
                               "against the Transformer moves on trec from better (+")
    assert "; on mr · 1% from better (+" in sentence
    # a p below what 2,000 resamples resolve reads "p < 0.001", as everywhere in the report
    assert re.search(r"on trec from better \(\+\d+\.\d\d, p < 0\.001\) to equal \([-+]\d+\.\d\d, "
                     r"p = 0?\.?\d", sentence), sentence
    assert "mr (" not in sentence and "mr 9" not in sentence  # MR's full data is not repeated
    assert sentence in readme.read_text()
    assert "# Across the checks" not in section  # one check: its own sentence says it all
    # a second check repeats trec and MR's full data, where its gcn stays better; over both
    # checks, an outcome moves if any check moves it, and one that no check repeats is named
    # (and it adds attention on the gcn's own graph to MR's table, which main's lacks)
    longer = write_runs(tmp_path / "results" / "longer",
                        study({"trec": 0.9, "mr": 0.9}, ["trec", "mr"])
                        + [fake_run("mr", "transformer", "window", s, golds["mr"], 0.6, rng)
                           for s in range(2)], golds)
    (longer / "planned.json").write_text(json.dumps({"study": None, "parts": {"short texts": 8}}))
    # MR's table has the graph-free control, as good as its gcn: that gain needs no graph
    write_runs(main, study({"trec": 0.9, "mr": 0.9}, ["trec", "mr"])
               + study({"mr": 0.9}, ["mr"], fraction=0.01)
               + study({"mr": 0.9}, ["mr"], fraction=0.03)
               + [fake_run("mr", "gcn", "none", s, golds["mr"], 0.9, rng) for s in range(2)],
               golds)
    write_study(tmp_path, name="main", datasets=["trec", "mr"], seeds=2,
                cells=[{"encoder": "gcn", "graph": "window"}],
                checks=[{"study": "wider", "change": "a wider search"},
                        {"study": "longer", "change": "a longer patience"}])
    text = report(main, readme)
    across = text[text.index("## Across the checks"):text.index("# Targets")].splitlines()[2]
    # Δ against attention on the gcn's graph: its fake runs' noise, not a number to pin
    assert re.sub(r"window, \+\d+\.\d\d, p", "window, +Δ, p", across) == (
        "3 of this study's 4 outcomes against the Transformer are repeated by its 2 checks: "
        "1 holds under every check that repeats it and 2 move (trec: better → equal "
        "in `wider`; mr · 1%: better → equal in `wider`). Of the 4 where the best GCN-style "
        "cell is significantly better, 1 holds under every check that repeats it (mr); 2 move "
        "(trec and mr · 1%); 1 is repeated by none (mr · 3%). Of the 1 that holds and has a "
        "graph-free control (no edge between tokens), that control is itself significantly "
        "better than the Transformer on 1 (mr): there the gain needs no graph. Against "
        "self-attention on its own graph (the Transformer on the same edges: only the message "
        "function differs), the best GCN-style cell is significantly better on mr (in `longer`, "
        "gcn-window against transformer-window, +Δ, p < 0.001): there the GCN-style "
        "message function adds to the graph.")
    assert f"**Across the checks**: {across}" in readme.read_text()
    sentence = next(line for line in text.splitlines() if line.startswith("Checked by `longer`"))
    assert re.search(r"the outcome holds on mr \(better\), trec \(better\); against "
                     r"self-attention on its own graph, which `main`'s table lacks \(only the "
                     r"message function differs\), the best GCN-style cell is significantly "
                     r"better on mr \(gcn-window against transformer-window, \+\d+\.\d\d "
                     r"\[\+\d+\.\d\d, \+\d+\.\d\d\], p < 0\.001\); the best graph", sentence), sentence
    # a third check meets attention on the gcn's graph too, where it equals the gcn: each
    # check that has that cell is heard, not only the first
    tuned = write_runs(tmp_path / "results" / "tuned",
                       study({"mr": 0.9}, ["mr"])
                       + [fake_run("mr", "transformer", "window", s, golds["mr"], 0.9, rng)
                          for s in range(2)], golds)
    (tuned / "planned.json").write_text(json.dumps({"study": None, "parts": {"short texts": 6}}))
    write_study(tmp_path, name="main", datasets=["trec", "mr"], seeds=2,
                cells=[{"encoder": "gcn", "graph": "window"}],
                checks=[{"study": "wider", "change": "a wider search"},
                        {"study": "longer", "change": "a longer patience"},
                        {"study": "tuned", "change": "attention tuned on the gcn's graph"}])
    across = report(main).split("## Across the checks")[1].splitlines()[2]
    assert re.search(r"the best GCN-style cell is significantly better on mr \(in `longer`, "
                     r"gcn-window against transformer-window, \+\d+\.\d\d, p < 0\.001\): there "
                     r"the GCN-style message function adds to the graph; equal on mr \(in `tuned`, "
                     r"gcn-window against transformer-window, [-+]\d\.\d\d, p = [\d.]+\): there "
                     r"the gain is the graph's edges\.$", across), across
    # a control no better than the Transformer: the graph may be why
    runs = read_runs(main / "runs.jsonl")
    write_runs(main, [r for r in runs if r["graph"] != "none"]
               + [fake_run("mr", "gcn", "none", s, golds["mr"], 0.6, rng) for s in range(2)],
               golds)
    across = report(main).split("## Across the checks")[1].splitlines()[2]
    assert ("1 is repeated by none (mr · 3%). On none of the 1 that holds and has a graph-free "
            "control (no edge between tokens) is that control itself significantly better than "
            "the Transformer. Against self-attention") in across, across
    # a study without checks has no such section
    write_study(tmp_path, name="main", datasets=["trec", "mr"], seeds=2,
                cells=[{"encoder": "gcn", "graph": "window"}])
    assert "# Does the verdict hold?" not in report(main)


def test_a_score_just_under_its_bar_reads_as_a_miss():
    """A shortfall that rounds to 0.00 is a miss all the same, and says so."""
    assert against_bar(88.998, 89.0) == "missed by < 0.01"
    assert against_bar(88.68, 89.0) == "missed by 0.32"
    assert against_bar(89.0, 89.0) == "met"


def test_a_check_compares_a_table_only_once_its_runs_are_complete(tmp_path):
    """A check still running has some tables with part of their cells: the best cell so far
    is not the table's, so neither the checked study's report nor the check's own judges it
    (no row, no outcome, no target met or missed); both say how many of its runs are in."""
    rng = np.random.default_rng(0)
    golds = {d: rng.integers(0, 2, 400) for d in ("trec", "mr")}

    def cells(dataset, gcn):
        return [fake_run(dataset, e, g, s, golds[dataset], c, rng) for s in range(2)
                for e, g, c in [("transformer", "complete", 0.6), ("gcn", "window", gcn)]]

    main = write_runs(tmp_path / "results" / "main", cells("trec", 0.9) + cells("mr", 0.9), golds)
    # the check has trec whole and, of mr, the Transformer's runs alone
    check = write_runs(tmp_path / "results" / "wider",
                       cells("trec", 0.6) + cells("mr", 0.9)[::2], golds)
    (check / "planned.json").write_text(json.dumps(
        {"study": None, "parts": {"short texts": 8}, "tables": {"trec": 4, "mr": 4}}))
    assert [r["encoder"] for r in read_runs(check / "runs.jsonl")][4:] == ["transformer"] * 2
    write_study(tmp_path, name="main", datasets=["trec", "mr"], seeds=2,
                cells=[{"encoder": "gcn", "graph": "window"}],
                checks=[{"study": "wider", "change": "a wider search"}])
    (main / "planned.json").write_text(json.dumps({"study": str(tmp_path / "study.yaml"),
                                                   "parts": {"short texts": 8}}))
    section = report(main).split("# Does the verdict hold?")[1].split("# Targets")[0]
    assert any(line.startswith("| trec | `wider` |") for line in section.splitlines())
    assert not any(line.startswith("| mr |") for line in section.splitlines())
    sentence = next(line for line in section.splitlines() if line.startswith("Checked by"))
    assert "moves on trec from better" in sentence and "mr 9" not in sentence
    assert sentence.endswith("; mr not compared until its runs are complete (2 of 4 recorded).")
    # the check's own report: mr's best model so far (its Transformer) meets or misses no bar
    readme = tmp_path / "README.md"
    readme.write_text("<!-- wider-table:start -->\n<!-- wider-table:end -->\n")
    text = report(check, readme)
    assert re.search(r"^\| mr \| accuracy \| transformer-complete \| [\d.]+ \| 76.8 \| "
                     r"in progress: 2 of 4 runs \|", text, re.M), text
    assert ("against the project's bar for it): missed on trec by "
            in readme.read_text())
    assert "; not judged yet on mr (2 of 4 runs recorded)." in readme.read_text()
    # once mr's runs are all in, the check compares it
    write_runs(check, cells("trec", 0.6) + cells("mr", 0.6), golds)
    section = report(main).split("# Does the verdict hold?")[1].split("# Targets")[0]
    assert sum(line.startswith("| mr |") for line in section.splitlines()) == 2
    assert "not compared" not in section


def test_syntax_verdict_sentences():
    def outcome(cell, delta, p):
        return {"cell": cell, "delta": delta, "p": p, "syntax": "dependency" in cell}

    text = "\n".join(syntax_verdict({
        "cola": [outcome("transformer-dependency+complete", 0.02, 0.01),
                 outcome("hybrid-window+complete", 0.03, 0.001)],
        "mr": [outcome("hybrid-dependency+complete", -0.01, 0.2)],
        "trec": [outcome("transformer-dependency+complete", -0.03, 0.002)]}))
    assert "on CoLA (acceptability is a syntactic judgement): it did:" in text
    assert "transformer-dependency+complete better (+2.00 points, p = 0.01)" in text
    assert "hybrid-window" not in text  # no parse in that cell: not evidence about syntax
    assert "mr: did not help (hybrid-dependency+complete no significant difference" in text
    assert "trec: did not help (transformer-dependency+complete worse" in text
    assert syntax_verdict({"mr": [outcome("hybrid-window+complete", 0.1, 0.001)]}) == []


def test_search_picks_the_variant_with_the_best_mean_dev_score():
    def run(label, encoder, dev, test):
        return {"label": label, "dataset": "mr", "encoder": encoder, "graph": "window",
                "dev": {"accuracy": dev}, "test": {"accuracy": test}}

    runs = [run("small", "gcn", 0.70, 0.90), run("small", "gat", 0.74, 0.90),
            run("wide", "gcn", 0.73, 0.60), run("wide", "gat", 0.72, 0.60)]
    text = "\n".join(_search_lines(runs))
    assert "Chosen by dev: `wide` (mean dev 72.50)" in text  # test accuracy plays no part
    assert text.index("| wide | 2 |") < text.index("| small | 2 |")
    assert _search_lines(runs[:2]) == []  # one variant: nothing was searched


def test_tagged_table_falls_back_to_the_transformer_on_the_same_features(tmp_path):
    # a tag with no fine-tuned encoder: its cells are compared with transformer-complete of
    # the same tag; once the fine-tuned encoder is there, with it
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 200)
    runs = [fake_run("d", e, g, s, gold, c, rng, tag="big")
            for e, g, c in [("transformer", "complete", 0.9), ("gcn", "dependency", 0.6)]
            for s in range(2)]
    write_runs(tmp_path, runs, {"d": gold})
    tagged = report(tmp_path).split("# Pretrained features: `big`")[1]
    assert "| transformer | complete | 2 |" in tagged and "| ref | - |" in tagged
    row = next(line for line in tagged.splitlines() if line.startswith("| gcn | dependency"))
    assert float(row.split("|")[8]) < -20  # about 0.6 - 0.9, against the transformer
    assert "Verdict for" not in tagged and "Best graph model from scratch" not in tagged
    runs += [fake_run("d", "finetune", "none", s, gold, 0.95, rng, tag="big") for s in range(2)]
    write_runs(tmp_path, runs, {"d": gold})
    tagged = report(tmp_path).split("# Pretrained features: `big`")[1]
    row = next(line for line in tagged.splitlines() if line.startswith("| transformer | complete"))
    assert row.split("|")[8].strip().startswith("-")  # now a difference to finetune, not ref
    # the best graph model is named, never the fine-tuned encoder alone (95 % here)
    assert "Best graph model on `big` features on d (chosen on dev): transformer-complete" in tagged


def test_pareto_keeps_the_points_nothing_dominates():
    points = [(1.0, 70.0), (2.0, 80.0), (3.0, 75.0), (2.0, 60.0), (10.0, 81.0), (10.0, 79.0)]
    assert pareto(points) == [0, 1, 4]


def test_long_document_sentence_separates_reading_everything_from_the_graph():
    """The sparse graph beats the truncated Transformer, but the graph-free control reading
    the same whole documents does nearly as well: the sentence says the graph adds nothing
    significant; without a control it says nothing of the kind."""
    cost = lambda cpu, tokens: {"cpu_seconds_per_epoch": cpu, "tokens_per_document": tokens}  # noqa: E731
    rows = [{"graph": "complete", "mean": 0.80, "dev": 0.80, "cost": cost(8.0, 512)},
            {"graph": "window", "mean": 0.85, "dev": 0.85, "delta": 0.05,
             "p": 0.001, "cost": cost(2.0, 900), "against_control": (0.004, 0.4)},
            {"graph": "none", "mean": 0.846, "dev": 0.846, "delta": 0.046,
             "p": 0.001, "cost": cost(1.0, 900)}]
    for row, encoder in zip(rows, ["transformer", "gcn", "gcn"], strict=True):  # as tables hold them
        row |= {"encoder": encoder, "model": encoder, "label": None}
    sentence = sparse_vs_complete("20ng", "accuracy", rows, ("transformer", "complete"))
    assert sentence.startswith("On 20ng, the best sparse-graph cell on dev, gcn-window (85.00, 900 tokens")
    assert "the sparse graph beat the truncated complete graph at equal or lower cost." in sentence
    assert sentence.endswith("Against the graph-free control, which reads the same tokens with no "
                             "edge between them, the graph adds nothing significant to that score "
                             "(+0.40 points, Holm p = 0.4).")
    del rows[1]["against_control"]
    assert "graph-free" not in sparse_vs_complete("20ng", "accuracy", rows,
                                                  ("transformer", "complete"))


def test_runs_trained_on_a_gpu_are_costed_by_wall_time_and_named(tmp_path):
    """Pretrained cells trained on a GPU: their CPU seconds (the host's part) miss the GPU's
    work, so the report counts no CPU hours for them, names the device, and compares their
    cost per epoch in wall seconds."""
    rng = np.random.default_rng(2)
    golds = {"mr": rng.integers(0, 2, 1000)}
    runs = [fake_run("mr", "gcn", "window", s, golds["mr"], 0.7, rng, cost=(5.0, 1.0, 20))
            for s in range(2)]
    # the graph cell spends 4x the reference's host CPU seconds but only 1.5x its wall time
    for encoder, graph, cpu, wall in [("finetune", "none", 1.0, 2.0), ("gcn", "dependency", 4.0, 3.0)]:
        for s in range(2):
            run = fake_run("mr", encoder, graph, s, golds["mr"], 0.85, rng, tag="mpnet", cost=(cpu, 1.0, 20))
            run["train_seconds"] = 10 * wall
            run["cost"] |= {"seconds_per_epoch": wall, "device": "cuda: NVIDIA H200"}
            runs.append(run)
    text = report(write_runs(tmp_path / "gpu", runs, golds))
    assert "| pretrained | 4 | - | 0.0 |" in text and "| short texts | 2 | 0.0 | 0.0 |" in text
    assert "Trained on a GPU (pretrained: 4 runs on cuda: NVIDIA H200)" in text
    assert "; 4 runs on cuda: NVIDIA H200, whose CPU hours are not counted" in text
    verdict = text[text.index("# Verdict per regime"):]
    assert "| pretrained | mr · mpnet | gcn-dependency |" in verdict and "| 1.50 |" in verdict


def test_long_documents_cost_table_pareto_plot_and_verdict_per_regime(tmp_path):
    """A long-document dataset whose sparse graph wins at lower cost, a sentence dataset where
    the GCN-style cell is clearly worse, and a low-resource share where they tie: the cost
    table, the plot, the generated sentence, the verdict table and the README sentences."""
    rng = np.random.default_rng(1)
    golds = {"20ng": rng.integers(0, 2, 2000), "mr": rng.integers(0, 2, 2000)}
    long_cells = {("gcn", "window", 0.9, (2.0, 1.5, 221)), ("gat", "dependency", 0.85, (3.0, 1.7, 221)),
                  ("transformer", "complete", 0.7, (8.0, 6.0, 180))}
    # gcn-window's first seed was paused for 10 minutes: its wall seconds say it cost most
    runs = [fake_run("20ng", e, g, s, golds["20ng"], c, rng, cost=cost,
                     paused=600.0 if (e, s) == ("gcn", 0) else 0.0)
            for e, g, c, cost in long_cells for s in range(3)]
    runs += [fake_run("20ng", "tfidf-lr", "-", 0, golds["20ng"], 0.8, rng)]
    runs += [fake_run("mr", e, g, s, golds["mr"], c, rng, cost=(1.0, 1.0, 20))
             for e, g, c in [("gcn", "window", 0.6), ("transformer", "complete", 0.8)] for s in range(3)]
    tie = [fake_run("mr", "transformer", "complete", s, golds["mr"], 0.7, rng, fraction=0.1,
                    cost=(0.1, 1.0, 20)) for s in range(3)]
    runs += tie + [dict(r, encoder="gcn", graph="dependency", key=r["key"].replace(
        "transformer-complete", "gcn-dependency")) for r in tie]  # the same predictions
    study_dir = write_runs(tmp_path / "docs", runs, golds)
    text = report(study_dir)

    costs = text[text.index("### 20ng: accuracy and cost"):]
    # sorted by CPU seconds (10 epochs x CPU seconds per epoch), not by wall seconds; columns:
    # CPU s, CPU s / epoch, wall s, peak RSS, tokens
    assert costs.index("| tfidf-lr |") < costs.index("| gcn-window |") < costs.index(
        "| gat-dependency |") < costs.index("| transformer-complete |")
    assert "| gcn-window | " in costs and " | 20 | 2.0 | 220 | 1.50 | 221 |" in costs
    assert "| transformer-complete | " in costs and " | 80 | 8.0 | 80 | 6.00 | 180 |" in costs
    assert "| tfidf-lr | " in costs and " | 1 | - | 1 | - | - |" in costs  # no epochs, no RSS
    assert (study_dir / "20ng-cost.png").read_bytes()[:4] == b"\x89PNG"
    assert ("On 20ng, the best sparse-graph cell on dev, gcn-window (" in costs
            and "221 tokens per document), against transformer-complete" in costs
            and "significantly better" in costs and "at 0.25× its CPU seconds per epoch: the "
            "sparse graph beat the truncated complete graph at equal or lower cost." in costs)
    on_mr = text[text.index("### mr: accuracy and cost"):]
    # both read every token of a sentence: nothing was truncated
    assert "significantly worse" in on_mr and "did not beat the complete graph." in on_mr
    assert "truncated" not in on_mr[:on_mr.index("###", 4)]

    # what each part cost: 20ng 9 runs of 10 x (2, 3, 8) CPU s + TF-IDF's 1 s (0.11 h), and
    # 600 s more of wall time; mr 6 runs of 10 s
    assert "| long documents | 10 | 0.1 | 0.3 |" in text and "| short texts | 6 | 0.0 | 0.0 |" in text
    assert "| low resource | 6 | 0.0 | 0.0 |" in text and "and 0.1 CPU hours (core-hours)" in text
    verdict = text[text.index("# Verdict per regime"):text.index("## 20ng")]
    assert "| long documents | 20ng | gcn-window |" in verdict and "| better | 0.25 |" in verdict
    assert "| short texts | mr | gcn-window |" in verdict and "| worse | 1.00 |" in verdict
    assert "| low resource | mr · 10% | gcn-dependency |" in verdict and "| equal |" in verdict
    assert ("**Long documents** (1 comparison: 1 better, 0 equal, 0 worse): the best "
            "GCN-style encoder on a linguistic graph is significantly better on 20ng compared "
            "with the Transformer (its training cost 0.25× the reference's per epoch).") in verdict
    sentence = "the best GCN-style encoder on a linguistic graph is"
    tally = "(1 comparison: {}, {}, {})"
    assert (f"**Short texts** {tally.format('0 better', '0 equal', '1 worse')}: {sentence} "
            "significantly worse on mr") in verdict
    assert (f"**Low resource** {tally.format('0 better', '1 equal', '0 worse')}: {sentence} "
            "equal on mr · 10%") in verdict
    # the comparisons drawn beside the table, in RESULTS.md and the README's block
    assert "![verdict per regime](verdict.png)" in verdict
    assert (study_dir / "verdict.png").stat().st_size > 10_000

    readme = tmp_path / "README.md"
    readme.write_text("<!-- docs-table:start -->\n<!-- docs-table:end -->\n")
    report(study_dir, readme)
    assert ("**Long documents** (1 comparison: 1 better, 0 equal, 0 worse): the best GCN-style "
            "encoder") in readme.read_text()
    assert f"![verdict per regime]({study_dir}/verdict.png)" in readme.read_text()


def test_length_bins_are_quartiles_and_the_cuts_some_text_exceeds():
    lengths = np.arange(1, 101)
    assert length_bins(lengths, set()) == [(0, 25), (25, 50), (50, 75), (75, 100)]
    # the texts beyond a cut in one bin: no quartile above the shortest cut
    assert length_bins(lengths, {60, 100, 512}) == [(0, 25), (25, 50), (50, 60), (60, 100)]
    assert length_bins(lengths, {10, 60}) == [(0, 10), (10, 60), (60, 100)]
    assert length_bins(np.array([3, 3, 3, 9]), set()) == [(0, 3), (4, 9)]  # (3, 4] is empty


def test_length_section_finds_where_the_gap_lies(tmp_path):
    """Long documents where the Transformer is cut at 512: the sparse graph wins only on the
    texts beyond the cut, and only there does it differ from the graph-free control too; the
    table, the sentence and the plot say so bin by bin."""
    rng = np.random.default_rng(3)
    n = 1200
    gold = rng.integers(0, 2, n)
    lengths = np.where(np.arange(n) < 800, rng.integers(20, 500, n), rng.integers(600, 3000, n))
    long = lengths > 512

    def runs_of(encoder, graph, right_short, right_long, max_tokens=None):
        out = []
        for seed in range(3):
            right = rng.random(n) < np.where(long, right_long, right_short)
            run = fake_run("20ng", encoder, graph, seed, gold, 1.0, rng, cost=(1.0, 1.0, 200))
            run["test_predictions"] = np.where(right, gold, 1 - gold).tolist()
            run["config"] = {"data": {"max_tokens": max_tokens}}
            out.append(run)
        return out

    runs = (runs_of("transformer", "complete", 0.85, 0.6, max_tokens=512)
            + runs_of("gcn", "window", 0.85, 0.85) + runs_of("gcn", "none", 0.85, 0.6)
            + runs_of("tfidf-lr", "-", 0.8, 0.8)[:1])
    study_dir = write_runs(tmp_path / "docs", runs, {"20ng": gold})
    (study_dir / "lengths-20ng.json").write_text(json.dumps(lengths.tolist()))
    text = report(study_dir)
    section = text[text.index("### 20ng by text length"):text.index("### 20ng: do they learn")]
    table = [line for line in section.splitlines() if line.startswith("| ") and "texts" not in line]
    # 2 quartile edges below the cut, the cut (the third quartile is a long text's length)
    assert len(table) == 4 and "(beyond the 512 cut)" in table[-1]
    assert [int(row.split("|")[2]) for row in table] == [
        int(((lengths > low) & (lengths <= high)).sum()) for low, high in length_bins(lengths, {512})]
    beyond = [c.strip() for c in table[-1].split("|")]
    assert 20 < float(beyond[-5]) < 30 and beyond[-4] == "< 0.001"  # vs the Transformer
    assert 20 < float(beyond[-3]) < 30 and beyond[-2] == "< 0.001"  # vs the control
    for row in table[:3]:  # bins of texts read whole: no difference
        cells = [c.strip() for c in row.split("|")]
        assert abs(float(cells[-5])) < 6 and float(cells[-4]) > 0.05
    assert ("On the texts longer than 512 tokens, which a cell cut at 512 never reads whole, "
            "gcn-window is better") in section
    assert (study_dir / "20ng-length.png").stat().st_size > 10_000
    # the verdict's long-document sentence carries it
    verdict = text[text.index("**Long documents**"):].splitlines()[0]
    found = re.search(r"Beyond the reference's cut, on the texts it never reads whole, that "
                      r"cell against it: 20ng, the (\d+) of ([\d,]+) test texts \((\d+\.\d) %\) over "
                      r"512 tokens: significantly better, "
                      r"\+2\d\.\d\d points \(p < 0.001, Holm over the length bins\)", verdict)
    # how many texts the comparison rests on: the last bin's, of the whole test set
    total = sum(int(row.split("|")[2]) for row in table)
    assert found and (int(found[1]), found[2]) == (int(beyond[2]), f"{total:,}")
    assert found[3] == f"{100 * int(beyond[2]) / total:.1f}"
    assert "![20ng by length](20ng-length.png)" in section
    (study_dir / "lengths-20ng.json").unlink()  # no lengths (a study from before): no section
    assert "by text length" not in report(study_dir)


def test_agreement_of_two_encoders_beside_their_own_seeds(tmp_path):
    """Two seeds of gat-window agree on 8 of 10 texts, the Transformer's on all; across the
    two cells the 4 seed pairs agree on 0, 0, 2 and 2 texts: 10 %. TF-IDF + LR's one run
    agrees with gat-window's two on 7 and 9 texts (80 %), with the Transformer's on 3 (30 %)."""
    gold = np.zeros(10, dtype=int)
    predictions = {("gat", "window"): [[0] * 10, [0] * 8 + [1, 1]],
                   ("transformer", "complete"): [[1] * 10, [1] * 10],
                   ("tfidf-lr", "-"): [[0] * 7 + [1] * 3]}
    runs = []
    for (encoder, graph), rows in predictions.items():
        for seed, preds in enumerate(rows):
            run = fake_run("mr", encoder, graph, seed, gold, 1.0, np.random.default_rng(seed))
            runs.append(dict(run, test_predictions=preds))
    assert agreement(np.asarray(predictions[("gat", "window")])) == pytest.approx(0.8)
    assert agreement(np.asarray([[0, 1]])) is None  # one seed: no pair
    study_dir = write_runs(tmp_path / "agree", runs, {"mr": gold})
    text = report(study_dir)
    assert "| gat-window | 80.0 | 10.0 |" in text
    assert "| transformer-complete | 10.0 | 100.0 |" in text
    assert "| tfidf-lr | 80.0 | 30.0 | - |" in text  # one deterministic run: no pair of its own
    assert ("On mr, gat-window and transformer-complete predict alike on 10.0 % of the test "
            "texts, two seeds of gat-window on 80.0 % and two of transformer-complete on "
            "100.0 %; gat-window and the strongest baseline, tfidf-lr, on 80.0 %, "
            "transformer-complete and tfidf-lr on 30.0 %.") in text


def test_verdict_says_what_the_graph_adds_over_the_graph_free_control(tmp_path):
    """The best GCN-style cell also meets its table's graph-free control (gcn on no graph):
    on mr it beats the Transformer, but the control with the very same predictions does
    too, so the graph adds nothing; at 10 % of train the graph is what wins; trec has no
    control, and says so."""
    rng = np.random.default_rng(2)
    golds = {d: rng.integers(0, 2, 1000) for d in ("mr", "trec")}
    runs = []
    for dataset, fraction, cells in [
            ("mr", None, [("transformer", "complete", 0.7), ("gcn", "window", 0.8)]),
            ("mr", 0.1, [("transformer", "complete", 0.6), ("gcn", "dependency", 0.8),
                         ("gcn", "none", 0.6)]),
            ("trec", None, [("transformer", "complete", 0.7), ("gat", "window", 0.7)])]:
        runs += [fake_run(dataset, e, g, s, golds[dataset], c, rng, fraction=fraction,
                          cost=(1.0, 1.0, 20)) for e, g, c in cells for s in range(3)]
    runs += [dict(r, graph="none", key=r["key"].replace("gcn-window", "gcn-none")) for r in runs
             if r["key"].startswith("mr/gcn-window/")]  # the control: the same predictions
    study_dir = write_runs(tmp_path / "control", runs, golds)
    text = report(study_dir)
    verdict = text[text.index("# Verdict per regime"):text.index("## mr")]
    assert "| short texts | mr | gcn-window |" in verdict
    # beats the Transformer, not the control: same predictions, a zero-width interval
    assert "| better | 1.00 | - | - | +0.00 [+0.00, +0.00] | 1 |" in verdict
    assert "| short texts | trec | gat-window |" in verdict and "| 1.00 | - | - |" in verdict
    low = next(line for line in verdict.splitlines() if line.startswith("| low resource"))
    graph_delta, graph_p = [c.strip() for c in low.split("|")[-3:-1]]
    delta, low_end, high_end = map(float, re.fullmatch(
        r"([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\]", graph_delta).groups())
    assert 15 < low_end < delta < high_end and graph_p == "< 0.001"
    # trec's cells score alike: "equal", with the interval of what it may hide around 0
    low_end, high_end = map(float, re.search(
        r"equal on trec \(Δ between ([+-][\d.]+) and ([+-][\d.]+)\)", verdict).groups())
    assert low_end < 0 < high_end
    assert ("Against the graph-free control (gcn with no edge between tokens), the graph itself "
            "adds nothing significant on mr.") in verdict
    assert "the graph itself adds significantly on mr · 10%." in verdict
    # on mr the control beats the Transformer as much as the best cell does; at 10 % it does not
    short = next(line for line in verdict.splitlines() if line.startswith("**Short texts**"))
    assert re.search(r" Where it is significantly better, so is the graph-free control on mr "
                     r"\(\+\d+\.\d\d, p < 0\.001\): that gain needs no graph\. On dev, ", short)
    low = next(line for line in verdict.splitlines() if line.startswith("**Low resource**"))
    assert re.search(r" Where it is significantly better, the control is not significantly "
                     r"better on mr · 10% \([+-]\d\.\d\d, p = [\d.]+\)\. On dev, ", low)


def test_a_control_on_the_other_side_of_the_reference_is_said_to_be_there():
    """Where the best cell beats the reference, a control that is significantly worse than it
    is called worse, not merely "not significantly better"."""
    from textgnn.verdict import Outcome, _shared_with_control

    def outcome(where, control):
        return Outcome("long documents", where, "gcn-window", "transformer-complete", 0.62,
                       0.55, 0.08, 0.001, 0.1, control_vs_reference=control)

    text = _shared_with_control([outcome("ohsumed", (-0.0349, 0.002)),
                                 outcome("r8", (0.001, 0.9)), outcome("20ng", (0.05, 0.01))])
    assert text == (" Where it is significantly better, so is the graph-free control on 20ng "
                    "(+5.00, p = 0.01): that gain needs no graph; the control is not "
                    "significantly better on r8 (+0.10, p = 0.9); the control is significantly "
                    "worse on ohsumed (-3.49, p = 0.002).")


def test_verdict_meets_self_attention_on_the_best_cells_own_graph(tmp_path):
    """Self-attention is message passing on the complete graph; on ohsumed gcn-window beats
    the Transformer on the complete graph, but the Transformer on the window graph (here with
    the very same predictions) does as well: the gain is the window's edges, not the GCN. On
    20ng gcn-window beats attention on its graph too; trec has no transformer-window, and its
    row says so."""
    rng = np.random.default_rng(4)
    golds = {d: rng.integers(0, 2, 1000) for d in ("ohsumed", "20ng", "trec")}
    runs = []
    for dataset, cells in [
            ("ohsumed", [("transformer", "complete", 0.6), ("gcn", "window", 0.8)]),
            ("20ng", [("transformer", "complete", 0.6), ("gcn", "window", 0.8),
                      ("transformer", "window", 0.6)]),
            ("trec", [("transformer", "complete", 0.7), ("gcn", "window", 0.7)])]:
        runs += [fake_run(dataset, e, g, s, golds[dataset], c, rng, cost=(1.0, 1.0, 20))
                 for e, g, c in cells for s in range(3)]
    runs += [dict(r, encoder="transformer", key=r["key"].replace("gcn-window", "transformer-window"))
             for r in runs if r["key"].startswith("ohsumed/gcn-window/")]
    text = report(write_runs(tmp_path / "attention", runs, golds))
    verdict = text[text.index("# Verdict per regime"):text.index("## 20ng")]
    rows = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[1:-1]]
            for line in verdict.splitlines() if line.startswith(("| short", "| long"))}
    # columns: ..., outcome, cost ×, attention Δ, its p, graph Δ, its p
    assert rows["ohsumed"][8:12] == ["better", "1.00", "+0.00 [+0.00, +0.00]", "1"]
    delta, low_end, high_end = map(float, re.fullmatch(
        r"([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\]", rows["20ng"][10]).groups())
    assert 15 < low_end < delta < high_end and rows["20ng"][11] == "< 0.001"
    assert rows["trec"][10:12] == ["-", "-"]
    long = next(line for line in verdict.splitlines() if line.startswith("**Long documents**"))
    assert re.search(r" Against self-attention on its own graph \(the Transformer on the same "
                     r"edges: only the message function differs\), it is "
                     r"significantly better on 20ng \(transformer-window, \+\d+\.\d\d, "
                     r"p < 0\.001\) and equal on ohsumed \(transformer-window, \+0\.00, p = 1\)\. "
                     r"Where it beats the Transformer on the complete graph but not attention on "
                     r"its own graph \(ohsumed\), that gain is the graph's edges, not the "
                     r"GCN-style message function\.", long), long
    short = next(line for line in verdict.splitlines() if line.startswith("**Short texts**"))
    assert "self-attention on its own graph" not in short


def test_verdict_meets_the_strongest_bag_of_words_of_each_table_picked_on_dev(tmp_path):
    """On mr WideMLP has the best dev score but scores like gcn-window on test, TF-IDF + LR the
    other way round: the verdict meets WideMLP (picked on dev) and finds them equal. On sst2
    TF-IDF + LR's one deterministic run is paired with each of the three seeds and is far
    above. trec has no baseline, and the sentence leaves it out."""
    rng = np.random.default_rng(5)
    golds = {d: rng.integers(0, 2, 1000) for d in ("mr", "sst2", "trec")}
    runs = [fake_run(d, e, g, s, golds[d], c, rng) for d in golds
            for e, g, c in [("transformer", "complete", 0.7), ("gcn", "window", 0.72)]
            for s in range(3)]
    bags = [fake_run("mr", "wide-mlp", "-", s, golds["mr"], 0.72, rng) for s in range(3)]
    bags += [fake_run(d, "tfidf-lr", "-", 0, golds[d], 0.95, rng) for d in ("mr", "sst2")]
    for r in bags:
        if r["dataset"] == "mr":  # dev the other way round from test
            r["dev"] = dict(r["dev"], accuracy={"wide-mlp": 0.99, "tfidf-lr": 0.80}[r["encoder"]])
    study_dir = write_runs(tmp_path / "bags", runs + bags, golds)
    text = report(study_dir)
    short = next(line for line in text.splitlines() if line.startswith("**Short texts**"))
    found = re.search(r" Against the strongest baseline of its table \(TF-IDF \+ LR or "
                      r"WideMLP, whichever is best on dev: bags of n-grams, no graph\), it is "
                      r"equal on mr \(WideMLP, "
                      r"([+-]\d+\.\d\d), p = [\d.]+\) and significantly worse on sst2 "
                      r"\(TF-IDF \+ LR, ([+-]\d+\.\d\d), p < 0\.001\)\.", short)
    assert found, short
    # where it is worse, its seeds' vote is too (0.72 a seed against 0.95): no variance to blame
    assert re.search(r" Where it is significantly worse, the majority vote of its seeds is "
                     r"significantly worse on sst2 \([+-]\d+\.\d\d, p < 0\.001\)\.$", short), short
    assert abs(float(found[1])) < 3
    # the deterministic run counts once against the mean of gcn-window's three seeds
    cells = [r for r in runs if r["dataset"] == "sst2" and r["encoder"] == "gcn"]
    mine = np.mean([np.mean(np.asarray(r["test_predictions"]) == golds["sst2"]) for r in cells])
    theirs = np.mean(np.asarray(bags[-1]["test_predictions"]) == golds["sst2"])
    assert float(found[2]) == pytest.approx(100 * (mine - theirs), abs=0.006)
    assert "trec" not in short[short.index("strongest baseline"):]


def test_the_best_cell_is_chosen_on_dev_and_test_only_reports_it(tmp_path):
    """gcn-window scores highest on test but lowest on dev, gat-dependency the other way
    round: the verdict, the headline and the length section name gat-dependency, whose test
    score is then reported as it is."""
    rng = np.random.default_rng(4)
    gold = rng.integers(0, 2, 400)
    runs = [fake_run("mr", e, g, s, gold, c, rng) for e, g, c in
            [("transformer", "complete", 0.7), ("gcn", "window", 0.85), ("gat", "dependency", 0.75)]
            for s in range(3)]
    for r in runs:
        r["dev"] = dict(r["dev"], accuracy={"gcn": 0.70, "gat": 0.80, "transformer": 0.75}[r["encoder"]])
        r["config"] = {"data": {}}  # no cut
    study_dir = write_runs(tmp_path / "dev", runs, {"mr": gold})
    (study_dir / "lengths-mr.json").write_text(json.dumps(rng.integers(5, 40, 400).tolist()))
    text = report(study_dir)
    gat = np.mean([r["test"]["accuracy"] for r in runs if r["encoder"] == "gat"])
    assert f"| short texts | mr | gat-dependency | {100 * gat:.2f} |" in text
    assert f"Best graph model from scratch on mr (chosen on dev): gat-dependency {100 * gat:.2f}" in text
    assert "Δ: gat-dependency, the best GCN-style cell on dev, against each" in text
    assert "| short texts | mr | gcn-window |" not in text


def test_a_tuned_cell_is_picked_on_the_seeds_its_search_did_not_see(tmp_path):
    """Three tuned cells, 3 seeds each; each seed-0 run has the config of a complete trial of
    the search `sentences` (it retrains that trial). gat-window's seed 0 drew a lucky dev score
    (0.99; fresh seeds 0.70), gcn-window's did not (0.80; fresh 0.78): picked on the fresh seeds
    the best cell is gcn-window, on every seed gat-window, and the report says both. The
    Transformer's trial recorded another dev score than its retrained run: "differs"."""
    import optuna

    from textgnn.config import Config

    rng = np.random.default_rng(7)
    gold = rng.integers(0, 2, 400)
    dev = {("gcn", "window"): (0.80, 0.78), ("gat", "window"): (0.99, 0.70),
           ("transformer", "complete"): (0.75, 0.74)}
    storage = f"sqlite:///{tmp_path / 'sentences' / 'optuna.sqlite3'}"
    (tmp_path / "sentences").mkdir()
    runs = []
    for (encoder, graph), (searched, fresh) in dev.items():
        name = f"{encoder}-{graph}"
        search = optuna.create_study(study_name=f"mr/{name}", storage=storage)
        for s in range(3):
            config = Config.from_dict({"model": {"encoder": encoder}, "graph": {"kind": graph},
                                       "train": {"seed": s}}).to_dict()
            run = fake_run("mr", encoder, graph, s, gold, 0.75, rng)
            run.update(config=config, config_file=f"configs/tuned/sentences/mr/{name}.yaml",
                       dev=dict(run["dev"], accuracy=searched if s == 0 else fresh))
            runs.append(run)
            if s == 0:  # the search's chosen trial, and one with other values
                recorded = searched + (0.01 if encoder == "transformer" else 0.0)
                search.add_trial(optuna.trial.create_trial(
                    state=optuna.trial.TrialState.COMPLETE, value=recorded,
                    user_attrs={"config": run["config"]}))
                other = Config.from_dict({**config, "train": {**config["train"], "lr": 0.5}})
                search.add_trial(optuna.trial.create_trial(
                    state=optuna.trial.TrialState.COMPLETE, value=0.5,
                    user_attrs={"config": other.to_dict()}))
    study_dir = write_runs(tmp_path / "study", runs, {"mr": gold})
    text = report(study_dir)
    assert "| short texts | mr | gcn-window |" in text
    assert ("| gat-window | sentences, trial 0 | 99.00 | seed 0: 99.00 (same) | 70.00 ± 0.00 (2) "
            "| +29.00 |") in text
    assert "| transformer-complete | sentences, trial 0 | 76.00 | seed 0: 75.00 (differs) |" in text
    sentence = next(line for line in text.splitlines() if line.startswith("The runs with the search's seed"))
    # optimism: (0.80 - 0.78) + (0.99 - 0.70) + (0.76 - 0.74), over 3 cells
    assert sentence.startswith("The runs with the search's seed retrain their trials' dev accuracy "
                               "exactly on 2 of 3 cells (not on transformer-complete). On fresh "
                               "seeds the chosen configs score 11.00 points below the search's best")
    assert re.search(r"Picked on every seed's dev, the best GCN-style cell would be gat-window "
                     r"\([+-]\d+\.\d\d vs transformer-complete, p [=<] [\d.]+: \w+\) instead of "
                     r"gcn-window \([+-]\d+\.\d\d vs transformer-complete, p [=<] [\d.]+: \w+\)\.$",
                     sentence), sentence
    # the fresh seeds' dev is the table's dev column
    assert re.search(r"\| gcn \| window \| 3 \| [\d.]+ ± [\d.]+ \[±[\d.]+\] \| [\d.]+ \| 78\.00 \|", text)


def test_class_section_finds_the_class_a_gain_sits_in(tmp_path):
    """Four classes of 200 test texts: the Transformer and the control get 70 % of every class
    right, gat-window 70 % of classes 0, 1, 3 and 95 % of class 2. The section gives each
    class's recall as computed here and finds the gain in class 2 alone; a binary dataset of
    the same study gets no section."""
    rng = np.random.default_rng(5)
    gold = np.repeat(np.arange(4), 200)
    golds = {"trec": gold, "mr": rng.integers(0, 2, 400)}
    runs = []
    for (encoder, graph), right in {("transformer", "complete"): [0.7] * 4,
                                    ("gat", "window"): [0.7, 0.7, 0.95, 0.7],
                                    ("gcn", "none"): [0.7] * 4}.items():
        for seed in range(3):
            ok = rng.random(gold.size) < np.asarray(right)[gold]
            r = fake_run("trec", encoder, graph, seed, gold, 0.7, rng)
            r["test_predictions"] = np.where(ok, gold, (gold + 1) % 4).tolist()
            r["config"] = {"data": {}}
            runs.append(r)
        runs += [fake_run("mr", encoder, graph, s, golds["mr"], 0.7, rng) for s in range(3)]
    for r in runs:  # gat-window is the best GCN-style cell on dev
        r["dev"] = dict(r["dev"], accuracy=0.9 if r["encoder"] == "gat" else 0.6)
    study_dir = write_runs(tmp_path / "classes", runs, golds)
    text = report(study_dir)
    assert "### mr by class" not in text
    section = text[text.index("### trec by class"):].split("\n### ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "texts" not in line]
    assert [row.split(" | ")[:2] for row in rows] == [["| 0", "200"], ["| 1", "200"],
                                                        ["| 2", "200"], ["| 3", "200"]]
    gat = [r for r in runs if r["dataset"] == "trec" and r["encoder"] == "gat"]
    recall = np.mean([np.mean(np.asarray(r["test_predictions"])[gold == 2] == 2) for r in gat])
    assert rows[2].split(" | ")[3] == f"{100 * recall:.2f}"
    assert ("On trec, gat-window by class (Holm over the classes): against transformer-complete, "
            "significantly better on 2; against gcn-none, significantly better on 2.") in section


def test_the_report_names_the_search_behind_tuned_cells(tmp_path):
    """A cell trained from ``configs/tuned/<search>/...`` is named beside its dataset's table
    with a link to that search's TUNING.md (trials, best dev, chosen values); a cell on the
    study's own config is not; the search's trials and hours join the compute table."""
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 200)
    tuned = "configs/tuned/sentences/mr/{}.yaml"
    runs = [dict(fake_run("mr", e, g, s, gold, 0.8, rng), config_file=f)
            for e, g, f in [("gcn", "window", tuned.format("gcn-window")),
                            ("transformer", "complete", tuned.format("transformer-complete")),
                            ("wide-mlp", "-", tuned.format("wide-mlp--")),
                            ("gat", "window", "configs/base.yaml")] for s in range(2)]
    (tmp_path / "sentences").mkdir()
    (tmp_path / "sentences" / "TUNING.md").write_text("# Search `sentences`\n")
    # its storage: 2 finished trials and a failed one, which the budget does not count
    import optuna

    search = optuna.create_study(study_name="mr/gcn-window",
                                 storage=f"sqlite:///{tmp_path / 'sentences' / 'optuna.sqlite3'}")
    for state in ("COMPLETE", "PRUNED", "FAIL"):
        search.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState[state], value=0.5 if state == "COMPLETE" else None,
            user_attrs={"cpu_seconds": 1800.0}))
    study_dir = write_runs(tmp_path / "study", runs, {"mr": gold})
    text = report(study_dir)
    assert ("Tuned cells (gcn-window, transformer-complete, wide-mlp): configs chosen on dev by the "
            "search `sentences`, the same number of trials per cell; trials, best dev and chosen values: "
            "[sentences/TUNING.md](../sentences/TUNING.md).") in text
    assert "gat-window" not in text[text.index("Tuned cells"):].splitlines()[0]
    # beside the runs' cost: the finished trials' CPU hours (not the failed one's)
    assert "| tuning: search `sentences` | 2 trials | 1.0 | 0.0 |" in text
    assert "≤: an upper bound" not in text
    # a trial from before CPU time was counted: its wall time stands in, the sum is a bound
    search.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=0.6))
    text = report(study_dir)
    assert "| tuning: search `sentences` | 3 trials | ≤ 1.0 | 0.0 |" in text
    assert ("≤: an upper bound; 1 of `sentences`'s trials ran before CPU time was counted, and "
            "their wall time stands in for it (one thread each).") in text
    # cells of the same search that the study does not train on (another dataset's, one added
    # for another study's question) are not its cost
    for name in ("sst2/gcn-window", "mr/gat-dependency"):
        optuna.create_study(study_name=name, storage=search._storage).add_trial(
            optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=0.5,
                                      user_attrs={"cpu_seconds": 3600.0}))
    text = report(study_dir)
    assert "| tuning: search `sentences` | 3 trials | ≤ 1.0 | 0.0 |" in text
    assert "continued from the checkpoint" not in text
    # a trial that continued a cut-off attempt's checkpoint before resumed trials counted the
    # earlier attempt's time: the search's hours fall short, and the report says by about how
    # much (the cut attempt's 3 epochs at the trial's 1800 s for its own 2)
    for state, epochs in (("FAIL", 3), ("COMPLETE", 5)):
        search.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState[state], value=0.7 if state == "COMPLETE" else None,
            intermediate_values={e: 0.5 for e in range(1, epochs + 1)},
            user_attrs={"cpu_seconds": 1800.0, "run_dir": "runs/sentences/mr/gcn-window/trial3",
                        "config": {"train": {"epochs": 5}}}))
    assert ("1 of `sentences`'s trials continued from the checkpoint of an attempt cut off "
            "before a resumed trial counted that attempt's time: their hours are their last "
            "attempt's only. The epochs those attempts had trained, at each trial's own rate per "
            "epoch, come to about 0.8 CPU hours more") in report(study_dir)


def test_a_search_run_on_from_another_costs_its_own_trials_only(tmp_path):
    """A search that ``continues:`` another holds copies of that one's trials; the compute
    table counts them once, as the other search's cost, and the run-on's row its own trials."""
    import optuna

    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 200)
    tune_dir, results = tmp_path / "configs" / "tune", tmp_path / "results"
    tune_dir.mkdir(parents=True)
    (tune_dir / "base.yaml").write_text("model: {hidden: 16}\n")
    search = {"config": "base.yaml", "datasets": ["mr"], "seed": 0,
              "cells": [{"encoder": "gcn", "graph": "window"},
                        {"encoder": "transformer", "graph": "complete"}],
              "space": {"train.lr": {"low": 0.001, "high": 0.01}}}
    (tune_dir / "small.yaml").write_text(yaml.safe_dump(search | {"name": "small", "trials": 2}))
    (tune_dir / "more.yaml").write_text(yaml.safe_dump(
        search | {"name": "more", "trials": 3, "continues": "small.yaml"}))
    urls = {}
    for name in ("small", "more"):
        (results / name).mkdir(parents=True)
        urls[name] = f"sqlite:///{results / name / 'optuna.sqlite3'}"
    small = optuna.create_study(study_name="mr/gcn-window", storage=urls["small"])
    for _ in range(2):
        small.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE,
                                                  value=0.5, user_attrs={"cpu_seconds": 1800.0}))
    optuna.copy_study(from_study_name="mr/gcn-window", from_storage=urls["small"],
                      to_storage=urls["more"])
    optuna.load_study(study_name="mr/gcn-window", storage=urls["more"]).add_trial(
        optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=0.6,
                                  user_attrs={"cpu_seconds": 3600.0}))
    runs = [dict(fake_run("mr", e, g, s, gold, 0.8, rng),
                 config_file=str(tmp_path / "configs" / "tuned" / "more" / "mr" / f"{e}-{g}.yaml"))
            for e, g in [("gcn", "window"), ("transformer", "complete")] for s in range(2)]
    text = report(write_runs(results / "study", runs, {"mr": gold}))
    assert "| tuning: search `more` | 1 trials (its own; runs on from `small`) | 1.0 | 0.0 |" in text
    # the trials it copied are the cost of the search it runs on from, counted there once
    assert "| tuning: search `small` | 2 trials | 1.0 | 0.0 |" in text


def test_a_cut_dataset_takes_each_detail_inside_its_own_parentheses():
    """ "r8 (cut at 256 tokens)" with the bounds of an "equal" or the baseline beside it
    reads "r8 (cut at 256 tokens; ...)", never "r8 (cut at 256 tokens) (...)"."""
    from textgnn.verdict import Outcome, regime_sentence

    outcome = Outcome("long documents", "r8 (cut at 256 tokens)", "gcn-window",
                      "transformer-complete", 0.96, 0.97, -0.01, 0.4, 0.5,
                      interval=(-0.0223, 0.0033), against_baseline=("TF-IDF + LR", -0.0175, 0.003))
    sentence = regime_sentence("long documents", [outcome])
    assert "equal on r8 (cut at 256 tokens; Δ between -2.23 and +0.33) compared" in sentence
    assert sentence.endswith("significantly worse on r8 (cut at 256 tokens; TF-IDF + LR, -1.75, "
                             "p = 0.003).")
    assert ") (" not in sentence


def test_a_study_of_low_resource_curves_alone_reports_them_without_a_full_data_table(tmp_path):
    """A study that repeats only some shares of another's curves (claim2-patience) has no
    full-data runs: its RESULTS.md says its curves end at its largest share, and its README
    block holds the low-resource verdict with no empty headline table above it."""
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 400)
    runs = [fake_run("mr", e, g, s, gold, c, rng, fraction=f)
            for f in (0.01, 0.03) for (e, g), c in ((("gcn", "window"), 0.75),
                                                    (("transformer", "complete"), 0.6))
            for s in range(3)]
    study_dir = write_runs(tmp_path / "lows", runs, {"mr": gold})
    readme = tmp_path / "README.md"
    readme.write_text("<!-- lows-table:start -->\n<!-- lows-table:end -->\n")
    text = report(study_dir, readme=readme)
    assert "this study has no full-data runs: its curves end at its largest share" in text
    assert "100 % is the full-data grid above" not in text
    assert "## mr · 1% of train" in text and "## mr · 3% of train" in text
    block = readme.read_text()
    assert "| dataset |" not in block
    assert "**Low resource** (2 comparisons: 2 better" in block


def test_targets_table_counts_the_datasets_above_tfidf(tmp_path):
    """mr clears its bar and TF-IDF + LR; trec falls short of its bar and has no TF-IDF run;
    cola (MCC) has no bar and stays below TF-IDF: above it on 1 of the 2 datasets with both.
    The README block says which bars were met and by how much the others were missed."""
    rng = np.random.default_rng(6)
    golds = {d: rng.integers(0, 2, 1000) for d in ("mr", "trec", "cola")}
    runs = [fake_run(d, "gcn", "window", s, golds[d], c, rng) for d, c in
            (("mr", 0.9), ("trec", 0.7), ("cola", 0.6)) for s in range(2)]
    runs += [fake_run(d, "tfidf-lr", "-", 0, golds[d], c, rng) for d, c in (("mr", 0.7), ("cola", 0.9))]
    study_dir = write_runs(tmp_path / "targets", runs, golds)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- targets-table:start -->\n<!-- targets-table:end -->\n")
    text = report(study_dir, readme=readme)
    targets = text[text.index("# Targets"):text.index("## cola")]
    mean = lambda d, e: 100 * np.mean([r["test"]["accuracy"] for r in runs  # noqa: E731
                                        if (r["dataset"], r["encoder"]) == (d, e)])
    assert f"| mr | accuracy | gcn-window | {mean('mr', 'gcn'):.2f} | 76.8 | met | " in targets
    assert f"| {mean('mr', 'tfidf-lr'):.2f} | yes |" in targets
    trec = f"| trec | accuracy | gcn-window | {mean('trec', 'gcn'):.2f} | 89.0 | missed by "
    assert f"{trec}{89.0 - mean('trec', 'gcn'):.2f} | - | - |" in targets
    mcc = lambda e: 2 * mean("cola", e) - 100  # noqa: E731  (fake runs: mcc = 2 acc - 1)
    assert f"| cola | mcc | gcn-window | {mcc('gcn'):.2f} | - | - | {mcc('tfidf-lr'):.2f} | no |" in targets
    above = ("Above TF-IDF + LR on 1 of the 2 datasets that have both (mr); Claim study v2's bar "
             "is at least 4 of its 7.")
    assert above in targets
    # the README block says the same in words, where a reader looks first
    assert (f"against the project's bar for it): met on mr; missed on trec by "
            f"{89.0 - mean('trec', 'gcn'):.2f}. {above}") in readme.read_text()


def test_a_study_without_tfidf_says_nothing_of_being_above_it(tmp_path):
    """A check that repeats only the cells it changes (claim2-same-values) has no TF-IDF + LR
    run: its targets say which bars were met, and nothing of a count over no dataset."""
    rng = np.random.default_rng(7)
    gold = rng.integers(0, 2, 1000)
    runs = [fake_run("mr", "gcn", "window", s, gold, 0.9, rng) for s in range(2)]
    study_dir = write_runs(tmp_path / "no-tfidf", runs, {"mr": gold})
    readme = tmp_path / "README.md"
    readme.write_text("<!-- no-tfidf-table:start -->\n<!-- no-tfidf-table:end -->\n")
    text = report(study_dir, readme=readme)
    targets = text[text.index("# Targets"):text.index("## mr")]
    assert "| mr | accuracy | gcn-window | " in targets and "| 76.8 | met | - | - |" in targets
    assert "Above TF-IDF" not in text
    block = readme.read_text()
    assert "against the project's bar for it): met on mr.\n" in block and "Above TF-IDF" not in block


def test_a_search_under_way_counts_in_what_the_study_cost(toy_data, tmp_path):
    """The study trains gat on configs the search `s` will write; no run uses them yet, but
    the report's cost table already holds the search's trials (3,600 CPU seconds)."""
    import optuna

    study = write_study(tmp_path, name="under-way", datasets=[str(toy_data)], graphs=[],
                        encoders=[], seeds=1, baselines=["tfidf-lr"],
                        cells=[{"encoder": "gat", "graph": "window",
                                "config": "tuned/s/{dataset}/{encoder}-{graph}.yaml"}])
    out = tmp_path / "results"
    run_study(study, out)  # TF-IDF runs; gat waits for its config
    (out / "s").mkdir()
    cell = optuna.create_study(study_name=f"{toy_data.name}/gat-window",
                               storage=f"sqlite:///{out / 's' / 'optuna.sqlite3'}")
    for value in (0.5, 0.6):
        cell.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE, value=value, params={"train.lr": 0.01},
            distributions={"train.lr": optuna.distributions.FloatDistribution(0.001, 0.1)},
            user_attrs={"cpu_seconds": 1800.0}))
    assert "| tuning: search `s` | 2 trials | 1.0 | 0.0 |" in report(out / "under-way")
    study.path.write_text("name: [")  # a study file mid-edit: only the searches runs name
    assert "search `s`" not in report(out / "under-way")


def test_low_resource_plot_marks_each_shares_comparison(monkeypatch, tmp_path):
    """Above each share the best GCN-style cell's Δ against the Transformer and its p; a star
    on that cell's point only where the difference is significant."""
    import textgnn.low_resource_report as low_resource
    from textgnn.verdict import Outcome

    drawn = {}
    monkeypatch.setattr(low_resource, "save_figure", lambda fig, path: drawn.update(fig=fig))
    marks = {0.1: Outcome("low resource", "mr · 10%", "gcn-dependency", "transformer-complete",
                          0.62, 0.59, 0.034, 0.0004, 1.0),
             1.0: Outcome("low resource", "mr · 100%", "gat-dependency", "transformer-complete",
                          0.744, 0.746, -0.002, 1.0, 1.0)}
    curves = {"gcn-dependency": [(0.1, 0.62, 0.01), (1.0, 0.74, 0.01)],
              "transformer-complete": [(0.1, 0.59, 0.02), (1.0, 0.746, 0.01)]}
    low_resource.plot_curves(curves, set(), "mr", "accuracy", tmp_path / "x.png", marks)
    [ax] = drawn["fig"].axes
    texts = {t.get_text() for t in ax.texts}
    assert texts == {"gcn-dependency\n+3.4, p < 0.001", "gat-dependency\n-0.2, p = 1"}
    [stars] = [c for c in ax.collections if c.get_label().startswith("best GCN-style cell")]
    assert stars.get_offsets().tolist() == [[10.0, 62.0]]  # the significant share alone
    import matplotlib.pyplot as plt

    plt.close(drawn["fig"])


def test_low_resource_spread_names_the_shares_where_the_transformers_seeds_spread_most():
    """At 10 % the Transformer's seeds spread most (std 5 points against 2 and 1); at 100 %
    gcn-window's spread more; WideMLP, a baseline, spreads more still but is no graph model;
    TF-IDF + LR, one run a share, has no spread."""
    from textgnn.low_resource_report import spread_lines

    spread = {"transformer-complete": {0.1: 0.05, 1.0: 0.01}, "gcn-window": {0.1: 0.02, 1.0: 0.02},
              "gcn-none": {0.1: 0.01}, "wide-mlp": {0.1: 0.09, 1.0: 0.09},
              "tfidf-lr": {0.1: None, 1.0: None}}
    lines = spread_lines("mr", "accuracy", spread, {"wide-mlp", "tfidf-lr"})
    assert "| cell | 10% | 100% |" in lines
    assert "| gcn-none | 1.00 | - |" in lines and "| tfidf-lr | - | - |" in lines
    assert lines[-2] == ("The Transformer's seeds spread more than every other graph model's at 1 "
                         "of 2 shares (10%); most at 10%: std 5.00 points against at most 2.00 "
                         "for the others.")
    spread["gcn-none"] = {0.1: 0.06}
    assert spread_lines("mr", "accuracy", spread, {"wide-mlp"})[-2].startswith("At no share")


def test_majority_vote_of_seeds_breaks_ties_toward_the_earliest_seed():
    from textgnn.vote_report import majority_vote

    preds = np.array([[0, 1, 2, 2],
                      [1, 1, 0, 1],
                      [1, 0, 0, 0]])
    # text 0: 1 twice; 1: 1 twice; 2: 0 twice; 3: a three-way tie, seed 0's label
    assert majority_vote(preds).tolist() == [1, 1, 0, 2]
    assert majority_vote(np.array([[5, 3], [3, 5]])).tolist() == [5, 3]


def test_the_seeds_vote_shows_how_much_of_a_gap_to_the_strongest_baseline_is_variance(tmp_path):
    """gcn-window's 3 seeds are each wrong on a different third of 300 texts (each scores
    2/3) but never on the same text, so their vote is right everywhere; TF-IDF + LR's one run
    scores 0.9: the vote closes the gap and passes it, and the verdict says so."""
    gold = np.zeros(300, dtype=int)

    def run_of(encoder, graph, seed, preds):
        run = fake_run("mr", encoder, graph, seed, gold, 1.0, np.random.default_rng(seed))
        acc = float(np.mean(np.asarray(preds) == gold))
        return dict(run, test_predictions=list(preds), test=dict(run["test"], accuracy=acc))

    runs = []
    for s in range(3):
        preds = [0] * 300
        preds[100 * s:100 * (s + 1)] = [1] * 100
        runs += [run_of("gcn", "window", s, preds),
                 run_of("transformer", "complete", s, [1] * 30 + [0] * 270)]
    runs.append(run_of("tfidf-lr", "-", 0, [1] * 30 + [0] * 270))
    study_dir = write_runs(tmp_path / "vote", runs, {"mr": gold})
    text = report(study_dir)
    assert "| gcn-window | 3 | 66.67 | 100.00 | +33.33 |" in text
    assert "| transformer-complete | 3 | 90.00 | 90.00 | +0.00 |" in text
    sentence = next(line for line in text.splitlines() if line.startswith("On mr, the vote of"))
    assert sentence.startswith("On mr, the vote of gcn-window's 3 seeds scores 100.00 (its runs "
                               "66.67 on average) against the strongest baseline, tfidf-lr, at "
                               "90.00: Δ +10.00, p < 0.001")
    assert sentence.endswith("its runs trail that score by 23.33 points, and the vote passes it.")
    # the verdict: the runs are significantly worse than TF-IDF + LR, their vote is not
    short = next(line for line in text.splitlines() if line.startswith("**Short texts**"))
    assert ("it is significantly worse on mr (TF-IDF + LR, -23.33, p < 0.001). Where it is "
            "significantly worse, the majority vote of its seeds is significantly better on mr "
            "(+10.00, p < 0.001): a shortfall the vote does not show is the seeds' variance, not "
            "the model's bias.") in short


def test_the_report_says_whether_a_gap_on_test_shows_on_dev_too(tmp_path):
    """20NG's test set is later-dated than its train and dev: there gcn-dependency leads the
    Transformer on test (+10.00) while the two are level on dev, which the sentence beside the
    table shows, with how each cell's score moves from dev to test, and so does the verdict."""
    gold = np.zeros(100, dtype=int)

    def run_of(encoder, graph, seed, dev, test):
        run = fake_run("20ng", encoder, graph, seed, gold, 1.0, np.random.default_rng(seed))
        preds = [0] * round(100 * test) + [1] * (100 - round(100 * test))
        return dict(run, test_predictions=preds, dev=dict(run["dev"], accuracy=dev),
                    test=dict(run["test"], accuracy=test))

    runs = []
    for seed, (dev_gcn, dev_ref) in enumerate([(0.91, 0.90), (0.90, 0.91), (0.92, 0.92)]):
        runs += [run_of("gcn", "dependency", seed, dev_gcn, 0.85),
                 run_of("transformer", "complete", seed, dev_ref, 0.75)]
    runs.append(run_of("tfidf-lr", "-", 0, 0.93, 0.86))
    text = report(write_runs(tmp_path / "shift", runs, {"20ng": gold}))
    sentence = next(line for line in text.splitlines() if line.startswith("From dev to test"))
    assert sentence == ("From dev to test on 20ng: test accuracy minus dev accuracy (mean over "
                        "every seed) runs from -16.00 (transformer-complete) to -6.00 "
                        "(gcn-dependency) across the table's cells. gcn-dependency against "
                        "transformer-complete, on the same 3 seeds: +0.00 on dev (seeds' std "
                        "1.00), +10.00 on test.")
    long = next(line for line in text.splitlines() if line.startswith("**Long documents**"))
    assert long.startswith("**Long documents** (1 comparison: 1 better, 0 equal, 0 worse)")
    assert (" On dev, where test finds a difference (mean over the paired seeds, their std): "
            "+0.00 on 20ng (1.00).") in long
