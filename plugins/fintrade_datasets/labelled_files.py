"""The ``csv`` and ``jsonl`` datasets: your own labelled text, from one CSV or JSON-lines file.

Options (both datasets):

``path`` (required)
    the file: ``.csv`` / ``.csv.gz`` for ``csv``, ``.jsonl`` / ``.ndjson`` / ``.jsonl.gz``
    for ``jsonl`` (one JSON object per line; blank lines are skipped).
``text_column`` (default ``"text"``), ``label_column`` (default ``"label"``)
    the columns (JSON keys) holding the text and its label. Names match exactly.
``date_column`` (optional)
    a column of publication times, served as ``published_at`` in UTC: ISO 8601 or anything
    pandas parses (naive times are taken as UTC), or, in JSON lines, Unix epoch numbers
    (seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude). Needed for
    time-ordered splits.
``id_column`` (optional)
    a column of unique row ids, served as ``id``; without it ``id`` is a hash of the text.
``label_map`` (optional)
    a mapping from the file's labels to ``negative``, ``neutral`` and ``positive``, e.g.
    ``{0: "negative", 1: "neutral", 2: "positive"}`` or ``{"bearish": "negative", ...}``. Keys
    are compared as text (``0`` matches ``"0"``), and every label in the file must be a key.
    Without a map, labels must already be the three names (case and surrounding spaces are
    ignored); numeric labels need a map, since which number means what is a guess.
``encoding`` (default ``"utf-8"``; a UTF-8 byte-order mark is skipped)
    the file's text encoding, e.g. ``"latin-1"``.

Rows whose text is empty are dropped with a warning that counts them. Everything else that
is wrong (a missing file or column, no rows, an unknown label, a missing label or date,
bytes that do not decode) is one :class:`~fintrade.errors.DataError` or
:class:`~fintrade.errors.ConfigError` naming the file and the row (CSV: data rows, the first
after the header is row 1) or line (JSON lines). Rows keep the file's order; other columns
are not served.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fintrade.errors import ConfigError, DataError, did_you_mean
from fintrade.options import check_option_names, text_option
from fintrade.rowfiles import Records, is_missing, parse_csv, parse_dates, parse_jsonl, read_text
from fintrade_datasets.labelled import keep_texts, labelled_frame
from fintrade_datasets.labels import check_label_map, plural, sentiment_labels

OPTIONS: tuple[str, ...] = (
    "date_column",
    "encoding",
    "id_column",
    "label_column",
    "label_map",
    "path",
    "text_column",
)
SUFFIXES: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".csv.gz"),
    "jsonl": (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"),
}


def _path_option(options: Mapping[str, Any], dataset: str, fmt: str) -> Path:
    value = options.get("path")
    if value is None or value == "":
        raise ConfigError(f"dataset {dataset!r}: option 'path' is required (a {' or '.join(SUFFIXES[fmt])} file)")
    if not isinstance(value, str | Path):
        raise ConfigError(f"dataset {dataset!r}: option 'path' must be a string or Path, got {type(value).__name__}")
    path = Path(value).expanduser().absolute()
    if not path.exists():
        raise DataError(f"dataset {dataset!r}: file {path} does not exist (option 'path')")
    if not path.is_file():
        raise DataError(f"dataset {dataset!r}: {path} is not a file (option 'path')")
    return path


def _encoding_option(options: Mapping[str, Any], dataset: str) -> str:
    encoding = text_option(options, "encoding", "utf-8", f"dataset {dataset!r}") or "utf-8"
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"dataset {dataset!r}: option 'encoding': unknown encoding {encoding!r}") from None
    # utf-8-sig reads plain UTF-8 too, and skips the byte-order mark spreadsheet exports add.
    return "utf-8-sig" if name == "utf-8" else name


def _check_columns(records: Records, wanted: Mapping[str, str | None], where: str) -> None:
    missing = [(option, name) for option, name in wanted.items() if name is not None and name not in records.columns]
    if missing:
        found = ", ".join(map(repr, records.columns)) or "none"
        named = ", ".join(
            f"{name!r} (option {option}){did_you_mean(name, records.columns)}" for option, name in missing
        )
        raise DataError(f"{where}: missing column(s) {named}; the file has columns {found}")


def _ids(values: Sequence[Any], numbers: Sequence[int], *, where: str, column: str, row_word: str) -> list[str]:
    ids: list[str] = []
    first_row: dict[str, int] = {}
    for value, number in zip(values, numbers, strict=True):
        if is_missing(value):
            raise DataError(f"{where}: {row_word} {number} has no id in column {column!r}")
        key = str(value.strip() if isinstance(value, str) else value)
        if key in first_row:
            raise DataError(
                f"{where}: id {key!r} in column {column!r} appears twice ({row_word}s {first_row[key]} and {number})"
            )
        first_row[key] = number
        ids.append(key)
    return ids


def _texts(values: Sequence[Any], numbers: Sequence[int], *, where: str, column: str, row_word: str) -> list[Any]:
    for value, number in zip(values, numbers, strict=True):
        if not (value is None or isinstance(value, str) or is_missing(value)):
            raise DataError(
                f"{where}: {row_word} {number}: column {column!r} holds {type(value).__name__} {value!r}, not text"
            )
    return list(values)


def load_labelled_file(options: Mapping[str, Any], fmt: str) -> pd.DataFrame:
    """Read one labelled file as the ``csv`` (``fmt="csv"``) or ``jsonl`` dataset does."""
    dataset = fmt
    check_option_names(options, OPTIONS, f"dataset {dataset!r}")
    path = _path_option(options, dataset, fmt)
    where = f"dataset {dataset!r}, file {path}"
    option_where = f"dataset {dataset!r}"
    text_column = text_option(options, "text_column", "text", option_where) or "text"
    label_column = text_option(options, "label_column", "label", option_where) or "label"
    date_column = text_option(options, "date_column", None, option_where)
    id_column = text_option(options, "id_column", None, option_where)
    label_map = check_label_map(options.get("label_map"), option_where)
    encoding = _encoding_option(options, dataset)

    text = read_text(path, encoding, where)
    records = parse_csv(text, where) if fmt == "csv" else parse_jsonl(text, where)
    if not records.numbers:
        raise DataError(f"{where}: the dataset is empty (no {records.row_word}s of data)")
    _check_columns(
        records,
        {"text_column": text_column, "label_column": label_column, "date_column": date_column, "id_column": id_column},
        where,
    )
    word = records.row_word
    texts = _texts(records.columns[text_column], records.numbers, where=where, column=text_column, row_word=word)
    keep = keep_texts(texts, records.numbers, where=where, column=text_column, row_word=word)
    if not keep:
        raise DataError(
            f"{where}: the dataset is empty: all {plural(len(texts), word)} have empty text in column {text_column!r}"
        )
    numbers = [records.numbers[position] for position in keep]

    def kept(column: str) -> list[Any]:
        values = records.columns[column]
        return [values[position] for position in keep]

    labels = sentiment_labels(
        kept(label_column), numbers, label_map=label_map, where=where, column=label_column, row_word=word
    )
    published_at = (
        parse_dates(kept(date_column), numbers, where=where, column=date_column, row_word=word)
        if date_column is not None
        else None
    )
    ids = _ids(kept(id_column), numbers, where=where, column=id_column, row_word=word) if id_column else None
    return labelled_frame([texts[position] for position in keep], labels, published_at=published_at, ids=ids)


def load_csv_dataset(options: Mapping[str, Any]) -> pd.DataFrame:
    """The ``csv`` dataset's ``load``."""
    return load_labelled_file(options, "csv")


def load_jsonl_dataset(options: Mapping[str, Any]) -> pd.DataFrame:
    """The ``jsonl`` dataset's ``load``."""
    return load_labelled_file(options, "jsonl")
