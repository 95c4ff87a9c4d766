"""Grid studies: many training runs, one JSON line each, and a statistical report.

``python -m textgnn experiment configs/claim.yaml`` trains every dataset x graph x encoder x
seed cell through the normal training path and appends one line per finished run to
``results/<study>/runs.jsonl`` (flushed and fsynced, so a killed study loses at most the run
in flight; rerunning skips finished runs). ``python -m textgnn report results/<study>``
turns the lines into tables with confidence intervals and paired significance tests.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .config import Config, apply_overrides, load_config, read_yaml
from .data import load_configured
from .errors import TextGNNError
from .metrics import summarize
from .training import usable_cpus

REFERENCE = ("transformer", "complete")  # the cell every other cell is compared with
# ... and within a tagged group of cells (pretrained features), the fine-tuned encoder
TAGGED_REFERENCE = ("finetune", "none")
BASELINE_ENCODER = "tfidf-lr"


@dataclass
class Study:
    name: str
    config: Path  # base experiment config, shared by every cell
    datasets: dict[str, list[str]]  # dataset -> its own overrides (same for every encoder)
    graphs: list[str]
    encoders: list[str]
    seeds: list[int]
    overrides: list[str] = field(default_factory=list)  # applied to every run
    baselines: list[str] = field(default_factory=list)
    # cells outside the grid, each with the datasets it runs on; a tagged cell (e.g. on
    # pretrained features) may have its own base config and is reported in its own table
    extra: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Study:
        path = Path(path)
        raw = read_yaml(path)
        known = {"name", "config", "datasets", "graphs", "encoders", "seeds", "overrides",
                 "baselines", "cells"}
        unknown = set(raw) - known
        if unknown:
            raise TextGNNError(f"{path}: unknown study key(s) {sorted(unknown)}; valid: {sorted(known)}")
        try:
            datasets = raw["datasets"]
            if isinstance(datasets, list):
                datasets = {d: {} for d in datasets}
            return cls(
                name=str(raw["name"]),
                config=(path.parent / raw["config"]).resolve(),
                datasets={d: [f"{k}={v}" for k, v in (o or {}).items()] for d, o in datasets.items()},
                graphs=list(raw["graphs"]),
                encoders=list(raw["encoders"]),
                seeds=list(raw["seeds"]) if isinstance(raw["seeds"], list) else list(range(raw["seeds"])),
                overrides=[f"{k}={v}" for k, v in (raw.get("overrides") or {}).items()],
                baselines=list(raw.get("baselines") or []),
                extra=[{"encoder": c["encoder"], "graph": c["graph"],
                        "datasets": list(c.get("datasets") or datasets), "tag": c.get("tag", ""),
                        "label": c.get("label", ""),
                        "config": (path.parent / c["config"]).resolve() if c.get("config") else None}
                       for c in raw.get("cells") or []],
            )
        except KeyError as exc:
            raise TextGNNError(f"{path}: missing study key {exc}") from None

    def cells(self, datasets: list[str] | None = None, seeds: int | None = None) -> list[Cell]:
        """Baselines first (seconds each), then the grid, then the extra cells."""
        chosen = [d for d in self.datasets if datasets is None or d in datasets]
        seed_list = self.seeds[:seeds] if seeds else self.seeds
        return ([Cell(d, "-", b, 0) for d in chosen for b in self.baselines]
                + [Cell(d, g, e, s) for d in chosen for g in self.graphs for e in self.encoders
                   for s in seed_list]
                + [Cell(d, c["graph"], c["encoder"], s, c["tag"], c["config"], c["label"])
                   for c in self.extra
                   for d in chosen if d in c["datasets"] for s in seed_list])


@dataclass(frozen=True)
class Cell:
    dataset: str
    graph: str
    encoder: str
    seed: int
    tag: str = ""
    config: Path | None = None  # instead of the study's base config
    label: str = ""  # tells apart cells of one encoder and graph on different base configs

    @property
    def key(self) -> str:
        # a dataset given as a directory is keyed by its folder name
        label = f"~{self.label}" if self.label else ""
        tag = f"@{self.tag}" if self.tag else ""
        return f"{Path(self.dataset).name}/{self.encoder}{label}-{self.graph}{tag}/seed{self.seed}"


def resolved_config(study: Study, cell: Cell) -> dict:
    overrides = [*study.overrides, f"data.name={cell.dataset}", *study.datasets[cell.dataset],
                 f"graph.kind={cell.graph}", f"model.encoder={cell.encoder}",
                 f"train.seed={cell.seed}"]
    return load_config(cell.config or study.config, overrides).to_dict()


def read_runs(path: Path) -> list[dict]:
    """Finished runs; a torn last line (killed mid-write) is ignored."""
    if not path.is_file():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


def _append(path: Path, record: dict) -> None:
    # after a kill mid-write the file ends in a torn line: start on a fresh line
    torn = path.is_file() and path.stat().st_size and path.read_bytes()[-1:] != b"\n"
    with path.open("a") as handle:
        handle.write(("\n" if torn else "") + json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _train_cell(config: dict, run_dir: Path, threads: int) -> dict:
    """One run through ``train.py`` in a child process, so runs cannot leak state."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = apply_overrides(config, [f"train.threads={threads}"])
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config, handle)
    log = run_dir / "train.log"
    try:
        with log.open("w") as out:
            proc = subprocess.run([sys.executable, "-m", "textgnn", "train", "--config", handle.name,
                                   "--out", str(run_dir), "--quiet"], stdout=out, stderr=out)
    finally:
        os.unlink(handle.name)
    if proc.returncode:
        raise TextGNNError(f"run failed (exit {proc.returncode}); see {log}")
    return json.loads((run_dir / "metrics.json").read_text())


def _tfidf_baseline(config: dict) -> dict:
    """TF-IDF (word 1-2 grams) + logistic regression; C chosen on dev from a fixed grid."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from .metrics import classification_metrics

    data = load_configured(Config.from_dict(config).data)
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    x_train = vectorizer.fit_transform(data.train.texts)
    x_dev = vectorizer.transform(data.dev.texts)
    best = None
    for c in (0.25, 1.0, 4.0, 16.0):
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, data.train.labels)
        dev_pred = list(model.predict(x_dev))
        dev_acc = float(np.mean(np.array(dev_pred) == np.array(data.dev.labels)))
        if best is None or dev_acc > best[0]:
            best = (dev_acc, c, model, dev_pred)
    _, c, model, dev_pred = best
    labels = sorted(set(data.train.labels))
    test_pred = list(model.predict(vectorizer.transform(data.test.texts)))
    return {
        "dev": classification_metrics(data.dev.labels, dev_pred, labels),
        "test": classification_metrics(data.test.labels, test_pred, labels) | {"predictions": test_pred},
        "params": {"total": int(model.coef_.size + model.intercept_.size)},
        "train_seconds": time.perf_counter() - start,
        "search": {"C": [0.25, 1.0, 4.0, 16.0], "chosen_C": c, "on": "dev accuracy"},
    }


def _test_labels(config: dict) -> list[str]:
    return load_configured(Config.from_dict(config).data, splits=("test",)).test.labels


def run_study(study: Study, out_root: Path, jobs: int = 1, datasets: list[str] | None = None,
              seeds: int | None = None, match: str | None = None) -> Path:
    """Run every unfinished cell; ``match``: only cells whose key matches this glob
    (``mr/*@minilm/seed0``)."""
    out = out_root / study.name
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / "runs.jsonl"
    done = {r["key"] for r in read_runs(runs_path)}
    todo = [c for c in study.cells(datasets, seeds) if c.key not in done
            and (match is None or fnmatch.fnmatchcase(c.key, match))]
    print(f"study {study.name}: {len(todo)} runs to do, {len(done)} already in {runs_path}",
          file=sys.stderr)
    threads = max(1, usable_cpus() // jobs)

    def one(cell: Cell) -> None:
        baseline = cell.encoder == BASELINE_ENCODER
        # a baseline reads only the data settings, taken from any cell of its dataset
        config = resolved_config(study, Cell(cell.dataset, study.graphs[0], study.encoders[0],
                                             cell.seed) if baseline else cell)
        start = time.perf_counter()
        if baseline:
            metrics = _tfidf_baseline(config)
        else:
            metrics = _train_cell(config, out_root.parent / "runs" / study.name / cell.key, threads)
        labels = metrics["test"]["labels"]
        index = {label: i for i, label in enumerate(labels)}
        gold_path = out / f"gold-{Path(cell.dataset).name}.json"
        if not gold_path.is_file():
            gold_path.write_text(json.dumps([index[g] for g in _test_labels(config)]))
        record = {
            "key": cell.key, "dataset": Path(cell.dataset).name, "graph": cell.graph,
            "encoder": cell.encoder, "seed": cell.seed, "tag": cell.tag, "label": cell.label,
            "config": config,
            "dev": summarize(metrics["dev"]), "test": summarize(metrics["test"]),
            "params": metrics["params"]["total"],
            "train_seconds": metrics["train_seconds"],
            "labels": labels,
            "test_predictions": [index[p] for p in metrics["test"]["predictions"]],
        }
        if "search" in metrics:
            record["search"] = metrics["search"]
        _append(runs_path, record)
        print(f"{cell.key}: test accuracy {record['test']['accuracy']:.4f} "
              f"({time.perf_counter() - start:.0f}s)", file=sys.stderr)

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, todo))
    return runs_path


# --- statistics ------------------------------------------------------------------------------
def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean, sample standard deviation and the half-width of a 95 % t interval."""
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return float(arr.mean()), 0.0, float("nan")
    std = float(arr.std(ddof=1))
    return float(arr.mean()), std, float(stats.t.ppf(0.975, arr.size - 1) * std / math.sqrt(arr.size))


def paired_bootstrap(gold: np.ndarray, preds_a: np.ndarray, preds_b: np.ndarray,
                     samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Mean accuracy difference a - b over seeds and its two-sided bootstrap p-value.

    ``preds_*`` are (seeds, examples), seeds paired by row. Examples are resampled with
    replacement; the p-value is twice the smaller tail of the resampled differences
    around zero.
    """
    correct = (preds_a == gold).astype(float).mean(0) - (preds_b == gold).astype(float).mean(0)
    observed = float(correct.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, gold.size, size=(samples, gold.size))
    diffs = correct[idx].mean(1)
    tail = min((diffs <= 0).mean(), (diffs >= 0).mean())
    return observed, float(min(1.0, 2 * tail))


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    order = sorted(range(len(pvalues)), key=pvalues.__getitem__)
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def report(study_dir: str | Path) -> str:
    """RESULTS-style markdown for one study directory; also written to ``RESULTS.md`` there."""
    study_dir = Path(study_dir)
    runs = read_runs(study_dir / "runs.jsonl")
    if not runs:
        raise TextGNNError(f"{study_dir}: no runs.jsonl or no finished runs")
    lines = [f"# Study `{study_dir.name}`", "",
             f"Generated by `python -m textgnn report {study_dir}` from {len(runs)} runs. "
             "Cells: mean ± std over seeds [95 % t-interval half-width]; Δ: difference to "
             f"`{REFERENCE[0]}` on the `{REFERENCE[1]}` graph, seeds paired, with a paired "
             "bootstrap over test examples (2,000 resamples), Holm-corrected within the dataset.", ""]
    syntax: dict[str, list[dict]] = {}
    plain = [r for r in runs if not r.get("tag")]
    for dataset in sorted({r["dataset"] for r in plain}):
        section, syntax[dataset] = _dataset_section(
            study_dir, dataset, [r for r in plain if r["dataset"] == dataset], REFERENCE,
            f"## {dataset}")
        lines += section
    lines += _syntax_verdict(syntax)
    for tag in sorted({r["tag"] for r in runs if r.get("tag")}):
        tagged = [r for r in runs if r.get("tag") == tag]
        lines += [f"# Pretrained features: `{tag}`", "",
                  f"Cells tagged `{tag}` (their own base config, in `config` of each run); Δ: "
                  f"difference to `{TAGGED_REFERENCE[0]}` (the pretrained encoder fine-tuned "
                  "alone), seeds paired, paired bootstrap, Holm within the dataset.", ""]
        for dataset in sorted({r["dataset"] for r in tagged}):
            section, _ = _dataset_section(study_dir, dataset,
                                          [r for r in tagged if r["dataset"] == dataset],
                                          TAGGED_REFERENCE, f"## {dataset} · {tag}")
            lines += section
    text = "\n".join(lines) + "\n"
    (study_dir / "RESULTS.md").write_text(text)
    return text


def _is_beyond(encoder: str, graph: str) -> bool:
    """A cell of the "beyond self-attention" family: a graph union or the hybrid block."""
    return "+" in graph or encoder == "hybrid"


def _dataset_section(study_dir: Path, dataset: str, runs: list[dict], reference: tuple[str, str],
                     title: str) -> tuple[list[str], list[dict]]:
    """The table of one dataset, each cell against ``reference``; for the main grid
    (reference = the Transformer on the complete graph) also the verdict and the
    beyond-self-attention comparisons."""
    metric = "mcc" if dataset == "cola" else "accuracy"
    cells: dict[tuple[str, str], dict[int, dict]] = {}
    for r in runs:  # a labelled cell shows as "encoder (label)"
        encoder = f"{r['encoder']} ({r['label']})" if r.get("label") else r["encoder"]
        cells.setdefault((encoder, r["graph"]), {})[r["seed"]] = r
    gold_path = study_dir / f"gold-{dataset}.json"
    gold = np.asarray(json.loads(gold_path.read_text())) if gold_path.is_file() else None
    ref = cells.get(reference, {})
    rows, pvals = [], []
    for (encoder, graph), by_seed in sorted(cells.items()):
        values = [by_seed[s]["test"][metric] for s in sorted(by_seed)]
        mean, std, half = mean_ci(values)
        row = {"encoder": encoder, "graph": graph, "n": len(values), "mean": mean, "std": std,
               "half": half, "params": next(iter(by_seed.values()))["params"],
               "macro_f1": float(np.mean([by_seed[s]["test"]["macro_f1"] for s in by_seed]))}
        # a baseline is deterministic: its one run is paired with every reference seed
        baseline = encoder == BASELINE_ENCODER
        paired = sorted(ref) if baseline else sorted(set(by_seed) & set(ref))
        if gold is not None and (encoder, graph) != reference and paired:
            mine = np.asarray([by_seed[min(by_seed) if baseline else s]["test_predictions"]
                               for s in paired])
            theirs = np.asarray([ref[s]["test_predictions"] for s in paired])
            row["delta"], p = paired_bootstrap(gold, mine, theirs)
            row["p_index"] = len(pvals)
            pvals.append(p)
        rows.append(row)
    adjusted = holm(pvals)
    scale = 100.0  # table shows metrics as percentages
    lines = [f"{title} (test {metric} × 100)", "",
             f"| encoder | graph | seeds | {metric} | macro-F1 | params | Δ accuracy vs reference "
             "| p (Holm) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(rows, key=lambda r: -r["mean"]):
        ci = "" if math.isnan(row["half"]) else f" [±{scale * row['half']:.2f}]"
        delta = f"{scale * row['delta']:+.2f}" if "delta" in row else ("ref" if (
            row["encoder"], row["graph"]) == reference else "-")
        p = "-"
        if "p_index" in row:  # 2,000 resamples cannot resolve p below 0.001
            p = "< 0.001" if adjusted[row["p_index"]] < 0.001 else f"{adjusted[row['p_index']]:.3g}"
        lines.append(f"| {row['encoder']} | {row['graph']} | {row['n']} | "
                     f"{scale * row['mean']:.2f} ± {scale * row['std']:.2f}{ci} | "
                     f"{scale * row['macro_f1']:.2f} | {row['params']:,} | {delta} | {p} |")
    lines.append("")
    graph_rows = [r for r in rows if r["encoder"] != BASELINE_ENCODER]
    if reference != REFERENCE:
        return lines, []
    if any("delta" in r for r in graph_rows):
        better = [r for r in graph_rows if r.get("delta", 0) > 0 and adjusted[r["p_index"]] < 0.05]
        worse = [r for r in graph_rows if r.get("delta", 0) < 0 and adjusted[r["p_index"]] < 0.05]
        gcn_like = [r for r in better if r["encoder"] in ("gcn", "gat", "gatv2")
                    and r["graph"] in ("dependency", "window")]
        lines.append(
            f"Verdict for {dataset}: {len(better)} cell(s) significantly better and {len(worse)} "
            f"significantly worse than the Transformer on the complete graph (Holm p < 0.05); "
            + ("a GCN-style encoder on a linguistic graph beats it: "
               + ", ".join(f"{r['encoder']}-{r['graph']}" for r in gcn_like) + "." if gcn_like
               else "no GCN-style encoder on a linguistic graph beats it significantly."))
        lines.append("")
    beyond_lines, outcomes = _beyond_section(dataset, metric, cells, gold, graph_rows)
    return lines + beyond_lines, outcomes


def _beyond_section(dataset: str, metric: str, cells: dict, gold, rows: list[dict]):
    """Each union/hybrid cell against the best pure (single-graph) cell of the dataset."""
    extra = [r for r in rows if _is_beyond(r["encoder"], r["graph"])]
    pure = [r for r in rows if not _is_beyond(r["encoder"], r["graph"])]
    if not extra or not pure or gold is None:
        return [], []
    best = max(pure, key=lambda r: r["mean"])
    best_runs = cells[(best["encoder"], best["graph"])]
    outcomes, pvals = [], []
    for r in extra:
        mine = cells[(r["encoder"], r["graph"])]
        seeds = sorted(set(mine) & set(best_runs))
        if not seeds:
            continue
        delta, p = paired_bootstrap(gold, np.asarray([mine[s]["test_predictions"] for s in seeds]),
                                    np.asarray([best_runs[s]["test_predictions"] for s in seeds]))
        outcomes.append({"cell": f"{r['encoder']}-{r['graph']}", "mean": r["mean"], "n": r["n"],
                         "delta": delta, "seeds": len(seeds),
                         "syntax": "dependency" in r["graph"].split("+")})
        pvals.append(p)
    for outcome, p in zip(outcomes, holm(pvals), strict=True):
        outcome["p"] = p
    best_name = f"{best['encoder']}-{best['graph']}"
    lines = [f"### {dataset}: beyond self-attention vs the best pure cell ({best_name}, "
             f"{100 * best['mean']:.2f})", "",
             f"| cell | seeds | {metric} | Δ accuracy vs {best_name} | p (Holm) |",
             "|---|---:|---:|---:|---:|"]
    for o in outcomes:
        p = "< 0.001" if o["p"] < 0.001 else f"{o['p']:.3g}"
        lines.append(f"| {o['cell']} | {o['seeds']} | {100 * o['mean']:.2f} | "
                     f"{100 * o['delta']:+.2f} | {p} |")
    return lines + [""], [o | {"best": best_name} for o in outcomes]


def _outcome_word(o: dict) -> str:
    if o["p"] >= 0.05:
        return "no significant difference"
    return "better" if o["delta"] > 0 else "worse"


def _syntax_verdict(outcomes: dict[str, list[dict]]) -> list[str]:
    """One generated paragraph: did the parse help where it was expected to (CoLA)?"""
    syntax = {d: [o for o in found if o["syntax"]] for d, found in outcomes.items()}
    syntax = {d: found for d, found in syntax.items() if found}
    if not syntax:
        return []

    def summary(dataset: str) -> str:
        return "; ".join(f"{o['cell']} {_outcome_word(o)} ({100 * o['delta']:+.2f} points, "
                         f"p = {o['p']:.3g})" for o in syntax[dataset])

    def helped(dataset: str) -> bool:
        return any(o["p"] < 0.05 and o["delta"] > 0 for o in syntax[dataset])

    lines = ["## Did syntax help?", "",
             "Cells whose graph includes the dependency parse, each against the best pure cell "
             "of its dataset (paired bootstrap, Holm within the dataset)."]
    if "cola" in syntax:
        lines.append(f"Expected to help on CoLA (acceptability is a syntactic judgement): it "
                     f"{'did' if helped('cola') else 'did not'}: {summary('cola')}.")
    others = [d for d in syntax if d != "cola"]
    if others:
        lines.append("Where it was not specifically expected: " + "; ".join(
            f"{d}: {'helped' if helped(d) else 'did not help'} ({summary(d)})" for d in others) + ".")
    return lines + [""]
