"""Technical signal models: moving-average crossover and momentum.

Both are point-in-time (the score at bar t uses closes up to t) and both score a whole
parameter grid at once: each distinct window is computed once, then combinations are formed
by indexing, so a 1,000-combination sweep costs about as much as its distinct windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import fintrade
from fintrade.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

from fintrade.types import Signal, SignalInput, SignalModel


def rolling_means(close: np.ndarray, windows: Sequence[int]) -> dict[int, np.ndarray]:
    """Trailing simple moving averages of ``close`` (bars x symbols), NaN until a window fills.

    Computed from one cumulative sum so that each extra window costs one subtraction.
    """
    n_bars = close.shape[0]
    padded = np.vstack([np.zeros((1, close.shape[1])), np.cumsum(close, axis=0)])
    means = {}
    for window in windows:
        mean = np.full(close.shape, np.nan)
        if window <= n_bars:
            mean[window - 1 :] = (padded[window:] - padded[:-window]) / window
        means[window] = mean
    return means


def _positive_int(params: Mapping[str, Any], name: str, model: str) -> int:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"signal model {model!r}: parameter {name!r} must be a positive integer, got {value!r}")
    return int(value)


def _grid_frame(values: np.ndarray, index: pd.Index, symbols: Sequence[str]) -> pd.DataFrame:
    """(bars, combos, symbols) -> frame with ``(combo, symbol)`` columns."""
    import pandas as pd

    n_bars, n_combos, n_symbols = values.shape
    columns = pd.MultiIndex.from_product([range(n_combos), list(symbols)], names=["combo", "symbol"])
    return pd.DataFrame(values.reshape(n_bars, n_combos * n_symbols), index=index, columns=columns, copy=False)


def sma_cross_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """+1 while the fast average is above the slow one, -1 while below, NaN until both exist."""
    fast = [_positive_int(p, "fast", "sma-cross") for p in grid]
    slow = [_positive_int(p, "slow", "sma-cross") for p in grid]
    close = inputs.field("close")
    means = rolling_means(close.to_numpy(dtype=float), sorted(set(fast) | set(slow)))
    score = np.empty((len(close), len(grid), close.shape[1]))
    # One combination at a time into a preallocated array: stacking every fast and slow average
    # first would build two more arrays the size of the whole grid. NaN (warm-up) stays NaN.
    for combo, (fast_window, slow_window) in enumerate(zip(fast, slow, strict=True)):
        np.sign(means[fast_window] - means[slow_window], out=score[:, combo, :])
    frame = _grid_frame(score, close.index, close.columns)
    return Signal.certain(frame)


def momentum_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """The trailing ``lookback``-bar return squashed to [-1, 1] by ``tanh(return / scale)``."""
    lookbacks = [_positive_int(p, "lookback", "momentum") for p in grid]
    scales = [float(p["scale"]) for p in grid]
    close = inputs.field("close").to_numpy(dtype=float)
    trailing = np.stack(
        [np.concatenate([np.full((k, close.shape[1]), np.nan), close[k:] / close[:-k] - 1.0]) for k in lookbacks],
        axis=1,
    )
    score = np.tanh(trailing / np.asarray(scales)[None, :, None])
    frame = _grid_frame(score, inputs.index, inputs.symbols)
    return Signal.certain(frame)


def _single(grid_function: Any) -> Any:
    def compute(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
        signal = grid_function(inputs, [params])
        return Signal(signal.score.droplevel("combo", axis=1), signal.confidence.droplevel("combo", axis=1))

    compute.__doc__ = grid_function.__doc__
    return compute


@fintrade.hookimpl
def fintrade_signal_models() -> list[SignalModel]:
    return [
        SignalModel(
            name="sma-cross",
            compute=_single(sma_cross_grid),
            compute_grid=sma_cross_grid,
            defaults={"fast": 20, "slow": 100},
            description="Moving-average crossover: +1 when the fast SMA is above the slow SMA, else -1.",
        ),
        SignalModel(
            name="momentum",
            compute=_single(momentum_grid),
            compute_grid=momentum_grid,
            defaults={"lookback": 20, "scale": 0.05},
            description="Trailing return over `lookback` bars, tanh-squashed by `scale`.",
        ),
    ]
