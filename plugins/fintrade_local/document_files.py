"""The ``local-documents`` text source: news or posts from CSV or JSON-lines files.

Option ``path`` is one file or a directory of them (``.csv``, ``.csv.gz``, ``.jsonl``,
``.jsonl.gz``, ``.ndjson``). Each file needs ``published_at``, ``symbol`` and ``text``
columns (case ignored); ``source`` defaults to the file name and ``id`` to a stable hash of
published_at, symbol and text. Other columns are kept after the standard ones.

``published_at`` must say its timezone (``…Z``, ``…+01:00``, or epoch numbers): a naive time
is an error unless option ``timezone`` (``"America/New_York"``) declares the zone, and a date
without a time is an error unless option ``dates=True`` declares the column dated; a date then
counts as published at the end of that day (the next midnight in ``timezone``), never its start.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pandas as pd

from fintrade.bars import to_utc_timestamp
from fintrade.cache import DataWarning
from fintrade.errors import ConfigError, DataError
from fintrade.options import bool_option, check_option_names, path_option, text_option
from fintrade.types import DATED_DOCUMENTS, DOCUMENT_COLUMNS, DocumentsRequest
from fintrade_local.tables import column_key, columns_by_key, file_format, read_table
from fintrade_local.timestamps import parse_utc

TEXT_SOURCE = "text source 'local-documents'"
OPTIONS: tuple[str, ...] = ("path", "timezone", "dates")
REQUIRED_COLUMNS: tuple[str, ...] = ("published_at", "symbol", "text")
PATH_HELP = "a CSV or JSON-lines file of documents, or a directory of them"


def _as_text(values: pd.Series) -> pd.Series:
    """Cells as strings, missing ones as "": JSON may hold numbers (ids) or nulls."""
    return values.map(
        lambda value: "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    )


def document_id(published_at: pd.Timestamp, symbol: str, text: str) -> str:
    """A stable id for a document that came without one (same content, same id, every run)."""
    # The parsed UTC time, not the file's spelling of it, so "…Z" and "…+00:00" agree.
    key = f"{published_at.isoformat()}\x1f{symbol}\x1f{text}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _filled(values: pd.Series, fallback: pd.Series) -> pd.Series:
    return values.where(values.str.strip() != "", fallback)


def read_document_file(path: Path, *, timezone: str | None = None, dates: bool = False) -> pd.DataFrame:
    """All documents in one file, in file order, with UTC ``published_at``.

    ``timezone``: the zone of naive times (``None``: they are an error); ``dates``: plain dates
    are allowed and count from the end of their day in ``timezone``.
    """
    where = f"{TEXT_SOURCE}, file {path}"
    table = read_table(path, where, as_text=True)
    frame = table.frame
    columns = columns_by_key(frame, where)
    missing = [name for name in REQUIRED_COLUMNS if column_key(name) not in columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; documents need "
            f"{', '.join(REQUIRED_COLUMNS)} (source and id are optional)"
        )
    published = pd.Series(
        parse_utc(
            frame[columns["publishedat"]],
            "published_at",
            where,
            table.row_word,
            timezone=timezone,
            dates="end" if dates else "error",
            mixed=timezone is not None,
        ),
        index=frame.index,
    )
    documents = pd.DataFrame(
        {
            "published_at": published,
            "symbol": _as_text(frame[columns["symbol"]]).str.strip(),
            "text": _as_text(frame[columns["text"]]),
        },
        index=frame.index,
    )
    file_name = pd.Series(path.name, index=frame.index)
    source = _as_text(frame[columns["source"]]) if "source" in columns else file_name
    documents["source"] = _filled(source, file_name)
    hashed = pd.Series(
        [document_id(*row) for row in zip(published, documents["symbol"], documents["text"], strict=True)],
        index=frame.index,
        dtype=str,
    )
    ids = _as_text(frame[columns["id"]]) if "id" in columns else hashed
    documents["id"] = _filled(ids, hashed)
    standard = {column_key(name) for name in DOCUMENT_COLUMNS}
    for key, column in columns.items():
        if key not in standard:
            documents[column] = frame[column]
    return documents


def document_files(path: Path) -> list[Path]:
    """``path`` itself, or the document files directly inside it, by name."""
    if path.is_file():
        return [path]
    files = sorted(child for child in path.iterdir() if child.is_file() and file_format(child) in ("csv", "jsonl"))
    if not files:
        raise DataError(f"{TEXT_SOURCE}: no .csv or .jsonl files in {path}")
    return files


def load_local_documents(request: DocumentsRequest) -> pd.DataFrame:
    """The ``local-documents`` source's ``load``.

    Keeps documents about the requested symbols (all when none are requested) and those with
    an empty symbol, which are about the market as a whole, published in ``[start, end)``;
    sorted by ``published_at`` (file order among equal times). Documents at or after ``end``
    are counted in a :class:`~fintrade.cache.DataWarning`.
    """
    check_option_names(request.options, OPTIONS, TEXT_SOURCE)
    path = path_option(request.options, TEXT_SOURCE, PATH_HELP)
    timezone = text_option(request.options, "timezone", None, TEXT_SOURCE)
    dates = bool_option(request.options, "dates", False, TEXT_SOURCE)
    if dates and timezone is None:
        raise ConfigError(
            f"{TEXT_SOURCE}: option dates=True needs option timezone (the zone the dates are in, "
            "e.g. 'America/New_York'): a date counts from the end of that day there"
        )
    frames = [read_document_file(file, timezone=timezone, dates=dates) for file in document_files(path)]
    documents = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    keep = pd.Series(True, index=documents.index)
    if request.symbols:
        keep &= documents["symbol"].isin(list(request.symbols)) | (documents["symbol"] == "")
    start, end = to_utc_timestamp(request.start), to_utc_timestamp(request.end)
    if start is not None:
        keep &= documents["published_at"] >= start
    if end is not None:
        late = keep & (documents["published_at"] >= end)
        if late.any():
            # Usually a file that runs past the backtest; sometimes a wrong timezone or date rule.
            warnings.warn(
                f"{TEXT_SOURCE}: left out {int(late.sum())} documents published at or after the requested end {end}",
                DataWarning,
                stacklevel=2,
            )
        keep &= documents["published_at"] < end
    documents = documents.loc[keep.to_numpy()].sort_values("published_at", kind="stable").reset_index(drop=True)
    if dates:
        # Midnight times here are declared dates moved to the end of their day (fintrade check trusts them).
        documents.attrs[DATED_DOCUMENTS] = True
    return documents


__all__ = ["document_id", "load_local_documents", "read_document_file"]
