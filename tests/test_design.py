"""docs/DESIGN.md stays true to the package: it names every module, and no module that is gone."""

import re

from conftest import REPO


def test_design_names_every_module_and_nothing_else():
    text = (REPO / "docs" / "DESIGN.md").read_text()
    named = set(re.findall(r"`(textgnn/[\w/]+\.py)`", text))
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "textgnn").rglob("*.py")}
    assert named == modules, (f"not in DESIGN.md: {sorted(modules - named)}; "
                              f"in DESIGN.md but not in the package: {sorted(named - modules)}")
