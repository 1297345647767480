"""The shared SQLite file under the model-output caches: lookups, transactions, files that cannot be used."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest

from fintrade.sqlite_store import LOOKUP_CHUNK, SQLiteStore, select_keyed, transaction

SCHEMA = ("CREATE TABLE IF NOT EXISTS rows (key TEXT, hash BLOB, value REAL, PRIMARY KEY (key, hash))",)


class StoreWarning(UserWarning):
    pass


def store(path: Path) -> SQLiteStore:
    return SQLiteStore(path, SCHEMA, name="test store", warning=StoreWarning, fallback="kept in memory")


def digest(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest()


def test_lookups_span_more_keys_than_one_query_may_bind(tmp_path: Path) -> None:
    connection = store(tmp_path / "s.sqlite").connect()
    assert connection is not None
    count = 2 * LOOKUP_CHUNK + 7
    with transaction(connection):
        connection.executemany("INSERT INTO rows VALUES (?, ?, ?)", [("k", digest(i), i) for i in range(count)])
        connection.execute("INSERT INTO rows VALUES (?, ?, ?)", ("other", digest(0), -1.0))
    wanted = [digest(i) for i in range(0, count, 2)] + [digest(count + 1)]  # one absent
    rows = dict(
        select_keyed(connection, "SELECT hash, value FROM rows WHERE key = ? AND hash IN ({marks})", "k", wanted)
    )
    assert len(rows) == len(wanted) - 1
    assert rows[digest(count - 1)] == count - 1 and rows[digest(0)] == 0  # not the other key's row


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    connection = store(tmp_path / "s.sqlite").connect()
    assert connection is not None
    with pytest.raises(RuntimeError), transaction(connection):
        connection.execute("INSERT INTO rows VALUES ('k', x'00', 1.0)")
        raise RuntimeError("interrupted half-way")
    assert connection.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 0
    # The connection is still usable for the next write.
    with transaction(connection):
        connection.execute("INSERT INTO rows VALUES ('k', x'00', 1.0)")
    reopened = store(tmp_path / "s.sqlite").connect()  # another process's view
    assert reopened is not None and reopened.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 1


def test_a_place_where_no_file_can_be_made_warns_once_and_gives_no_connection(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    unusable = store(blocker / "s.sqlite")
    with pytest.warns(StoreWarning, match=r"test store .*not-a-directory/s.sqlite cannot be used .*; kept in memory"):
        assert unusable.connect() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked again: no second warning, no second attempt
        assert unusable.connect() is None
    assert blocker.read_text() == "a file where the cache directory should be"


def test_a_file_that_is_not_a_database_is_kept_aside_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"not sqlite at all " * 64)
    with pytest.warns(StoreWarning, match=r"was unreadable .*moved to s\.sqlite\.corrupt-\d+, starting empty"):
        connection = store(path).connect()
    assert connection is not None
    assert connection.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 0
    (aside,) = tmp_path.glob("s.sqlite.corrupt-*")
    assert aside.read_bytes() == b"not sqlite at all " * 64


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    import multiprocessing

    shared = store(tmp_path / "s.sqlite")
    parent = shared.connect()
    assert parent is not None
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child() -> None:
        connection = shared.connect()
        with transaction(connection):
            connection.execute("INSERT INTO rows VALUES (?, ?, ?)", ("child", digest(1), 1.0))
        results.put(connection is not parent)

    process = context.Process(target=child)
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0
    assert results.get(timeout=5) is True
    # The parent's connection still works, and sees what the child committed.
    assert parent.execute("SELECT value FROM rows WHERE key = 'child'").fetchone() == (1.0,)
    assert shared.connect() is parent
