"""Turn a column of timestamps read from a file into UTC, or say which row is wrong.

A file's timestamps must be one kind of thing: never naive and timezone-aware values side by
side, never epoch numbers that land in 1970 (a ``20200102`` date or a count of days read as
seconds), and, for bars, one UTC offset (or two a daylight-saving hour apart).
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd

from fintrade.errors import ConfigError, DataError

# Epoch numbers carry no unit; the magnitude tells seconds (1.6e9 today) from milliseconds
# (1.6e12), microseconds and nanoseconds, which is what exchange exports use.
_EPOCH_UNITS: tuple[tuple[float, str], ...] = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))
_EPOCH_FLOOR = pd.Timestamp("1971-01-01", tz="UTC")
"""Epoch numbers before this are not real timestamps but dates or day counts read as seconds."""

# A time of day, then optionally an offset: "…10:00Z", "…10:00:00+01:00", "…10:00 -0500".
_TIME = re.compile(r"\d:\d{2}")
_OFFSET = re.compile(r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)

DateRule = Literal["start", "end", "error"]


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


def _parse_epoch(values: pd.Series, column: str, where: str, row_word: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    unit = _epoch_unit(numbers)
    parsed = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
    early = (parsed < _EPOCH_FLOOR).to_numpy()
    if early.any():
        position = int(np.argmax(early))
        raise DataError(
            f"{where}: {row_word} {values.index[position]}: {column} {_shown(values.iloc[position])!r} read as "
            f"epoch {'seconds' if unit == 's' else unit} is {parsed.iloc[position]}, in 1970; write dates "
            "as text ('2020-01-02') or epochs in seconds or milliseconds since 1970"
        )
    return parsed


def _shown(value: object) -> object:
    """A cell as Python writes it: ``20200102``, not ``np.int64(20200102)``."""
    return value.item() if isinstance(value, np.generic) else value


def _offset_text(match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    raw = match.group(1).upper()
    if raw in ("Z", "UTC", "GMT"):
        return "+00:00"
    digits = raw[1:].replace(":", "")
    return f"{raw[0]}{digits[:2]}:{digits[2:4] or '00'}"


def _parse_text(
    values: pd.Series, column: str, where: str, row_word: str, timezone: str | None, dates: DateRule, mixed: bool
) -> pd.Series:
    text = values.map(lambda value: value.strip() if isinstance(value, str) else str(value))
    has_time = text.str.contains(_TIME)
    offsets = text.map(lambda value: _offset_text(_OFFSET.search(value)))
    aware = offsets.notna()
    naive = has_time & ~aware
    if naive.any() and timezone is None:
        position = int(np.argmax(naive.to_numpy()))
        raise DataError(
            f"{where}: {row_word} {values.index[position]}: {column} {text.iloc[position]!r} has no timezone; "
            "write it with an offset ('…Z', '…+01:00') or set the source's option timezone (e.g. 'America/New_York')"
        )
    # A plain date labelling a bar is a wall-clock day too: beside offsets it is a mix.
    unzoned = naive | (~has_time & ~aware) if dates == "start" else naive
    if aware.any() and unzoned.any() and not mixed:
        first_aware, first_naive = int(np.argmax(aware.to_numpy())), int(np.argmax(unzoned.to_numpy()))
        raise DataError(
            f"{where}: {column} mixes timestamps with and without a UTC offset ({row_word} "
            f"{values.index[first_naive]} {text.iloc[first_naive]!r}, {row_word} {values.index[first_aware]} "
            f"{text.iloc[first_aware]!r}); write every one with its offset"
        )
    date_only = ~has_time
    if date_only.any() and dates == "error":
        position = int(np.argmax(date_only.to_numpy()))
        raise DataError(
            f"{where}: {row_word} {values.index[position]}: {column} {text.iloc[position]!r} is a date without "
            "a time; set the source's option dates=True to count it from the end of that day"
        )
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        parsed[aware] = _to_datetime(text[aware], utc=True).dt.as_unit("ns")
    local = ~aware
    if local.any():
        # Naive times and plain dates are wall-clock readings in the declared zone (UTC for bars).
        wall = _to_datetime(text[local], utc=False)
        zone = timezone or "UTC"
        stamped = wall.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT") if not wall.isna().all() else wall
        if dates == "end":
            # A date is known once the day is over there: from the next midnight, never its start.
            day = date_only[local]
            ends = (wall[day] + pd.Timedelta(days=1)).dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
            stamped = stamped.where(~day, ends) if day.any() else stamped
        parsed[local] = pd.to_datetime(stamped, utc=True).dt.as_unit("ns")
    return parsed


def _to_datetime(text: pd.Series, *, utc: bool) -> pd.Series:
    try:
        # The fast path covers what nearly every export writes (ISO 8601, with or without an offset).
        return pd.to_datetime(text, utc=utc, format="ISO8601")
    except (ValueError, OverflowError, TypeError):
        # Anything else is parsed value by value; what still fails becomes NaT and is
        # reported with its row.
        return pd.to_datetime(text, utc=utc, format="mixed", errors="coerce")


def parse_utc(
    values: pd.Series,
    column: str,
    where: str,
    row_word: str = "row",
    *,
    timezone: str | None = "UTC",
    dates: DateRule = "start",
    mixed: bool = False,
) -> pd.DatetimeIndex:
    """Parse ``values`` into a nanosecond UTC ``DatetimeIndex``.

    Naive timestamps are wall-clock times in ``timezone`` (``None``: they are an error); aware
    ones are converted; a column may not mix the two. Numbers are read as Unix epoch times
    (unit from their magnitude) and may not land in 1970. A date without a time (``dates``)
    is its day's start (a daily bar's label), its end (the next midnight: when a dated
    document is known), or an error. ``mixed`` allows naive and aware text in one column (a
    declared ``timezone`` says what the naive ones mean). The index of ``values`` holds the row (or line) numbers
    used in messages: ``"<where>: row 3 has no date timestamp"``.
    """
    if timezone is not None:
        _check_zone(timezone, where)
    missing = _is_missing(values)
    if missing.any():
        raise DataError(f"{where}: {row_word} {values.index[missing.to_numpy()][0]} has no {column} timestamp")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        if timezone is None:
            raise DataError(
                f"{where}: {column} has no timezone ({row_word} {values.index[0]} is {values.iloc[0]}); "
                "store it timezone-aware or set the source's option timezone (e.g. 'America/New_York')"
            )
        parsed = values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        parsed = _parse_epoch(values, column, where, row_word)
    else:
        # JSON lines can mix epoch numbers and strings in one column; parse each kind its way.
        numbers = values.map(_is_number).astype(bool)
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        if numbers.any():
            parsed[numbers] = _parse_epoch(values[numbers], column, where, row_word).dt.as_unit("ns")
        if not numbers.all():
            parsed[~numbers] = _parse_text(values[~numbers], column, where, row_word, timezone, dates, mixed)
    bad = parsed.isna()
    if bad.any():
        position = int(np.argmax(bad.to_numpy()))
        raise DataError(
            f"{where}: {row_word} {values.index[position]}: cannot parse {column} timestamp "
            f"{_shown(values.iloc[position])!r}"
        )
    return pd.DatetimeIndex(parsed).as_unit("ns").rename(None)


def _check_zone(timezone: str, where: str) -> None:
    try:
        pd.Timestamp("2000-01-01").tz_localize(timezone)
    except Exception:  # zoneinfo and pytz raise several types for an unknown zone
        raise ConfigError(f"{where}: unknown timezone {timezone!r} (a zone name such as 'America/New_York')") from None


def check_one_offset(values: pd.Series, column: str, where: str, row_word: str = "row") -> None:
    """Refuse text timestamps in more than one UTC offset, unless two a daylight-saving hour apart.

    A file of one market's bars is written on one clock: offsets that differ otherwise mean
    files were joined from exports in different zones, and daily labels would no longer line up.
    """
    text = values.map(lambda value: value.strip() if isinstance(value, str) else "")
    offsets = text.map(lambda value: _offset_text(_OFFSET.search(value))).dropna()
    distinct = list(dict.fromkeys(offsets))
    if len(distinct) < 2:
        return
    minutes = sorted(int(o[0] + "1") * (int(o[1:3]) * 60 + int(o[4:6])) for o in distinct)
    if len(distinct) == 2 and minutes[1] - minutes[0] == 60:
        return
    first = offsets.index[offsets == distinct[0]][0]
    other = offsets.index[offsets == distinct[1]][0]
    raise DataError(
        f"{where}: {column} mixes UTC offsets {', '.join(distinct)} ({row_word} {first} "
        f"{text.loc[first]!r}, {row_word} {other} {text.loc[other]!r}); write one file per clock, or all in UTC"
    )
