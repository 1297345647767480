"""Built-in plugin: real sample data bundled with fintrade (StockNet, MIT licence).

Data source ``sample``: daily bars of AAPL, AMZN, GOOG, JPM and MSFT, 2012-09-04 ..
2017-09-01, labelled by the 09:30 New York session open in UTC (see :mod:`.prices`).
Text source ``sample-tweets``: 41,340 tweets about them, 2013-12-31 .. 2016-03-31 (UTC).

Both work offline; see ``README.md`` next to this file for provenance and licence.

The CLI imports every built-in plugin to build its command list, so this module imports no
pandas: the readers live in submodules, imported when a source is first loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import fintrade
from fintrade.deferred import deferred, lazy_exports
from fintrade.types import DataSource, TextSource
from fintrade_sample.bundle import available_symbols

if TYPE_CHECKING:
    from fintrade_sample.prices import EXCHANGE_TIMEZONE, SESSION_OPEN, load_bars, session_open_utc
    from fintrade_sample.tweets import load_tweets

_PUBLIC: dict[str, str] = {
    "EXCHANGE_TIMEZONE": "fintrade_sample.prices",
    "SESSION_OPEN": "fintrade_sample.prices",
    "load_bars": "fintrade_sample.prices",
    "session_open_utc": "fintrade_sample.prices",
    "load_tweets": "fintrade_sample.tweets",
}


__getattr__ = lazy_exports(__name__, _PUBLIC)


@fintrade.hookimpl
def fintrade_data_sources() -> Iterator[DataSource]:
    """The ``sample`` data source."""
    yield DataSource(
        name="sample",
        load=deferred("fintrade_sample.prices:load_sample_bars"),
        description=f"Bundled daily bars ({', '.join(available_symbols())}), 2012-09..2017-09, StockNet (MIT)",
        intervals=("1d",),
        session_close="16:00 America/New_York",
    )


@fintrade.hookimpl
def fintrade_text_sources() -> Iterator[TextSource]:
    """The ``sample-tweets`` text source."""
    yield TextSource(
        name="sample-tweets",
        load=deferred("fintrade_sample.tweets:load_sample_tweets"),
        description="Bundled tweets about the sample symbols, 2013-12..2016-03, StockNet (MIT)",
    )


__all__ = [
    "EXCHANGE_TIMEZONE",
    "SESSION_OPEN",
    "available_symbols",
    "fintrade_data_sources",
    "fintrade_text_sources",
    "load_bars",
    "load_tweets",
    "session_open_utc",
]
