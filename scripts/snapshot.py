"""Commit a study's progress while its lanes keep running, nothing paused.

One commit holds the records, the searches' storage and every generated file (RESULTS.md,
plots, TUNING.md, the chosen configs, the README headline).

    python scripts/snapshot.py -m "Claim study v2: checkpoint"
    python scripts/snapshot.py -m "..." --study results/claim2 --search configs/tune/sentences.yaml

The two files the lanes write are staged from consistent copies, never
read mid-write: a search's SQLite storage through SQLite's online backup (a transaction in
flight is left out; the copy must pass ``pragma integrity_check``), and ``runs.jsonl`` up to
its last complete line (a run being appended is left for the next snapshot). Each is copied
after the report that reads it, so the records committed hold every trial and run the
reports show (one that finished in between shows in the next snapshot's). The one time
``runs.jsonl`` shrinks is a study pass moving the records of changed cells to
``superseded.jsonl`` (``run_records.changed_runs``); a snapshot taken across that moment
commits a report of the records before it, and the next snapshot is consistent again. The working tree
keeps the live files; only the index gets the copies. Exit status 1, with nothing committed,
if the index already holds staged changes, a copy fails its check or a report command fails.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEARCHES = ("configs/tune/sentences.yaml", "configs/tune/documents.yaml")


def git(*args: str, stdin: bytes | None = None, repo: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True,
                          check=True).stdout.decode().strip()


def stage_bytes(path: Path, content: bytes, repo: Path = REPO) -> None:
    """Put ``content`` in the index at ``path`` (relative to ``repo``) without touching the
    working tree."""
    blob = git("hash-object", "-w", "--stdin", stdin=content, repo=repo)
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path.as_posix()}", repo=repo)


def sqlite_copy(database: Path) -> bytes:
    """A consistent copy of a live SQLite file (its committed transactions only)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite3"
        # a writer holds its lock for a short transaction: wait for it rather than fail
        source, target = sqlite3.connect(database, timeout=60), sqlite3.connect(copy)
        try:
            source.backup(target)
            check = target.execute("pragma integrity_check").fetchone()[0]
        finally:
            source.close()
            target.close()
        if check != "ok":
            raise RuntimeError(f"{database}: the copy fails integrity_check: {check}")
        return copy.read_bytes()


def complete_lines(path: Path) -> bytes:
    """``path``'s content up to and including its last newline."""
    content = path.read_bytes()
    return content[:content.rfind(b"\n") + 1]


def in_repo(path: Path) -> Path:
    """``path`` (absolute, or relative to the repository) relative to the repository, as the
    index names it."""
    try:
        return (REPO / path).resolve().relative_to(REPO.resolve())
    except ValueError:
        raise RuntimeError(f"{path}: not inside the repository {REPO}") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("-m", "--message", required=True, help="the commit message")
    parser.add_argument("--study", type=Path, default=Path("results/claim2"),
                        help="the study's results directory, in the repository (default: results/claim2)")
    parser.add_argument("--search", action="append", default=None, metavar="FILE",
                        help="a search file whose storage, TUNING.md and chosen configs to "
                        f"commit (repeatable; default: {', '.join(SEARCHES)})")
    parser.add_argument("--readme", type=Path, default=Path("README.md"),
                        help="the file whose headline block the report fills (default: README.md)")
    args = parser.parse_args()
    from textgnn.tuning import Search

    if git("diff", "--cached", "--name-only"):  # they would slip into the snapshot's commit
        raise RuntimeError("the index already holds staged changes; commit or unstage them first")
    live, generated = [], []  # (path, content to stage); paths to `git add`
    for file in args.search or SEARCHES:
        search = Search.load(REPO / file)
        database = Path("results") / search.name / "optuna.sqlite3"
        if search.storage or not (REPO / database).is_file():
            continue  # another RDB, or a search not started: nothing of it to commit
        subprocess.run([sys.executable, "-m", "textgnn", "tune", file, "--report-only"],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        # copied after its report: the records only grow, so they hold all it shows
        live.append((database, sqlite_copy(REPO / database)))
        generated += [database.parent, Path("configs/tuned") / search.name]
    study, readme = in_repo(args.study), in_repo(args.readme)
    subprocess.run([sys.executable, "-m", "textgnn", "report", str(study), "--readme",
                    str(readme)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    live.append((study / "runs.jsonl", complete_lines(REPO / study / "runs.jsonl")))
    generated += [study, readme]
    # the generated files as they are, the live ones left out: their copies are staged below
    git("add", "--", *map(str, generated), *(f":!{path.as_posix()}" for path, _ in live))
    for path, content in live:
        stage_bytes(path, content)
    if not git("diff", "--cached", "--name-only"):
        print("snapshot: nothing new to commit")
        return 0
    git("commit", "-q", "-m", args.message)
    print(git("log", "--oneline", "-1"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"snapshot: {exc}", file=sys.stderr)
        sys.exit(1)
