"""Turn a column of timestamps read from a file into UTC, or say which row is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fintrade.errors import DataError

# Epoch numbers carry no unit; the magnitude tells seconds (1.6e9 today) from milliseconds
# (1.6e12), microseconds and nanoseconds, which is what exchange exports use.
_EPOCH_UNITS: tuple[tuple[float, str], ...] = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))


def _epoch_unit(values: pd.Series) -> str:
    largest = float(np.nanmax(np.abs(values.to_numpy(dtype=float)))) if values.notna().any() else 0.0
    for limit, unit in _EPOCH_UNITS:
        if largest < limit:
            return unit
    return "ns"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _is_missing(values: pd.Series) -> pd.Series:
    """NaN/None, and blank strings, which CSVs read as text produce for empty cells."""
    blank = values.map(lambda value: isinstance(value, str) and not value.strip())
    return values.isna() | blank.astype(bool)


def _parse_epoch(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    return pd.to_datetime(numbers, unit=_epoch_unit(numbers), utc=True, errors="coerce")


def _parse_text(values: pd.Series) -> pd.Series:
    text = values.map(lambda value: value.strip() if isinstance(value, str) else value)
    try:
        # The fast path covers what nearly every export writes (ISO 8601, with or without an
        # offset); naive values are localized to UTC by utc=True, offsets are converted.
        return pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, OverflowError, TypeError):
        # Anything else is parsed value by value; what still fails becomes NaT and is
        # reported below with its row.
        return pd.to_datetime(text, utc=True, format="mixed", errors="coerce")


def parse_utc(values: pd.Series, column: str, where: str, row_word: str = "row") -> pd.DatetimeIndex:
    """Parse ``values`` into a nanosecond UTC ``DatetimeIndex``.

    Naive timestamps are taken as UTC; aware ones are converted. Numbers are read as Unix
    epoch times (unit from their magnitude). The index of ``values`` holds the row (or line)
    numbers used in messages: ``"<where>: row 3 has no date timestamp"``.
    """
    missing = _is_missing(values)
    if missing.any():
        raise DataError(f"{where}: {row_word} {values.index[missing.to_numpy()][0]} has no {column} timestamp")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        parsed = values.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        parsed = _parse_epoch(values)
    else:
        # JSON lines can mix epoch numbers and strings in one column; parse each kind its way.
        numbers = values.map(_is_number).astype(bool)
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        if numbers.any():
            parsed[numbers] = _parse_epoch(values[numbers]).dt.as_unit("ns")
        if not numbers.all():
            parsed[~numbers] = _parse_text(values[~numbers]).dt.as_unit("ns")
    bad = parsed.isna()
    if bad.any():
        position = int(np.argmax(bad.to_numpy()))
        raise DataError(
            f"{where}: {row_word} {values.index[position]}: cannot parse {column} timestamp {values.iloc[position]!r}"
        )
    return pd.DatetimeIndex(parsed).as_unit("ns").rename(None)
