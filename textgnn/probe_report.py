"""``<out>/RESULTS.md`` of the attention-syntax probe, written from every probe result (JSON)
in the directory, and the paragraph that relates the probe to a study's dependency-graph
cells: do the models whose heads track syntax best gain least from being given the parse?"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .metrics import study_metric
from .probe import OFFSETS, stem

# Clark et al. (2019), Table 1: BERT-base, best single head per relation and the best fixed
# offset, on the WSJ dev set (Stanford Dependencies from gold trees); ``compound`` is spaCy's
# name for their ``nn``.
CLARK = {"all": (34.7, 26.7), "prep": (66.7, 61.8), "pobj": (76.3, 34.6), "det": (94.3, 51.7),
         "compound": (70.4, 70.2), "nsubj": (58.5, 45.5), "amod": (75.6, 68.3),
         "dobj": (86.8, 40.0), "advmod": (48.8, 40.2), "aux": (81.1, 71.5), "poss": (80.5, 47.7)}


TOP = 10  # relations per table


def load_results(directory: Path) -> list[dict]:
    results = []
    for path in sorted(directory.glob("*.json")):
        raw = json.loads(path.read_text())
        if isinstance(raw, dict) and "relations" in raw and "dep_to_head" in raw:
            results.append(raw)
    return results


def _family(config: dict | None, frozen_name: str | None = None) -> str | None:
    """Which study cells share a probed model's token states: learned embeddings (from
    scratch) or a frozen pretrained encoder's features."""
    if frozen_name is not None:
        return frozen_name
    model = (config or {}).get("model", {})
    if model.get("encoder") == "finetune" or model.get("tune_pretrained"):
        return None  # fine-tuned: the study has no dependency-graph variant of it
    return model.get("pretrained") if model.get("features", "learned") != "learned" else "learned"


def syntax_gains(study_dir: Path) -> dict[tuple[str, str], float]:
    """(family, dataset) -> mean test score of the Transformer on ``dependency+complete``
    minus that on ``complete`` (points; MCC on CoLA), over the seeds both have."""
    path = study_dir / "runs.jsonl"
    if not path.is_file():
        return {}
    scores: dict[tuple[str, str, str], dict[int, float]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        run = json.loads(line)
        if run.get("encoder") != "transformer" or run.get("graph") not in ("complete", "dependency+complete"):
            continue
        if "fraction" in run or "~" in run["key"]:  # low-resource or labelled variants
            continue
        family = _family(run["config"])
        metric = study_metric(run["dataset"])
        scores.setdefault((family, run["dataset"], run["graph"]), {})[run["seed"]] = 100 * run["test"][metric]
    gains = {}
    for (family, dataset, graph), by_seed in scores.items():
        if graph != "complete":
            continue
        parsed = scores.get((family, dataset, "dependency+complete"), {})
        seeds = sorted(set(by_seed) & set(parsed))
        if seeds:
            gains[(family, dataset)] = float(np.mean([parsed[s] - by_seed[s] for s in seeds]))
    return gains


def _tracking(result: dict) -> float:
    """Points by which the best head beats the best fixed offset over all relations."""
    overall = result["relations"][0]
    return 100 * (overall["accuracy"] - overall["offset_accuracy"])


def _spearman(a: list[float], b: list[float]) -> float:
    rank = lambda v: np.argsort(np.argsort(v)).astype(float)  # noqa: E731
    ra, rb = rank(a), rank(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def relation_paragraph(results: list[dict], gains: dict[tuple[str, str], float]) -> list[str]:
    """The generated answer to: do the models whose heads track syntax best gain least from
    the dependency graph?"""
    pairs = []
    for r in results:
        family = _family(r.get("config"), r["model"] if r["kind"] == "pretrained" else None)
        trained_on = Path((r.get("config") or {}).get("data", {}).get("name", r["data"])).name
        if family is None or trained_on != r["data"] or (family, r["data"]) not in gains:
            continue
        pairs.append((r["name"], r["data"], _tracking(r), gains[(family, r["data"])]))
    if not pairs:
        return ["No probed model has a pair of study cells (the Transformer on `complete` and on "
                "`dependency+complete`, same features, same dataset) to compare with."]
    pairs.sort(key=lambda p: -p[2])
    listed = "; ".join(f"{name} ({data} test): best head {abs(track):.1f} points "
                       f"{'above' if track >= 0 else 'below'} the best offset, dependency graph "
                       f"{gain:+.2f} points" for name, data, track, gain in pairs)
    lines = [f"Pairs of a probed model and its study cells ({len(pairs)}), by how far the model's "
             f"best head beats the best fixed offset at finding each word's head: {listed}. "
             "For a frozen encoder the gain is that of our Transformer reading its token states "
             "(the study's cells on those features), so the pair asks whether syntax already "
             "present in the encoder's attention leaves less for the parse to add. Gains are "
             "means over paired seeds; their tests are in the study's RESULTS.md."]
    if len(pairs) < 3:
        lines.append("Too few pairs to say whether tracking syntax and gaining from the graph go together.")
        return lines
    rho = _spearman([p[2] for p in pairs], [p[3] for p in pairs])
    if np.isnan(rho):
        lines.append("The ranks are tied; no answer.")
    elif rho < -0.3:
        lines.append(f"Spearman's rho between tracking and gain is {rho:+.2f}: the models whose heads "
                     "track syntax best gain least from the dependency graph, as the redundancy "
                     f"explanation predicts ({len(pairs)} pairs, so a hint, not a test).")
    elif rho > 0.3:
        lines.append(f"Spearman's rho between tracking and gain is {rho:+.2f}: the models whose heads "
                     "track syntax best gain most from the graph, against the redundancy explanation "
                     f"({len(pairs)} pairs, so a hint, not a test).")
    else:
        lines.append(f"Spearman's rho between tracking and gain is {rho:+.2f}: no relation either way "
                     f"({len(pairs)} pairs).")
    if all(gain <= 0 for *_, gain in pairs):
        lines.append("The dependency graph helped none of them, whether or not their heads track syntax: "
                     "that fits neither model using the parse better than its own attention.")
    return lines


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def write_report(directory: str | Path, study_dir: str | Path | None = None) -> Path:
    directory = Path(directory)
    results = load_results(directory)
    lines = ["# Does self-attention learn the graph?", "",
             "Generated by `python -m textgnn probe` from the results in this directory "
             "(all of them: `python scripts/probe_study.py`). Method of Clark et al. (2019, "
             "\"What Does BERT Look At?\"): a head predicts a word's dependency head as the other "
             "word it attends to most (dependent -> head), or as the word that attends most to "
             "it (head -> dependent); the baseline is a head at a fixed offset "
             f"({', '.join(f'{o:+d}' for o in OFFSETS)}). Parses: spaCy `en_core_web_sm`; "
             "roots and punctuation are not scored. Sub-word attention is mapped to words (to "
             "a word: sum over its pieces; from a word: mean), special tokens dropped.", "",
             "## Overview", "",
             "| model | data | texts | words | best head, all relations | head (layer-head, direction) "
             "| best offset | arc mass: best head | uniform | best offset |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in results:
        overall = r["relations"][0]
        lines.append(
            f"| {r['name']} | {r['data']} {r['split']} | {r['texts']} | {r['words']} | "
            f"{_pct(overall['accuracy'])} | {overall['layer']}-{overall['head']} {overall['direction']} | "
            f"{_pct(overall['offset_accuracy'])} ({overall['offset']:+d}) | "
            f"{_pct(np.max(r['arc_mass']))} | {_pct(r['arc_mass_uniform'])} | {_pct(r['arc_mass_offset'])} |")
    pretrained = [r for r in results if r["kind"] != "ours"]
    if pretrained:
        lines += ["", "## Beside BERT-base (Clark et al., 2019, Table 1)", "",
                  "Best head / best fixed offset, per relation. Theirs: BERT-base (12 layers x 12 "
                  "heads) on the WSJ dev set, Stanford Dependencies converted from gold trees, a "
                  "special case for `poss`; ours: the models below on MR or CoLA test sentences "
                  "parsed by spaCy's small English model (predicted, ClearNLP labels: their `nn` is "
                  "`compound`), no special case, offsets +-1..3. Comparable in kind, not "
                  "exactly: corpus, parser and label set differ.", ""]
        names = " | ".join(f"{r['name']}, {r['data']}" for r in pretrained)
        header = f"| relation | BERT-base (Clark) | {names} |"
        lines += [header, "|---|---:|" + "---:|" * len(pretrained)]
        for relation, (theirs, offset) in CLARK.items():
            cells = []
            for r in pretrained:
                row = next((x for x in r["relations"] if x["relation"] == relation), None)
                cells.append("-" if row is None
                             else f"{_pct(row['accuracy'])} / {_pct(row['offset_accuracy'])}")
            lines.append(f"| {relation} | {theirs} / {offset} | " + " | ".join(cells) + " |")
    lines += ["", "## Per relation", "", f"All relations, then the {TOP} most frequent.", ""]
    for r in results:
        lines += [f"### {r['name']} · {r['data']} {r['split']}", "",
                  "| relation | words | best head | layer-head | direction | best offset | offset | gain |",
                  "|---|---:|---:|---|---|---:|---:|---:|"]
        for x in r["relations"][:TOP + 1]:  # `all` and the most frequent relations
            lines.append(f"| {x['relation']} | {x['words']} | {_pct(x['accuracy'])} | "
                         f"{x['layer']}-{x['head']} | {x['direction']} | "
                         f"{_pct(x['offset_accuracy'])} | {x['offset']:+d} | "
                         f"{100 * (x['accuracy'] - x['offset_accuracy']):+.1f} |")
        base = stem(r)
        lines += ["", f"![dependent -> head]({base}-dep_to_head.png) "
                      f"![head -> dependent]({base}-head_to_dep.png) ![arc mass]({base}-arc_mass.png)", ""]
    if study_dir is not None:
        lines += ["## Does tracking syntax make the dependency graph redundant?", "",
                  f"Gain: the Transformer on `dependency+complete` minus on `complete` in "
                  f"`{Path(study_dir).as_posix()}` (same features, same dataset, paired seeds; "
                  "accuracy, MCC on CoLA).", ""]
        lines += relation_paragraph(results, syntax_gains(Path(study_dir)))
    path = directory / "RESULTS.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
