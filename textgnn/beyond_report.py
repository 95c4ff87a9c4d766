"""Beyond self-attention: each graph union or hybrid cell of a dataset against its best pure
(single-graph) cell, and the generated paragraph on whether syntax helped where it was
expected to (CoLA) and elsewhere."""

from __future__ import annotations

from .cost_report import cell_name
from .stats import best_on_dev, holm, p_text, paired_runs
from .verdict import TAGGED_REFERENCE


def is_beyond(encoder: str, graph: str) -> bool:
    """A cell of the "beyond self-attention" family: a graph union or the hybrid block."""
    return "+" in graph or encoder == "hybrid"


def beyond_section(dataset: str, metric: str, cells: dict, gold, rows: list[dict]):
    """Each union/hybrid cell against the best pure (single-graph) cell of the dataset. Pure
    cells are those trained like the union/hybrid ones: not a labelled variant (fine-tuned
    token states, mixed logits) and not the fine-tuned encoder alone."""
    extra = [r for r in rows if is_beyond(r["encoder"], r["graph"])]
    pure = [r for r in rows if not is_beyond(r["encoder"], r["graph"])
            and not r["label"] and (r["encoder"], r["graph"]) != TAGGED_REFERENCE]
    if not extra or not pure or gold is None:
        return [], []
    best = best_on_dev(pure)
    best_runs = cells[(best["encoder"], best["graph"])]
    outcomes, pvals = [], []
    for r in extra:
        paired = paired_runs(gold, cells[(r["encoder"], r["graph"])], best_runs, metric)
        if paired is None:
            continue
        comparison, seeds = paired
        outcomes.append({"cell": cell_name(r), "mean": r["mean"], "n": r["n"],
                         "delta": comparison.delta, "seeds": seeds,
                         "syntax": "dependency" in r["graph"].split("+")})
        pvals.append(comparison.p)
    for outcome, p in zip(outcomes, holm(pvals), strict=True):
        outcome["p"] = p
    best_name = cell_name(best)
    lines = [f"### {dataset}: beyond self-attention vs the best pure cell ({best_name}, "
             f"{100 * best['mean']:.2f})", "",
             f"| cell | seeds | {metric} | Δ {metric} vs {best_name} | p (Holm) |",
             "|---|---:|---:|---:|---:|"]
    for o in outcomes:
        p = p_text(o["p"])
        lines.append(f"| {o['cell']} | {o['seeds']} | {100 * o['mean']:.2f} | "
                     f"{100 * o['delta']:+.2f} | {p} |")
    return lines + [""], [o | {"best": best_name} for o in outcomes]


def _outcome_word(o: dict) -> str:
    if o["p"] >= 0.05:
        return "no significant difference"
    return "better" if o["delta"] > 0 else "worse"


def syntax_verdict(outcomes: dict[str, list[dict]], title: str = "## Did syntax help?") -> list[str]:
    """One generated paragraph: did the parse help where it was expected to (CoLA)?"""
    syntax = {d: [o for o in found if o["syntax"]] for d, found in outcomes.items()}
    syntax = {d: found for d, found in syntax.items() if found}
    if not syntax:
        return []

    def summary(dataset: str) -> str:
        return "; ".join(f"{o['cell']} {_outcome_word(o)} ({100 * o['delta']:+.2f} points, "
                         f"p {p_text(o['p'], '= ')})" for o in syntax[dataset])

    def helped(dataset: str) -> bool:
        return any(o["p"] < 0.05 and o["delta"] > 0 for o in syntax[dataset])

    lines = [title, "",
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
