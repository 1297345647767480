"""Read one local file (CSV, Parquet or JSON lines) into a frame, with errors that name it.

Both local sources read through here, so a file that pandas or pyarrow cannot read becomes
one :class:`~fintrade.errors.DataError` naming the file instead of a parser traceback.
"""

from __future__ import annotations

import gzip
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fintrade.errors import DataError
from fintrade.jsonlines import json_objects

CSV_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
JSONL_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".ndjson")


@dataclass(frozen=True)
class Table:
    """A file's rows, indexed by the number a person would look for in the file.

    ``row_word`` says what the index counts: ``"row"`` (CSV and Parquet data rows, the first
    is row 1) or ``"line"`` (JSON lines). ``time_index`` is a Parquet file's own
    ``DatetimeIndex``, kept apart because it is not a column.
    """

    frame: pd.DataFrame
    path: Path
    row_word: str = "row"
    time_index: pd.DatetimeIndex | None = None


def file_format(path: Path) -> str | None:
    """``"csv"``, ``"parquet"`` or ``"jsonl"`` from the file name; ``None`` for anything else."""
    name = path.name.lower()
    for fmt, suffixes in (("csv", CSV_SUFFIXES), ("parquet", PARQUET_SUFFIXES), ("jsonl", JSONL_SUFFIXES)):
        if name.endswith(suffixes):
            return fmt
    return None


def column_key(name: object) -> str:
    """How columns are matched: case, spaces and punctuation ignored ("Adj Close" == "adj_close")."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def columns_by_key(frame: pd.DataFrame, where: str) -> dict[str, Any]:
    """Map :func:`column_key` to the file's own column name; two columns with one key is an error."""
    found: dict[str, Any] = {}
    for column in frame.columns:
        key = column_key(column)
        if key in found:
            raise DataError(f"{where}: columns {found[key]!r} and {column!r} are the same column once case is ignored")
        found[key] = column
    return found


def _numbered(frame: pd.DataFrame, numbers: list[int] | range) -> pd.DataFrame:
    frame.index = pd.Index(numbers, dtype="int64")
    return frame


def _read_csv(path: Path, where: str, as_text: bool) -> pd.DataFrame:
    # Text mode keeps ids and tweets exactly as written ("NA" is a ticker, not a missing value).
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False} if as_text else {}
    try:
        # index_col=False: rows with more fields than the header are an error, not a silent
        # shift that turns the first column (the timestamps) into the index.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: the file is empty (expected a header row)") from None
    except pd.errors.ParserWarning:
        raise DataError(f"{where}: cannot read as CSV: a row has more fields than the header") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{where}: cannot read as CSV: {_first_line(exc)}") from None
    return _numbered(frame, range(1, len(frame) + 1))


def _read_parquet(path: Path, where: str) -> tuple[pd.DataFrame, pd.DatetimeIndex | None]:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{where}: cannot read as Parquet: {_first_line(exc)}") from None
    time_index = None
    if isinstance(frame.index, pd.DatetimeIndex):
        time_index = frame.index
    elif any(name is not None for name in frame.index.names):
        # A named index (a ``date`` written by ``to_parquet``) is data: make it a column.
        frame = frame.reset_index()
    return _numbered(frame, range(1, len(frame) + 1)), time_index


def _read_jsonl(path: Path, where: str) -> pd.DataFrame:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, record in json_objects(lines, where):
                records.append(record)
                numbers.append(number)
    except (UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{where}: cannot read as JSON lines: {_first_line(exc)}") from None
    # dtype=object: JSON ids are often integers too large for float64, and must stay exact.
    return _numbered(pd.DataFrame(records, dtype=object), numbers)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_table(path: Path, where: str, *, as_text: bool = False) -> Table:
    """Read ``path`` by its suffix. ``as_text`` reads CSV cells as strings, untouched.

    ``where`` starts every error message (``"source 'local', symbol 'AAPL' (/data/AAPL.csv)"``).
    """
    fmt = file_format(path)
    if fmt == "csv":
        return Table(_read_csv(path, where, as_text), path)
    if fmt == "parquet":
        frame, time_index = _read_parquet(path, where)
        return Table(frame, path, time_index=time_index)
    if fmt == "jsonl":
        return Table(_read_jsonl(path, where), path, row_word="line")
    known = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES + JSONL_SUFFIXES)
    raise DataError(f"{where}: unsupported file type {path.name!r} (expected one of {known})")
