"""scripts/snapshot.py stages consistent copies of the files a running study writes: a SQLite
storage with a write in flight, and a runs.jsonl with a torn last line."""

import importlib.util
import sqlite3
import subprocess

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def snapshot():
    spec = importlib.util.spec_from_file_location("snapshot", REPO / "scripts" / "snapshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sqlite_copy_holds_the_committed_rows_and_no_others(snapshot, tmp_path):
    """In WAL mode committed rows may live outside the database file, so a byte copy of the
    file misses them; the copy holds every committed row and none of a transaction in
    flight."""
    live = tmp_path / "optuna.sqlite3"
    db = sqlite3.connect(live)
    db.execute("pragma journal_mode=wal")
    db.execute("pragma wal_autocheckpoint=0")  # the commits stay in the -wal file
    db.execute("create table trials (number integer)")
    db.executemany("insert into trials values (?)", [(0,), (1,)])
    db.commit()
    db.execute("insert into trials values (2)")  # in flight, not committed
    copy, raw = tmp_path / "copy.sqlite3", tmp_path / "raw.sqlite3"
    copy.write_bytes(snapshot.sqlite_copy(live))
    raw.write_bytes(live.read_bytes())
    db.rollback()
    db.close()
    assert sqlite3.connect(copy).execute("select number from trials").fetchall() == [(0,), (1,)]
    with pytest.raises(sqlite3.DatabaseError):  # the byte copy has not even the table
        sqlite3.connect(raw).execute("select number from trials").fetchall()


def test_runs_are_staged_up_to_the_last_complete_line(snapshot, tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    runs = tmp_path / "runs.jsonl"
    runs.write_bytes(b'{"key": "a"}\n{"key": "b"}\n{"key": "c", "te')  # "c" being appended
    snapshot.stage_bytes(runs.relative_to(tmp_path), snapshot.complete_lines(runs), repo=tmp_path)
    staged = snapshot.git("show", ":runs.jsonl", repo=tmp_path)
    assert staged == '{"key": "a"}\n{"key": "b"}'  # git() strips the final newline
    assert runs.read_bytes().endswith(b'"te')  # the live file is left as it is
