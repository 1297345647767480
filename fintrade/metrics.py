"""Performance metrics, vectorised over many equity curves at once.

All metrics are computed on bar returns of an equity curve inside a window. A bar's return
runs from the previous close to its own close, so windows tile without gaps: a window that
starts at bar k > 0 keeps bar k's return from bar k-1's close. The series' first bar has no
previous close, hence no return (NaN from :func:`bar_returns`); it is not counted anywhere,
neither in the means and deviations nor in the year count.

Conventions (docs/index.md, "How the numbers are computed", says why):

- bars per year are observed from the data (:func:`bars_per_year`), and years are the number
  of counted returns over them, so CAGR over the whole history uses its calendar span;
- Sharpe and Sortino use a zero risk-free rate, the sample standard deviation (``ddof=1``)
  and the downside deviation below zero over every counted bar (``ddof=0``), scaled by
  ``sqrt(bars per year)``; volatility is the same deviation scaled the same way;
- exposure is gross, at portfolio level: sum over symbols of ``|weight|``, averaged over bars;
- turnover is one-way: half the value bought and sold per year, as a multiple of equity.
"""

from __future__ import annotations

from collections.abc import Collection
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
    """Simple returns per bar (bars x curves); the first bar has none (NaN: no previous close)."""
    returns = np.full(value.shape, np.nan)
    returns[1:] = value[1:] / value[:-1] - 1.0
    return returns


#: Metrics that extrapolate a window to a year; over a short window they are not meaningful.
ANNUALISED: tuple[str, ...] = ("cagr", "sharpe", "sortino", "volatility", "turnover")
#: The key, in a window's metrics, that says whether its annualised figures mean anything.
ANNUALISED_FLAG = "annualised_meaningful"


@dataclass(frozen=True)
class MetricTable:
    """Metric name -> one value per curve, and the years the counted returns span."""

    values: dict[str, np.ndarray]
    years: float = float("nan")

    def row(self, i: int) -> dict[str, float]:
        return {name: float(column[i]) for name, column in self.values.items()}


@dataclass(frozen=True)
class PortfolioWeights:
    """Per bar, per portfolio (bars x portfolios): gross exposure held and fraction of equity traded."""

    exposure: np.ndarray
    traded: np.ndarray


def portfolio_weights(
    sleeve_value: np.ndarray, sleeve_weight: np.ndarray, sleeve_traded: np.ndarray, n_symbols: int
) -> PortfolioWeights:
    """Portfolio-level exposure and traded fraction from per-symbol sleeves.

    The arrays are bars x (portfolios * ``n_symbols``), symbols varying fastest: each sleeve's
    equity at each close, the signed target weight in force after each bar's fill (a fraction
    of the sleeve), and the value its fills traded at each bar (``sum |units * price|``). A
    portfolio's value is the sum of its sleeves, so a symbol's weight in the portfolio is its
    sleeve weight times the sleeve's share of the portfolio's value.

    Traded at bar t = the fills' value over the portfolio's equity at the previous close (the
    last value known when the fills are sized): the sum over symbols of ``|change in signed
    portfolio weight|``. A flip from +1 to -1 trades twice the sleeve, and opposite trades in
    two symbols add up instead of cancelling. Drift between fills is not traded, so it is not
    turnover. Exposure = sum over symbols of ``|w(t)| * share``, with the share at the previous
    close: the gross exposure the strategy holds during bar t.
    """
    n_bars = sleeve_value.shape[0]
    value = sleeve_value.reshape(n_bars, -1, n_symbols)
    weight = sleeve_weight.reshape(n_bars, -1, n_symbols)
    total = value.sum(axis=2)
    previous = np.vstack([total[:1], total[:-1]])  # the first bar: its own close (nothing earlier)
    share = np.full(value.shape, 1.0 / n_symbols)
    with np.errstate(divide="ignore", invalid="ignore"):
        if n_bars > 1:
            share[1:] = np.where(total[:-1, :, None] != 0, value[:-1] / total[:-1, :, None], 1.0 / n_symbols)
        traded = sleeve_traded.reshape(n_bars, -1, n_symbols).sum(axis=2) / previous
    return PortfolioWeights(exposure=(np.abs(weight) * share).sum(axis=2), traded=traded)


def compute_metrics(
    returns: np.ndarray,
    periods_per_year: float,
    mask: np.ndarray | None = None,
    *,
    weights: PortfolioWeights | None = None,
    names: Collection[str] = METRICS,
) -> MetricTable:
    """Metrics for each column of ``returns`` (bars x curves) over the bars where ``mask`` is true.

    Only bars with a return count: a NaN row (the series' first bar) is left out of every
    figure and of the year count, so a window of ``n`` bars starting at bar 0 is judged on
    ``n - 1`` returns. A window with no counted bar has every metric NaN (null in JSON).
    ``weights`` (:func:`portfolio_weights`) gives exposure and turnover; without it they are
    NaN. Masked-out bars count as flat for the equity curve, which is what a regime or fold
    table means: only those bars' returns. ``names`` limits the work (and the table) to those
    metrics: choosing among a grid needs one.
    """
    counted = ~np.isnan(returns).any(axis=1)
    if mask is not None:
        counted &= mask
    n = int(counted.sum())
    if n == 0:
        return MetricTable({name: np.full(returns.shape[1], np.nan) for name in names}, years=0.0)
    selected = returns[counted]
    years = n / periods_per_year
    nan = np.full(returns.shape[1], np.nan)
    values: dict[str, np.ndarray] = {}
    if {"total_return", "cagr", "max_drawdown"} & set(names):
        equity = np.cumprod(1.0 + np.where(counted[:, None], returns, 0.0), axis=0)
        values["total_return"] = equity[-1] - 1.0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            values["cagr"] = np.where(equity[-1] > 0, equity[-1] ** (1.0 / years) - 1.0, -1.0)
        if "max_drawdown" in names:
            # Drawdowns run from the window's starting equity of 1 (a loss on its first bar counts).
            peak = np.maximum(np.maximum.accumulate(equity, axis=0), 1.0)
            values["max_drawdown"] = (equity / peak - 1.0).min(axis=0)
    if {"sharpe", "sortino", "volatility"} & set(names):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            mean = selected.mean(axis=0)
            # One return has no spread: volatility and the ratios need two.
            std = selected.std(axis=0, ddof=1) if n > 1 else nan
            # The same return on every bar has no deviation, however the mean was rounded (summed
            # beside other curves, a constant 0.001 shows a std of 1e-17 and a Sharpe of 1e16).
            std = np.where(selected.max(axis=0, initial=-np.inf) == selected.min(axis=0, initial=np.inf), 0.0, std)
            scale = np.sqrt(periods_per_year)
            # No deviation: a curve that never moves has ratios of 0; a return without risk has none.
            still = np.where(mean == 0, 0.0, np.nan)
            values["sharpe"] = np.where(std > 0, mean / std * scale, still)
            if "sortino" in names:
                downside = np.sqrt((np.minimum(selected, 0.0) ** 2).mean(axis=0))
                values["sortino"] = np.where(downside > 0, mean / downside * scale, still) if n > 1 else nan
            values["volatility"] = std * scale
    if weights is not None:
        values["exposure"] = weights.exposure[counted].mean(axis=0)
        # One-way: a round trip of the whole equity (buy 1, sell 1) is a turnover of 1.
        values["turnover"] = weights.traded[counted].sum(axis=0) / 2.0 / years
    else:
        values["exposure"] = values["turnover"] = nan.copy()
    return MetricTable({name: values[name] for name in names}, years=years)


SCORE_BLOCK = 2048
"""Curves scored at once by :func:`window_scores`: keeps its temporaries to a few MB per block."""


def window_scores(
    returns: np.ndarray, periods_per_year: float, name: str, window: Window, counted: np.ndarray
) -> np.ndarray:
    """One metric for every column of ``returns`` over the bars of ``window``, on those rows only.

    The same figures as :func:`compute_metrics` over the whole series with ``window``'s mask
    (masked-out bars are flat), without touching the bars outside it, in blocks of columns so
    that a grid of any width needs a few MB. ``counted`` (one per bar) says which bars have a
    return in every column; the others count in no column, as in :func:`compute_metrics`.
    """
    rows = window.as_slice()
    selected = returns[rows]
    mask = counted[rows]
    scores = np.empty(returns.shape[1])
    for start in range(0, returns.shape[1], SCORE_BLOCK):
        block = slice(start, start + SCORE_BLOCK)
        columns = selected[:, block]
        if columns.shape[1] == 1:
            # numpy sums a lone column pairwise but several columns bar by bar: two copies of the
            # column keep its figures those of the same column scored beside others.
            columns = np.repeat(columns, 2, axis=1)
        found = compute_metrics(columns, periods_per_year, mask, names=(name,)).values[name]
        scores[block] = found[: scores[block].size]
    return scores


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
