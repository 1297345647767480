"""The bars contract, checked in one place, and multi-symbol alignment.

Bars: a tz-aware UTC ``DatetimeIndex`` of bar open times, float columns
``open high low close volume``, sorted, unique, finite, no missing prices, ``low <= open,
close <= high``, volume not negative, and spaced no closer than about the interval they claim.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fintrade.errors import ConfigError, DataError, DataWarning
from fintrade.intervals import INTERVAL_PATTERN, interval_length
from fintrade.types import OHLCV_COLUMNS

PRICE_COLUMNS = ("open", "high", "low", "close")
OPTIONAL_COLUMNS = ("funding_rate", "dividends", "stock_splits")
"""Kept when a source provides them. ``funding_rate``: perpetual-swap funding charged at the bar
(summed when several funding times fall in one bar; positive means longs pay). ``dividends``:
cash per share going ex on the bar; ``stock_splits``: the split ratio taking effect (0 = none)."""

ROUNDING = 1e-9
"""Open or close this far (relative to the close) outside [low, high] is floating-point rounding
(adjusted prices are products), repaired silently."""

SPACING_FLOOR = 0.5
"""Bars whose typical (median) spacing is under this fraction of the interval are not bars of
that interval: epoch numbers read in the wrong unit, or a file of another interval."""


class BarsWarning(DataWarning):
    """Bars were accepted with a repair the user asked for (``price_tolerance``)."""


@dataclass(frozen=True)
class BarChecks:
    """What :func:`validate_bars` checks beyond the contract, set for a whole load by :func:`bar_checks`.

    ``interval``: the interval the bars claim (their spacing is checked against it);
    ``price_tolerance``: how far (a fraction of the close) open or close may lie outside
    [low, high] and be repaired with a warning instead of an error.
    """

    interval: str | None = None
    price_tolerance: float = 0.0


_CHECKS: ContextVar[BarChecks | None] = ContextVar("fintrade_bar_checks", default=None)


@contextmanager
def bar_checks(*, interval: str | None = None, price_tolerance: float = 0.0) -> Iterator[BarChecks]:
    """Apply ``interval`` and ``price_tolerance`` to every :func:`validate_bars` call inside the block.

    The core wraps a strategy's bar load in it, so the validation a source runs itself (or the
    bar cache runs before writing) holds the strategy's settings too, without every source
    passing them along.
    """
    checks = BarChecks(interval, _tolerance(price_tolerance))
    token = _CHECKS.set(checks)
    try:
        yield checks
    finally:
        _CHECKS.reset(token)


def _tolerance(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"price_tolerance {value!r}: expected a fraction of the price in [0, 1), e.g. 0.001")
    return float(value)


def validate_bars(
    frame: pd.DataFrame, where: str, *, interval: str | None = None, price_tolerance: float | None = None
) -> pd.DataFrame:
    """Return ``frame`` as contract-conforming float bars, or raise one clear DataError.

    ``where`` names the data in messages (``"source 'local', symbol 'AAPL'"``). ``interval``
    and ``price_tolerance`` default to those of the enclosing :func:`bar_checks`. Bars whose
    open or close lie outside [low, high] by at most ``price_tolerance`` of the close have high
    and low widened to cover them, with a :class:`BarsWarning` giving the count.
    """
    checks = _CHECKS.get() or BarChecks()
    interval = checks.interval if interval is None else interval
    tolerance = checks.price_tolerance if price_tolerance is None else _tolerance(price_tolerance)
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{where}: expected a DataFrame of bars, got {type(frame).__name__}")
    columns = {str(c).lower(): c for c in frame.columns}
    missing = [c for c in OHLCV_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}; bars need {', '.join(OHLCV_COLUMNS)}")
    if frame.empty:
        raise DataError(f"{where}: no bars in the requested range")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{where}: the index must be a DatetimeIndex of bar open times")
    kept = list(OHLCV_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in columns]
    bars = frame[[columns[c] for c in kept]].copy()
    bars.columns = kept
    for column in kept:
        if not pd.api.types.is_numeric_dtype(bars[column]):
            coerced = pd.to_numeric(bars[column], errors="coerce")
            bad = bars[column][coerced.isna() & bars[column].notna()]
            if not bad.empty:
                raise DataError(
                    f"{where}: column {column!r} is not numeric (first bad value {bad.iloc[0]!r} at {bad.index[0]})"
                )
            bars[column] = coerced
    bars = bars.astype(float)
    index = bars.index
    if index.tz is None:
        raise DataError(f"{where}: timestamps must be timezone-aware (UTC bar open times)")
    if str(index.tz) != "UTC":
        bars.index = index = index.tz_convert("UTC")
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise DataError(f"{where}: duplicate timestamp {duplicated[0]} ({len(duplicated)} duplicates)")
    if not index.is_monotonic_increasing:
        position = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise DataError(f"{where}: timestamps are not sorted ({index[position]} comes after {index[position - 1]})")
    infinite = np.isinf(bars.to_numpy())
    if infinite.any():
        row, col = np.argwhere(infinite)[0]
        count = int(infinite.any(axis=1).sum())
        raise DataError(f"{where}: infinite {kept[col]} at {index[row]} ({count} bars with infinite values)")
    prices = bars[list(PRICE_COLUMNS)]
    nan_rows = prices.isna().any(axis=1)
    if nan_rows.any():
        first = prices.index[nan_rows.to_numpy()][0]
        raise DataError(f"{where}: NaN price at {first} ({int(nan_rows.sum())} bars with missing prices)")
    if (prices.to_numpy() <= 0).any():
        first = prices.index[(prices <= 0).any(axis=1).to_numpy()][0]
        raise DataError(f"{where}: non-positive price at {first}")
    negative = (bars["volume"] < 0).to_numpy()
    if negative.any():
        first = int(np.argmax(negative))
        raise DataError(
            f"{where}: negative volume {bars['volume'].iloc[first]:g} at {index[first]} "
            f"({int(negative.sum())} bars with negative volume)"
        )
    bars = _check_price_ranges(bars, where, tolerance)
    if interval is not None:
        check_spacing(index, interval, where)
    bars["volume"] = bars["volume"].fillna(0.0)
    for column in OPTIONAL_COLUMNS:
        if column in bars:
            bars[column] = bars[column].fillna(0.0)
    return bars


def _first_inconsistency(row: pd.Series) -> str:
    o, h, low, c = (float(row[name]) for name in PRICE_COLUMNS)
    if h < low:
        return f"high {h:g} is below low {low:g}"
    for name, value in (("open", o), ("close", c)):
        if value > h:
            return f"{name} {value:g} is above high {h:g}"
        if value < low:
            return f"{name} {value:g} is below low {low:g}"
    return "prices are inconsistent"  # unreachable: a bar is only described when it breaks a rule


def _check_price_ranges(bars: pd.DataFrame, where: str, tolerance: float) -> pd.DataFrame:
    """Refuse ``high < low`` or open/close outside [low, high]; repair what ``tolerance`` allows."""
    o, h, low, c = (bars[name].to_numpy() for name in PRICE_COLUMNS)
    excess = np.maximum.reduce([np.maximum(o, c) - h, low - np.minimum(o, c), low - h]) / c
    beyond = excess > max(tolerance, ROUNDING)
    if beyond.any():
        first = int(np.argmax(beyond))
        problem = _first_inconsistency(bars.iloc[first])
        if tolerance > 0:
            raise DataError(
                f"{where}: {problem} at {bars.index[first]}, beyond price_tolerance {tolerance:g} "
                f"({int(beyond.sum())} bars beyond it)"
            )
        raise DataError(
            f"{where}: {problem} at {bars.index[first]} ({int(beyond.sum())} bars with high below low or "
            "open/close outside [low, high]; a strategy's price_tolerance repairs small ones)"
        )
    repaired = excess > 0
    if repaired.any():
        bars = bars.copy()
        stacked = np.vstack([o, h, low, c])
        bars["high"] = np.where(repaired, stacked.max(axis=0), h)
        bars["low"] = np.where(repaired, stacked.min(axis=0), low)
        noticed = int((excess > ROUNDING).sum())
        if noticed:
            warnings.warn(
                f"{where}: {noticed} bars with open/close outside [low, high] by at most price_tolerance "
                f"{tolerance:g}; high and low widened to cover them",
                BarsWarning,
                stacklevel=3,
            )
    return bars


def check_spacing(index: pd.DatetimeIndex, interval: str, where: str) -> None:
    """Refuse bars typically spaced far closer than ``interval``: a ``1d`` file read one second apart.

    Gaps (weekends, halts) are normal, so only spacing *below* the interval is checked, on the
    median, which a few odd bars do not move. Intervals without a fixed length are skipped.
    """
    if len(index) < 2 or not INTERVAL_PATTERN.match(interval):
        return
    step = interval_length(interval)
    spacing = pd.Timedelta(int(np.median(np.diff(index.as_unit("ns").asi8))), unit="ns")
    if spacing < step * SPACING_FLOOR:
        raise DataError(
            f"{where}: bars are {_duration(spacing)} apart (median) but the interval is {interval} "
            f"(first bars at {index[0]} and {index[1]}); check the interval, or the timestamps' unit"
        )


def _duration(delta: pd.Timedelta) -> str:
    """``"1s"``, ``"15min"``, ``"4h"``: a spacing as an interval is written."""
    nanoseconds = int(delta.value)
    for unit, size in (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9)):
        if nanoseconds and nanoseconds % size == 0:
            return f"{nanoseconds // size}{unit}"
    return str(delta)


def align_bars(bars: Mapping[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], int]:
    """Restrict every symbol to the bars all of them share; return the bars and how many were dropped.

    Trading several symbols on one clock keeps the engine's columns aligned; a symbol that
    listed later shortens the backtest, which the caller reports.
    """
    common: pd.DatetimeIndex | None = None
    for frame in bars.values():
        common = frame.index if common is None else common.intersection(frame.index)
    assert common is not None
    dropped = max(len(frame) for frame in bars.values()) - len(common)
    return {symbol: frame.loc[common] for symbol, frame in bars.items()}, dropped


def clip_range(frame: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    """Bars with open time in ``[start, end)``: the end is exclusive, as in pandas slicing by position."""
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= frame.index >= start
    if end is not None:
        mask &= frame.index < end
    return frame.loc[mask]


DATE_HELP = "use a string such as '2015-01-01', a datetime.date or a pandas Timestamp"


def to_utc_timestamp(value: str | datetime.date | pd.Timestamp | None, what: str = "date") -> pd.Timestamp | None:
    """``value`` as a UTC Timestamp (naive values are UTC); ``None`` stays ``None``.

    Accepts a string pandas can parse, a ``datetime.date``/``datetime`` or a Timestamp; anything
    else (``2015``, an unparseable string) is a one-line ConfigError naming ``what``.
    """
    if value is None:
        return None
    if not isinstance(value, str | datetime.date):
        raise ConfigError(f"{what} {value!r} is not a date; {DATE_HELP}")
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{what} {value!r} is not a date; {DATE_HELP}") from None
    if pd.isna(stamp):
        raise ConfigError(f"{what} {value!r} is not a date; {DATE_HELP}")
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
