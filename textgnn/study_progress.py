"""How much of a study its records hold: the plan ``experiment`` last wrote
(``planned.json``), the study file it names, and the line a report opens with while the
study still runs. Shared by a study's own report and by the reports of the studies it checks.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import TextGNNError
from .experiments import PLANNED
from .low_resource_report import table_name
from .study import Study, planned_parts, planned_tables
from .verdict import regime_of


def study_plan(study_dir: Path) -> tuple[dict, Study | None]:
    """What ``experiment`` last wrote it plans for the study (``planned.json``; empty where it
    wrote none) and the study file that plan names, loaded as it is now (None where it is gone
    or mid-edit)."""
    path = study_dir / PLANNED
    plan = json.loads(path.read_text()) if path.is_file() else {}
    source = plan.get("study")
    if not source or not Path(source).is_file():
        return plan, None
    try:
        return plan, Study.load(source)
    except TextGNNError:
        return plan, None


def progress_lines(planned: tuple[dict, Study | None], runs: list[dict]) -> list[str]:
    """How much of the study the tables hold, where ``experiment`` wrote what it plans
    (``planned``: :func:`study_plan`'s answer): a study still running reads as one, not as
    finished."""
    plan, study = planned
    if not plan:
        return []
    # the study file as it is now counts cells added since the last `experiment` wrote this;
    # a file mid-edit: the recorded counts
    planned: dict[str, int] = plan["parts"] if study is None else planned_parts(study)
    recorded: dict[str, int] = {}
    for r in runs:
        part = regime_of(r["dataset"], r.get("fraction"), r.get("tag", ""))
        recorded[part] = recorded.get(part, 0) + 1
    total, done = sum(planned.values()), sum(recorded.get(p, 0) for p in planned)
    if done >= total:
        return []
    parts = ", ".join(f"{part} {recorded.get(part, 0)}/{n}" for part, n in planned.items())
    return [f"**In progress: {done} of the {total} planned runs are recorded** ({parts}); "
            "the tables and verdicts below hold those alone. What is left, and its estimated "
            f"CPU hours: `python -m textgnn experiment {plan['study'] or '<study file>'} "
            "--plan`.", ""]


def unfinished_tables(planned: tuple[dict, Study | None], runs: list[dict]
                      ) -> dict[str, tuple[int, int]]:
    """The tables (a dataset's main table, or a share of its curve: "mr · 1%") whose planned
    runs are not all recorded yet, each with (recorded, planned): a study that checks
    another compares a table only once its runs are complete, since the best cell of a part
    of a table is not the table's. Empty where ``experiment`` wrote no per-table plan."""
    plan, study = planned
    tables: dict[str, int] = plan.get("tables", {}) if study is None else planned_tables(study)
    recorded: dict[str, int] = {}
    for r in runs:
        if not r.get("tag"):
            table = table_name(r["dataset"], r.get("fraction"))
            recorded[table] = recorded.get(table, 0) + 1
    return {t: (recorded.get(t, 0), n) for t, n in tables.items() if recorded.get(t, 0) < n}
