"""Performance metrics, vectorised over many equity curves at once.

All metrics are computed on bar returns of an equity curve inside a window; the first bar
of a window earns its return from the previous close, so windows tile without gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fintrade.splits import Window

METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "volatility",
    "exposure",
    "turnover",
)
TRADE_METRICS: tuple[str, ...] = ("trades", "win_rate")
OBJECTIVES: tuple[str, ...] = ("sharpe", "sortino", "total_return", "cagr", "max_drawdown")
"""Metrics a grid can be chosen by: higher is better for each (drawdowns are negative)."""

INTERVAL_BARS_PER_YEAR = {
    "1m": 365 * 24 * 60,
    "5m": 365 * 24 * 12,
    "15m": 365 * 24 * 4,
    "30m": 365 * 24 * 2,
    "1h": 365 * 24,
    "4h": 365 * 6,
    "1d": 252,
    "1w": 52,
    "1mo": 12,
}


def bars_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year as observed in the data (252 for equities, 365 for crypto daily)."""
    if len(index) < 2:
        return 252.0
    years = (index[-1] - index[0]).total_seconds() / (365.25 * 24 * 3600)
    return (len(index) - 1) / years if years > 0 else 252.0


def bar_returns(value: np.ndarray) -> np.ndarray:
    """Simple returns per bar (bars x curves); the first bar's return is 0."""
    returns = np.zeros_like(value)
    returns[1:] = value[1:] / value[:-1] - 1.0
    return returns


@dataclass(frozen=True)
class MetricTable:
    """Metric name -> one value per curve."""

    values: dict[str, np.ndarray]

    def row(self, i: int) -> dict[str, float]:
        return {name: float(column[i]) for name, column in self.values.items()}


def compute_metrics(
    returns: np.ndarray,
    weights: np.ndarray | None,
    periods_per_year: float,
    mask: np.ndarray | None = None,
) -> MetricTable:
    """Metrics for each column of ``returns`` (bars x curves) over the bars where ``mask`` is true.

    ``weights`` (bars x curves, gross exposure held during each bar, in [0, 1]) gives exposure
    and turnover; without it they are NaN. Masked-out bars count as flat for the equity curve,
    which is what a regime or fold table means: only those bars' returns.
    """
    if mask is not None:
        returns = np.where(mask[:, None], returns, 0.0)
        n = int(mask.sum())
    else:
        n = returns.shape[0]
    n = max(n, 1)
    equity = np.cumprod(1.0 + returns, axis=0)
    total = equity[-1] - 1.0
    years = n / periods_per_year
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cagr = np.where(equity[-1] > 0, equity[-1] ** (1.0 / years) - 1.0, -1.0)
        selected = returns if mask is None else returns[mask]
        mean = selected.mean(axis=0) if len(selected) else np.zeros(returns.shape[1])
        std = selected.std(axis=0, ddof=1) if len(selected) > 1 else np.full(returns.shape[1], np.nan)
        downside = np.sqrt((np.minimum(selected, 0.0) ** 2).mean(axis=0)) if len(selected) else np.nan
        sharpe = np.where(std > 0, mean / std * np.sqrt(periods_per_year), 0.0)
        sortino = np.where(downside > 0, mean / downside * np.sqrt(periods_per_year), 0.0)
    peak = np.maximum.accumulate(equity, axis=0)
    max_drawdown = (equity / peak - 1.0).min(axis=0)
    values = {
        "total_return": total,
        "cagr": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_drawdown,
        "volatility": (std * np.sqrt(periods_per_year)) if len(selected) > 1 else np.full(returns.shape[1], np.nan),
    }
    if weights is not None:
        held = np.abs(weights)
        traded = np.abs(np.diff(np.vstack([np.zeros((1, weights.shape[1])), weights]), axis=0))
        if mask is not None:
            held = held[mask]
            traded = traded[mask]
        values["exposure"] = held.mean(axis=0) if len(held) else np.zeros(returns.shape[1])
        # Annual one-way traded value as a multiple of equity.
        values["turnover"] = traded.sum(axis=0) / 2.0 / years
    else:
        values["exposure"] = values["turnover"] = np.full(returns.shape[1], np.nan)
    return MetricTable(values)


def window_mask(n_bars: int, window: Window) -> np.ndarray:
    mask = np.zeros(n_bars, dtype=bool)
    mask[window.as_slice()] = True
    return mask


def trade_stats(trades: pd.DataFrame, mask: np.ndarray) -> dict[str, float]:
    """Closed round trips whose exit falls on a masked bar: count and share with positive PnL."""
    if trades.empty:
        return {"trades": 0.0, "win_rate": float("nan")}
    exit_idx = trades["exit_idx"].to_numpy(dtype=int)
    closed = trades["status"].to_numpy() == 1
    selected = closed & mask[np.clip(exit_idx, 0, len(mask) - 1)]
    count = int(selected.sum())
    if count == 0:
        return {"trades": 0.0, "win_rate": float("nan")}
    wins = (trades["pnl"].to_numpy(dtype=float)[selected] > 0).sum()
    return {"trades": float(count), "win_rate": float(wins / count)}
