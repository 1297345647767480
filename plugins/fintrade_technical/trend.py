"""Trend-following signals: moving-average crossover and momentum.

Each scores a whole parameter grid at once: each distinct window is computed once, then
combinations are formed by indexing, so a 1,000-combination sweep costs about as much as its
distinct windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fintrade.indicators import rolling_means, trailing_returns
from fintrade.types import Signal, SignalInput
from fintrade_technical.grid import grid_signal
from fintrade_technical.params import positive_int, positive_number, with_defaults

SMA_CROSS_DEFAULTS: dict[str, Any] = {"fast": 20, "slow": 100}
MOMENTUM_DEFAULTS: dict[str, Any] = {"lookback": 20, "scale": 0.05}


def sma_cross_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """+1 while the fast average is above the slow one, -1 while below, NaN until both exist."""
    grid = [with_defaults(p, SMA_CROSS_DEFAULTS, "sma-cross") for p in grid]
    fast = [positive_int(p, "fast", "sma-cross") for p in grid]
    slow = [positive_int(p, "slow", "sma-cross") for p in grid]
    close = inputs.field("close").to_numpy(dtype=float)
    means = rolling_means(close, sorted(set(fast) | set(slow)))
    score = np.empty((close.shape[0], len(grid), close.shape[1]))
    # One combination at a time into a preallocated array: stacking every fast and slow average
    # first would build two more arrays the size of the whole grid. NaN (warm-up) stays NaN.
    for combo, (fast_window, slow_window) in enumerate(zip(fast, slow, strict=True)):
        np.sign(means[fast_window] - means[slow_window], out=score[:, combo, :])
    return grid_signal(score, inputs)


def momentum_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """The trailing ``lookback``-bar return squashed to [-1, 1] by ``tanh(return / scale)``."""
    grid = [with_defaults(p, MOMENTUM_DEFAULTS, "momentum") for p in grid]
    lookbacks = [positive_int(p, "lookback", "momentum") for p in grid]
    scales = [positive_number(p, "scale", "momentum") for p in grid]
    close = inputs.field("close").to_numpy(dtype=float)
    returns = {k: trailing_returns(close, k) for k in set(lookbacks)}
    score = np.empty((close.shape[0], len(grid), close.shape[1]))
    for combo, (lookback, scale) in enumerate(zip(lookbacks, scales, strict=True)):
        np.tanh(returns[lookback] / scale, out=score[:, combo, :])
    return grid_signal(score, inputs)
