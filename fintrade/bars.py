"""The bars contract, checked in one place, and multi-symbol alignment.

Bars: a tz-aware UTC ``DatetimeIndex`` of bar open times, float columns
``open high low close volume``, sorted, unique, no missing prices.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fintrade.errors import DataError
from fintrade.types import OHLCV_COLUMNS

PRICE_COLUMNS = ("open", "high", "low", "close")
OPTIONAL_COLUMNS = ("funding_rate", "dividends", "stock_splits")
"""Kept when a source provides them. ``funding_rate``: perpetual-swap funding charged at the bar
(summed when several funding times fall in one bar; positive means longs pay). ``dividends``:
cash per share going ex on the bar; ``stock_splits``: the split ratio taking effect (0 = none)."""


def validate_bars(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Return ``frame`` as contract-conforming float bars, or raise one clear DataError.

    ``where`` names the data in messages (``"source 'local', symbol 'AAPL'"``).
    """
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
    prices = bars[list(PRICE_COLUMNS)]
    nan_rows = prices.isna().any(axis=1)
    if nan_rows.any():
        first = prices.index[nan_rows.to_numpy()][0]
        raise DataError(f"{where}: NaN price at {first} ({int(nan_rows.sum())} bars with missing prices)")
    if (prices.to_numpy() <= 0).any():
        first = prices.index[(prices <= 0).any(axis=1).to_numpy()][0]
        raise DataError(f"{where}: non-positive price at {first}")
    bars["volume"] = bars["volume"].fillna(0.0)
    for column in OPTIONAL_COLUMNS:
        if column in bars:
            bars[column] = bars[column].fillna(0.0)
    return bars


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


def to_utc_timestamp(value: str | pd.Timestamp | None) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
