"""Built-in plugin: Bybit market data and fees (needs the ``bybit`` extra: ccxt).

Data source ``bybit`` (:func:`load_bybit_bars`): spot (``BTC/USDT``) and USDT linear
perpetual (``BTC/USDT:USDT``) OHLCV from Bybit's v5 market API through ccxt, intervals 1m to
1d, cached; perpetual bars carry ``funding_rate`` (the funding settled during the bar,
positive when longs pay shorts). Cost presets ``bybit-spot-taker``, ``bybit-spot-maker``,
``bybit-linear-taker`` and ``bybit-linear-maker`` (Bybit's base-tier fees).

Example strategy settings::

    symbols = ["BTC/USDT:USDT"]
    source = "bybit"
    interval = "4h"
    costs = "bybit-linear-taker"

``FINTRADE_BYBIT_URL=http://host:port`` sends every request to another base URL (a proxy,
a mirror, or the test suite's loopback server). The CLI imports every built-in plugin to
build its command list, so this module imports neither pandas nor ccxt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import fintrade
from fintrade.deferred import deferred, lazy_exports
from fintrade.types import CostPreset, DataSource
from fintrade_bybit.fees import PRESETS

if TYPE_CHECKING:
    from fintrade_bybit.source import load_bybit_bars

# Here rather than in .source, so that registering the source imports no pandas.
INTERVALS: tuple[str, ...] = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")

__getattr__ = lazy_exports(__name__, {"load_bybit_bars": "fintrade_bybit.source"})


@fintrade.hookimpl
def fintrade_data_sources() -> Iterator[DataSource]:
    """The ``bybit`` data source."""
    yield DataSource(
        name="bybit",
        load=deferred("fintrade_bybit.source:load_bybit_bars"),
        description="Bybit spot (BTC/USDT) and USDT perpetual (BTC/USDT:USDT) bars with funding, via ccxt (cached)",
        intervals=INTERVALS,
    )


@fintrade.hookimpl
def fintrade_cost_presets() -> Iterator[CostPreset]:
    """Bybit's base-tier maker and taker fees for spot and USDT perpetuals."""
    yield from PRESETS


__all__ = ["INTERVALS", "PRESETS", "fintrade_cost_presets", "fintrade_data_sources", "load_bybit_bars"]
