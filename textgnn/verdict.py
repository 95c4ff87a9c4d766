"""The study's answer, regime by regime: is a GCN-style encoder on a linguistic graph
significantly better than, equal to, or worse than the Transformer, and at what cost?

A regime is a family of comparisons: short texts (the sentence datasets), long documents
(where the Transformer's complete graph is cut and a sparse graph reads everything), low
resource (each share of the training set) and pretrained (graph encoders on a pretrained
model's token states against that model fine-tuned alone). In each comparison the best
GCN-style cell (by mean dev score over seeds) meets the comparison's reference with the
paired bootstrap and Holm correction of its table (``dataset_report.dataset_section``), and
also the table's graph-free control (what the graph adds), its strongest bag of words, and
self-attention on the cell's own graph (what the encoder adds on the same edges).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .cost_report import accelerated, cell_name, cpu_hours, epoch_cost_ratio
from .figures import save_figure, subplots
from .stats import best_on_dev, join_words, outcome_word, p_text
from .tuning import Resumed, Spent

GCN_STYLE = ("gcn", "gat", "gatv2")
LINGUISTIC = ("window", "dependency")
# documents, not sentences: R8 (mean ~100 tokens, longest ~1,000), 20NG (mean 221, longest
# ~11,800) and Ohsumed (mean 136)
LONG_DOCUMENTS = ("r8", "20ng", "ohsumed")
REGIMES = ("short texts", "long documents", "low resource", "pretrained")
WORDS = ("better", "equal", "worse")  # a comparison's outcome (stats.outcome_word), in this order
VERDICT_PLOT = "verdict.png"  # beside RESULTS.md
REFERENCE = ("transformer", "complete")  # the cell every other cell is compared with
# ... and within a tagged group of cells (pretrained features), the fine-tuned encoder, or
# where a dataset lacks it, the Transformer on the complete graph on the same features
TAGGED_REFERENCE = ("finetune", "none")
# The graph-free control: the GCN block on self-loops alone, no edge between tokens (with
# nothing to attend over, a GAT reduces to the same per-token model). Against it, what a
# linguistic graph itself adds to a GCN-style encoder's score.
CONTROL = ("gcn", "none")


class BeyondCut(NamedTuple):
    """The best cell against the reference on the test texts longer than the reference's cut."""

    delta: float
    p: float  # Holm-adjusted over the table's length bins
    tokens: int  # the cut
    texts: int  # test texts beyond it
    of: int  # test texts in all


@dataclass(frozen=True)
class Outcome:
    regime: str
    where: str  # the dataset, with its share of train or its features
    cell: str  # the best GCN-style cell
    reference: str
    mean: float
    reference_mean: float
    delta: float
    p: float  # Holm-adjusted, within its table
    cost_ratio: float | None  # its seconds per epoch over the reference's
    # the same cell against the graph-free control of its table (Δ, Holm-adjusted p over the
    # table's GCN-style cells); None where the table has no control
    against_control: tuple[float, float] | None = None
    # the same cell against the reference on the texts longer than the reference's cut
    # (length_report); None where the reference reads every text whole
    beyond_cut: BeyondCut | None = None
    # Δ's bootstrap intervals, 95 % jointly over the Holm family of its p (stats.Paired.interval):
    # against the reference, and against the control
    interval: tuple[float, float] | None = None
    control_interval: tuple[float, float] | None = None
    # the graph-free control itself against the reference (Δ, Holm-adjusted p within its
    # table): where it moves as far as the best cell does, that difference needs no graph
    control_vs_reference: tuple[float, float] | None = None
    # the same cell against its table's strongest baseline (TF-IDF + LR or WideMLP), the one best on dev
    # (its label, Δ, p), and Δ's 95 % interval; None where the table has no baseline
    against_baseline: tuple[str, float, float] | None = None
    baseline_interval: tuple[float, float] | None = None
    # the majority vote of the same cell's seeds against that baseline (Δ, p; vote_report):
    # where the runs fall short of it and their vote does not, the shortfall is variance
    vote_vs_baseline: tuple[float, float] | None = None
    # the same cell against self-attention on its own graph, the Transformer on the same edges
    # (its name, Δ, p; one test per table), and Δ's 95 % interval; None where the table has no
    # such cell. Beating the Transformer on the complete graph but not this one: the gain is
    # the graph's edges, not the GCN-style message function
    against_attention: tuple[str, float, float] | None = None
    attention_interval: tuple[float, float] | None = None
    # the same cell against the reference on dev: mean over the paired seeds and its std
    # (shift_report); a difference test finds but dev does not is on what differs between them
    dev_vs_reference: tuple[float, float] | None = None

    @property
    def word(self) -> str:
        return outcome_word(self.delta, self.p)

    @property
    def graph_word(self) -> str | None:
        """What the graph adds over the graph-free control: better, equal or worse."""
        return None if self.against_control is None else outcome_word(*self.against_control)


def linguistic_cells(rows: list[dict]) -> list[dict]:
    """A table's GCN-style cells on a linguistic graph (window, dependency or a union of
    them) that were tested against the table's reference."""
    return [r for r in rows if r["model"] in GCN_STYLE and "p" in r
            and all(part in LINGUISTIC for part in r["graph"].split("+"))]


def control_row(rows: list[dict]) -> dict | None:
    """A table's graph-free control (:data:`CONTROL`), or None."""
    return next((r for r in rows if (r["model"], r["graph"]) == CONTROL and not r["label"]), None)


def strongest_baseline(rows: list[dict], baselines) -> dict | None:
    """A table's strongest baseline: of its rows whose model is in ``baselines`` (the
    registry of graph-free baselines), the best on dev; None where it has none."""
    bags = [r for r in rows if r["model"] in baselines]
    return best_on_dev(bags) if bags else None


def compared_rows(rows: list[dict], reference: tuple[str, str]) -> tuple[dict, dict, dict | None] | None:
    """The rows a table's verdict compares: its reference, its best GCN-style cell on a
    linguistic graph (by mean dev score over seeds) and its graph-free control (None where
    it has none); None where the table lacks the reference or a tested GCN-style cell."""
    ref = next((r for r in rows if (r["model"], r["graph"]) == reference and not r.get("label")),
               None)
    mine = linguistic_cells(rows)
    if ref is None or not mine:
        return None
    return ref, best_on_dev(mine), control_row(rows)


def regime_of(dataset: str, fraction: float | None = None, tag: str = "") -> str:
    if tag:
        return "pretrained"
    if fraction is not None and fraction < 1:
        return "low resource"
    return "long documents" if dataset in LONG_DOCUMENTS else "short texts"


def regime_outcome(regime: str, where: str, rows: list[dict], reference: tuple[str, str],
                   beyond_cut: BeyondCut | None = None) -> Outcome | None:
    """The best GCN-style cell of one table against its reference; None if either is missing."""
    if (compared := compared_rows(rows, reference)) is None:
        return None
    ref, best, control = compared
    ratio, _ = epoch_cost_ratio(best["cost"], ref["cost"]) or (None, "")
    control_vs = (control["delta"], control["p"]) if control and "p" in control else None
    return Outcome(regime, where, cell_name(best), cell_name(ref), best["mean"], ref["mean"], best["delta"],
                   best["p"], ratio, best.get("against_control"), beyond_cut,
                   best.get("interval"), best.get("control_interval"), control_vs,
                   best.get("against_baseline"), best.get("baseline_interval"),
                   best.get("vote_vs_baseline"), best.get("against_attention"),
                   best.get("attention_interval"), best.get("dev_vs_reference"))


def verdict_lines(outcomes: list[Outcome], plot: str | None = None) -> list[str]:
    """The table of every comparison, the ``plot`` of them where one was drawn
    (:func:`plot_verdict`), and one generated sentence per regime."""
    if not outcomes:
        return []
    lines = ["# Verdict per regime", "",
             "In each comparison, the best GCN-style cell (gcn, gat on window, dependency or their "
             "union; chosen by mean dev score over seeds, for a tuned cell the seeds whose dev "
             "its search did not see, so test only reports it) against the "
             "reference of its table: the "
             "Transformer on the complete graph (with `model.edge_types` on, as in the "
             "project's base config, a learned bias per relative offset up to `graph.clip`: "
             "T5-style relative positions; cut at `data.max_tokens` where the study sets "
             "it), or for pretrained features the pretrained encoder fine-tuned alone. Outcome: "
             "significantly better or worse at Holm p < 0.05 (paired bootstrap over test "
             "examples and seeds), else equal; [low, high]: Δ's bootstrap interval, 95 % jointly "
             "over the comparisons Holm corrects for (Bonferroni), so it bounds the difference an "
             "\"equal\" could hide. "
             "Cost: its CPU seconds per training epoch over the reference's (wall seconds where a "
             "run did not count CPU time or trained on a GPU). Graph: the same cell "
             f"against the graph-free control of its table ({CONTROL[0]} on the graph "
             f"`{CONTROL[1]}`: the same block with no edge between tokens), seeds paired, Holm "
             "over the table's GCN-style cells: whether the linguistic graph itself adds to the "
             "score (\"-\" where the table has no control). Attention: the same cell against "
             "self-attention on its own graph (the Transformer on the same edges, where the "
             "table has it; one paired test per table): on one graph, in the shared backbone, the two "
             "differ only in the message function, so this separates the encoder from the "
             "graph. "
             "The sentences also meet the same "
             "cell with its table's strongest baseline (TF-IDF + LR or WideMLP, whichever is best "
             "on dev; one paired test per table).", "",
             "| regime | dataset | best GCN-style cell | score | reference | score | Δ | "
             "p (Holm) | outcome | cost × | attention on its graph: Δ | p | "
             "graph: Δ vs no graph | p (Holm) |",
             "|---|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for o in sorted(outcomes, key=lambda o: REGIMES.index(o.regime)):  # stable: datasets stay sorted
        cost = "-" if o.cost_ratio is None else f"{o.cost_ratio:.2f}"
        attention = ("- | -" if o.against_attention is None else
                     f"{delta_text(o.against_attention[1], o.attention_interval)} | "
                     f"{p_text(o.against_attention[2])}")
        graph = ("- | -" if o.against_control is None else
                 f"{delta_text(o.against_control[0], o.control_interval)} | "
                 f"{p_text(o.against_control[1])}")
        lines.append(f"| {o.regime} | {o.where} | {o.cell} | {100 * o.mean:.2f} | {o.reference} "
                     f"| {100 * o.reference_mean:.2f} | {delta_text(o.delta, o.interval)} | {p_text(o.p)} | "
                     f"{o.word} | {cost} | {attention} | {graph} |")
    lines.append("")
    if plot:
        lines += [f"![verdict per regime]({plot})", ""]
    for regime in REGIMES:
        if sentence := regime_sentence(regime, outcomes):
            lines += [sentence, ""]
    return lines


def plot_verdict(outcomes: list[Outcome], path: Path) -> bool:
    """Every comparison of the verdict on one axis: the best GCN-style cell's Δ against its
    reference, the graph-free control and the strongest baseline, each with its interval
    (the table's). What the table says, at a glance: which side of zero each lies on, and how
    wide an "equal" is. False (nothing drawn) without comparisons."""
    if not outcomes:
        return False
    ordered = sorted(outcomes, key=lambda o: REGIMES.index(o.regime))
    against = [
        ("against its reference (the Transformer; pretrained: the encoder fine-tuned alone)", "o",
         lambda o: (o.delta, o.interval)),
        ("against the graph-free control", "s",
         lambda o: o.against_control and (o.against_control[0], o.control_interval)),
        ("against the strongest baseline (TF-IDF + LR or WideMLP, best on dev)", "^",
         lambda o: o.against_baseline and (o.against_baseline[1], o.baseline_interval)),
        ("against self-attention on its own graph (the Transformer on the same edges)", "D",
         lambda o: o.against_attention and (o.against_attention[1], o.attention_interval))]
    fig, ax = subplots(figsize=(8.5, 1.5 + 0.45 * len(ordered)))
    for k, (label, marker, of) in enumerate(against):
        points = [(i, 100 * got[0], got[1]) for i, o in enumerate(ordered) if (got := of(o))]
        if not points:
            continue
        # an outcome given without an interval: a bare point
        spans = [(100 * iv[0], 100 * iv[1]) if iv else (x, x) for _, x, iv in points]
        ax.errorbar([x for _, x, _ in points],
                    [i + 0.18 * (k - (len(against) - 1) / 2) for i, _, _ in points],
                    xerr=[[x - low for (_, x, _), (low, _) in zip(points, spans, strict=True)],
                          [high - x for (_, x, _), (_, high) in zip(points, spans, strict=True)]],
                    fmt=marker, color=f"C{k}", capsize=2, label=label)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(ordered)),
                  [f"{o.regime}: {o.where} · {o.cell}" for o in ordered], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="Δ of the best GCN-style cell (points), with the tables' intervals\n"
                  "right of 0: it scores higher")
    ax.grid(alpha=0.3, axis="x")
    # the title heads the legend above the axes: an axes title there would lie under it
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=1, frameon=False,
              title="Verdict per regime", title_fontsize=11, alignment="left")
    save_figure(fig, path)
    return True


def delta_text(delta: float, interval: tuple[float, float] | None) -> str:
    """A difference in points with its interval: "+0.19 [-0.95, +1.31]"."""
    return f"{100 * delta:+.2f}" + ("" if interval is None else
                                    f" [{100 * interval[0]:+.2f}, {100 * interval[1]:+.2f}]")


def regime_sentence(regime: str, outcomes: list[Outcome]) -> str | None:
    """E.g. "Short texts (4 comparisons: 1 better, 1 equal, 2 worse): the best GCN-style
    encoder on a linguistic graph is significantly better on trec, equal on mr (Δ between ...)
    and significantly worse on sst2 and cola compared with the Transformer (its training cost
    0.41-0.93× the reference's per epoch)." and what the control and the baselines add."""
    mine = [o for o in outcomes if o.regime == regime]
    if not mine:
        return None

    def where(o: Outcome) -> str:  # an "equal" with the bounds of what it may hide
        if o.word != "equal" or o.interval is None:
            return o.where
        return _with(o.where, f"Δ between {100 * o.interval[0]:+.2f} and {100 * o.interval[1]:+.2f}")

    groups = {word: [where(o) for o in mine if o.word == word] for word in WORDS}
    ratios = [o.cost_ratio for o in mine if o.cost_ratio is not None]
    cost = "" if not ratios else (f" (its training cost {min(ratios):.2f}" + (
        f"-{max(ratios):.2f}" if len(ratios) > 1 else "") + "× the reference's per epoch)")
    names = {"transformer-complete": "the Transformer", "finetune-none": "the fine-tuned encoder alone"}
    references = sorted({o.reference for o in mine})
    against = " or ".join(names.get(r, r) for r in references)
    tally = ", ".join(f"{sum(o.word == word for o in mine)} {word}" for word in WORDS)
    sentence = (f"**{regime.capitalize()}** ({len(mine)} comparison{'s' if len(mine) > 1 else ''}: "
                f"{tally}): the best GCN-style encoder on a linguistic graph "
                f"is {words_on(groups)} compared with {against}{cost}.")
    controlled = [o for o in mine if o.graph_word is not None]
    if controlled:
        says = {"better": "adds significantly", "equal": "adds nothing significant",
                "worse": "costs significantly"}
        found = {w: [o.where for o in controlled if o.graph_word == w] for w in says}
        sentence += (f" Against the graph-free control ({CONTROL[0]} with no edge between "
                     "tokens), the graph itself " + join_words([f"{says[w]} on {join_words(where)}"
                                                          for w, where in found.items() if where])
                     + ".")
        sentence += _shared_with_control(controlled)
    sentence += _against_attention(mine)
    sentence += _against_bag_of_words(mine)
    if cut := [o for o in mine if o.beyond_cut is not None]:
        def beyond(o: Outcome) -> str:
            b = o.beyond_cut
            word = outcome_word(b.delta, b.p)
            return (f"{o.where}, the {b.texts:,} of {b.of:,} test texts ({100 * b.texts / b.of:.1f} "
                    f"%) over {b.tokens} tokens: {'significantly ' if word != 'equal' else ''}"
                    f"{word}, {100 * b.delta:+.2f} points (p {p_text(b.p, '= ')}, Holm over the "
                    "length bins)")
        sentence += (" Beyond the reference's cut, on the texts it never reads whole, that cell "
                     "against it: " + "; ".join(beyond(o) for o in cut) + ".")
    return sentence + _on_dev(mine)


def _shared_with_control(outcomes: list[Outcome]) -> str:
    """Where the best cell differs significantly from the reference, whether the graph-free
    control differs the same way: if it does, the difference needs no graph (it is the
    block's, or the reference's weakness); if not, the control does not account for it
    (whether the graph adds significantly is the sentence before). E.g. " Where it is
    significantly better, so is the graph-free control on mr · 10% (+3.19, p < 0.001): that
    gain needs no graph; the control is not significantly better on mr · 1% (-0.50, p = 1)."
    A control significantly on the other side of the reference is said so ("the control is
    significantly worse on ohsumed (-3.49, p = 0.002)")."""
    def where(o: Outcome) -> str:
        delta, p = o.control_vs_reference
        return _with(o.where, f"{100 * delta:+.2f}, p {p_text(p, '= ')}")

    text = ""
    for word, other, change in (("better", "worse", "gain"), ("worse", "better", "loss")):
        mine = [o for o in outcomes if o.word == word and o.control_vs_reference is not None]
        phrases = ((word, f"so is the graph-free control on {{}}: that {change} needs no graph"),
                   ("equal", f"the control is not significantly {word} on {{}}"),
                   (other, f"the control is significantly {other} on {{}}"))
        parts = []
        for w, phrase in phrases:
            if found := [where(o) for o in mine if outcome_word(*o.control_vs_reference) == w]:
                parts.append(phrase.format(join_words(found)))
        if parts:
            text += f" Where it is significantly {word}, " + "; ".join(parts) + "."
    return text


def _on_dev(outcomes: list[Outcome]) -> str:
    """Where test finds the best cell significantly better or worse than the reference, the
    same difference on dev (every choice reads dev; test is later-dated on 20NG), e.g. " On
    dev, where test finds a difference (mean over the paired seeds, their std): +0.12 on 20ng
    (0.27), +6.45 on ohsumed (3.58)." """
    found = [o for o in outcomes if o.word != "equal" and o.dev_vs_reference is not None]
    if not found:
        return ""

    def where(o: Outcome) -> str:
        mean, std = o.dev_vs_reference
        return f"{100 * mean:+.2f} on {o.where}" + ("" if math.isnan(std) else f" ({100 * std:.2f})")

    return (" On dev, where test finds a difference (mean over the paired seeds, their std): "
            + ", ".join(where(o) for o in found) + ".")


def _against_attention(outcomes: list[Outcome]) -> str:
    """The best cell against self-attention on its own graph, and where it beats the
    Transformer on the complete graph, whose gain that is, e.g. " Against self-attention on
    its own graph (the Transformer on the same edges: only the message function differs), it
    is significantly worse on ohsumed (transformer-window, -3.10, p = 0.004).
    Where it beats the Transformer on the complete graph but not attention on its own graph
    (ohsumed), that gain is the graph's edges, not the GCN-style message function." """
    mine, text = _against_named(outcomes, lambda o: o.against_attention,
                                "Against self-attention on its own graph (the Transformer on the "
                                "same edges: only the message function differs)")
    edges = [o.where for o in mine
             if o.word == "better" and outcome_word(*o.against_attention[1:]) != "better"]
    if edges:
        text += (" Where it beats the Transformer on the complete graph but not attention on its "
                 f"own graph ({join_words(edges)}), that gain is the graph's edges, not the GCN-style "
                 "message function.")
    return text


def _against_bag_of_words(outcomes: list[Outcome]) -> str:
    """The best cell against its table's strongest baseline (the one best on dev), e.g.
    " Against the strongest baseline of its table (TF-IDF + LR or WideMLP, whichever is best
    on dev: bags of n-grams, no graph), it is significantly worse on mr (TF-IDF + LR, -2.23,
    p < 0.001)." """
    mine, text = _against_named(outcomes, lambda o: o.against_baseline,
                                "Against the strongest baseline of its table (TF-IDF + LR or "
                                "WideMLP, whichever is best on dev: bags of n-grams, no graph)")
    short = [o for o in mine if o.vote_vs_baseline is not None
             and outcome_word(*o.against_baseline[1:]) == "worse"]
    if not short:
        return text
    votes = {word: [_with(o.where, f"{100 * o.vote_vs_baseline[0]:+.2f}, p "
                                   f"{p_text(o.vote_vs_baseline[1], '= ')}")
                    for o in short if outcome_word(*o.vote_vs_baseline) == word]
             for word in WORDS}
    text += " Where it is significantly worse, the majority vote of its seeds is " + words_on(votes)
    if votes["better"] or votes["equal"]:
        text += ": a shortfall the vote does not show is the seeds' variance, not the model's bias"
    return text + "."


def _against_named(outcomes: list[Outcome], of, lead: str) -> tuple[list[Outcome], str]:
    """The outcomes that have a comparison ``of(o)`` = (the other cell's name, Δ, p), and the
    sentence on them: " {lead}, it is significantly worse on mr (TF-IDF + LR, -2.23, p <
    0.001)." ("" where none has one)."""
    mine = [o for o in outcomes if of(o) is not None]
    if not mine:
        return mine, ""
    groups: dict[str, list[str]] = {word: [] for word in WORDS}
    for o in mine:
        name, delta, p = of(o)
        groups[outcome_word(delta, p)].append(
            _with(o.where, f"{name}, {100 * delta:+.2f}, p {p_text(p, '= ')}"))
    return mine, f" {lead}, it is {words_on(groups)}."


def words_on(groups: dict[str, list[str]]) -> str:
    """Each outcome word with its places, e.g. "significantly better on trec and equal on mr
    and sst2"; a word with none is left out."""
    return join_words([f"{'significantly ' if word != 'equal' else ''}{word} on {join_words(found)}"
                  for word, found in groups.items() if found])


def _with(where: str, detail: str) -> str:
    """A comparison's place with a detail in parentheses; "r8 (cut at 256 tokens)" takes it
    inside its own: "r8 (cut at 256 tokens; Δ between -2.23 and +0.33)"."""
    return f"{where[:-1]}; {detail})" if where.endswith(")") else f"{where} ({detail})"


def compute_lines(runs: list[dict], searches: dict[str, Spent],
                  continued: dict[str, str] | None = None) -> list[str]:
    """What each regime's runs cost: their number, their CPU hours (core-hours: sum over runs of
    the CPU seconds of all their threads; "-" where a run did not count them; runs trained on
    a GPU left out and named below the table) and their wall hours (sum over runs; a run
    paused or on a busy machine counts that time too); then each search that chose configs
    of the study (name -> what its trials cost: ``tuning.spent``), a search that runs on from
    another (``continued``: name -> the other's name) with its own trials only."""
    parts: dict[str, list[dict]] = {}
    for r in runs:
        parts.setdefault(regime_of(r["dataset"], r.get("fraction"), r.get("tag", "")), []).append(r)
    lines = ["| part | runs | CPU hours | wall hours |", "|---|---:|---:|---:|"]
    for regime in REGIMES:
        if regime in parts:
            cpu = cpu_hours(parts[regime])
            lines.append(f"| {regime} | {len(parts[regime])} | {'-' if cpu is None else f'{cpu:.1f}'} | "
                         f"{sum(r['train_seconds'] for r in parts[regime]) / 3600:.1f} |")
    bounded, short, resumed = [], [], []
    for name, cost in sorted(searches.items()):
        own = f" (its own; runs on from `{continued[name]}`)" if name in (continued or {}) else ""
        lines.append(f"| tuning: search `{name}` | {cost.trials} trials{own} | "
                     f"{'≤ ' if cost.uncounted else ''}{cost.cpu_hours:.1f} | {cost.hours:.1f} |")
        if cost.uncounted:
            bounded.append(f"{cost.uncounted} of `{name}`'s")
        if cost.resumed.trials:
            short.append(f"{cost.resumed.trials} of `{name}`'s")
            resumed.append(cost.resumed)
    if bounded:
        lines += ["", f"≤: an upper bound; {join_words(bounded)} trials ran before CPU time was "
                  "counted, and their wall time stands in for it (one thread each)."]
    if short:
        lines += ["", Resumed.total(resumed).sentence(join_words(short))]
    on_gpu = [f"{regime}: {gpu}" for regime in REGIMES
              if regime in parts and (gpu := accelerated(parts[regime]))]
    if on_gpu:
        lines += ["", f"Trained on a GPU ({'; '.join(on_gpu)}): their CPU hours are left out "
                  "(they miss the GPU's work); their wall hours are counted."]
    return lines + [""]

