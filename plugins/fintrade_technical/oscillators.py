"""Oscillator signals: RSI, MACD and Bollinger bands.

RSI and Bollinger read an over-extension; ``mode="reversion"`` (the default) bets on its
undoing (oversold is a buy), ``mode="trend"`` on its continuation. MACD's histogram is a trend
signal. Each scores a parameter grid at once, computing each distinct indicator once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fintrade.errors import ConfigError
from fintrade.indicators import bollinger_z, macd_histogram, rolling_std, rsi, trailing_returns
from fintrade.types import Signal, SignalInput
from fintrade_technical.grid import grid_signal
from fintrade_technical.params import choice, number_between, positive_int, positive_number, with_defaults

MODES: tuple[str, ...] = ("reversion", "trend")
RSI_DEFAULTS: dict[str, Any] = {"window": 14, "lower": 30.0, "upper": 70.0, "mode": "reversion"}
MACD_DEFAULTS: dict[str, Any] = {"fast": 12, "slow": 26, "signal": 9, "scale": 0.5}
BOLLINGER_DEFAULTS: dict[str, Any] = {"window": 20, "width": 2.0, "mode": "reversion"}


def _direction(mode: str) -> float:
    return 1.0 if mode == "reversion" else -1.0


def rsi_score(values: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Mean-reversion score of RSI values: +1 at or below ``lower`` (oversold), -1 at or above
    ``upper`` (overbought), linear in between through 0 at 50."""
    with np.errstate(invalid="ignore"):
        score = np.where(values < 50.0, (50.0 - values) / (50.0 - lower), (50.0 - values) / (upper - 50.0))
    return np.clip(score, -1.0, 1.0)


def rsi_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """Wilder's RSI over ``window`` bars, scored from the ``lower``/``upper`` levels."""
    grid = [with_defaults(p, RSI_DEFAULTS, "rsi") for p in grid]
    windows = [positive_int(p, "window", "rsi") for p in grid]
    levels = []
    for params in grid:
        lower = number_between(params, "lower", 0.0, 100.0, "rsi")
        upper = number_between(params, "upper", 0.0, 100.0, "rsi")
        if not lower < 50.0 < upper:
            raise ConfigError(
                f"signal model 'rsi': levels must satisfy lower < 50 < upper, got {lower:g} and {upper:g}"
            )
        levels.append((lower, upper, _direction(choice(params, "mode", MODES, "rsi"))))
    close = inputs.field("close").to_numpy(dtype=float)
    values = {window: rsi(close, window) for window in set(windows)}
    score = np.empty((close.shape[0], len(grid), close.shape[1]))
    for combo, (window, (lower, upper, direction)) in enumerate(zip(windows, levels, strict=True)):
        score[:, combo, :] = direction * rsi_score(values[window], lower, upper)
    return grid_signal(score, inputs)


def macd_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """``tanh(histogram / (scale * close * volatility))``: the MACD histogram measured in the
    price's own trailing volatility (standard deviation of one-bar returns over ``slow`` bars),
    so one ``scale`` suits a quiet bond and a busy coin alike."""
    grid = [with_defaults(p, MACD_DEFAULTS, "macd") for p in grid]
    settings = []
    for params in grid:
        fast, slow = positive_int(params, "fast", "macd"), positive_int(params, "slow", "macd")
        if fast >= slow:
            raise ConfigError(f"signal model 'macd': fast ({fast}) must be shorter than slow ({slow})")
        settings.append((fast, slow, positive_int(params, "signal", "macd"), positive_number(params, "scale", "macd")))
    close = inputs.field("close").to_numpy(dtype=float)
    returns = trailing_returns(close, 1)
    volatility = {slow: rolling_std(returns, slow) for slow in {s[1] for s in settings}}
    histograms: dict[tuple[int, int, int], np.ndarray] = {}
    score = np.empty((close.shape[0], len(grid), close.shape[1]))
    for combo, (fast, slow, signal, scale) in enumerate(settings):
        key = (fast, slow, signal)
        if key not in histograms:
            histograms[key] = macd_histogram(close, fast, slow, signal)
        unit = scale * close * volatility[slow]
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(unit > 0, np.tanh(histograms[key] / unit), 0.0)
        score[:, combo, :] = np.where(np.isnan(histograms[key]) | np.isnan(unit), np.nan, value)
    return grid_signal(score, inputs)


def bollinger_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """Position within Bollinger bands (``window``-bar mean ± ``width`` population standard
    deviations): -1 at the upper band, +1 at the lower (reversion), the reverse in trend mode."""
    grid = [with_defaults(p, BOLLINGER_DEFAULTS, "bollinger") for p in grid]
    windows = []
    for params in grid:
        window = positive_int(params, "window", "bollinger")
        if window < 2:
            raise ConfigError(f"signal model 'bollinger': parameter 'window' must be at least 2, got {window}")
        windows.append(window)
    widths = [positive_number(p, "width", "bollinger") for p in grid]
    directions = [_direction(choice(p, "mode", MODES, "bollinger")) for p in grid]
    close = inputs.field("close").to_numpy(dtype=float)
    z = {window: bollinger_z(close, window) for window in set(windows)}
    score = np.empty((close.shape[0], len(grid), close.shape[1]))
    for combo, (window, width, direction) in enumerate(zip(windows, widths, directions, strict=True)):
        score[:, combo, :] = np.clip(-direction * z[window] / width, -1.0, 1.0)
    return grid_signal(score, inputs)
