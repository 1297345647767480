"""The ``sample`` data source: bundled StockNet daily bars for five US stocks.

Bars are labelled by their **open time**: each trading date's regular session opens at
09:30 America/New_York, which is 14:30 UTC in winter (EST) and 13:30 UTC in summer (EDT).
A bar's prices cover 09:30-16:00 New York time, so a document is known before bar t's
close only when it was published before 16:00 New York time on that date; anything later
(after hours, overnight) is news for the next bar, and the next bar's open is the first
price it could trade at.

The files' OHLC are Yahoo's split-adjusted prices; ``Adj Close`` also adjusts for dividends.
By default the OHLC are used as they are; ``adjusted=True`` scales them by
``Adj Close / Close`` (volume is kept).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pandas as pd

from fintrade.bars import clip_range, to_utc_timestamp, validate_bars
from fintrade.errors import ConfigError, DataError
from fintrade.options import bool_option, check_option_names
from fintrade.types import OHLCV_COLUMNS, BarsRequest
from fintrade_sample.bundle import PRICE_FOLDER, check_symbols, data_file

SOURCE = "source 'sample'"
OPTIONS: tuple[str, ...] = ("adjusted",)
INTERVAL = "1d"
EXCHANGE_TIMEZONE = "America/New_York"
SESSION_OPEN = pd.Timedelta(hours=9, minutes=30)
"""When the regular US session opens, New York time: the label of every sample bar."""


def session_open_utc(dates: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Trading dates -> that day's 09:30 New York open, in UTC (DST handled by the zone)."""
    local = pd.DatetimeIndex(dates).normalize() + SESSION_OPEN
    return local.tz_localize(EXCHANGE_TIMEZONE).tz_convert("UTC").as_unit("ns").rename(None)


@cache
def _daily_bars(symbol: str, adjusted: bool) -> pd.DataFrame:
    # Cached: strategies and tests load the same few files over and over.
    where = f"{SOURCE}, symbol {symbol!r}"
    with data_file(PRICE_FOLDER, f"{symbol}.csv").open("rb") as handle:
        raw = pd.read_csv(handle)
    raw.columns = [str(column).strip().lower() for column in raw.columns]
    bars = pd.DataFrame(
        {column: raw[column].to_numpy() for column in OHLCV_COLUMNS},
        index=session_open_utc(pd.to_datetime(raw["date"], format="%Y-%m-%d")),
    )
    bars = validate_bars(bars, where)
    if adjusted:
        ratio = raw["adj close"].to_numpy(dtype=float) / bars["close"].to_numpy()
        for column in ("open", "high", "low", "close"):
            bars[column] = bars[column] * ratio
    return bars


def load_bars(
    symbols: tuple[str, ...] = (),
    *,
    start: Any = None,
    end: Any = None,
    adjusted: bool = False,
) -> dict[str, pd.DataFrame]:
    """Sample bars for ``symbols`` (all five when empty) with open times in ``[start, end)``.

    ``start``/``end`` are anything :class:`pandas.Timestamp` accepts; naive means UTC.
    Each call returns fresh copies, so callers may modify them.
    """
    wanted = check_symbols(symbols, SOURCE)
    first, last = to_utc_timestamp(start), to_utc_timestamp(end)
    bars: dict[str, pd.DataFrame] = {}
    for symbol in wanted:
        full = _daily_bars(symbol, adjusted)
        clipped = clip_range(full, first, last)
        if clipped.empty:
            raise DataError(
                f"{SOURCE}, symbol {symbol!r}: no bars in [{first}, {last}); the bundled data covers "
                f"{full.index[0].date()} .. {full.index[-1].date()}"
            )
        bars[symbol] = clipped.copy()
    return bars


def load_sample_bars(request: BarsRequest) -> dict[str, pd.DataFrame]:
    """The ``sample`` source's ``load``; option ``adjusted`` (default False)."""
    check_option_names(request.options, OPTIONS, SOURCE)
    if request.interval != INTERVAL:
        raise ConfigError(
            f"{SOURCE}: the bundled bars are daily; interval {request.interval!r} is not available (use '1d')"
        )
    adjusted = bool_option(request.options, "adjusted", False, SOURCE)
    return load_bars(tuple(request.symbols), start=request.start, end=request.end, adjusted=adjusted)
