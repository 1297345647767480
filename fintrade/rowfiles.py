"""Rows from a CSV or JSON-lines text file, with errors that name the file and the row.

The readers behind the file datasets (``csv``, ``jsonl``, ``prompt-response``, ``qa-spans``):
:func:`read_text` (encodings, gzip), :func:`parse_csv` and :func:`parse_jsonl` (raw cells as
:class:`Records`), :func:`parse_dates` (ISO 8601 or epoch numbers to UTC), :func:`is_missing`
(what an empty cell reads as) and :func:`text_ids` (stable row ids from the text). Public API:
a plugin that reads its own rows from files uses these instead of another plugin's modules.

Imports no pandas (nor gzip or hashlib) until a file is read: a plugin's registration module,
which every ``fintrade`` command imports, may import it.
"""

from __future__ import annotations

import codecs
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import DataError
from fintrade.jsonlines import json_objects

if TYPE_CHECKING:
    import pandas as pd

# Epoch numbers carry no unit; the magnitude tells seconds (1.7e9 today) from ms, us and ns.
_EPOCH_UNITS: tuple[tuple[float, str], ...] = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))


@dataclass(frozen=True)
class Records:
    """A file's rows as columns of raw values, with the row (or line) number of each row."""

    columns: dict[str, list[Any]]
    numbers: list[int]
    row_word: str  # "row" for CSV data rows, "line" for JSON lines


def is_missing(value: object) -> bool:
    """``None``, NaN and blank strings: what an empty CSV cell or a JSON ``null`` becomes."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def text_ids(texts: Sequence[str]) -> list[str]:
    """A stable id per row: 16 hex digits of the text's SHA-1, ``-2``, ``-3``, ... on repeats.

    The id depends on the text only, so one sentence has one id wherever it appears (every
    PhraseBank AllAgree sentence is also in 50Agree, with the same id), which lets a user spot
    the same text on both sides of a train/test boundary. A text repeated within one dataset
    gets a numbered suffix from its second occurrence on, so ids stay unique and do not
    depend on anything but the file's order.
    """
    import hashlib

    seen: dict[str, int] = {}
    ids: list[str] = []
    for text in texts:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
        count = seen.get(digest, 0) + 1
        seen[digest] = count
        ids.append(digest if count == 1 else f"{digest}-{count}")
    return ids


def read_text(path: Path, encoding: str, where: str) -> str:
    """The file's text; a byte that does not decode is an error naming its offset and line."""
    import gzip
    import zlib

    raw = path.read_bytes()
    unpacked = ""
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{where}: cannot decompress as gzip ({exc})") from None
        unpacked = " of the decompressed data"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        shown = codecs.lookup(encoding).name.replace("utf-8-sig", "utf-8")
        raise DataError(
            f"{where}: byte {exc.start}{unpacked} (line {line}) is 0x{raw[exc.start]:02x}, which is not valid "
            f"{shown}; save the file as UTF-8 or pass option encoding (e.g. 'latin-1')"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def parse_csv(text: str, where: str) -> Records:
    """Every cell as the string written in the file: ``"NA"`` is a word and ``"007"`` an id."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: the file is empty (expected a header row, then one row per text)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{where}: cannot read as CSV: {_first_line(exc)}") from None
    columns = {str(name): frame[name].tolist() for name in frame.columns}
    return Records(columns, list(range(1, len(frame) + 1)), "row")


def parse_jsonl(text: str, where: str) -> Records:
    """One JSON object per line; a key missing from some lines reads as null on those lines."""
    parsed = list(json_objects(text.split("\n"), where))
    numbers = [number for number, _ in parsed]
    objects = [value for _, value in parsed]
    keys = list(dict.fromkeys(key for value in objects for key in value))
    columns = {key: [value.get(key) for value in objects] for key in keys}
    return Records(columns, numbers, "line")


def _epoch(values: list[float]) -> pd.DatetimeIndex:
    import numpy as np
    import pandas as pd

    largest = max(abs(value) for value in values)
    unit = next((unit for limit, unit in _EPOCH_UNITS if largest < limit), "ns")
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(values, dtype=float), unit=unit, utc=True))


def parse_dates(
    values: Sequence[Any], numbers: Sequence[int], *, where: str, column: str, row_word: str
) -> pd.DatetimeIndex:
    """Publication times as a UTC ``DatetimeIndex``; a missing or unreadable one is an error."""
    import numpy as np
    import pandas as pd

    for value, number in zip(values, numbers, strict=True):
        if is_missing(value):
            raise DataError(f"{where}: {row_word} {number} has no date in column {column!r}")
    is_number = [isinstance(value, int | float) and not isinstance(value, bool) for value in values]
    parsed = pd.Series(pd.NaT, index=range(len(values)), dtype="datetime64[ns, UTC]")
    number_positions = [position for position, flag in enumerate(is_number) if flag]
    text_positions = [position for position, flag in enumerate(is_number) if not flag]
    if number_positions:
        epochs = _epoch([float(values[position]) for position in number_positions])
        parsed.iloc[number_positions] = epochs.as_unit("ns")
    if text_positions:
        texts = pd.Series([str(values[position]).strip() for position in text_positions], dtype=object)
        try:
            # The fast path covers what nearly every export writes (ISO 8601, with or without an offset).
            stamps = pd.to_datetime(texts, utc=True, format="ISO8601")
        except (ValueError, OverflowError, TypeError):
            # Anything else value by value; what still fails is NaT and reported below with its row.
            stamps = pd.to_datetime(texts, utc=True, format="mixed", errors="coerce")
        parsed.iloc[text_positions] = stamps.dt.as_unit("ns").to_numpy()
    bad = parsed.isna().to_numpy()
    if bad.any():
        position = int(np.argmax(bad))
        raise DataError(
            f"{where}: {row_word} {numbers[position]}: cannot read {values[position]!r} in column {column!r} as a date"
        )
    return pd.DatetimeIndex(parsed).as_unit("ns")
