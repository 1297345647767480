"""Numeric features of each bar, from bars up to and including it.

Per symbol and bar t: log returns over 1, 5 and 20 bars; volume over its 20-bar mean;
volatility (20-bar standard deviation of one-bar log returns); RSI(14) centred on 0; the
MACD(12, 26, 9) histogram over the close; the Bollinger position (distance from the 20-bar
mean in units of the 2-standard-deviation band half-width); ATR(14) over the close. All
trailing, so a row's features are known at its bar's close. NaN during each one's warm-up.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fintrade.indicators import (
    average_true_range,
    bollinger_z,
    macd_histogram,
    rolling_means,
    rolling_std,
    rsi,
    trailing_returns,
)

RETURN_WINDOWS: tuple[int, ...] = (1, 5, 20)
WINDOW = 20
RSI_WINDOW = 14
MACD_SPANS = (12, 26, 9)
BOLLINGER_WIDTH = 2.0
ATR_WINDOW = 14
FEATURE_NAMES: tuple[str, ...] = (
    *(f"return_{k}" for k in RETURN_WINDOWS),
    "volume_ratio",
    "volatility",
    "rsi",
    "macd",
    "bollinger",
    "atr_ratio",
)
VOLATILITY = FEATURE_NAMES.index("volatility")


def numeric_features(fields: Mapping[str, np.ndarray]) -> np.ndarray:
    """(bars, symbols, features) in :data:`FEATURE_NAMES` order, from (bars, symbols) arrays
    ``high``, ``low``, ``close`` and ``volume``."""
    close, volume = fields["close"], fields["volume"]
    one_bar = trailing_returns(close, 1, log=True)
    mean_volume = rolling_means(volume, [WINDOW])[WINDOW]
    with np.errstate(invalid="ignore", divide="ignore"):
        # A market without volume (some FX feeds report 0) reads as ordinary volume, not as a spike.
        volume_ratio = np.where(mean_volume > 0, volume / mean_volume, np.where(np.isnan(mean_volume), np.nan, 1.0))
    columns = [
        *(trailing_returns(close, k, log=True) for k in RETURN_WINDOWS),
        volume_ratio,
        rolling_std(one_bar, WINDOW),
        rsi(close, RSI_WINDOW) / 100.0 - 0.5,
        macd_histogram(close, *MACD_SPANS) / close,
        bollinger_z(close, WINDOW) / BOLLINGER_WIDTH,
        average_true_range(fields["high"], fields["low"], close, ATR_WINDOW) / close,
    ]
    return np.stack(columns, axis=-1)
