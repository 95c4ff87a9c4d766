"""Does a study's verdict hold when one thing about it changes? A study file's ``checks:``
names other studies that repeat some of its datasets under one change (e.g. every cell tuned
with a larger budget); the report sets their verdicts and best scores beside its own, dataset
by dataset, so a reader of the study's RESULTS.md and README headline sees in place where
its verdict moves; over several checks, one last sentence says which outcomes move under any
of them and which of the study's "better" outcomes survive every check that repeats them.

Each study is computed from its own records, as its own report computes it (the best
GCN-style cell chosen on dev against the Transformer, paired bootstrap, Holm within its
table), so the two rows of a dataset differ only in what the checking study changed, and in
the machine where its runs were recorded on another one (the records name their CPU).
"""

from __future__ import annotations

from pathlib import Path

from .cost_report import cell_name
from .dataset_report import best_model, dataset_rows
from .low_resource_report import share_outcomes
from .run_records import main_runs, read_runs
from .selection_report import searched_runs
from .stats import join_words, outcome_word, p_text
from .study_progress import progress_lines, study_plan, unfinished_tables
from .targets import TARGETS, against_bar
from .verdict import REFERENCE, Outcome, delta_text, regime_of, regime_outcome, words_on


def study_outcomes(study_dir: Path,
                   runs: list[dict]) -> dict[str, tuple[Outcome | None, dict]]:
    """Per dataset of a study's main tables (:func:`~textgnn.run_records.main_runs` of its
    ``runs``), and per dataset and share of its low-resource curves ("mr · 1%"): the best
    GCN-style cell against the Transformer (None where the table lacks either) and the row of
    the best graph model from scratch (chosen on dev)."""
    plain = main_runs(runs)
    searched = searched_runs(study_dir.parent, plain)
    found = {}
    for dataset in sorted({r["dataset"] for r in plain}):
        mine = [r for r in plain if r["dataset"] == dataset]
        rows = dataset_rows(study_dir, dataset, mine, REFERENCE, searched)[0]
        if (best := best_model(rows)) is not None:
            found[dataset] = (regime_outcome(regime_of(dataset), dataset, rows, REFERENCE), best)
    return found | share_outcomes(study_dir, runs, searched)


def check_lines(study_dir: Path, checks: list[dict],
                here: dict[str, tuple[Outcome | None, dict]]) -> tuple[list[str], list[str]]:
    """The section of RESULTS.md that sets each checking study's verdicts beside this study's
    (``here``, per dataset and low-resource share as :func:`study_outcomes` gives them; the
    report has them at hand), and one sentence per check for the README headline; where a
    study has several checks, a last sentence over them all (which outcomes move under any
    check, and what became of those where the GCN-style cell was better)."""
    if not checks:
        return [], []
    lines = ["# Does the verdict hold? Studies that check it", "",
             "Each study below repeats some of this study's datasets with one change, computed "
             "from its own records as its own report does (best GCN-style cell chosen on dev "
             "against the Transformer on the complete graph, paired bootstrap, Holm within its "
             "table; Δ's 95 % interval). Bar: the project's target for the best graph model "
             "from scratch.", ""]
    sentences, repeated = [], {}
    for check in checks:
        other_dir = study_dir.parent / check["study"]
        other_runs = read_runs(other_dir / "runs.jsonl")
        there = study_outcomes(other_dir, other_runs)
        planned = study_plan(other_dir)
        # a table part-recorded is left out: its best cell so far is not the table's
        waiting = {d: n for d, n in unfinished_tables(planned, other_runs).items() if d in here}
        shared = [d for d in here if d in there and d not in waiting]
        for d in shared:  # what the summary over all checks counts: both sides compared
            if here[d][0] is not None and there[d][0] is not None:
                repeated.setdefault(d, []).append((check["study"], there[d][0]))
        lines += [f"## `{check['study']}`: {check['change']}", ""]
        lines += progress_lines(planned, other_runs)
        if not shared:
            lines += [f"No dataset of this study has its runs complete in `{other_dir}` yet"
                      + (f"; {_waiting(waiting)}." if waiting else "."), ""]
            if waiting:
                sentences.append(f"Checked by `{check['study']}` ({check['change']}): "
                                 f"{_waiting(waiting)}.")
            continue
        lines += ["| dataset | study | best GCN-style cell | Δ vs Transformer | p (Holm) | outcome "
                  "| best graph model from scratch | seeds | bar |",
                  "|---|---|---|---:|---:|---|---|---:|---|"]
        for dataset in shared:
            for name, (outcome, best) in ((study_dir.name, here[dataset]),
                                          (check["study"], there[dataset])):
                lines.append(f"| {dataset} | `{name}` | {_outcome_cells(outcome)} | "
                             f"{cell_name(best)} {100 * best['mean']:.2f} | {best['n']} | "
                             f"{_bar(dataset, best) or '-'} |")
        lines.append("")
        sentence = _sentence(study_dir.name, check, {d: (here[d], there[d]) for d in shared})
        if waiting:
            sentence = f"{sentence[:-1]}; {_waiting(waiting)}."
        lines += [sentence, ""]
        sentences.append(sentence)
    if len(checks) > 1 and repeated:  # with one check, its own sentence says it all
        summary = _summary(len(checks), {w: o for w, (o, _) in here.items() if o is not None},
                           repeated)
        lines += ["## Across the checks", "", summary, ""]
        sentences.append(f"**Across the checks**: {summary}")
    return lines, sentences


def _summary(checks: int, here: dict[str, Outcome],
             repeated: dict[str, list[tuple[str, Outcome]]]) -> str:
    """One sentence over every check: how many of this study's outcomes against the
    Transformer (``here``) some check repeats (``repeated``: per dataset or share, each
    check's outcome there), which of them move under any check, and what became of the
    outcomes where the GCN-style cell was better: held under every check that repeats
    them, moved, or repeated by none."""
    moved = {w: m for w, found in repeated.items()
             if (m := [(name, o) for name, o in found if o.word != here[w].word])}
    held = len(repeated) - len(moved)
    hold = ("holds under every check that repeats it",
            "hold under every check that repeats them")
    text = (f"{len(repeated)} of this study's {len(here)} outcomes against the Transformer "
            f"{_verb(len(repeated), 'is', 'are')} repeated by its {checks} checks: "
            f"{held} {_verb(held, *hold)}")
    if moved:
        text += f" and {len(moved)} {_verb(len(moved), 'moves', 'move')} (" + "; ".join(
            f"{w}: {here[w].word} → " + ", ".join(f"{o.word} in `{name}`" for name, o in m)
            for w, m in moved.items()) + ")"
    better = [w for w, o in here.items() if o.word == "better"]
    fates = [(hold, [w for w in better if w in repeated and w not in moved]),
             (("moves", "move"), [w for w in better if w in moved]),
             (("is repeated by none", "are repeated by none"),
              [w for w in better if w not in repeated])]
    if better:
        text += (f". Of the {len(better)} where the best GCN-style cell is significantly "
                 "better, " + "; ".join(f"{len(ws)} {_verb(len(ws), *verbs)} ({join_words(ws)})"
                                        for verbs, ws in fates if ws))
    if held := fates[0][1]:
        text += _needs_no_graph(held, here) + _message_function(held, here, repeated)
    return text + "."


def _needs_no_graph(held: list[str], here: dict[str, Outcome]) -> str:
    """Of the "better" outcomes that hold, those where the table's graph-free control (the
    same block with no edge between tokens) is itself significantly better than the
    Transformer: there the gain needs no graph. Nothing where no table has the control."""
    tested = [w for w in held if here[w].control_vs_reference is not None]
    if not tested:
        return ""
    alone = [w for w in tested if outcome_word(*here[w].control_vs_reference) == "better"]
    those = (f"the {len(tested)} that {_verb(len(tested), 'holds and has', 'hold and have')} a "
             "graph-free control (no edge between tokens)")
    if not alone:
        return (f". On none of {those} is that control itself significantly better than the "
                "Transformer")
    return (f". Of {those}, that control is itself significantly better than the Transformer "
            f"on {len(alone)} ({join_words(alone)}): there the gain needs no graph")


def _message_function(held: list[str], here: dict[str, Outcome],
                      repeated: dict[str, list[tuple[str, Outcome]]]) -> str:
    """Of the "better" outcomes that hold, those whose best cell meets self-attention on its
    own graph (the Transformer on the same edges), in this study's table or in a check's
    (each that has it, so two checks that tune attention differently are both heard): better
    there, the GCN-style message function adds to the graph; equal or worse, the gain is the
    graph's edges. Nothing where no table has that cell."""
    by_word: dict[str, dict[str, list[str]]] = {}  # word -> place -> each table's numbers
    for where in held:
        for name, o in [("", here[where])] + [(f"in `{n}`, ", o) for n, o in repeated[where]]:
            if o.against_attention is None:
                continue
            cell, delta, p = o.against_attention
            by_word.setdefault(outcome_word(delta, p), {}).setdefault(where, []).append(
                f"{name}{o.cell} against {cell}, {delta_text(delta, None)}, p {p_text(p, '= ')}")
    if not by_word:
        return ""
    why = {"better": "the GCN-style message function adds to the graph",
           "equal": "the gain is the graph's edges", "worse": "the gain is the graph's edges"}
    return (". Against self-attention on its own graph (the Transformer on the same edges: only "
            "the message function differs), the best GCN-style cell is " + "; ".join(
                f"{'significantly ' if word != 'equal' else ''}{word} on "
                + join_words([f"{w} ({'; '.join(found)})" for w, found in places.items()])
                + f": there {why[word]}" for word, places in by_word.items()))


def _waiting(waiting: dict[str, tuple[int, int]]) -> str:
    """The tables a check has not finished: "20ng not compared until its runs are complete
    (3 of 21 recorded)"."""
    return (join_words(list(waiting)) + " not compared until "
            + _verb(len(waiting), "its", "their") + " runs are complete ("
            + ", ".join(f"{done} of {n} recorded" if len(waiting) == 1
                        else f"{d}: {done} of {n}" for d, (done, n) in waiting.items()) + ")")


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _outcome_cells(outcome: Outcome | None) -> str:
    if outcome is None:
        return "- | - | - | -"
    return (f"{outcome.cell} | {delta_text(outcome.delta, outcome.interval)} | "
            f"{p_text(outcome.p)} | {outcome.word}")


def _bar(dataset: str, best: dict) -> str | None:
    """The dataset's bar and how ``best`` stands against it: "76.8: missed by 2.41"."""
    bar = TARGETS.get(dataset, (None,))[0]
    return None if bar is None else f"{bar}: {against_bar(100 * best['mean'], bar)}"


def _sentence(name: str, check: dict, pairs: dict[str, tuple[tuple, tuple]]) -> str:
    """Where the checking study's outcome differs from this one's and where it holds, and
    how the best graph model from scratch moved against its bar."""
    moved, held = [], []
    for dataset, ((mine, _), (theirs, _)) in pairs.items():
        if mine is None or theirs is None:
            continue
        if mine.word != theirs.word:
            moved.append(f"on {dataset} from {mine.word} ({delta_text(mine.delta, None)}, "
                         f"p {p_text(mine.p, '= ')}) to {theirs.word} "
                         f"({delta_text(theirs.delta, None)}, p {p_text(theirs.p, '= ')})")
        else:
            held.append(f"{dataset} ({mine.word})")
    text = f"Checked by `{check['study']}` ({check['change']}): "
    parts = []
    if moved:
        parts.append("the best GCN-style cell against the Transformer moves " + "; ".join(moved))
    if held:
        parts.append("the outcome holds on " + ", ".join(held))
    scores = []
    for dataset, ((_, mine), (_, theirs)) in pairs.items():
        bar = _bar(dataset, theirs)
        scores.append(f"{dataset} {100 * mine['mean']:.2f} → {100 * theirs['mean']:.2f}"
                      + ("" if bar is None else f" (bar {bar})"))
    parts += _attention_added(name, pairs)
    parts.append(f"the best graph model from scratch ({name} → {check['study']}): "
                 + ", ".join(scores))
    return text + "; ".join(parts) + "."


def _attention_added(name: str, pairs: dict[str, tuple[tuple, tuple]]) -> list[str]:
    """Where the check's table has self-attention on its best cell's own graph and this
    study's does not (a check that adds that cell), how the cell meets it."""
    groups: dict[str, list[str]] = {}
    for dataset, ((mine, _), (theirs, _)) in pairs.items():
        if theirs is None or theirs.against_attention is None or (
                mine is not None and mine.against_attention is not None):
            continue
        cell, delta, p = theirs.against_attention
        groups.setdefault(outcome_word(delta, p), []).append(
            f"{dataset} ({theirs.cell} against {cell}, "
            f"{delta_text(delta, theirs.attention_interval)}, p {p_text(p, '= ')})")
    if not groups:
        return []
    return [f"against self-attention on its own graph, which `{name}`'s table lacks (only the "
            f"message function differs), the best GCN-style cell is {words_on(groups)}"]
