"""The persistent score cache: class probabilities per (model, text), in one SQLite file.

``<cache dir>/scores/scores.sqlite`` (the cache dir is :func:`fintrade.cache.cache_root`),
table ``scores(model_key, text_hash, p_negative, p_neutral, p_positive)``. ``model_key``
hashes everything that changes a model's output (base model and adapter contents, precision,
max length); ``text_hash`` is the SHA-256 of the text. A sweep, a re-run or
another strategy over the same texts reads the probabilities back instead of running the
model. Table ``models`` says what each key was (for people looking at the file).

Several processes may score at once (:mod:`fintrade.sqlite_store` handles the file: WAL,
immediate transactions, an unreadable file moved aside). Writes are single transactions of
``INSERT OR IGNORE``: the same text scored twice by two processes stores one row, and both rows
would be equal anyway.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fintrade.cache import cache_root
from fintrade.sqlite_store import SQLiteStore, select_keyed, transaction

FILENAME = "scores.sqlite"

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
        self._store = SQLiteStore(
            self.path,
            SCHEMA,
            name="score cache",
            warning=ScoreCacheWarning,
            fallback="scores are kept in memory for this run only",
        )

    def get(self, model_key: str, hashes: Sequence[bytes]) -> dict[bytes, Probabilities]:
        """The cached probabilities of those ``hashes`` that are in the cache."""
        connection = self._store.connect()
        if connection is None:
            return {}
        query = (
            "SELECT text_hash, p_negative, p_neutral, p_positive FROM scores "
            "WHERE model_key = ? AND text_hash IN ({marks})"
        )
        return {
            bytes(text_hash): (negative, neutral, positive)
            for text_hash, negative, neutral, positive in select_keyed(connection, query, model_key, hashes)
        }

    def put(
        self, model_key: str, rows: Mapping[bytes, Probabilities], description: Mapping[str, Any] | None = None
    ) -> None:
        """Store probabilities, in one transaction; rows already present are left as they are."""
        connection = self._store.connect()
        if connection is None or not rows:
            return
        with transaction(connection):
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
        connection = self._store.connect()
        if connection is None:
            return 0
        if model_key is None:
            return int(connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
        query = "SELECT COUNT(*) FROM scores WHERE model_key = ?"
        return int(connection.execute(query, (model_key,)).fetchone()[0])

    def models(self) -> list[dict[str, Any]]:
        """What each model key in the cache was, with its number of cached texts."""
        connection = self._store.connect()
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
        connection = self._store.connect()
        if connection is None:
            return 0
        with transaction(connection):
            if model_key is None:
                removed = connection.execute("DELETE FROM scores").rowcount
                connection.execute("DELETE FROM models")
            else:
                removed = connection.execute("DELETE FROM scores WHERE model_key = ?", (model_key,)).rowcount
                connection.execute("DELETE FROM models WHERE model_key = ?", (model_key,))
        return int(removed)

    def close(self) -> None:
        self._store.close()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
