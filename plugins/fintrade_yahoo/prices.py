"""The ``yahoo`` data source: OHLCV bars from Yahoo Finance through yfinance, through the bar cache.

One ``Ticker.history`` call per symbol and missing range (not ``yf.download``): the cache asks
for a different range per symbol (whatever that symbol lacks), and ``download`` runs symbols
in threads and folds every failure into a shared error dict, where a per-symbol call lets each
failure be diagnosed, retried and reported on its own.

Timestamps. Intraday bars keep Yahoo's bar open times, converted to UTC. yfinance labels a
daily bar with midnight of its exchange-local trading date; fintrade labels it 00:00 UTC of
that date (NYSE's 2020-01-02 session, open 14:30 UTC, is the bar ``2020-01-02T00:00Z``). That
keeps every daily bar inside its own UTC day, which the cache's "last closed bar" rule relies
on, for every exchange (an FX or Sydney session that opens before midnight UTC included).
A daily range is asked of Yahoo in exchange-local dates, so that the bars of one date are
never split between two downloads.

Prices. ``adjusted=False`` (default) gives Yahoo's ``Close``: adjusted for splits, not for
dividends. ``adjusted=True`` gives yfinance's ``auto_adjust``: OHLC scaled by Yahoo's
``Adj Close``, so dividends are reinvested. ``dividends`` (cash per share going ex) and
``stock_splits`` (ratio, 0 = none) come with daily bars.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

import pandas as pd

from fintrade.cache import DataWarning, PartialFetch, cached_bars
from fintrade.errors import ConfigError, DataError
from fintrade.types import BarsRequest
from fintrade_yahoo import INTERVALS
from fintrade_yahoo.client import CHART_PATH, call_yahoo
from fintrade_yahoo.options import BAR_DEFAULTS, YahooOptions, parse_options

SOURCE = "yahoo"
REACH_DAYS: dict[str, int] = {"1m": 30, "2m": 60, "5m": 60, "15m": 60, "30m": 60, "90m": 60, "1h": 730}
"""How far back from now Yahoo serves each intraday interval (daily bars go back to listing)."""
SPAN_DAYS: dict[str, int] = {"1m": 7}
"""The longest range Yahoo serves per request; longer downloads are split into pieces."""
DEFAULT_DAYS: dict[str, int] = {"1m": 7, "2m": 59, "5m": 59, "15m": 59, "30m": 59, "90m": 59, "1h": 729}
DEFAULT_DAILY_YEARS = 10
MARGIN = pd.Timedelta(days=1)
"""Yahoo measures its reach from the moment it answers; a day's margin keeps a request inside it."""
GAP = pd.Timedelta(days=7)
"""Longer than any market closure: a gap (or a missing tail) this long is reported."""


def _step(interval: str) -> pd.Timedelta:
    return pd.Timedelta(days=1) if interval == "1d" else pd.Timedelta(interval.replace("m", "min"))


def request_range(
    interval: str, start: pd.Timestamp | None, end: pd.Timestamp | None, now: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC range to load: defaults for open ends, no bar that is still forming.

    Without a start, daily bars go back to 1 January ten years ago (stable all year, so repeated
    runs hit the cache) and intraday bars as far as Yahoo keeps them (7 days for 1m).

    The end stops where bars are final. Daily: today 00:00 UTC (a daily bar is labelled with its
    date, and every exchange's session of an earlier date has closed). Intraday: ``now`` minus
    one interval, because Yahoo's bars need not sit on the UTC grid the cache assumes (US hourly
    bars open at half past): at 15:10 the 14:30 bar is still forming, and must not be cached.
    """
    if interval == "1d":
        if start is None:
            start = pd.Timestamp(year=now.year - DEFAULT_DAILY_YEARS, month=1, day=1, tz="UTC")
        end = now if end is None else min(end, now)
        return start.floor("D"), end.floor("D")
    if start is None:
        start = now.floor("D") - pd.Timedelta(days=DEFAULT_DAYS[interval])
    last_closed = now - _step(interval)
    end = last_closed if end is None else min(end, last_closed)
    return start.floor(_step(interval)), end.floor("min")


def load_yahoo_bars(request: BarsRequest) -> dict[str, pd.DataFrame]:
    """Bars for every requested symbol (see the module docstring), from the cache where it has them."""
    where = f"source {SOURCE!r}"
    options = parse_options(request.options, BAR_DEFAULTS, where)
    if request.interval not in INTERVALS:
        raise ConfigError(
            f"{where}: interval {request.interval!r} is not available; intervals are {', '.join(INTERVALS)}"
        )
    start, end = request_range(request.interval, request.start, request.end, pd.Timestamp.now(tz="UTC"))
    bars: dict[str, pd.DataFrame] = {}
    for symbol in request.symbols:
        # Yahoo symbols are upper case; "aapl" and "AAPL" share one cache file.
        yahoo_symbol = symbol.strip().upper()
        if not yahoo_symbol:
            raise ConfigError(f"{where}: empty symbol in {list(request.symbols)!r}")
        bars[symbol] = cached_bars(
            source=SOURCE,
            symbol=yahoo_symbol,
            interval=request.interval,
            start=start,
            end=end,
            fetch=functools.partial(download, yahoo_symbol, request.interval, options),
            adjustment=options.adjustment,
        )
    return bars


def download(symbol: str, interval: str, options: YahooOptions, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Bars of ``symbol`` opening in ``[start, end)``, downloaded now (the cache's ``fetch``).

    A range longer than Yahoo serves per request is split; when a later piece fails, the pieces
    already received are returned through :class:`PartialFetch`, so the cache keeps them and
    never records the range as complete.
    """
    where = f"source {SOURCE!r}, symbol {symbol!r}, interval {interval}"
    now = pd.Timestamp.now(tz="UTC")
    reach = REACH_DAYS.get(interval)
    if reach is not None and start < now - pd.Timedelta(days=reach) + MARGIN:
        raise DataError(
            f"{where}: Yahoo keeps {interval} bars for the last {reach} days only, so {_when(start)} "
            "is out of reach; use a later start or a coarser interval"
        )
    span = pd.Timedelta(days=SPAN_DAYS[interval]) if interval in SPAN_DAYS else end - start
    pieces: list[pd.DataFrame] = []
    piece_start = start
    while piece_start < end:
        piece_end = min(piece_start + span, end)
        try:
            pieces.append(_download_range(symbol, interval, options, piece_start, piece_end, where))
        except PartialFetch as exc:
            if not pieces:
                raise
            raise PartialFetch(str(exc), pd.concat([*pieces, exc.bars]), exc.covered_until) from exc
        except DataError as exc:
            if not pieces:
                raise
            # The cache names the symbol when it reports a partial fetch: say it once.
            reason = str(exc).removeprefix(f"{where}: ")
            message = f"{_when(piece_start)} to {_when(piece_end)} failed: {reason}"
            raise PartialFetch(message, pd.concat(pieces), piece_start) from exc
        piece_start = piece_end
    return pieces[0] if len(pieces) == 1 else pd.concat(pieces)


def _download_range(
    symbol: str, interval: str, options: YahooOptions, start: pd.Timestamp, end: pd.Timestamp, where: str
) -> pd.DataFrame:
    """One chart request's worth of bars, normalised, with gaps and a short tail reported."""
    daily = interval == "1d"
    # Daily: exchange-local dates (yfinance reads a date as local midnight); intraday: instants.
    first: Any = start.date() if daily else start
    last: Any = end.date() if daily else end

    def call(session: Any) -> tuple[pd.DataFrame, Mapping[str, Any]]:
        import yfinance

        ticker = yfinance.Ticker(symbol, session=session)
        frame = ticker.history(
            start=first,
            end=last,
            interval=interval,
            auto_adjust=options.adjusted,
            actions=True,
            repair=False,
            keepna=False,
            prepost=False,
            timeout=options.timeout,
        )
        meta: dict[str, Any] = {}
        if not frame.empty:
            # Only plain keys: history_metadata fetches more from Yahoo for "tradingPeriods".
            meta["regularMarketTime"] = ticker.history_metadata.get("regularMarketTime")
        return frame, meta

    what = f"{where}: {_when(start)} to {_when(end)}"
    outcome = call_yahoo(what, call, CHART_PATH, accept=lambda value: not value[0].empty, policy=options.retry_policy())
    if outcome.failure is not None:
        raise DataError(f"{where}: {outcome.failure}")
    frame, meta = outcome.value
    bars = normalise(frame, daily, where)
    bars = bars.loc[(bars.index >= start) & (bars.index < end)]
    if bars.empty:
        if end - start > GAP:
            warnings.warn(
                f"{where}: Yahoo has no bars from {_when(start)} to {_when(end)} "
                "(before the listing, or after a delisting?)",
                DataWarning,
                stacklevel=2,
            )
        return bars
    _report_gaps(bars, where)
    last_trade = _timestamp(meta.get("regularMarketTime"))
    last_bar = bars.index[-1]
    if last_trade is not None and end - last_bar > GAP and last_trade - last_bar > GAP:
        # Yahoo stopped short although the symbol traded later: a partial answer, not the end
        # of the symbol's history. Keep what came; the rest is fetched next time.
        raise PartialFetch(
            f"Yahoo returned bars only up to {_when(last_bar)} of {_when(start)} to {_when(end)}",
            bars,
            last_bar + _step(interval),
        )
    return bars


def _when(stamp: pd.Timestamp) -> str:
    """A range bound as people write it: the date alone at midnight, else minutes and UTC."""
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M} UTC"


def _timestamp(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return pd.Timestamp(int(value), unit="s", tz="UTC")
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Volume": "volume",
    "Dividends": "dividends",
    "Stock Splits": "stock_splits",
}


def normalise(frame: pd.DataFrame, daily: bool, where: str) -> pd.DataFrame:
    """yfinance's frame -> fintrade bars: lower-case columns, UTC open times (see the module docstring).

    ``Adj Close`` (already applied when adjusted) and ``Capital Gains`` (funds only) are
    dropped. Rows with a missing or non-positive price, which Yahoo has now and then, are
    dropped with a warning rather than failing the whole download.
    """
    bars = frame[[c for c in COLUMNS if c in frame.columns]].rename(columns=COLUMNS).astype(float)
    index = pd.DatetimeIndex(frame.index)
    if daily:
        dates = (index.tz_localize(None) if index.tz is not None else index).normalize()
        index = dates.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")
    # No inferred frequency: bars read back from the cache have none, and frames must compare equal.
    bars.index = pd.DatetimeIndex(index.as_unit("ns").rename(None), freq=None)
    prices = bars[["open", "high", "low", "close"]] if not bars.empty else bars
    bad = (prices.isna() | (prices <= 0)).any(axis=1) if not bars.empty else pd.Series(dtype=bool)
    if bad.any():
        warnings.warn(
            f"{where}: dropped {int(bad.sum())} bar(s) with missing or non-positive prices "
            f"(first at {bars.index[bad.to_numpy()][0]})",
            DataWarning,
            stacklevel=3,
        )
        bars = bars.loc[~bad.to_numpy()]
    return bars.sort_index()


def _report_gaps(bars: pd.DataFrame, where: str) -> None:
    gaps = bars.index[1:] - bars.index[:-1]
    long = gaps > GAP
    if long.any():
        position = int(long.argmax())
        warnings.warn(
            f"{where}: {int(long.sum())} gap(s) longer than {GAP.days} days in Yahoo's bars, the first from "
            f"{bars.index[position]} to {bars.index[position + 1]}",
            DataWarning,
            stacklevel=3,
        )
