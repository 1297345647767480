"""A 400-combination SMA grid on the 5 bundled sample symbols, with walk-forward: the strategy
docs/benchmarks.md times old against new commits with (`fintrade backtest bench/ab_grid.py --json`)."""

from fintrade import Costs, Strategy, WalkForward, signal


class AbGrid(Strategy):
    symbols = ["AAPL", "AMZN", "GOOG", "MSFT", "JPM"]
    source = "sample"
    signals = [signal("sma-cross", fast=10, slow=50)]
    costs = Costs(fees=0.001, slippage=0.0005)
    walk_forward = WalkForward(folds=5, mode="rolling")
    grid = {"sma-cross.fast": list(range(5, 105, 5)), "sma-cross.slow": list(range(110, 510, 20))}
