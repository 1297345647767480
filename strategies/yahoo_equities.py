"""SMA crossover on four US large caps from Yahoo Finance, dividends reinvested, long/flat, after costs.

Needs the ``yahoo`` extra (``pip install "fintrade[yahoo]"``) and the network the first time;
the bars are cached, so later runs (and ``--offline``) read them from disk. The test suite runs
this file unchanged against a loopback Yahoo (``FINTRADE_YAHOO_URL``) with synthetic prices.

    fintrade backtest strategies/yahoo_equities.py --report out/yahoo_equities.html
"""

from collections.abc import Mapping
from typing import Any

from fintrade import Costs, Regimes, Splits, Strategy, WalkForward, signal


class YahooEquities(Strategy):
    symbols = ["AAPL", "MSFT", "JPM", "XOM"]
    source = "yahoo"
    # Total-return prices: with raw (split-adjusted only) closes, a long position would miss
    # the dividends that buy-and-hold, the baseline, collects.
    source_options = {"adjusted": True}
    interval = "1d"
    start = "2015-01-01"
    end = "2020-01-01"

    signals = [signal("sma-cross", fast=20, slow=100)]
    direction = "long_only"

    # Retail US-equity costs: 5 bps commission, 2 bps slippage, 2 bps quoted spread.
    costs = Costs(fees=0.0005, slippage=0.0002, spread=0.0002)
    splits = Splits(train=0.6, validation=0.2, test=0.2)
    walk_forward = WalkForward(folds=4, mode="rolling")
    regimes = Regimes(window=63, threshold=0.05)

    grid = {
        "sma-cross.fast": [10, 20, 50],
        "sma-cross.slow": [50, 100, 200],
    }
    objective = "sharpe"

    def accept(self, params: Mapping[str, Any]) -> bool:
        return params["sma-cross.fast"] < params["sma-cross.slow"]
