"""A study file: the grid of cells it names and each cell's config.

A study (``configs/claim2.yaml``) names a base config, the datasets with their overrides, the
graphs, encoders, seeds and baselines of its grid, cells outside the grid, the low-resource
shares, and the studies it reuses or is checked by. :class:`Study` reads and validates it;
:meth:`Study.cells` lists its runs as :class:`Cell` s (a run key each:
``mr/gcn-window/seed0``), and :func:`resolved_config` gives the config a cell trains on.
:mod:`textgnn.experiments` runs them.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from .baselines import BASELINES, cell_keys
from .config import as_overrides, load_config, read_yaml
from .errors import TextGNNError


@dataclass
class Study:
    """A study file as read and checked by :meth:`load`: an unknown key, baseline or malformed
    seed list stops it with the file named."""

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
    # the low-resource curves: {datasets, fractions, cells: [{encoder, graph}], baselines,
    # config}; each cell and baseline again on a stratified share of train
    # (data.train_fraction), the cells on ``config`` when given (a template, as a cell's)
    low_resource: dict = field(default_factory=dict)
    path: Path | None = None  # the study file, when read from one
    # a dataset's own `seeds:` in its `datasets:` entry (e.g. fewer on long documents), in
    # place of the study's for its baselines and every cell with no `seeds` of its own
    dataset_seeds: dict[str, list[int]] = field(default_factory=dict)
    # studies that repeat some of this one's datasets with one change, [{study, change}]: the
    # report sets their verdicts beside this one's (check_report)
    checks: list[dict] = field(default_factory=list)
    # studies whose records this one takes as its own where a cell's config is the same
    # (reusable_runs): a check retrains only the cells it changes
    reuse: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Study:
        path = Path(path)
        raw = read_yaml(path)
        known = {"name", "config", "datasets", "graphs", "encoders", "seeds", "overrides",
                 "baselines", "cells", "low_resource", "checks", "reuse"}
        unknown = set(raw) - known
        if unknown:
            raise TextGNNError(f"{path}: unknown study key(s) {sorted(unknown)}; valid: {sorted(known)}")
        low = dict(raw.get("low_resource") or {})
        unknown = (set(raw.get("baselines") or []) | set(low.get("baselines") or [])) - set(BASELINES)
        if unknown:
            raise TextGNNError(f"{path}: unknown baseline(s) {sorted(unknown)}; "
                               f"choose from {', '.join(BASELINES)}")
        try:
            datasets = raw["datasets"]
            if isinstance(datasets, list):
                datasets = {d: {} for d in datasets}
            datasets = {d: dict(o or {}) for d, o in datasets.items()}
            dataset_seeds = {d: _seed_list(o.pop("seeds"), f"{path}: datasets.{d}.seeds")
                             for d, o in datasets.items() if "seeds" in o}
            return cls(
                name=str(raw["name"]),
                config=(path.parent / raw["config"]).resolve(),
                datasets={d: as_overrides(o) for d, o in datasets.items()},
                graphs=list(raw.get("graphs") or []),
                encoders=list(raw.get("encoders") or []),
                seeds=_seed_list(raw["seeds"], f"{path}: seeds"),
                overrides=as_overrides(raw.get("overrides")),
                baselines=list(raw.get("baselines") or []),
                extra=[{"encoder": c["encoder"], "graph": c["graph"],
                        "datasets": list(c.get("datasets") or datasets), "tag": c.get("tag", ""),
                        "label": c.get("label", ""),
                        "config": (path.parent / c["config"]).resolve() if c.get("config") else None,
                        "seeds": _seed_list(c["seeds"], f"{path}: cells[{i}].seeds")
                        if "seeds" in c else None}
                       for i, c in enumerate(raw.get("cells") or [])],
                path=path,
                low_resource={} if not low else {
                    "config": (path.parent / low["config"]).resolve() if low.get("config") else None,
                    "datasets": list(low["datasets"]),
                    "fractions": [float(f) for f in low["fractions"]],
                    "cells": [(c["encoder"], c["graph"]) for c in low["cells"]],
                    "baselines": list(low.get("baselines") or [])},
                dataset_seeds=dataset_seeds,
                checks=[{"study": str(c["study"]), "change": str(c["change"])}
                        for c in raw.get("checks") or []],
                reuse=_reuse_list(raw.get("reuse"), str(raw["name"]), path),
            )
        except KeyError as exc:
            raise TextGNNError(f"{path}: missing study key {exc}") from None

    def cells(self, datasets: list[str] | None = None, seeds: int | None = None) -> list[Cell]:
        """Dataset by dataset, in the study's order, so one dataset's tables fill before the
        next one's runs start (a study runs them in this order): its baselines, the grid, the
        extra cells, then its low-resource cells."""
        chosen = [d for d in self.datasets if datasets is None or d in datasets]
        return [cell for d in chosen
                for cell in self._dataset_cells(d, self.dataset_seeds.get(d, self.seeds)[:seeds or None])]

    def _dataset_cells(self, d: str, seed_list: list[int]) -> list[Cell]:
        return ([Cell(d, "-", b, s) for b in self.baselines for s in _baseline_seeds(b, seed_list)]
                + [Cell(d, g, e, s) for g in self.graphs for e in self.encoders for s in seed_list]
                + [Cell(d, c["graph"], c["encoder"], s, c["tag"], c["config"], c["label"])
                   for c in self.extra if d in c["datasets"]
                   for s in (seed_list if c["seeds"] is None else c["seeds"][:len(seed_list)])]
                + self._low_resource_cells(d, seed_list))

    def _low_resource_cells(self, d: str, seed_list: list[int]) -> list[Cell]:
        low = self.low_resource
        if not low or d not in low["datasets"]:
            return []
        return ([Cell(d, "-", b, s, fraction=f) for f in low["fractions"]
                 for b in low["baselines"] for s in _baseline_seeds(b, seed_list)]
                + [Cell(d, g, e, s, config=low["config"], fraction=f)
                   for f in low["fractions"] for e, g in low["cells"] for s in seed_list])


def _reuse_list(reuse: object, name: str, path: Path) -> list[str]:
    """``reuse:``: the names of other studies (results/<name>/ beside this one's)."""
    if reuse is None:
        return []
    if not isinstance(reuse, list) or not all(isinstance(n, str) and n for n in reuse):
        raise TextGNNError(f"{path}: reuse: {reuse!r} is not a list of study names")
    if name in reuse:
        raise TextGNNError(f"{path}: reuse: names the study itself ({name})")
    return list(reuse)


def _seed_list(seeds: int | list, where: str) -> list[int]:
    """``seeds: 5`` is seeds 0-4; a list names them."""
    if isinstance(seeds, bool) or not (
            isinstance(seeds, int) and seeds > 0 or isinstance(seeds, list) and seeds
            and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise TextGNNError(f"{where}: {seeds!r} is not a number of seeds (>= 1) or a list of "
                           "seeds (integers)")
    return list(seeds) if isinstance(seeds, list) else list(range(seeds))


def _baseline_seeds(name: str, seeds: list[int]) -> list[int]:
    """A seeded baseline runs with every seed; a deterministic one once."""
    return seeds if BASELINES[name].seeded else seeds[:1]


@dataclass(frozen=True)
class Cell:
    """One run of a study: a dataset, graph, encoder and seed, with what sets it apart from the
    grid (a tag, its own config, a label, a share of train); :attr:`key` names it everywhere."""

    dataset: str
    graph: str
    encoder: str
    seed: int
    tag: str = ""
    config: Path | None = None  # instead of the study's base config
    label: str = ""  # tells apart cells of one encoder and graph on different base configs
    fraction: float | None = None  # low resource: trained on this share of train

    @property
    def key(self) -> str:
        # a dataset given as a directory is keyed by its folder name
        label = f"~{self.label}" if self.label else ""
        tag = f"@{self.tag}" if self.tag else ""
        share = f"%{self.fraction:g}" if self.fraction is not None else ""
        return (f"{Path(self.dataset).name}/{self.encoder}{label}-{self.graph}{tag}{share}"
                f"/seed{self.seed}")


def resolved_config(study: Study, cell: Cell) -> dict:
    """A cell's config: its own config file (where ``{dataset}``, ``{encoder}`` and ``{graph}``
    name the cell's, e.g. a tuned config per dataset) or the study's, then the study's and the
    dataset's overrides and the cell's own keys. A baseline has no graph and no encoder: it
    reads the data, train and baseline sections (a tuned baseline names its own config)."""
    base = config_file(study, cell)
    overrides = [*study.overrides, f"data.name={cell.dataset}", *study.datasets[cell.dataset],
                 *cell_keys(cell.encoder, cell.graph), f"train.seed={cell.seed}"]
    if cell.fraction is not None:
        overrides.append(f"data.train_fraction={cell.fraction}")
    return load_config(base, overrides).to_dict()


def config_file(study: Study, cell: Cell) -> Path:
    """The file a cell's config starts from: its own (a template naming its dataset, encoder
    and graph, e.g. a tuned config) or the study's."""
    return Path(str(cell.config or study.config).format(
        dataset=Path(cell.dataset).name, encoder=cell.encoder, graph=cell.graph))


def chosen_cells(study: Study, datasets: list[str] | None, seeds: int | None,
                 match: str | None, exclude: str | None) -> list[Cell]:
    """The cells one invocation covers: the study's (of ``datasets``, up to ``seeds``) whose
    key matches ``match`` and not ``exclude``."""
    return [cell for cell in study.cells(datasets, seeds) if selected(cell.key, match, exclude)]


def cell_family(key: str) -> str:
    """A run key without its seed: the runs of one cell, which differ only by seed."""
    return key.rsplit("/seed", 1)[0]


def selected(key: str, match: str | None, exclude: str | None) -> bool:
    """Whether a run key matches the glob ``match`` (any when None) and not ``exclude``."""
    return ((match is None or fnmatch.fnmatchcase(key, match))
            and (exclude is None or not fnmatch.fnmatchcase(key, exclude)))


def planned_parts(study: Study) -> dict[str, int]:
    """The whole study's run count per part (regime)."""
    from .verdict import regime_of

    parts: dict[str, int] = {}
    for cell in study.cells():
        part = regime_of(Path(cell.dataset).name, cell.fraction, cell.tag)
        parts[part] = parts.get(part, 0) + 1
    return parts


def planned_tables(study: Study) -> dict[str, int]:
    """The whole study's run count per table that a verdict reads: a dataset's main table
    (its name) or one share of its low-resource curve ("mr · 1%"); tagged cells (pretrained
    features) have tables of their own and no verdict of the kind a check compares."""
    from .low_resource_report import table_name

    tables: dict[str, int] = {}
    for cell in study.cells():
        if not cell.tag:
            table = table_name(Path(cell.dataset).name, cell.fraction)
            tables[table] = tables.get(table, 0) + 1
    return tables
