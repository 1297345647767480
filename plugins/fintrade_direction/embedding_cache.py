"""The persistent embedding cache: one vector per (model, text), in one SQLite file.

``<cache dir>/embeddings/embeddings.sqlite`` (the cache dir is :func:`fintrade.cache.cache_root`),
table ``embeddings(model_key, text_hash, vector)``: ``model_key`` hashes what changes a vector
(the model's files, pooling, maximum length), ``text_hash`` is the SHA-256 of the text and
``vector`` its float32 bytes. Re-runs, parameter sweeps and the cuts of ``fintrade check`` read
vectors back instead of running the encoder, and so see exactly the same numbers each time.

Several processes may write at once: SQLite's write-ahead log lets readers go on while one
writer commits, and ``INSERT OR IGNORE`` keeps the first vector stored for a text. A file that
is not a database is moved aside with a warning; where no file can be used at all, vectors are
kept in memory for the process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fintrade.cache import cache_root
from fintrade.sqlite_store import SQLiteStore, select_keyed, transaction

FILENAME = "embeddings.sqlite"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS embeddings ("
    " model_key TEXT NOT NULL, text_hash BLOB NOT NULL, vector BLOB NOT NULL,"
    " PRIMARY KEY (model_key, text_hash)) WITHOUT ROWID",
)


class EmbeddingCacheWarning(UserWarning):
    """The embedding cache could not be used as it was (unreadable file, read-only directory)."""


def embedding_cache_path() -> Path:
    """Where the embedding cache lives: ``<cache dir>/embeddings/embeddings.sqlite``."""
    return cache_root() / "embeddings" / FILENAME


class EmbeddingCache:
    """float32 vectors by model key and text hash, shared by every process on the machine."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else embedding_cache_path()
        self._store = SQLiteStore(
            self.path,
            SCHEMA,
            name="embedding cache",
            warning=EmbeddingCacheWarning,
            fallback="vectors are kept in memory for this process",
        )
        # Also in memory: if the file cannot be used, one process still embeds a text only once.
        self._memory: dict[tuple[str, bytes], np.ndarray] = {}

    def get(self, model_key: str, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors of those ``hashes`` that are in the cache."""
        found = {h: self._memory[(model_key, h)] for h in hashes if (model_key, h) in self._memory}
        connection = self._store.connect()
        if connection is None:
            return found
        wanted = [h for h in dict.fromkeys(hashes) if h not in found]
        query = "SELECT text_hash, vector FROM embeddings WHERE model_key = ? AND text_hash IN ({marks})"
        for text_hash, vector in select_keyed(connection, query, model_key, wanted):
            found[bytes(text_hash)] = np.frombuffer(vector, dtype=np.float32)
        return found

    def put(self, model_key: str, vectors: Mapping[bytes, np.ndarray]) -> None:
        """Store vectors in one transaction; texts already stored keep their first vector."""
        if not vectors:
            return
        for text_hash, vector in vectors.items():
            self._memory[(model_key, text_hash)] = np.asarray(vector, dtype=np.float32)
        connection = self._store.connect()
        if connection is None:
            return
        rows = [(model_key, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()]
        with transaction(connection):
            connection.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)", rows)

    def count(self, model_key: str) -> int:
        """Texts stored on disk for one model key."""
        connection = self._store.connect()
        if connection is None:
            return 0
        return int(
            connection.execute("SELECT COUNT(*) FROM embeddings WHERE model_key = ?", (model_key,)).fetchone()[0]
        )

    def close(self) -> None:
        self._store.close()
