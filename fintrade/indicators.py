"""Trailing indicators on (bars x symbols) arrays: moving averages, EMA, Wilder smoothing, RSI,
MACD, Bollinger position, true range.

Every value at row t is computed from rows up to t only, so a series cut after t gives the
same values up to t (the truncation test of ``fintrade check`` relies on it). Recursive
averages loop over bars, not symbols: one numpy operation per bar covers every column.
NaN inputs are skipped by the recursions (the output is NaN at that bar and the state is
kept) and make the windows that contain them NaN.

Part of the public API (``fintrade.api``) so that every signal model computes an RSI the same
way: the technical models and market-direction's features both read them from here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "average_true_range",
    "bollinger_z",
    "ema",
    "macd_histogram",
    "rolling_means",
    "rolling_std",
    "rsi",
    "trailing_returns",
    "true_range",
    "wilder_mean",
]


def _columns(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[:, None] if values.ndim == 1 else values


def rolling_means(values: np.ndarray, windows: Sequence[int]) -> dict[int, np.ndarray]:
    """Trailing simple moving averages, NaN until a window fills.

    Computed from one cumulative sum so that each extra window costs one subtraction.
    """
    values = _columns(values)
    n_bars = values.shape[0]
    missing = np.isnan(values)
    start = np.zeros((1, values.shape[1]))
    # NaN is summed as 0 and counted apart: a NaN must spoil only the windows that hold it.
    padded = np.vstack([start, np.cumsum(np.where(missing, 0.0, values), axis=0)])
    gaps = np.vstack([start, np.cumsum(missing, axis=0)])
    means = {}
    for window in windows:
        mean = np.full(values.shape, np.nan)
        if window <= n_bars:
            total = padded[window:] - padded[:-window]
            mean[window - 1 :] = np.where(gaps[window:] - gaps[:-window] > 0, np.nan, total / window)
        means[window] = mean
    return means


def rolling_std(values: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """Trailing standard deviation over ``window`` rows (population by default, as Bollinger's).

    Two passes (mean, then squared deviations summed lag by lag) rather than the running sum of
    squares, whose cancellation loses every digit on prices near 50,000 with a tiny spread.
    """
    values = _columns(values)
    n_bars = values.shape[0]
    out = np.full(values.shape, np.nan)
    if window > n_bars or window - ddof <= 0:
        return out
    mean = rolling_means(values, [window])[window][window - 1 :]
    squares = np.zeros_like(mean)
    for lag in range(window):
        squares += (values[window - 1 - lag : n_bars - lag] - mean) ** 2
    out[window - 1 :] = np.sqrt(squares / (window - ddof))
    return out


def ema(values: np.ndarray, span: float) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (span + 1)``, started at the first value.

    The same recursion as pandas' ``ewm(span=span, adjust=False).mean()``:
    ``y_t = (1 - alpha) * y_(t-1) + alpha * x_t``.
    """
    return _recursive_mean(_columns(values), 2.0 / (span + 1.0), seed_count=1)


def wilder_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Wilder's smoothing: the mean of the first ``window`` values, then
    ``y_t = (y_(t-1) * (window - 1) + x_t) / window``; NaN until ``window`` values were seen."""
    return _recursive_mean(_columns(values), 1.0 / window, seed_count=window)


def _recursive_mean(values: np.ndarray, alpha: float, seed_count: int) -> np.ndarray:
    """The running mean of the first ``seed_count`` values of each column, then exponential
    smoothing with ``alpha``; output NaN until ``seed_count`` values were seen."""
    n_bars, n_columns = values.shape
    out = np.full(values.shape, np.nan)
    state = np.zeros(n_columns)
    seen = np.zeros(n_columns)
    for t in range(n_bars):
        row = values[t]
        present = ~np.isnan(row)
        seen = seen + present
        # While seeding, weight 1/k makes the state the plain mean of the k values seen so far.
        weight = np.where(seen <= seed_count, 1.0 / np.maximum(seen, 1.0), alpha)
        state = np.where(present, (1.0 - weight) * state + weight * np.where(present, row, 0.0), state)
        out[t] = np.where(present & (seen >= seed_count), state, np.nan)
    return out


def trailing_returns(close: np.ndarray, lookback: int, log: bool = False) -> np.ndarray:
    """Return over the last ``lookback`` bars, ``close_t / close_(t-lookback) - 1`` (or its log)."""
    close = _columns(close)
    out = np.full(close.shape, np.nan)
    if lookback < close.shape[0]:
        ratio = close[lookback:] / close[:-lookback]
        out[lookback:] = np.log(ratio) if log else ratio - 1.0
    return out


def rsi(close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's relative strength index in [0, 100]; 50 when nothing moved.

    Gains and losses of each bar are smoothed with :func:`wilder_mean`, so the first value is at
    row ``window`` (after ``window`` price changes). ``100 * gain / (gain + loss)`` is the usual
    ``100 - 100 / (1 + RS)`` without dividing by a zero loss.
    """
    close = _columns(close)
    change = np.vstack([np.full((1, close.shape[1]), np.nan), np.diff(close, axis=0)])
    gain = wilder_mean(np.where(np.isnan(change), np.nan, np.maximum(change, 0.0)), window)
    loss = wilder_mean(np.where(np.isnan(change), np.nan, np.maximum(-change, 0.0)), window)
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * gain / total, np.where(np.isnan(total), np.nan, 50.0))


def macd_histogram(close: np.ndarray, fast: int, slow: int, signal: int) -> np.ndarray:
    """MACD line (``EMA_fast - EMA_slow``) minus its ``signal``-span EMA.

    NaN for the first ``slow + signal - 2`` rows: the EMAs start at the first price, and before
    the slow average and then the signal line have seen their spans the value is mostly that start.
    """
    close = _columns(close)
    line = ema(close, fast) - ema(close, slow)
    histogram = line - ema(line, signal)
    histogram[: max(slow + signal - 2, 0)] = np.nan
    return histogram


def bollinger_z(close: np.ndarray, window: int) -> np.ndarray:
    """Distance of the close from its ``window``-bar mean in population standard deviations;
    0 when the window is flat."""
    close = _columns(close)
    mean = rolling_means(close, [window])[window]
    deviation = rolling_std(close, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(deviation > 0, (close - mean) / deviation, np.where(np.isnan(deviation), np.nan, 0.0))


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """``max(high - low, |high - previous close|, |low - previous close|)``; the first bar's is ``high - low``."""
    high, low, close = _columns(high), _columns(low), _columns(close)
    previous = np.vstack([np.full((1, close.shape[1]), np.nan), close[:-1]])
    reach = np.fmax(np.abs(high - previous), np.abs(low - previous))
    return np.fmax(high - low, reach)


def average_true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14) -> np.ndarray:
    """Wilder's average true range."""
    return wilder_mean(true_range(high, low, close), window)
