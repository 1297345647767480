"""SMA crossover on real daily prices (StockNet, bundled), long/flat, after costs.

The grid sweeps fast and slow windows; the pair is chosen on the train split (and again in
each walk-forward fold on its in-sample part only) by Sharpe ratio, then judged out of sample.

    fintrade backtest strategies/sma_crossover.py --report out/sma_crossover.html
"""

from collections.abc import Mapping
from typing import Any

from fintrade import Costs, Regimes, Splits, Strategy, WalkForward, signal


class SmaCrossover(Strategy):
    symbols = ["AAPL", "AMZN", "GOOG", "MSFT", "JPM"]
    source = "sample"
    interval = "1d"
    start = "2012-09-01"
    end = "2017-09-02"

    signals = [signal("sma-cross", fast=20, slow=100)]
    direction = "long_only"

    # Interactive-broker-like equity costs: 5 bps commission, 2 bps slippage, 2 bps quoted spread.
    costs = Costs(fees=0.0005, slippage=0.0002, spread=0.0002)
    splits = Splits(train=0.6, validation=0.2, test=0.2)
    walk_forward = WalkForward(folds=5, mode="rolling")
    regimes = Regimes(window=63, threshold=0.05)

    grid = {
        "sma-cross.fast": [5, 10, 15, 20, 30, 40, 50],
        "sma-cross.slow": [50, 75, 100, 125, 150, 200],
    }
    objective = "sharpe"

    def accept(self, params: Mapping[str, Any]) -> bool:
        return params["sma-cross.fast"] < params["sma-cross.slow"]
