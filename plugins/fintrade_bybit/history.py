"""Where Bybit candles and funding rates are paged in, checked, and joined into bars.

Candles (``/v5/market/kline``, at most 1000 per page, newest first): the range is cut into
windows of exactly 1000 bar slots, and each window is asked for with ccxt's
``fetch_ohlcv(symbol, timeframe, since=window start, limit=1000, params={"until": window end})``.
Because a window never holds more bars than a page can, it does not matter which end of
``[start, end]`` Bybit anchors a full page to (its documentation does not say), and windows
neither overlap nor leave holes between them. A page that stops short of its window's last
bar is followed by a request for the rest of the window: ccxt keeps only ``limit`` rows, so
a bar repeated inside a full page would otherwise push the window's newest bar out (and an
exchange may cap pages below the documented size). ccxt's own ``paginate`` option is not
used: its deterministic pagination sends the range's final ``until`` with every page (right
only if Bybit anchors full pages at ``start``) and refuses ranges needing more than
``paginationCalls`` (10) pages. A bar repeated at a page boundary is kept once; a gap inside
the range (the market trades around the clock) is reported as a :class:`DataWarning`; a
range whose last bars never arrive raises :class:`PartialFetch`, so the cache never records
it as complete.

Funding (``/v5/market/funding/history``, at most 200 per page, newest first, anchored at
``endTime``): paged backwards with explicit ``startTime``/``endTime``, each page ending 1 ms
before the oldest event of the previous one, until the range's start is reached or a page
comes back empty (a short page is not taken as the end: a server may cap pages lower).
ccxt's defaults lose events (see ``docs/data.md``): with ``since`` and no ``endTime`` it
asks for ``[since, since + 200 funding intervals]``, which holds 201 events when ``since``
falls on a funding time, and Bybit returns the newest 200, dropping the first; with
``paginate=True`` it stops after 10 pages (2,000 events, under two years of 8-hour
funding) without saying so, and without ``until`` it pages back from now rather than from
the range.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fintrade.cache import DataWarning, PartialFetch
from fintrade_bybit.client import ClientSettings, call

KLINE_PAGE = 1000
FUNDING_PAGE = 200
FUNDING_GAP_WARNING = pd.Timedelta(hours=24)


def to_ms(stamp: pd.Timestamp) -> int:
    """A UTC timestamp in epoch milliseconds, as Bybit and ccxt count time."""
    return int(stamp.value // 1_000_000)


def from_ms(values: Sequence[int] | np.ndarray) -> pd.DatetimeIndex:
    """Epoch milliseconds as a UTC index in nanoseconds, the unit the rest of fintrade uses."""
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(values, dtype=np.int64), unit="ms", utc=True)).as_unit("ns")


def index_ms(index: pd.DatetimeIndex) -> np.ndarray:
    """A DatetimeIndex (any unit) in epoch milliseconds."""
    return index.as_unit("ms").asi8


def _ceil(value: int, step: int) -> int:
    return -(-value // step) * step


def kline_windows(start_ms: int, end_ms: int, step_ms: int, page: int = KLINE_PAGE) -> list[tuple[int, int]]:
    """``(first open, last open)`` of each page covering bar opens in ``[start_ms, end_ms)``, both inclusive."""
    first, last = _ceil(start_ms, step_ms), _ceil(end_ms, step_ms) - step_ms
    windows = []
    while first <= last:
        stop = min(first + (page - 1) * step_ms, last)
        windows.append((first, stop))
        first = stop + step_ms
    return windows


def merge_pages(pages: Sequence[Sequence[Sequence[Any]]], where: str) -> list[list[Any]]:
    """Candles ``[ms, open, high, low, close, volume]`` of all pages, sorted, each bar once.

    A bar delivered twice (a page boundary that repeats it) is kept once, the later copy;
    copies that disagree are reported, since one of them is wrong.
    """
    by_time: dict[int, list[Any]] = {}
    conflicts: list[int] = []
    for page in pages:
        for row in page:
            stamp = int(row[0])
            candle = [stamp, *(float(v) if v is not None else np.nan for v in row[1:6])]
            previous = by_time.get(stamp)
            if previous is not None and previous[1:] != candle[1:]:
                conflicts.append(stamp)
            by_time[stamp] = candle
    if conflicts:
        warnings.warn(
            f"{where}: {len(conflicts)} bar(s) came twice with different values, kept the later copy "
            f"(first at {from_ms([conflicts[0]])[0]})",
            DataWarning,
            stacklevel=3,
        )
    return [by_time[stamp] for stamp in sorted(by_time)]


def report_gaps(opens_ms: np.ndarray, step_ms: int, where: str) -> None:
    """Warn about missing bars between the first and last bar: crypto markets never close."""
    if len(opens_ms) < 2:
        return
    jumps = np.diff(opens_ms) // step_ms - 1
    holes = np.flatnonzero(jumps > 0)
    if len(holes) == 0:
        return
    first = holes[0]
    gap_start = from_ms([opens_ms[first] + step_ms])[0]
    gap_end = from_ms([opens_ms[first + 1]])[0]
    warnings.warn(
        f"{where}: {int(jumps[holes].sum())} missing bar(s) in {len(holes)} gap(s) in a market that trades "
        f"around the clock; first gap {gap_start} to {gap_end} ({int(jumps[first])} bars)",
        DataWarning,
        stacklevel=3,
    )


def fetch_candles(
    exchange: Any, symbol: str, timeframe: str, step_ms: int, start_ms: int, end_ms: int, settings: ClientSettings
) -> list[list[Any]]:
    """Every candle of ``symbol`` opening in ``[start_ms, end_ms)``, one request per 1000 bar slots."""
    where = f"bybit {symbol} {timeframe}"
    pages = []
    for first, last in kline_windows(start_ms, end_ms, step_ms):
        cursor = first
        while cursor <= last:
            request = functools.partial(
                exchange.fetch_ohlcv, symbol, timeframe, since=cursor, limit=KLINE_PAGE, params={"until": last}
            )
            page = call(exchange, f"{where} candles from {from_ms([cursor])[0]}", request, settings)
            # ccxt drops bars before `since`; bars after `until` are the next window's business.
            rows = [row for row in page if cursor <= int(row[0]) <= last]
            pages.append(rows)
            newest = max((int(row[0]) for row in rows), default=None)
            # A window is done when its last bar came, or when the exchange has nothing more in it.
            # A page that stops short of it was cut (ccxt keeps only `limit` rows, so a bar
            # repeated inside a full page pushes the newest one out; an exchange may cap pages
            # lower than documented): ask for the rest.
            if newest is None or newest >= last:
                break
            cursor = newest + step_ms
    return merge_pages(pages, where)


def fetch_funding(exchange: Any, symbol: str, start_ms: int, end_ms: int, settings: ClientSettings) -> dict[int, float]:
    """Every funding event of a perpetual with its time in ``[start_ms, end_ms)``: ms -> rate."""
    where = f"bybit {symbol} funding"
    events: dict[int, float] = {}
    conflicts = 0
    cursor = end_ms - 1  # Bybit's endTime is inclusive
    while cursor >= start_ms:
        request = functools.partial(
            exchange.fetch_funding_rate_history, symbol, since=start_ms, limit=FUNDING_PAGE, params={"endTime": cursor}
        )
        page = call(exchange, f"{where} up to {from_ms([cursor])[0]}", request, settings)
        stamps = [int(item["timestamp"]) for item in page]
        for stamp, item in zip(stamps, page, strict=True):
            if start_ms <= stamp <= cursor:
                rate = float(item["fundingRate"])
                conflicts += stamp in events and events[stamp] != rate
                events[stamp] = rate
        # Done when the range's start is reached or nothing older is left. A short page is not
        # proof of the end: an exchange may cap pages below the documented 200.
        if not stamps or min(stamps) <= start_ms:
            break
        cursor = min(stamps) - 1
    if conflicts:
        warnings.warn(
            f"{where}: {conflicts} funding event(s) came twice with different rates", DataWarning, stacklevel=2
        )
    return events


def add_funding(bars: pd.DataFrame, events: dict[int, float], step_ms: int, where: str) -> pd.DataFrame:
    """``bars`` with ``funding_rate``: the sum of the rates settled in ``[open, open + interval)``.

    Positive means longs pay shorts. An event that falls in a missing bar has nowhere to go
    and is reported rather than moved to a neighbour.
    """
    bars = bars.copy()
    funding = np.zeros(len(bars))
    if events and len(bars):
        opens = index_ms(bars.index)
        stamps = np.fromiter(events.keys(), dtype=np.int64, count=len(events))
        rates = np.fromiter(events.values(), dtype=np.float64, count=len(events))
        position = np.searchsorted(opens, stamps, side="right") - 1
        placed = (position >= 0) & (stamps < opens[np.maximum(position, 0)] + step_ms)
        np.add.at(funding, position[placed], rates[placed])
        inside = (stamps >= opens[0]) & (stamps < opens[-1] + step_ms)
        lost = inside & ~placed
        if lost.any():
            warnings.warn(
                f"{where}: {int(lost.sum())} funding event(s) fall in missing bars and are not in funding_rate "
                f"(first at {from_ms([stamps[lost].min()])[0]})",
                DataWarning,
                stacklevel=2,
            )
    if len(bars) and _longest_silence(bars, events, step_ms) > FUNDING_GAP_WARNING:
        warnings.warn(
            f"{where}: no funding event for more than {FUNDING_GAP_WARNING} of perpetual bars; funding_rate is 0 there",
            DataWarning,
            stacklevel=2,
        )
    bars["funding_rate"] = funding
    return bars


def _longest_silence(bars: pd.DataFrame, events: dict[int, float], step_ms: int) -> pd.Timedelta:
    """The longest stretch of the bars' span without a funding event."""
    opens = index_ms(bars.index)
    edges = np.sort(np.array([opens[0], *events.keys(), opens[-1] + step_ms], dtype=np.int64))
    edges = edges[(edges >= opens[0]) & (edges <= opens[-1] + step_ms)]
    return pd.Timedelta(milliseconds=int(np.diff(edges).max())) if len(edges) > 1 else pd.Timedelta(0)


def candles_frame(candles: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Candles as bars: UTC open times, float open/high/low/close/volume."""
    columns = ["open", "high", "low", "close", "volume"]
    if not candles:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}, index=pd.DatetimeIndex([], tz="UTC"))
    values = np.asarray([row[1:6] for row in candles], dtype=float)
    return pd.DataFrame(values, index=from_ms([row[0] for row in candles]), columns=columns)


def fetch_bars(
    exchange: Any,
    market: dict[str, Any],
    timeframe: str,
    step_ms: int,
    start: pd.Timestamp,
    end: pd.Timestamp,
    settings: ClientSettings,
) -> pd.DataFrame:
    """Bars opening in ``[start, end)``, with ``funding_rate`` for perpetuals.

    Raises :class:`PartialFetch` (carrying the good part) when the exchange stops returning
    bars before the end of the range, and a ``DataError`` when it returns none at all.
    """
    from fintrade.errors import DataError

    symbol = market["symbol"]
    where = f"bybit {symbol} {timeframe}"
    start_ms, end_ms = to_ms(start), to_ms(end)
    candles = fetch_candles(exchange, symbol, timeframe, step_ms, start_ms, end_ms, settings)
    expected = kline_windows(start_ms, end_ms, step_ms)
    if not expected:
        return candles_frame([])
    last_expected = expected[-1][1]
    listed_ms = market.get("created")  # the launch time, known for perpetuals only
    if not candles:
        if listed_ms is not None and end_ms <= listed_ms:
            return candles_frame([])  # before the listing: an empty range is the right answer
        listed = from_ms([listed_ms])[0] if listed_ms is not None else "an unknown date"
        raise DataError(f"{where}: Bybit returned no bars between {start} and {end} (listed {listed})")
    opens = np.array([row[0] for row in candles], dtype=np.int64)
    checked = opens
    if listed_ms is not None and max(expected[0][0], _ceil(listed_ms, step_ms)) < opens[0]:
        # Bars missing between the listing (or the range start) and the first bar are a gap too:
        # a phantom bar just before the first expected one makes report_gaps see them.
        checked = np.concatenate([[max(expected[0][0], _ceil(listed_ms, step_ms)) - step_ms], opens])
    report_gaps(checked, step_ms, where)
    bars = candles_frame(candles)
    reached_ms = min(int(opens[-1]) + step_ms, end_ms)
    if market.get("swap"):
        bars = add_funding(bars, fetch_funding(exchange, symbol, start_ms, reached_ms, settings), step_ms, where)
    if opens[-1] < last_expected:
        covered_until = from_ms([reached_ms])[0]
        raise PartialFetch(
            f"Bybit stopped returning {symbol} {timeframe} bars at {covered_until} although the range runs to {end}",
            bars,
            covered_until,
        )
    return bars
