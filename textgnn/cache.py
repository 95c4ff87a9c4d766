"""One on-disk key-value store for everything computed once per text (parses, features).

A SQLite file per kind under ``$TEXTGNN_CACHE`` (default ``~/.cache/textgnn``): safe for
several processes at once (a study's parallel runs), and keys carry the identity of the
model that produced the value, so a new model never reuses old entries. A cache is derived
data: a file that is not a database or is corrupt is moved aside with one warning and
rebuilt, never an error. Connections are closed after every use.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
# SQLite result codes that mean the file itself is unusable (not a lock, not a full disk)
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26


def default_cache_dir() -> Path:
    return Path(os.environ.get("TEXTGNN_CACHE", Path.home() / ".cache" / "textgnn"))


class DiskCache:
    """``get_many`` / ``put_many`` on ``<cache_dir>/<name>.sqlite``; values are str or bytes."""

    def __init__(self, cache_dir: str | Path, name: str, table: str):
        self.path = Path(cache_dir) / f"{name}.sqlite"
        self.table = table

    def get_many(self, keys: Iterable[str]) -> dict[str, str | bytes]:
        keys = list(dict.fromkeys(keys))

        def read(con: sqlite3.Connection) -> dict[str, str | bytes]:
            out: dict[str, str | bytes] = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(f"SELECT key, value FROM {self.table} WHERE key IN ({marks})", chunk)
                out.update(rows.fetchall())
            return out

        return self._with_connection(read)

    def put_many(self, items: dict[str, str | bytes]) -> None:
        self._with_connection(lambda con: con.executemany(
            f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", list(items.items())))

    def _with_connection(self, action: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._once(action)
        except sqlite3.DatabaseError as exc:
            if not _unusable(exc) or not self.path.is_file():
                raise
            aside = self.path.with_name(f"{self.path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(self.path, aside)
            warnings.warn(f"{self.path}: unreadable cache ({exc}); moved aside to {aside.name} "
                          "and rebuilt", stacklevel=3)
            return self._once(action)

    def _once(self, action: Callable[[sqlite3.Connection], T]) -> T:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.path, timeout=60)) as con, con:
            con.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, value)")
            return action(con)


def _unusable(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)
    return any(m in str(exc) for m in ("file is not a database", "malformed"))
