"""One SQLite file that several processes read and write at once: the base of the model-output caches.

Plugins that cache what a model computed per text (``fintrade_sentiment``'s scores,
``fintrade_direction``'s embeddings) keep it in one SQLite file under the cache dir, keyed by
(model key, text hash). This module holds what they share:

* write-ahead-log mode, so readers go on while one writer commits (rollback mode where the file
  system has no shared memory for WAL);
* autocommit connections with explicit ``BEGIN IMMEDIATE`` transactions, so two writers queue on
  the busy timeout instead of both reading and then one failing to upgrade its lock;
* a file that is not a database is moved aside (``<name>.corrupt-<pid>``, kept for inspection)
  with a warning, and a fresh one started;
* where no file can be used at all (a read-only directory, a lock held past the timeout),
  :meth:`SQLiteStore.connect` warns once and returns ``None``, and the caller keeps its results
  in memory for the process: a cache problem never stops a backtest.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

LOOKUP_CHUNK = 500
"""Keys per ``IN (...)`` query: below SQLite's default limit of 999 bound parameters."""
BUSY_TIMEOUT_S = 60.0


class SQLiteStore:
    """A lazily opened connection to one shared SQLite file, created with ``schema``.

    ``name`` says what the file is in warnings ("score cache"); ``fallback`` what happens when
    it cannot be used ("scores are kept in memory for this run only"); ``warning`` is the
    category those warnings are raised as.
    """

    def __init__(self, path: Path, schema: Sequence[str], *, name: str, warning: type[Warning], fallback: str) -> None:
        self.path = Path(path)
        self.schema = tuple(schema)
        self.name = name
        self.warning = warning
        self.fallback = fallback
        self._connection: sqlite3.Connection | None = None
        self._usable = True
        #: The process that opened ``_connection``.
        self._owner = os.getpid()

    def connect(self) -> sqlite3.Connection | None:
        """The open connection, or ``None`` (after one warning) when the file cannot be used."""
        if self._connection is not None and self._owner != os.getpid():
            # A forked child (``fintrade check`` computes each cut in one) must not use its
            # parent's connection: SQLite's locks belong to the process that opened it. Left
            # unclosed, as closing it here could release the parent's locks.
            self._connection = None
        if self._connection is not None or not self._usable:
            return self._connection
        try:
            self._owner = os.getpid()
            self._connection = self._open()
        except sqlite3.OperationalError as exc:  # access (read-only, locked), not content
            self._disable(exc)
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
        except OSError as exc:
            self._disable(exc)
        return self._connection

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        # Not a database (a truncated or foreign file): keep it for inspection, start afresh.
        aside = self.path.with_name(f"{self.path.name}.corrupt-{os.getpid()}")
        try:
            os.replace(self.path, aside)
            self._connection = self._open()
        except (sqlite3.DatabaseError, OSError) as again:
            self._disable(again)
            return
        warnings.warn(
            f"{self.name} {self.path} was unreadable ({exc}); moved to {aside.name}, starting empty",
            self.warning,
            stacklevel=4,
        )

    def _disable(self, exc: BaseException) -> None:
        self._usable = False
        warnings.warn(f"{self.name} {self.path} cannot be used ({exc}); {self.fallback}", self.warning, stacklevel=4)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are opened explicitly, so reads never hold a lock.
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            with contextlib.suppress(sqlite3.OperationalError):
                # WAL needs shared memory, which some network file systems lack; rollback mode still works.
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            with transaction(connection):
                for statement in self.schema:
                    connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, rolled back if the block raises."""
    # IMMEDIATE takes the write lock up front: two writers queue (busy timeout) instead of
    # both reading and then one failing to upgrade its lock.
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def select_keyed(connection: sqlite3.Connection, query: str, key: str, hashes: Sequence[bytes]) -> Iterator[Any]:
    """Rows of ``query`` for ``key`` and each of ``hashes``, in chunks of :data:`LOOKUP_CHUNK`.

    ``query`` binds the key first and ends in ``IN ({marks})``, which is filled per chunk.
    """
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        chunk = list(hashes[start : start + LOOKUP_CHUNK])
        yield from connection.execute(query.format(marks=",".join("?" * len(chunk))), [key, *chunk])
