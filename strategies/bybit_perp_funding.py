"""Momentum on Bybit USDT perpetuals (BTC, ETH), long or short, after taker fees and funding.

Daily bars from Bybit's v5 API (cached after the first run). The perpetual bars carry
``funding_rate``, so the backtest charges funding on every position held over a settlement
(00:00, 08:00 and 16:00 UTC): longs pay when the rate is positive, shorts receive it. Fees
are Bybit's base-tier taker rate (``bybit-linear-taker``). The lookback is chosen on the
train split, then judged out of sample and in walk-forward folds.

    fintrade backtest strategies/bybit_perp_funding.py --report out/bybit_perp_funding.html

It needs the network the first time (``pip install 'fintrade[bybit]'``); the test suite runs
it unchanged against a loopback Bybit through ``FINTRADE_BYBIT_URL``.
"""

from fintrade import Regimes, Splits, Strategy, WalkForward, signal


class BybitPerpMomentum(Strategy):
    symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    source = "bybit"
    interval = "1d"
    start = "2021-01-01"
    end = "2024-01-01"

    signals = [signal("momentum", lookback=20, scale=0.1)]
    direction = "long_short"

    costs = "bybit-linear-taker"
    splits = Splits(train=0.6, validation=0.2, test=0.2)
    walk_forward = WalkForward(folds=4, mode="rolling")
    regimes = Regimes(window=30, threshold=0.1)

    grid = {"momentum.lookback": [5, 10, 20, 40, 60]}
    objective = "sharpe"
