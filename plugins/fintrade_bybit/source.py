"""The ``bybit`` data source: a request for bars becomes cached, paged Bybit downloads.

Each symbol goes through :func:`fintrade.cache.cached_bars` (source ``bybit``, adjustment
``none``), whose ``fetch(start, end)`` downloads exactly that range: candles, and for a
perpetual its funding rates summed into a ``funding_rate`` column. The ccxt client is built
and its markets loaded only when something has to be downloaded, so a cached run makes no
request at all.

Symbols are ccxt's: ``BTC/USDT`` is the spot pair, ``BTC/USDT:USDT`` the USDT-margined
linear perpetual. Options (``source_options``): ``timeout`` (seconds per request, default
10), ``retries`` (attempts per request, default 5), ``retry_delay`` (the first backoff in
seconds, default 0.5, doubling with jitter; ``Retry-After`` wins when the server sends it)
and ``rate_limit`` (default True: ccxt spaces requests to stay within Bybit's limits; turn
it off only against a local server).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pandas as pd

from fintrade.bars import to_utc_timestamp
from fintrade.cache import cached_bars, interval_length
from fintrade.errors import ConfigError, DataError, did_you_mean
from fintrade.retry import RetryPolicy
from fintrade.types import BarsRequest
from fintrade_bybit import INTERVALS
from fintrade_bybit.client import ClientSettings, call, find_market, make_exchange
from fintrade_bybit.history import fetch_bars

SOURCE = "bybit"
OPTION_DEFAULTS: dict[str, Any] = {"timeout": 10.0, "retries": 5, "retry_delay": 0.5, "rate_limit": True}
DEFAULT_BARS = 1000
"""Bars fetched when a request gives no start: one page."""


def settings_from_options(options: Mapping[str, Any]) -> ClientSettings:
    """Check ``source_options`` and turn them into client settings."""
    where = f"source {SOURCE!r}"
    for name in options:
        if name not in OPTION_DEFAULTS:
            allowed = sorted(OPTION_DEFAULTS)
            raise ConfigError(
                f"{where}: unknown option {name!r}{did_you_mean(str(name), allowed)}; options are {', '.join(allowed)}"
            )
    merged = {**OPTION_DEFAULTS, **options}
    timeout, retries, delay, rate_limit = (
        merged["timeout"],
        merged["retries"],
        merged["retry_delay"],
        merged["rate_limit"],
    )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}: option 'timeout' must be a positive number of seconds, got {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        raise ConfigError(f"{where}: option 'retries' must be a whole number of attempts >= 1, got {retries!r}")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ConfigError(f"{where}: option 'retry_delay' must be a number of seconds >= 0, got {delay!r}")
    if not isinstance(rate_limit, bool):
        raise ConfigError(f"{where}: option 'rate_limit' must be True or False, got {rate_limit!r}")
    retry = RetryPolicy(attempts=retries, base_delay=float(delay))
    return ClientSettings(timeout=float(timeout), retry=retry, rate_limit=rate_limit)


def is_perpetual(symbol: str) -> bool:
    """``BTC/USDT:USDT`` (a settle currency after ``:``) is a linear perpetual; ``BTC/USDT`` is spot."""
    return ":" in symbol


class BybitSession:
    """One ccxt client for a request, created (and its markets loaded) on the first download."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._exchange: Any = None

    @property
    def exchange(self) -> Any:
        if self._exchange is None:
            exchange = make_exchange(self.settings)
            call(exchange, "bybit markets", exchange.load_markets, self.settings)
            self._exchange = exchange
        return self._exchange

    def market(self, symbol: str) -> dict[str, Any]:
        """The market of ``symbol``, checked to be one this source reads."""
        market = find_market(self.exchange, symbol)
        if market.get("spot") and not is_perpetual(symbol):
            return market
        if market.get("swap") and market.get("linear"):
            return market
        kind = "inverse" if market.get("inverse") else market.get("type", "unknown")
        raise DataError(
            f"Bybit market {symbol!r} is a {kind} market; the bybit source reads spot pairs (BTC/USDT) "
            "and linear perpetuals (BTC/USDT:USDT)"
        )

    def fetch(self, symbol: str, interval: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Download bars of ``symbol`` opening in ``[start, end)``: the cache's ``fetch``."""
        step_ms = int(interval_length(interval).total_seconds() * 1000)
        return fetch_bars(self.exchange, self.market(symbol), interval, step_ms, start, end, self.settings)


def load_bybit_bars(request: BarsRequest) -> dict[str, pd.DataFrame]:
    """The ``bybit`` source's ``load``: ``{symbol: bars}`` from the cache, downloading what is missing.

    Without an end, bars up to the last closed one; without a start, the last
    ``DEFAULT_BARS`` bars before the end.
    """
    settings = settings_from_options(request.options)
    if request.interval not in INTERVALS:
        raise ConfigError(
            f"source {SOURCE!r}: interval {request.interval!r} is not available"
            f"{did_you_mean(request.interval, INTERVALS)}; intervals are {', '.join(INTERVALS)}"
        )
    if not request.symbols:
        raise ConfigError(f"source {SOURCE!r}: no symbols requested (e.g. symbols = ['BTC/USDT:USDT'])")
    step = interval_length(request.interval)
    end = to_utc_timestamp(request.end) or pd.Timestamp.now(tz="UTC").floor(step)
    start = to_utc_timestamp(request.start) or end - DEFAULT_BARS * step
    session = BybitSession(settings)
    bars = {}
    for symbol in request.symbols:
        bars[symbol] = cached_bars(
            source=SOURCE,
            symbol=symbol,
            interval=request.interval,
            start=start,
            end=end,
            fetch=functools.partial(session.fetch, symbol, request.interval),
        )
    return bars
