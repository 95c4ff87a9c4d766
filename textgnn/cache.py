"""One on-disk key-value store for everything computed once per text (parses, features).

A SQLite file per kind under ``$TEXTGNN_CACHE`` (default ``~/.cache/textgnn``): safe for
several processes at once (a study's parallel runs), and keys carry the identity of the
model that produced the value, so a new model never reuses old entries.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path


def default_cache_dir() -> Path:
    return Path(os.environ.get("TEXTGNN_CACHE", Path.home() / ".cache" / "textgnn"))


class DiskCache:
    """``get_many`` / ``put_many`` on ``<cache_dir>/<name>.sqlite``; values are str or bytes."""

    def __init__(self, cache_dir: str | Path, name: str, table: str):
        self.path = Path(cache_dir) / f"{name}.sqlite"
        self.table = table

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60)
        con.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, value)")
        return con

    def get_many(self, keys: Iterable[str]) -> dict[str, str | bytes]:
        keys = list(dict.fromkeys(keys))
        out: dict[str, str | bytes] = {}
        with self._connect() as con:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(f"SELECT key, value FROM {self.table} WHERE key IN ({marks})", chunk)
                out.update(rows.fetchall())
        return out

    def put_many(self, items: dict[str, str | bytes]) -> None:
        with self._connect() as con:
            con.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", list(items.items()))
