"""The persistent score cache: class probabilities per (model, text), in one SQLite file.

``<cache dir>/scores/scores.sqlite`` (the cache dir is :func:`fintrade.cache.cache_root`),
table ``scores(model_key, text_hash, p_negative, p_neutral, p_positive)``. ``model_key``
hashes everything that changes a model's output (base model and adapter contents, int8
quantisation, max length); ``text_hash`` is the SHA-256 of the text. A sweep, a re-run or
another strategy over the same texts reads the probabilities back instead of running the
model. Table ``models`` says what each key was (for people looking at the file).

Several processes may score at once: SQLite's write-ahead log lets readers go on while one
writer commits, writes are single transactions of ``INSERT OR IGNORE`` (the same text scored
twice by two processes stores one row, and both rows would be equal anyway), and a file that
is not a database is moved aside with a warning rather than used or crashed on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from fintrade.cache import cache_root

FILENAME = "scores.sqlite"
LOOKUP_CHUNK = 500
"""Hashes per ``IN (...)`` query: below SQLite's default limit of 999 bound parameters."""
BUSY_TIMEOUT_S = 60.0

Probabilities = tuple[float, float, float]
"""P(negative), P(neutral), P(positive)."""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS scores ("
    " model_key TEXT NOT NULL, text_hash BLOB NOT NULL,"
    " p_negative REAL NOT NULL, p_neutral REAL NOT NULL, p_positive REAL NOT NULL,"
    " PRIMARY KEY (model_key, text_hash)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS models (model_key TEXT PRIMARY KEY, description TEXT NOT NULL, created_at TEXT)",
)


class ScoreCacheWarning(UserWarning):
    """The score cache could not be used as it was (unreadable file, read-only directory)."""


def score_cache_path() -> Path:
    """Where the score cache lives: ``<cache dir>/scores/scores.sqlite``."""
    return cache_root() / "scores" / FILENAME


class ScoreCache:
    """Class probabilities by model key and text hash, shared by every process on the machine."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else score_cache_path()
        self._connection: sqlite3.Connection | None = None
        self._usable = True

    def _connect(self) -> sqlite3.Connection | None:
        if self._connection is None and self._usable:
            try:
                self._connection = self._open_or_replace()
            except (sqlite3.DatabaseError, OSError) as exc:
                self._usable = False
                warnings.warn(
                    f"score cache {self.path} cannot be used ({exc}); scores are kept in memory for this run only",
                    ScoreCacheWarning,
                    stacklevel=3,
                )
        return self._connection

    def _open_or_replace(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            locked = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
            if locked or not self.path.is_file():
                raise
            # Not a database (a truncated or foreign file): keep it for inspection, start afresh.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{os.getpid()}")
            os.replace(self.path, aside)
            warnings.warn(
                f"score cache {self.path} was unreadable ({exc}); moved to {aside.name}, starting empty",
                ScoreCacheWarning,
                stacklevel=4,
            )
            return self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are opened explicitly, so reads never hold a lock.
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            with contextlib.suppress(sqlite3.OperationalError):
                # WAL needs shared memory, which some network file systems lack; rollback mode still works.
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA:
                connection.execute(statement)
            connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        return connection

    def get(self, model_key: str, hashes: Sequence[bytes]) -> dict[bytes, Probabilities]:
        """The cached probabilities of those ``hashes`` that are in the cache."""
        connection = self._connect()
        found: dict[bytes, Probabilities] = {}
        if connection is None:
            return found
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = list(hashes[start : start + LOOKUP_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = connection.execute(
                "SELECT text_hash, p_negative, p_neutral, p_positive FROM scores "
                f"WHERE model_key = ? AND text_hash IN ({marks})",
                [model_key, *chunk],
            )
            for text_hash, negative, neutral, positive in rows:
                found[bytes(text_hash)] = (negative, neutral, positive)
        return found

    def put(
        self, model_key: str, rows: Mapping[bytes, Probabilities], description: Mapping[str, Any] | None = None
    ) -> None:
        """Store probabilities, in one transaction; rows already present are left as they are."""
        connection = self._connect()
        if connection is None or not rows:
            return
        with self._transaction(connection):
            if description is not None:
                connection.execute(
                    "INSERT OR IGNORE INTO models VALUES (?, ?, ?)",
                    (model_key, json.dumps(dict(description), sort_keys=True), _now()),
                )
            connection.executemany(
                "INSERT OR IGNORE INTO scores VALUES (?, ?, ?, ?, ?)",
                [(model_key, text_hash, *probabilities) for text_hash, probabilities in rows.items()],
            )

    def count(self, model_key: str | None = None) -> int:
        """Cached texts, for one model key or all."""
        connection = self._connect()
        if connection is None:
            return 0
        if model_key is None:
            return int(connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
        query = "SELECT COUNT(*) FROM scores WHERE model_key = ?"
        return int(connection.execute(query, (model_key,)).fetchone()[0])

    def models(self) -> list[dict[str, Any]]:
        """What each model key in the cache was, with its number of cached texts."""
        connection = self._connect()
        if connection is None:
            return []
        rows = connection.execute(
            "SELECT m.model_key, m.description, m.created_at, COUNT(s.text_hash) FROM models m "
            "LEFT JOIN scores s ON s.model_key = m.model_key GROUP BY m.model_key ORDER BY m.created_at"
        )
        return [
            {"model_key": key, **json.loads(description), "created_at": created, "texts": count}
            for key, description, created, count in rows
        ]

    def clear(self, model_key: str | None = None) -> int:
        """Delete the cached scores of one model key (or all); returns how many rows went."""
        connection = self._connect()
        if connection is None:
            return 0
        with self._transaction(connection):
            if model_key is None:
                removed = connection.execute("DELETE FROM scores").rowcount
                connection.execute("DELETE FROM models")
            else:
                removed = connection.execute("DELETE FROM scores WHERE model_key = ?", (model_key,)).rowcount
                connection.execute("DELETE FROM models WHERE model_key = ?", (model_key,))
        return int(removed)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @staticmethod
    @contextlib.contextmanager
    def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: two writers queue (busy timeout) instead of
        # both reading and then one failing to upgrade its lock.
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
