"""Technical signal models: moving-average cross, momentum, RSI, MACD and Bollinger bands.

All are point-in-time (the score at bar t uses bars up to t only) and all score a whole
parameter grid at once (``compute_grid``). The indicators they are built from are public,
in :mod:`fintrade.indicators`, so other models reuse them. Module roles: :mod:`.trend`
(sma-cross, momentum), :mod:`.oscillators` (rsi, macd, bollinger), :mod:`.params` (parameter
checks), :mod:`.grid` (grid frames and the single-set call).
"""

from __future__ import annotations

import fintrade
from fintrade.types import SignalModel
from fintrade_technical.grid import single
from fintrade_technical.oscillators import (
    BOLLINGER_DEFAULTS,
    MACD_DEFAULTS,
    RSI_DEFAULTS,
    bollinger_grid,
    macd_grid,
    rsi_grid,
)
from fintrade_technical.trend import MOMENTUM_DEFAULTS, SMA_CROSS_DEFAULTS, momentum_grid, sma_cross_grid

__all__ = ["fintrade_signal_models"]


@fintrade.hookimpl
def fintrade_signal_models() -> list[SignalModel]:
    models = [
        ("sma-cross", sma_cross_grid, SMA_CROSS_DEFAULTS,
         "Moving-average crossover: +1 when the fast SMA is above the slow SMA, else -1."),
        ("momentum", momentum_grid, MOMENTUM_DEFAULTS,
         "Trailing return over `lookback` bars, tanh-squashed by `scale`."),
        ("rsi", rsi_grid, RSI_DEFAULTS,
         "Wilder's RSI over `window` bars: +1 at or below `lower`, -1 at or above `upper` (mode reversion|trend)."),
        ("macd", macd_grid, MACD_DEFAULTS,
         "MACD histogram (fast/slow/signal EMAs) in units of the price's volatility, tanh-squashed."),
        ("bollinger", bollinger_grid, BOLLINGER_DEFAULTS,
         "Position within Bollinger bands: +1 at the lower band, -1 at the upper (mode reversion|trend)."),
    ]  # fmt: skip
    return [
        SignalModel(
            name=name, compute=single(grid), compute_grid=grid, defaults=dict(defaults), description=description
        )
        for name, grid, defaults, description in models
    ]
