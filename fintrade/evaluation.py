"""The honest answer: a strategy judged out of sample, per split, per fold, per regime, per cost level.

Signals for every grid combination are computed and simulated once over the whole history
(they are point-in-time, which ``fintrade check`` verifies). Parameters are then chosen by the
objective on in-sample windows only, and judged on windows that played no part in choosing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fintrade.alignment import bars_through
from fintrade.data import bars_hash, load_signal_inputs
from fintrade.engine import Simulation, simulate
from fintrade.errors import ConfigError, did_you_mean
from fintrade.metrics import (
    OBJECTIVES,
    bar_returns,
    bars_per_year,
    compute_metrics,
    trade_stats,
    window_mask,
)
from fintrade.regimes import REGIMES
from fintrade.registry import Registry
from fintrade.splits import Window
from fintrade.strategy import Strategy
from fintrade.sweep import combined_signal, describe, expand_grid, target_positions

Progress = Callable[[str], None]


@dataclass
class Curves:
    """Equity curves (starting at 1) and the regime of each bar, for reports."""

    index: pd.DatetimeIndex
    strategy: np.ndarray
    walk_forward: np.ndarray | None
    benchmark: np.ndarray
    regime: np.ndarray
    #: True for bars at or before the signal models' knowledge cutoff (None: no model has one).
    pre_cutoff: np.ndarray | None = None


@dataclass
class BacktestResult:
    """Everything a backtest reports; :meth:`to_dict` is the stable JSON form."""

    strategy: str
    symbols: list[str]
    start: str
    end: str
    bars: int
    objective: str
    combinations: int
    chosen: dict[str, Any]
    splits: dict[str, dict[str, Any]]
    walk_forward: dict[str, Any] | None
    regimes: dict[str, Any]
    cost_sensitivity: list[dict[str, Any]]
    top_combinations: list[dict[str, Any]]
    warnings: list[str]
    curves: Curves
    data_hashes: dict[str, str] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    #: The latest training date of the signal models and the headline metrics with and without
    #: the bars up to it (see :func:`_cutoff_window`); None when no model reports one.
    knowledge_cutoff: dict[str, Any] | None = None
    #: The strategy beside its baselines and buy-and-hold, judged on the same window
    #: (:func:`fintrade.comparison.run_with_baselines`); None when the strategy names none.
    comparison: dict[str, Any] | None = None
    #: Equity curves (growth of 1) of the baselines on that window, for the report.
    baseline_curves: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "symbols": self.symbols,
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "objective": self.objective,
            "combinations": self.combinations,
            "chosen_params": self.chosen,
            "splits": self.splits,
            "walk_forward": self.walk_forward,
            "regimes": self.regimes,
            "cost_sensitivity": self.cost_sensitivity,
            "top_combinations": self.top_combinations,
            "warnings": self.warnings,
            "knowledge_cutoff": self.knowledge_cutoff,
            "comparison": self.comparison,
        }


def _clean(values: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: missing values become null."""
    return {k: (None if v is None or not np.isfinite(v) else round(float(v), 6)) for k, v in values.items()}


def _date(index: pd.DatetimeIndex, position: int) -> str:
    return index[min(position, len(index) - 1)].isoformat()


def _window_dates(index: pd.DatetimeIndex, window: Window) -> dict[str, str]:
    return {"start": _date(index, window.start), "end": _date(index, window.stop - 1)}


def _cutoff_window(
    book: _Book, column: int, benchmark: _Book, mask: np.ndarray, pre_cutoff: np.ndarray, periods: float
) -> dict[str, Any]:
    """Metrics of one evaluated window with every bar, and without the bars up to the cutoff."""
    after = mask & ~pre_cutoff
    return {
        "bars": int(mask.sum()),
        "flagged_bars": int((mask & pre_cutoff).sum()),
        "all_bars": _clean(book.metrics(column, mask, periods)),
        "after_cutoff": _clean(book.metrics(column, after, periods)) if after.any() else None,
        "benchmark_after_cutoff": _clean(benchmark.metrics(0, after, periods)) if after.any() else None,
    }


class _Book:
    """Per-combination equity, returns and exposure from one simulation of ``(combo, symbol)`` columns."""

    def __init__(self, simulation: Simulation, n_symbols: int) -> None:
        n_bars = simulation.value.shape[0]
        self.simulation = simulation
        self.value = simulation.value.reshape(n_bars, -1, n_symbols).sum(axis=2)
        self.weight = np.abs(simulation.weight).reshape(n_bars, -1, n_symbols).mean(axis=2)
        self.returns = bar_returns(self.value)
        self.n_symbols = n_symbols
        self._trades: pd.DataFrame | None = None

    @property
    def trades(self) -> pd.DataFrame:
        """Round-trip records, computed once: vectorbt derives them from all orders of all columns."""
        if self._trades is None:
            self._trades = self.simulation.portfolio.trades.records
        return self._trades

    def metrics(self, column: int, mask: np.ndarray | None, periods: float) -> dict[str, float]:
        table = compute_metrics(self.returns[:, [column]], self.weight[:, [column]], periods, mask)
        values = table.row(0)
        trades = self.trades
        if mask is None:
            mask = np.ones(self.value.shape[0], dtype=bool)
        columns = range(column * self.n_symbols, (column + 1) * self.n_symbols)
        values.update(trade_stats(trades[trades["col"].isin(columns)], mask))
        return values


def run_backtest(
    strategy: Strategy,
    registry: Registry,
    *,
    progress: Progress = lambda stage: None,
) -> BacktestResult:
    """Load data, compute signals for the whole grid, simulate, choose on train, judge out of sample."""
    random.seed(strategy.seed)
    np.random.seed(strategy.seed)
    name = strategy.strategy_name()

    progress("loading bars")
    inputs, warnings = load_signal_inputs(strategy, registry)
    bars = dict(inputs.bars)
    symbols = list(bars)
    index = inputs.index
    n_bars = len(index)
    periods = bars_per_year(index)
    opens, closes = inputs.field("open"), inputs.field("close")
    # Perpetual swaps carry funding; spot symbols traded beside them simply pay none.
    has_funding = any("funding_rate" in frame for frame in bars.values())
    funding = (
        pd.DataFrame({s: f.get("funding_rate", 0.0) for s, f in bars.items()}, index=index) if has_funding else None
    )

    costs = registry.cost_presets.get(strategy.costs).costs if isinstance(strategy.costs, str) else strategy.costs
    windows = strategy.splits.windows(n_bars)
    folds = strategy.walk_forward.fold_windows(n_bars) if strategy.walk_forward else []
    if strategy.objective not in OBJECTIVES:
        raise ConfigError(
            f"unknown objective {strategy.objective!r}{did_you_mean(strategy.objective, OBJECTIVES)}; "
            f"choose one of {', '.join(OBJECTIVES)}"
        )

    progress("computing signals")
    combos = expand_grid(strategy, registry)
    combined = combined_signal(strategy, registry, inputs, combos)
    positions = target_positions(strategy, combined, name)

    def run(frame: pd.DataFrame, multiplier: float = 1.0) -> _Book:
        sim = simulate(
            frame,
            opens,
            closes,
            costs.scaled(multiplier),
            initial_cash=strategy.initial_cash,
            position_size=strategy.position_size,
            funding_rates=funding,
        )
        return _Book(sim, len(symbols))

    progress(f"simulating {len(combos)} combination(s) x {len(symbols)} symbol(s)")
    book = run(positions)
    hold = pd.DataFrame(1.0, index=index, columns=pd.Index(symbols, name="symbol"))
    benchmark = run(hold)

    def objective_scores(mask: np.ndarray) -> np.ndarray:
        scores = compute_metrics(book.returns, book.weight, periods, mask).values[strategy.objective]
        return np.nan_to_num(scores, nan=-np.inf)

    progress("evaluating")
    chosen = int(np.argmax(objective_scores(window_mask(n_bars, windows["train"]))))
    split_table = {
        split: {
            **_window_dates(index, window),
            "bars": len(window),
            "strategy": _clean(book.metrics(chosen, window_mask(n_bars, window), periods)),
            "benchmark": _clean(benchmark.metrics(0, window_mask(n_bars, window), periods)),
        }
        for split, window in windows.items()
        if len(window)
    }

    walk_forward, stitched = None, None
    evaluation_mask = window_mask(n_bars, windows["test"])
    if folds and strategy.walk_forward is not None:
        stitched_positions = np.zeros((n_bars, len(symbols)))
        chosen_per_fold = []
        for fold in folds:
            best = int(np.argmax(objective_scores(window_mask(n_bars, fold.in_sample))))
            chosen_per_fold.append(best)
            block = positions.to_numpy(dtype=float)[:, best * len(symbols) : (best + 1) * len(symbols)]
            stitched_positions[fold.out_of_sample.as_slice()] = block[fold.out_of_sample.as_slice()]
        stitched_frame = pd.DataFrame(stitched_positions, index=index, columns=hold.columns)
        stitched = run(stitched_frame)
        evaluation_mask = np.zeros(n_bars, dtype=bool)
        fold_rows = []
        for fold, best in zip(folds, chosen_per_fold, strict=True):
            oos = window_mask(n_bars, fold.out_of_sample)
            evaluation_mask |= oos
            in_sample_score = objective_scores(window_mask(n_bars, fold.in_sample))[best]
            fold_rows.append(
                {
                    "fold": fold.number,
                    "in_sample": _window_dates(index, fold.in_sample),
                    "out_of_sample": _window_dates(index, fold.out_of_sample),
                    "params": describe(combos[best], strategy.grid),
                    "in_sample_objective": _clean({"v": in_sample_score})["v"],
                    "strategy": _clean(stitched.metrics(0, oos, periods)),
                    "benchmark": _clean(benchmark.metrics(0, oos, periods)),
                }
            )
        walk_forward = {
            "mode": strategy.walk_forward.mode,
            "folds": fold_rows,
            "stitched": _clean(stitched.metrics(0, evaluation_mask, periods)),
            "benchmark": _clean(benchmark.metrics(0, evaluation_mask, periods)),
        }

    # Regimes describe the market: the equal-weighted closes of the traded symbols.
    market = (closes / closes.iloc[0]).mean(axis=1)
    regime = strategy.regimes.label_returns(market).to_numpy()
    evaluated = stitched if stitched is not None else book
    evaluated_column = 0 if stitched is not None else chosen
    regime_table: dict[str, Any] = {
        "evaluated_on": "walk_forward" if stitched is not None else "test",
        "window": strategy.regimes.window,
        "threshold": strategy.regimes.threshold,
        "table": {},
    }
    for label in REGIMES:
        mask = evaluation_mask & (regime == label)
        regime_table["table"][label] = {
            "bars": int(mask.sum()),
            "strategy": _clean(evaluated.metrics(evaluated_column, mask, periods)) if mask.any() else None,
            "benchmark": _clean(benchmark.metrics(0, mask, periods)) if mask.any() else None,
        }

    # A model trained on data up to its cutoff may have seen what followed each earlier bar:
    # flag those bars and give the headline figures without them too.
    knowledge_cutoff, pre_cutoff = None, None
    if combined.knowledge_cutoff is not None:
        pre_cutoff = bars_through(index, combined.knowledge_cutoff)
        cutoff_windows = {
            "test": _cutoff_window(book, chosen, benchmark, window_mask(n_bars, windows["test"]), pre_cutoff, periods)
        }
        if stitched is not None:
            cutoff_windows["walk_forward"] = _cutoff_window(
                stitched, 0, benchmark, evaluation_mask, pre_cutoff, periods
            )
        knowledge_cutoff = {
            "cutoff": combined.knowledge_cutoff.isoformat(),
            "flagged_bars": int(pre_cutoff.sum()),
            "windows": cutoff_windows,
        }

    progress("cost sensitivity")
    chosen_positions = positions.iloc[:, chosen * len(symbols) : (chosen + 1) * len(symbols)]
    chosen_positions = (
        chosen_positions.droplevel("combo", axis=1) if chosen_positions.columns.nlevels > 1 else chosen_positions
    )
    test_mask = window_mask(n_bars, windows["test"])
    cost_rows = []
    for multiplier in strategy.cost_multipliers:
        row: dict[str, Any] = {
            "multiplier": float(multiplier),
            "costs": costs.scaled(multiplier).as_dict(),
            "test": _clean(run(chosen_positions, multiplier).metrics(0, test_mask, periods)),
        }
        if stitched is not None:
            row["walk_forward"] = _clean(run(stitched_frame, multiplier).metrics(0, evaluation_mask, periods))
        cost_rows.append(row)

    train_scores = objective_scores(window_mask(n_bars, windows["train"]))
    top = np.argsort(-train_scores, kind="stable")[:10]
    top_rows = [
        {
            "params": describe(combos[i], strategy.grid),
            "train_objective": _clean({"v": train_scores[i]})["v"],
        }
        for i in top
    ]

    curves = Curves(
        index=index,
        strategy=book.value[:, chosen] / book.value[0, chosen],
        walk_forward=stitched.value[:, 0] / stitched.value[0, 0] if stitched is not None else None,
        benchmark=benchmark.value[:, 0] / benchmark.value[0, 0],
        regime=regime,
        pre_cutoff=pre_cutoff,
    )
    return BacktestResult(
        strategy=name,
        symbols=symbols,
        start=index[0].isoformat(),
        end=index[-1].isoformat(),
        bars=n_bars,
        objective=strategy.objective,
        combinations=len(combos),
        chosen=describe(combos[chosen], strategy.grid),
        splits=split_table,
        walk_forward=walk_forward,
        regimes=regime_table,
        cost_sensitivity=cost_rows,
        top_combinations=top_rows,
        warnings=warnings,
        curves=curves,
        data_hashes={symbol: bars_hash(frame) for symbol, frame in bars.items()},
        knowledge_cutoff=knowledge_cutoff,
    )
