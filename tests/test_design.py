"""The documents stay true to the package: docs/DESIGN.md names every module, and no module that is
gone; the README names every option of every command."""

import re

from conftest import REPO


def test_design_names_every_module_and_nothing_else():
    text = (REPO / "docs" / "DESIGN.md").read_text()
    named = set(re.findall(r"`(textgnn/[\w/]+\.py)`", text))
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "textgnn").rglob("*.py")}
    assert named == modules, (f"not in DESIGN.md: {sorted(modules - named)}; "
                              f"in DESIGN.md but not in the package: {sorted(named - modules)}")


def test_readme_names_every_option_of_every_command():
    """Every command's options are where a user looks first: its --help and the README."""
    import argparse

    from textgnn.cli import build_parser

    readme = (REPO / "README.md").read_text()
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {option}" for name, parser in commands.choices.items()
               for action in parser._actions for option in action.option_strings
               if option.startswith("--") and option != "--help"
               and not re.search(re.escape(option) + r"(?![\w-])", readme)]
    assert not missing, f"options the README does not name: {missing}"
