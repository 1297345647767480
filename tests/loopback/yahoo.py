"""A loopback Yahoo Finance: the endpoints yfinance calls, in Yahoo's own wire formats.

Point the ``yahoo`` data source at it with ``FINTRADE_YAHOO_URL=<server.url>``; the real
yfinance client then talks to this server instead of ``query1/query2.finance.yahoo.com``,
``fc.yahoo.com`` and ``finance.yahoo.com``::

    with start_yahoo_server() as server:
        monkeypatch.setenv("FINTRADE_YAHOO_URL", server.url)
        ...
        assert [q["period1"] for p, q in server.requests if p.startswith(CHART)] == [...]

Endpoints (as yfinance 1.7 calls them):

- ``GET /v8/finance/chart/{symbol}?period1=&period2=&interval=&includePrePost=&events=`` (or
  ``range=`` instead of the periods): the chart API. Unknown symbols get Yahoo's 404 ``Not
  Found`` error document; intraday requests beyond Yahoo's history limits get its 422 error.
- ``GET /`` (``fc.yahoo.com``: sets the session cookie), ``GET /v1/test/getcrumb`` (the crumb),
  ``GET /consent`` (``guce.yahoo.com``: no consent form here).
- ``GET /v10/finance/quoteSummary/{symbol}``, ``GET /v7/finance/quote`` and
  ``GET /ws/fundamentals-timeseries/...``: yfinance asks them for a timezone when the chart API
  did not give one (an unknown symbol).
- ``POST /xhr/ncp?queryRef=latestNews&serviceKey=ncp_fin`` with ``{"serviceConfig":
  {"snippetCount": n, "s": [symbol]}}``: ticker news, as ``data.tickerStream.stream``.

Prices are synthetic and deterministic: a seeded random walk per symbol over weekdays since
2000 (no holidays), sessions 09:30-16:00 America/New_York. As on Yahoo, ``close`` is split
adjusted but not dividend adjusted and ``adjclose`` is adjusted for both; dividends are paid
quarterly (not by AMZN or GOOG) and AAPL, AMZN and GOOG carry their real split dates. Intraday
bars follow the day's open-to-close path. Only bars that opened before now are served.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tests.loopback.server import LoopbackServer, Query, Response

CHART = "/v8/finance/chart/"
NEWS = "/xhr/ncp"
EXCHANGE_TZ = "America/New_York"
ORIGIN = "2000-01-03"
SYMBOLS = ("AAPL", "MSFT", "AMZN", "GOOG", "JPM", "XOM", "JNJ", "SPY")
ETFS = frozenset({"SPY"})
NO_DIVIDENDS = frozenset({"AMZN", "GOOG"})
SPLITS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "AAPL": (("2014-06-09", 7, 1), ("2020-08-31", 4, 1)),
    "AMZN": (("2022-06-06", 20, 1),),
    "GOOG": (("2022-07-18", 20, 1),),
}
NEWS_ANCHOR = pd.Timestamp("2024-06-03 20:00", tz="UTC")
"""The newest synthetic headline; fixed so that news tests do not depend on the clock."""
NEWS_PER_SYMBOL = 12
VALID_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")
INTRADAY_MINUTES = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}
# Yahoo's limits on intraday history: how far back from now, and (1m only) how much per request.
INTRADAY_REACH_DAYS = {"1m": 30, "2m": 60, "5m": 60, "15m": 60, "30m": 60, "90m": 60, "60m": 730, "1h": 730}
ONE_MINUTE_SPAN_DAYS = 8
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
COOKIE = "A3=d=AQABBLoopback&S=AQAAAloopback; Max-Age=31557600; Path=/; SameSite=None"
CRUMB = "Lo0pBackCrumb"


@dataclass(frozen=True)
class DailySeries:
    """One symbol's daily history: session open times (UTC epoch seconds) and quotes."""

    dates: pd.DatetimeIndex  # exchange-local trading dates (naive)
    opens_at: np.ndarray  # int64 epoch seconds of 09:30 New York
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    adjclose: np.ndarray
    volume: np.ndarray
    dividends: dict[int, float]  # epoch of the ex-date's bar -> cash per share
    splits: dict[int, tuple[int, int]]  # epoch of the bar -> (numerator, denominator)


def _session_times(dates: pd.DatetimeIndex, hour: int, minute: int) -> np.ndarray:
    local = (dates + pd.Timedelta(hours=hour, minutes=minute)).tz_localize(EXCHANGE_TZ)
    return np.asarray(local.tz_convert("UTC").as_unit("s").asi8, dtype=np.int64)


@functools.cache
def daily_series(symbol: str, today: str) -> DailySeries:
    """The whole daily history of ``symbol`` up to ``today`` (a date; part of the cache key)."""
    dates = pd.bdate_range(ORIGIN, today)
    rng = np.random.default_rng(zlib.crc32(symbol.encode()))
    n = len(dates)
    close = 40.0 * np.exp(np.cumsum(rng.normal(0.0004, 0.015, n)))
    open_ = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, n)))
    volume = rng.integers(1_000_000, 40_000_000, n)
    opens_at = _session_times(dates, 9, 30)

    dividends: dict[int, float] = {}
    adjust = np.ones(n)
    if symbol not in NO_DIVIDENDS:
        # The first weekday of February, May, August and November goes ex-dividend.
        frame = pd.Series(np.arange(n), index=dates)
        firsts = frame.groupby([dates.year, dates.month]).first()
        for (_, month), position in firsts.items():
            if month in (2, 5, 8, 11) and position > 0:
                amount = round(float(close[position - 1]) * 0.004, 4)
                dividends[int(opens_at[position])] = amount
                # Yahoo's adjclose: every bar before the ex-date scaled by (1 - D / previous close).
                adjust[:position] *= 1 - amount / close[position - 1]
    splits: dict[int, tuple[int, int]] = {}
    for day, numerator, denominator in SPLITS.get(symbol, ()):
        position = int(dates.searchsorted(pd.Timestamp(day)))
        if position < n and dates[position] == pd.Timestamp(day):
            splits[int(opens_at[position])] = (numerator, denominator)
    return DailySeries(
        dates=dates,
        opens_at=opens_at,
        open=np.round(open_, 4),
        high=np.round(high, 4),
        low=np.round(low, 4),
        close=np.round(close, 4),
        adjclose=np.round(close * adjust, 6),
        volume=volume,
        dividends=dividends,
        splits=splits,
    )


def _offset_and_name(epoch: int) -> tuple[int, str]:
    local = pd.Timestamp(epoch, unit="s", tz="UTC").tz_convert(EXCHANGE_TZ)
    offset = local.utcoffset()
    assert offset is not None
    return int(offset.total_seconds()), str(local.tzname())


def _period(start: int, end: int) -> dict[str, object]:
    gmtoffset, name = _offset_and_name(start)
    return {"timezone": name, "start": start, "end": end, "gmtoffset": gmtoffset}


def _error(status: int, code: str, description: str) -> Response:
    return Response.json({"chart": {"result": None, "error": {"code": code, "description": description}}}, status)


class YahooHandler:
    """Answers yfinance's requests (see the module docstring); ``symbols`` are the ones that exist."""

    def __init__(self, symbols: tuple[str, ...] = SYMBOLS) -> None:
        self.symbols = frozenset(symbols)

    # -- GET ---------------------------------------------------------------------------------

    def __call__(self, path: str, query: Query) -> Response:
        if path.startswith(CHART):
            return self.chart(path[len(CHART) :], query)
        if path == "/":
            # fc.yahoo.com answers 404 but sets the cookie that goes with the crumb.
            return Response(404, b"<html>Not Found</html>", {"Content-Type": "text/html", "Set-Cookie": COOKIE})
        if path == "/v1/test/getcrumb":
            return Response(200, CRUMB.encode(), {"Content-Type": "text/plain;charset=utf-8"})
        if path == "/consent":
            return Response(200, b"<html><body>No consent needed</body></html>", {"Content-Type": "text/html"})
        if path.startswith("/v10/finance/quoteSummary/"):
            return self.quote_summary(path.rsplit("/", 1)[-1])
        if path.startswith("/v7/finance/quote"):
            return self.quote(query.get("symbols", ""))
        if path.startswith("/ws/fundamentals-timeseries/"):
            # yfinance asks for the trailing PEG ratio while looking for a timezone; none here.
            symbol = path.rsplit("/", 1)[-1]
            result = [{"meta": {"symbol": [symbol], "type": [query.get("type", "")]}}]
            return Response.json({"timeseries": {"result": result, "error": None}})
        return Response.json({"finance": {"result": None, "error": {"code": "Not Found", "description": path}}}, 404)

    def chart(self, symbol: str, query: Query) -> Response:
        interval = query.get("interval", "1d")
        if interval not in VALID_INTERVALS:
            return _error(
                400,
                "Bad Request",
                f"Invalid input - interval={interval} is not supported. "
                f"Valid intervals: [{', '.join(VALID_INTERVALS)}]",
            )
        if symbol not in self.symbols:
            return _error(404, "Not Found", "No data found, symbol may be delisted")
        now = int(pd.Timestamp.now(tz="UTC").timestamp())
        series = daily_series(symbol, str(pd.Timestamp.now(tz=EXCHANGE_TZ).date()))
        if "period1" in query:
            start, end = int(query["period1"]), int(query.get("period2", now))
        else:
            days = {"1d": 1, "5d": 5, "1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827}
            start, end = now - 86400 * days.get(query.get("range", "1mo"), 31), now
        if interval in INTRADAY_MINUTES:
            reach = INTRADAY_REACH_DAYS[interval]
            if start < now - reach * 86400:
                return _error(
                    422,
                    "Unprocessable Entity",
                    f"{interval} data not available for startTime={start} and endTime={end}. "
                    f"The requested range must be within the last {reach} days.",
                )
            if interval == "1m" and end - start > ONE_MINUTE_SPAN_DAYS * 86400:
                return _error(
                    422,
                    "Unprocessable Entity",
                    f"1m data not available for startTime={start} and endTime={end}. "
                    f"Only {ONE_MINUTE_SPAN_DAYS} days worth of 1m granularity data are allowed to be fetched per "
                    "request.",
                )
            times, quote = self._intraday(series, INTRADAY_MINUTES[interval], start, min(end, now), now)
            adjclose = None
        else:
            times, quote, adjclose = self._daily(series, start, min(end, now), now)
        meta = self._meta(symbol, series, interval, query, times, now)
        result: dict[str, object] = {"meta": meta}
        if len(times):
            result["timestamp"] = [int(t) for t in times]
            result["indicators"] = {"quote": [quote]}
            if adjclose is not None:
                result["indicators"]["adjclose"] = [{"adjclose": adjclose}]  # type: ignore[index]
            events = self._events(series, interval, times)
            if events:
                result["events"] = events
        else:
            # What Yahoo answers for a valid symbol and a range without bars.
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return Response.json({"chart": {"result": [result], "error": None}})

    def _daily(
        self, series: DailySeries, start: int, end: int, now: int
    ) -> tuple[np.ndarray, dict[str, list[float]], list[float]]:
        mask = (series.opens_at >= start) & (series.opens_at < end) & (series.opens_at <= now)
        quote = {
            "open": series.open[mask].tolist(),
            "high": series.high[mask].tolist(),
            "low": series.low[mask].tolist(),
            "close": series.close[mask].tolist(),
            "volume": series.volume[mask].tolist(),
        }
        return series.opens_at[mask], quote, series.adjclose[mask].tolist()

    def _intraday(
        self, series: DailySeries, minutes: int, start: int, end: int, now: int
    ) -> tuple[np.ndarray, dict[str, list[float]]]:
        first = int(series.opens_at.searchsorted(start - 86400))
        last = int(series.opens_at.searchsorted(end))
        times: list[int] = []
        values: list[tuple[float, float, float, float, int]] = []
        step = minutes * 60
        for position in range(first, last):
            session_open = int(series.opens_at[position])
            session_close = session_open + 390 * 60
            day_open, day_close = float(series.open[position]), float(series.close[position])
            bars_per_day = math.ceil(390 / minutes)
            phase = zlib.crc32(str(position).encode()) % 1000

            def price(
                t: int, start: int = session_open, first: float = day_open, last: float = day_close, phase: int = phase
            ) -> float:
                fraction = min(max((t - start) / (390 * 60), 0.0), 1.0)
                wiggle = 0.002 * math.sin(t / 977.0 + phase) * (1 - abs(2 * fraction - 1))
                return (first + (last - first) * fraction) * (1 + wiggle)

            for t in range(session_open, session_close, step):
                if t < start or t >= end or t > now:
                    continue
                bar_open, bar_close = price(t), price(min(t + step, session_close))
                values.append(
                    (
                        round(bar_open, 4),
                        round(max(bar_open, bar_close) * 1.0005, 4),
                        round(min(bar_open, bar_close) * 0.9995, 4),
                        round(bar_close, 4),
                        int(series.volume[position]) // bars_per_day,
                    )
                )
                times.append(t)
        columns = list(zip(*values, strict=True)) if values else [(), (), (), (), ()]
        quote = {
            name: list(column) for name, column in zip(("open", "high", "low", "close", "volume"), columns, strict=True)
        }
        return np.asarray(times, dtype=np.int64), quote  # type: ignore[return-value]

    def _events(self, series: DailySeries, interval: str, times: np.ndarray) -> dict[str, object]:
        if interval in INTRADAY_MINUTES or not len(times):
            return {}
        first, last = int(times[0]), int(times[-1])
        events: dict[str, object] = {}
        dividends = {t: a for t, a in series.dividends.items() if first <= t <= last}
        if dividends:
            events["dividends"] = {str(t): {"amount": a, "date": t} for t, a in dividends.items()}
        splits = {t: s for t, s in series.splits.items() if first <= t <= last}
        if splits:
            events["splits"] = {
                str(t): {"date": t, "numerator": n, "denominator": d, "splitRatio": f"{n}:{d}"}
                for t, (n, d) in splits.items()
            }
        return events

    def _meta(
        self, symbol: str, series: DailySeries, interval: str, query: Query, times: np.ndarray, now: int
    ) -> dict[str, object]:
        served = series.opens_at[series.opens_at <= now]
        last = int(served[-1]) if len(served) else int(series.opens_at[0])
        position = max(int(series.opens_at.searchsorted(last, side="right")) - 1, 0)
        gmtoffset, zone = _offset_and_name(now)
        today = pd.Timestamp.now(tz=EXCHANGE_TZ).normalize().tz_localize(None)
        regular_start = int(_session_times(pd.DatetimeIndex([today]), 9, 30)[0])
        meta: dict[str, object] = {
            "currency": "USD",
            "symbol": symbol,
            "exchangeName": "PCX" if symbol in ETFS else "NMS",
            "fullExchangeName": "NYSEArca" if symbol in ETFS else "NasdaqGS",
            "instrumentType": "ETF" if symbol in ETFS else "EQUITY",
            "firstTradeDate": int(series.opens_at[0]),
            "regularMarketTime": last,
            "hasPrePostMarketData": True,
            "gmtoffset": gmtoffset,
            "timezone": zone,
            "exchangeTimezoneName": EXCHANGE_TZ,
            "regularMarketPrice": float(series.close[position]),
            "chartPreviousClose": float(series.close[max(position - 1, 0)]),
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": _period(regular_start - 5 * 3600 - 1800, regular_start),
                "regular": _period(regular_start, regular_start + 390 * 60),
                "post": _period(regular_start + 390 * 60, regular_start + 390 * 60 + 4 * 3600),
            },
            "dataGranularity": interval,
            "range": query.get("range", ""),
            "validRanges": VALID_RANGES,
        }
        if interval in INTRADAY_MINUTES and len(times):
            opens = sorted({int(series.opens_at[series.opens_at <= t][-1]) for t in times})
            meta["tradingPeriods"] = [[_period(t, t + 390 * 60)] for t in opens]
        return meta

    def quote_summary(self, symbol: str) -> Response:
        if symbol not in self.symbols:
            error = {"code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}
            return Response.json({"quoteSummary": {"result": None, "error": error}}, 404)
        quote_type = {
            "exchange": "NMS",
            "quoteType": "ETF" if symbol in ETFS else "EQUITY",
            "symbol": symbol,
            "shortName": f"{symbol} (loopback)",
            "timeZoneFullName": EXCHANGE_TZ,
            "timeZoneShortName": _offset_and_name(int(pd.Timestamp.now(tz="UTC").timestamp()))[1],
        }
        return Response.json({"quoteSummary": {"result": [{"quoteType": quote_type}], "error": None}})

    def quote(self, symbols: str) -> Response:
        found = [
            {"symbol": s, "exchangeTimezoneName": EXCHANGE_TZ, "currency": "USD", "quoteType": "EQUITY"}
            for s in symbols.split(",")
            if s in self.symbols
        ]
        return Response.json({"quoteResponse": {"result": found, "error": None}})

    # -- POST --------------------------------------------------------------------------------

    def post(self, path: str, query: Query, body: bytes) -> Response:
        if path != NEWS:
            return Response.json({"error": f"no POST endpoint {path}"}, 404)
        config = json.loads(body or b"{}").get("serviceConfig", {})
        count = int(config.get("snippetCount", 10))
        stream: list[dict[str, object]] = []
        for symbol in config.get("s", []):
            if symbol in self.symbols:
                stream += news_items(symbol)[:count]
        if stream:
            # Yahoo mixes adverts into the stream; yfinance drops items that carry "ad".
            stream.insert(1, {"id": "ad-0", "content": {"title": "Sponsored"}, "ad": [{"type": "native"}]})
        return Response.json({"data": {"tickerStream": {"stream": stream, "nextPage": False}}, "status": "OK"})


HEADLINES = (
    "{s} shares climb after quarterly results beat estimates",
    "{s} faces regulatory scrutiny over new product line",
    "Analysts raise {s} price target on strong demand",
    "{s} announces share buyback programme",
    "{s} stock slips as supply constraints weigh on outlook",
    "Investors weigh {s} guidance ahead of earnings call",
)


def news_items(symbol: str) -> list[dict[str, Any]]:
    """The synthetic news stream of ``symbol``, newest first, in Yahoo's ``tickerStream`` format."""
    items = []
    for k in range(NEWS_PER_SYMBOL):
        published = NEWS_ANCHOR - pd.Timedelta(hours=7 * k + zlib.crc32(symbol.encode()) % 5)
        article_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"loopback-news/{symbol}/{k}"))
        title = HEADLINES[(k + len(symbol)) % len(HEADLINES)].format(s=symbol)
        slug = title.lower().replace(" ", "-")
        content: dict[str, Any] = {
            "id": article_id,
            "contentType": "STORY",
            "title": title,
            "description": "",
            "summary": f"{title}. More detail on what moved {symbol} today." if k % 2 == 0 else "",
            "pubDate": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "displayTime": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "isHosted": True,
            "provider": {"displayName": "Loopback Wire", "url": "http://loopback.invalid/"},
            "canonicalUrl": {"url": f"https://finance.yahoo.com/news/{slug}.html", "site": "finance", "lang": "en-US"},
            "clickThroughUrl": {"url": f"https://finance.yahoo.com/news/{slug}.html"},
            "finance": {"stockTickers": [{"symbol": symbol}]},
        }
        items.append({"id": article_id, "content": content})
    return items


def start_yahoo_server(symbols: tuple[str, ...] = SYMBOLS) -> LoopbackServer:
    """A running loopback Yahoo (close it, or use it as a context manager)."""
    handler = YahooHandler(symbols)
    return LoopbackServer(handler, handler.post)


@contextmanager
def yahoo_env(cache_dir: Path) -> Iterator[dict[str, str]]:
    """Environment for a subprocess that should use a fresh loopback Yahoo and cache."""
    with start_yahoo_server() as server:
        yield {"FINTRADE_YAHOO_URL": server.url, "FINTRADE_CACHE_DIR": str(cache_dir)}
