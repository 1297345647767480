"""Built-in plugin: Yahoo Finance bars and headlines through yfinance (the ``yahoo`` extra).

Data source ``yahoo`` (:func:`load_yahoo_bars`): daily and intraday OHLCV for any Yahoo
symbol (``AAPL``, ``BRK-B``, ``^GSPC``, ``EURUSD=X``, ``BTC-USD``), through the bar cache, so a
repeated run makes no request and a longer range downloads only what is missing. Options:
``adjusted`` (default False: Yahoo's split-adjusted close; True: dividends reinvested too),
``timeout`` (seconds per request, default 10), ``attempts`` (default 5) and ``backoff`` (the
first wait between attempts, default 0.5 s, doubling with jitter).

Text source ``yahoo-news`` (:func:`load_yahoo_news`): the latest headlines for each symbol.
Options ``count`` (default 20), ``tab`` (``news``, ``all`` or ``press releases``),
``attempts``, ``backoff``.

Example strategy settings::

    source = "yahoo"
    source_options = {"adjusted": True}
    text_source = "yahoo-news"

``FINTRADE_YAHOO_URL=http://host:port`` sends every Yahoo request to that base URL instead
(a mirror or proxy of Yahoo's API; the test suite's loopback server).

The CLI imports every built-in plugin to build its command list, so this module imports
neither yfinance nor pandas: they are imported when a source first loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import fintrade
from fintrade.deferred import deferred, lazy_exports
from fintrade.types import DataSource, TextSource

if TYPE_CHECKING:
    from fintrade_yahoo.news import load_yahoo_news
    from fintrade_yahoo.prices import load_yahoo_bars

INTERVALS: tuple[str, ...] = ("1m", "2m", "5m", "15m", "30m", "90m", "1h", "1d")

_PUBLIC: dict[str, str] = {
    "load_yahoo_bars": "fintrade_yahoo.prices",
    "load_yahoo_news": "fintrade_yahoo.news",
}

__getattr__ = lazy_exports(__name__, _PUBLIC)


@fintrade.hookimpl
def fintrade_data_sources() -> Iterator[DataSource]:
    """The ``yahoo`` data source."""
    yield DataSource(
        name="yahoo",
        load=deferred("fintrade_yahoo.prices:load_yahoo_bars"),
        description="Yahoo Finance OHLCV via yfinance, cached (options adjusted, timeout, attempts, backoff)",
        intervals=INTERVALS,
        # Yahoo labels daily bars by midnight UTC of the trading date; US equities close at
        # 16:00 New York. For 24-hour symbols (BTC-USD) this is earlier than the true close,
        # which only delays documents: safe, never a leak.
        session_close="16:00 America/New_York",
    )


@fintrade.hookimpl
def fintrade_text_sources() -> Iterator[TextSource]:
    """The ``yahoo-news`` text source."""
    yield TextSource(
        name="yahoo-news",
        load=deferred("fintrade_yahoo.news:load_yahoo_news"),
        description="Latest Yahoo Finance headlines per symbol via yfinance (options count, tab, attempts, backoff)",
    )


__all__ = ["INTERVALS", "fintrade_data_sources", "fintrade_text_sources", "load_yahoo_bars", "load_yahoo_news"]
