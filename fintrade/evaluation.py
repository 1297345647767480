"""The honest answer: a strategy judged out of sample, per split, per fold, per regime, per cost level.

Signals for every grid combination are computed and simulated once over the whole history
(they are point-in-time, which ``fintrade check`` verifies), in blocks (:mod:`fintrade.grid`).
Parameters are then chosen by the objective on in-sample windows only, and judged on windows
that played no part in choosing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fintrade.alignment import bars_through
from fintrade.costs import Costs
from fintrade.data import bars_hash, load_signal_inputs
from fintrade.engine import Simulation
from fintrade.engine import simulate as simulate_positions
from fintrade.errors import ConfigError, did_you_mean
from fintrade.executors import Executor, executor_from, using
from fintrade.grid import GridReturns, block_positions, sweep_grid
from fintrade.inference import Significance, SignificanceResult, assess, data_hash, strategy_file
from fintrade.manifest import RunManifest
from fintrade.metrics import (
    OBJECTIVES,
    MetricTable,
    PortfolioWeights,
    bar_returns,
    bars_per_year,
    compute_metrics,
    portfolio_weights,
    trade_stats,
    window_mask,
    window_scores,
)
from fintrade.regimes import REGIMES, WARMUP
from fintrade.registry import Registry
from fintrade.results import (
    Comparison,
    CostRow,
    CutoffWindow,
    FoldResult,
    KnowledgeCutoff,
    RegimeRow,
    RegimeTable,
    Span,
    SplitResult,
    TopCombination,
    Trade,
    WalkForwardResult,
    WindowMetrics,
)
from fintrade.splits import Fold, Window
from fintrade.strategy import SignalSpec, Strategy
from fintrade.sweep import Combination, describe, expand_grid
from fintrade.trials import TrialCount, TrialLedger
from fintrade.types import Aggregator, DataSource, SignalInput, SignalModel, TextSource

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


@dataclass(frozen=True)
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
    splits: Mapping[str, SplitResult]
    walk_forward: WalkForwardResult | None
    regimes: RegimeTable
    cost_sensitivity: tuple[CostRow, ...]
    top_combinations: tuple[TopCombination, ...]
    warnings: list[str]
    curves: Curves
    data_hashes: dict[str, str] = field(default_factory=dict)
    #: Set by the CLI once the run is done (:func:`fintrade.manifest.build_manifest`).
    manifest: RunManifest | None = None
    #: The latest training date of the signal models and the headline metrics with and without
    #: the bars up to it (see :func:`_cutoff_window`); None when no model reports one.
    knowledge_cutoff: KnowledgeCutoff | None = None
    #: The strategy beside its baselines and buy-and-hold, judged on the same window
    #: (:func:`fintrade.comparison.run_with_baselines`); None when the strategy names none.
    comparison: Comparison | None = None
    #: Equity curves (growth of 1) of the baselines on that window, for the report.
    baseline_curves: dict[str, np.ndarray] = field(default_factory=dict)
    #: Windows shorter than this (years) say ``annualised_meaningful: false`` in their metrics.
    min_annualised_years: float = 0.25
    #: Whether the edge survives the search that found it, on the evaluated returns (None: too few).
    significance: SignificanceResult | None = None
    #: The evaluated book's metrics per symbol, on the evaluated bars.
    per_symbol: Mapping[str, WindowMetrics] = field(default_factory=dict)
    #: The evaluated book's round trips that enter or exit on an evaluated bar.
    trades: tuple[Trade, ...] = ()
    #: Which bars the significance figures, per-symbol metrics and trades are on: ``walk_forward`` or ``test``.
    evaluated_on: str = "test"

    def window_metrics(self) -> Iterator[WindowMetrics]:
        """Every set of figures the result holds, in JSON order (for checks that span them all)."""
        for split in self.splits.values():
            yield from (split.strategy, split.benchmark)
        if self.walk_forward is not None:
            for fold in self.walk_forward.folds:
                yield from (fold.strategy, fold.benchmark)
            yield from (self.walk_forward.stitched, self.walk_forward.benchmark)
        for regime in self.regimes.rows.values():
            yield from (regime.strategy, regime.benchmark)
        for cost in self.cost_sensitivity:
            yield cost.test
            if cost.walk_forward is not None:
                yield cost.walk_forward
        if self.knowledge_cutoff is not None:
            for window in self.knowledge_cutoff.windows.values():
                yield window.all_bars
                yield from (m for m in (window.after_cutoff, window.benchmark_after_cutoff) if m is not None)
        if self.comparison is not None:
            yield from (row.metrics for row in self.comparison.rows)
        yield from self.per_symbol.values()

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
            "splits": {name: split.to_dict() for name, split in self.splits.items()},
            "walk_forward": self.walk_forward.to_dict() if self.walk_forward is not None else None,
            "regimes": self.regimes.to_dict(),
            "cost_sensitivity": [row.to_dict() for row in self.cost_sensitivity],
            "top_combinations": [row.to_dict() for row in self.top_combinations],
            "warnings": self.warnings,
            "knowledge_cutoff": self.knowledge_cutoff.to_dict() if self.knowledge_cutoff is not None else None,
            "comparison": self.comparison.to_dict() if self.comparison is not None else None,
            "min_annualised_years": self.min_annualised_years,
            "evaluated_on": self.evaluated_on,
            "significance": self.significance.to_dict() if self.significance is not None else None,
            "per_symbol": {symbol: metrics.to_dict() for symbol, metrics in self.per_symbol.items()},
            "trades": [trade.to_dict() for trade in self.trades],
        }


SIGNIFICANT_DIGITS = 12
"""Figures keep this many significant digits in JSON, and objectives are compared at it."""


def _significant(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _clean(values: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: missing values become null; the rest keep 12 significant digits.

    Significant digits, not decimals: a 1e-7 daily figure must not round to 0.
    """
    return {k: (None if v is None or not np.isfinite(v) else _significant(float(v))) for k, v in values.items()}


def _comparable(scores: np.ndarray) -> np.ndarray:
    """Objective scores rounded to 12 significant digits, so floating-point noise cannot break a tie.

    Two combinations whose positions are the same up to rounding get the same score, and the
    first one (grid order) wins: ``np.argmax`` and a stable sort both keep the first of equals.
    """
    return np.array([_significant(v) if np.isfinite(v) else v for v in scores.tolist()], dtype=float)


def _date(index: pd.DatetimeIndex, position: int) -> str:
    return index[min(position, len(index) - 1)].isoformat()


def _window_dates(index: pd.DatetimeIndex, window: Window) -> Span:
    return Span(_date(index, window.start), _date(index, window.stop - 1))


def _cutoff_window(
    book: _Book, column: int, benchmark: _Book, mask: np.ndarray, pre_cutoff: np.ndarray
) -> CutoffWindow:
    """Metrics of one evaluated window with every bar, and without the bars up to the cutoff."""
    after = mask & ~pre_cutoff
    return CutoffWindow(
        bars=int(mask.sum()),
        flagged_bars=int((mask & pre_cutoff).sum()),
        all_bars=book.measure(column, mask),
        after_cutoff=book.measure(column, after) if after.any() else None,
        benchmark_after_cutoff=benchmark.measure(0, after) if after.any() else None,
    )


class _Book:
    """Per-combination equity, returns, exposure and turnover from one simulation of ``(combo, symbol)`` columns.

    ``periods`` is bars per year; windows shorter than ``min_years`` have their annualised
    figures flagged as not meaningful (:meth:`measure`).
    """

    def __init__(self, simulation: Simulation, n_symbols: int, periods: float, min_years: float) -> None:
        n_bars = simulation.value.shape[0]
        self.simulation = simulation
        self.value = simulation.value.reshape(n_bars, -1, n_symbols).sum(axis=2)
        orders = simulation.portfolio.orders.values
        traded = np.bincount(
            orders["idx"] * simulation.value.shape[1] + orders["col"],
            weights=np.abs(orders["size"] * orders["price"]),
            minlength=simulation.value.size,
        ).reshape(simulation.value.shape)
        self.weights = portfolio_weights(simulation.value, simulation.weight, traded, n_symbols)
        self.returns = bar_returns(self.value)
        self.n_symbols = n_symbols
        self.periods = periods
        self.min_years = min_years
        self._trades: pd.DataFrame | None = None

    @property
    def trades(self) -> pd.DataFrame:
        """Round-trip records, computed once: vectorbt derives them from all orders of all columns."""
        if self._trades is None:
            self._trades = self.simulation.portfolio.trades.records
        return self._trades

    def scores(self, name: str, mask: np.ndarray) -> np.ndarray:
        """One metric for every combination over the bars of ``mask`` (NaN for none)."""
        return compute_metrics(self.returns, self.periods, mask, weights=self.weights).values[name]

    def measure(self, column: int, mask: np.ndarray) -> WindowMetrics:
        """The metrics of one combination over the bars of ``mask``.

        A window with no counted return has every metric null. ``annualised_meaningful`` is
        false when the counted returns span less than ``min_years``.
        """
        weights = PortfolioWeights(self.weights.exposure[:, [column]], self.weights.traded[:, [column]])
        table = compute_metrics(self.returns[:, [column]], self.periods, mask, weights=weights)
        sleeves = range(column * self.n_symbols, (column + 1) * self.n_symbols)
        return self._with_trades(table, sleeves, mask)

    def measure_sleeve(self, sleeve: int, mask: np.ndarray) -> WindowMetrics:
        """The metrics of one sleeve (one symbol of one combination: a column of the simulation)."""
        value = self.simulation.value[:, [sleeve]]
        orders = self.simulation.portfolio.orders.values
        own = orders[orders["col"] == sleeve]
        traded = np.bincount(own["idx"], weights=np.abs(own["size"] * own["price"]), minlength=len(value))
        weights = portfolio_weights(value, self.simulation.weight[:, [sleeve]], traded.reshape(-1, 1), 1)
        table = compute_metrics(bar_returns(value), self.periods, mask, weights=weights)
        return self._with_trades(table, range(sleeve, sleeve + 1), mask)

    def _with_trades(self, table: MetricTable, sleeves: range, mask: np.ndarray) -> WindowMetrics:
        values = table.row(0)
        if table.years > 0:
            trades = self.trades
            values.update(trade_stats(trades[trades["col"].isin(sleeves)], mask))
        else:
            values.update({"trades": float("nan"), "win_rate": float("nan")})
        return WindowMetrics.from_values(_clean(values), bool(table.years >= self.min_years))

    def trade_list(
        self, sleeves: range, symbols: list[str], fill_prices: np.ndarray, mask: np.ndarray
    ) -> tuple[Trade, ...]:
        """The round trips of ``sleeves`` (one per symbol) that enter or exit on a bar of ``mask``.

        ``fill_prices`` (bars x symbols) are the prices before costs that orders fill at; the
        slippage and half spread a trade paid is its size times the distance of its fills from them.
        """
        trades = self.trades
        trades = trades[trades["col"].isin(sleeves)]
        entry = trades["entry_idx"].to_numpy(dtype=int)
        exit_ = trades["exit_idx"].to_numpy(dtype=int)
        trades = trades[mask[entry] | mask[exit_]]
        index = self.simulation.index
        found = []
        for row in trades.to_dict("records"):
            symbol = int(row["col"]) - sleeves.start
            entered, exited = int(row["entry_idx"]), int(row["exit_idx"])
            closed = int(row["status"]) == 1
            impact = abs(row["entry_price"] - fill_prices[entered, symbol])
            if closed:
                impact += abs(row["exit_price"] - fill_prices[exited, symbol])
            found.append(
                Trade(
                    symbol=symbols[symbol],
                    side="long" if int(row["direction"]) == 0 else "short",
                    entry=index[entered].isoformat(),
                    exit=index[exited].isoformat() if closed else None,
                    size=_significant(row["size"]),
                    entry_price=_significant(row["entry_price"]),
                    exit_price=_significant(row["exit_price"]),
                    pnl=_significant(row["pnl"]),
                    return_=_significant(row["return"]),
                    costs=_significant(row["entry_fees"] + row["exit_fees"] + row["size"] * impact),
                    status="closed" if closed else "open",
                )
            )
        return tuple(sorted(found, key=lambda trade: (trade.entry, trade.symbol)))


# A backtest runs in stages, each a function of typed records: prepare (names only, no data) ->
# load -> sweep (every combination's returns, in blocks on an executor) -> evaluate (choose on
# in-sample windows; simulate the chosen combinations through vectorbt). run_backtest composes them.


@dataclass(frozen=True)
class Plan:
    """A strategy with every name resolved and every setting checked, before any data is loaded.

    A misspelt data source, text source, signal model (its own or a baseline's), signal
    parameter, grid key, aggregator, cost preset or objective fails here, in a fraction of a
    second, rather than after a download.
    """

    strategy: Strategy
    name: str
    data_source: DataSource
    text_source: TextSource | None
    #: Signal models by signal key (label, else model name), in the order of ``strategy.signals``.
    signal_models: Mapping[str, SignalModel]
    aggregator: Aggregator
    costs: Costs
    objective: str
    #: Every accepted grid combination, with each signal's defaults filled in.
    combinations: tuple[Combination, ...]


@dataclass(frozen=True)
class Market:
    """What :func:`load` brings: the signal models' inputs and the prices that orders fill at."""

    inputs: SignalInput
    opens: pd.DataFrame
    closes: pd.DataFrame
    #: Perpetual funding rates per bar and symbol (spot symbols pay none); None without perps.
    funding: pd.DataFrame | None
    periods: float
    #: The train/validation/test windows and the walk-forward folds over these bars.
    windows: Mapping[str, Window]
    folds: tuple[Fold, ...]
    warnings: tuple[str, ...]
    data_hashes: Mapping[str, str]

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.inputs.index

    @property
    def symbols(self) -> list[str]:
        return list(self.inputs.bars)


def prepare(strategy: Strategy, registry: Registry) -> Plan:
    """Resolve every name the strategy uses and check its settings; loads no data.

    ``fintrade backtest`` and ``fintrade check`` both start here.
    """
    data_source = registry.data_sources.get(strategy.source)
    text_source = registry.text_sources.get(strategy.text_source) if strategy.text_source is not None else None
    costs = registry.cost_presets.get(strategy.costs).costs if isinstance(strategy.costs, str) else strategy.costs
    if strategy.objective not in OBJECTIVES:
        raise ConfigError(
            f"unknown objective {strategy.objective!r}{did_you_mean(strategy.objective, OBJECTIVES)}; "
            f"choose one of {', '.join(OBJECTIVES)}"
        )
    if not isinstance(strategy.significance, Significance):
        raise ConfigError(
            f"significance = {strategy.significance!r}: give Significance(...), e.g. Significance(partitions=16)"
        )
    combinations = tuple(expand_grid(strategy, registry))
    signal_models = {spec.key: registry.signal_models.get(spec.model) for spec in strategy.signals}
    aggregator = registry.aggregators.get(strategy.aggregator)
    for specs in dict(strategy.baselines).values():
        for spec in specs if isinstance(specs, list | tuple) else ():
            if isinstance(spec, SignalSpec):
                registry.signal_models.get(spec.model)
    return Plan(
        strategy=strategy,
        name=strategy.strategy_name(),
        data_source=data_source,
        text_source=text_source,
        signal_models=signal_models,
        aggregator=aggregator,
        costs=costs,
        objective=strategy.objective,
        combinations=combinations,
    )


def load(plan: Plan, registry: Registry) -> Market:
    """The bars (and documents) the strategy's signals see, and the windows they are judged on."""
    strategy = plan.strategy
    inputs, warnings = load_signal_inputs(strategy, registry)
    bars = dict(inputs.bars)
    index = inputs.index
    n_bars = len(index)
    # Perpetual swaps carry funding; spot symbols traded beside them simply pay none.
    has_funding = any("funding_rate" in frame for frame in bars.values())
    funding = (
        pd.DataFrame({s: f.get("funding_rate", 0.0) for s, f in bars.items()}, index=index) if has_funding else None
    )
    return Market(
        inputs=inputs,
        opens=inputs.field("open"),
        closes=inputs.field("close"),
        funding=funding,
        periods=bars_per_year(index),
        windows=strategy.splits.windows(n_bars),
        folds=tuple(strategy.walk_forward.fold_windows(n_bars) if strategy.walk_forward else ()),
        warnings=tuple(warnings),
        data_hashes={symbol: bars_hash(frame) for symbol, frame in bars.items()},
    )


def sweep(
    plan: Plan,
    registry: Registry,
    market: Market,
    executor: Executor | None = None,
    *,
    progress: Progress = lambda stage: None,
) -> GridReturns:
    """Every combination's returns after costs, swept in blocks on ``executor`` (default: local)."""
    return sweep_grid(plan, registry, market, executor or Executor(), progress=progress)


def _run(plan: Plan, market: Market, frame: pd.DataFrame, multiplier: float = 1.0) -> _Book:
    """One simulation of target positions ``frame`` at ``multiplier`` times the costs."""
    strategy = plan.strategy
    simulation = simulate_positions(
        frame,
        market.opens,
        market.closes,
        plan.costs.scaled(multiplier),
        initial_cash=strategy.initial_cash,
        position_size=strategy.position_size,
        funding_rates=market.funding,
    )
    return _Book(simulation, len(market.symbols), market.periods, strategy.min_annualised_years)


@dataclass(frozen=True)
class _Stitched:
    """The walk-forward: each fold's out-of-sample bars traded with the parameters its in-sample chose."""

    table: WalkForwardResult
    book: _Book
    frame: pd.DataFrame
    #: The bars it is judged on: every fold's out-of-sample bars.
    mask: np.ndarray


def _walk_forward(
    plan: Plan,
    market: Market,
    positions_of: Callable[[int], pd.DataFrame],
    chosen_per_fold: list[int],
    benchmark: _Book,
    objective_scores: Callable[[Window], np.ndarray],
) -> _Stitched | None:
    """Stitch each fold's out-of-sample piece of the combination its in-sample chose, simulate them once."""
    strategy, folds = plan.strategy, market.folds
    if not folds or strategy.walk_forward is None:
        return None
    index, symbols = market.index, market.symbols
    n_bars = len(index)
    stitched_positions = np.zeros((n_bars, len(symbols)))
    for fold, best in zip(folds, chosen_per_fold, strict=True):
        block = positions_of(best).to_numpy(dtype=float)
        stitched_positions[fold.out_of_sample.as_slice()] = block[fold.out_of_sample.as_slice()]
    frame = pd.DataFrame(stitched_positions, index=index, columns=pd.Index(symbols, name="symbol"))
    stitched = _run(plan, market, frame)
    evaluation_mask = np.zeros(n_bars, dtype=bool)
    fold_rows = []
    for fold, best in zip(folds, chosen_per_fold, strict=True):
        oos = window_mask(n_bars, fold.out_of_sample)
        evaluation_mask |= oos
        fold_rows.append(
            FoldResult(
                fold=fold.number,
                in_sample=_window_dates(index, fold.in_sample),
                out_of_sample=_window_dates(index, fold.out_of_sample),
                params=describe(plan.combinations[best], strategy.grid),
                in_sample_objective=_clean({"v": objective_scores(fold.in_sample)[best]})["v"],
                strategy=stitched.measure(0, oos),
                benchmark=benchmark.measure(0, oos),
            )
        )
    table = WalkForwardResult(
        mode=strategy.walk_forward.mode,
        folds=tuple(fold_rows),
        stitched=stitched.measure(0, evaluation_mask),
        benchmark=benchmark.measure(0, evaluation_mask),
    )
    return _Stitched(table, stitched, frame, evaluation_mask)


def _regime_table(
    plan: Plan, regime: np.ndarray, evaluated: _Book, column: int, benchmark: _Book, mask: np.ndarray, on: str
) -> RegimeTable:
    """Metrics per market regime over the evaluated bars ``mask``."""
    regimes = plan.strategy.regimes
    table: dict[str, RegimeRow] = {}
    # Bars before the first label is known form a warm-up row, so the rows' bars add up to
    # every evaluated bar; a regime the evaluated bars never visit has null metrics.
    for label in (*REGIMES, WARMUP):
        rows = mask & (regime == label)
        if label == WARMUP and not rows.any():
            continue
        table[label] = RegimeRow(int(rows.sum()), evaluated.measure(column, rows), benchmark.measure(0, rows))
    return RegimeTable(on, regimes.window, regimes.threshold, table)


def evaluate(
    plan: Plan,
    registry: Registry,
    market: Market,
    grid: GridReturns,
    *,
    progress: Progress = lambda stage: None,
    ledger: TrialLedger | None = None,
) -> BacktestResult:
    """Choose parameters on in-sample windows by the objective; judge them on the windows left out.

    The grid's returns are all that choosing needs; the chosen combinations' positions are
    computed again and simulated through vectorbt (orders, trades, exposure) for the report.
    Every combination's Sharpe ratio on the evaluated bars is added to ``ledger`` (default: the
    one under the cache directory) unless the strategy's ``significance.record_trials`` is off.
    """
    strategy, combos = plan.strategy, plan.combinations
    index, symbols, windows = market.index, market.symbols, market.windows
    n_bars = len(index)
    hold = pd.DataFrame(1.0, index=index, columns=pd.Index(symbols, name="symbol"))
    benchmark = _run(plan, market, hold)
    # A bar where any combination has no return is left out of every combination's figures.
    valid = ~np.isnan(grid.returns).any(axis=1)
    scored: dict[tuple[int, int], np.ndarray] = {}

    def objective_scores(window: Window) -> np.ndarray:
        """The objective of every combination on ``window`` (computed once), rounded so that noise
        cannot break a tie."""
        key = (window.start, window.stop)
        if key not in scored:
            raw = grid.scores.get(key)
            if raw is None:
                raw = window_scores(grid.returns, market.periods, plan.objective, window, valid)
            scored[key] = _comparable(np.nan_to_num(raw, nan=-np.inf))
        return scored[key]

    train_scores = objective_scores(windows["train"])
    chosen = int(np.argmax(train_scores))
    walk_forward = strategy.walk_forward is not None and bool(market.folds)
    folds = market.folds if walk_forward else ()
    chosen_per_fold = [int(np.argmax(objective_scores(fold.in_sample))) for fold in folds]
    needed = sorted({chosen, *chosen_per_fold})
    progress(f"simulating the {len(needed)} chosen combination(s) through vectorbt")
    frame, _ = block_positions(plan, registry, market, needed)
    n_symbols = len(symbols)

    def positions_of(combination: int) -> pd.DataFrame:
        columns = frame.iloc[:, needed.index(combination) * n_symbols : (needed.index(combination) + 1) * n_symbols]
        return columns.droplevel("combo", axis=1) if columns.columns.nlevels > 1 else columns

    chosen_positions = positions_of(chosen)
    book = _run(plan, market, chosen_positions)
    # A split of zero bars (a 0 fraction) is still reported, with null metrics.
    split_table = {
        split: SplitResult(
            span=_window_dates(index, window) if len(window) else Span(None, None),
            bars=len(window),
            strategy=book.measure(0, window_mask(n_bars, window)),
            benchmark=benchmark.measure(0, window_mask(n_bars, window)),
        )
        for split, window in windows.items()
    }

    test_mask = window_mask(n_bars, windows["test"])
    stitched = (
        _walk_forward(plan, market, positions_of, chosen_per_fold, benchmark, objective_scores)
        if walk_forward
        else None
    )
    evaluation_mask = stitched.mask if stitched is not None else test_mask

    # Regimes describe the market: the equal-weighted closes of the traded symbols.
    closes = market.closes
    regime = strategy.regimes.label_returns((closes / closes.iloc[0]).mean(axis=1)).to_numpy()
    if stitched is not None:
        regime_table = _regime_table(plan, regime, stitched.book, 0, benchmark, evaluation_mask, "walk_forward")
    else:
        regime_table = _regime_table(plan, regime, book, 0, benchmark, evaluation_mask, "test")

    # A model trained on data up to its cutoff may have seen what followed each earlier bar:
    # flag those bars and give the headline figures without them too.
    knowledge_cutoff, pre_cutoff = None, None
    cutoff = grid.knowledge_cutoff
    if cutoff is not None:
        pre_cutoff = bars_through(index, cutoff)
        cutoff_windows = {"test": _cutoff_window(book, 0, benchmark, test_mask, pre_cutoff)}
        if stitched is not None:
            cutoff_windows["walk_forward"] = _cutoff_window(stitched.book, 0, benchmark, evaluation_mask, pre_cutoff)
        knowledge_cutoff = KnowledgeCutoff(cutoff.isoformat(), int(pre_cutoff.sum()), cutoff_windows)

    progress("cost sensitivity")
    cost_rows = []
    for multiplier in strategy.cost_multipliers:
        # At the strategy's own costs, the books are the ones already simulated.
        at_cost = book if multiplier == 1 else _run(plan, market, chosen_positions, multiplier)
        if stitched is not None:
            stitched_at_cost = stitched.book if multiplier == 1 else _run(plan, market, stitched.frame, multiplier)
        cost_rows.append(
            CostRow(
                multiplier=float(multiplier),
                costs=plan.costs.scaled(multiplier).as_dict(),
                test=at_cost.measure(0, test_mask),
                walk_forward=stitched_at_cost.measure(0, evaluation_mask) if stitched is not None else None,
            )
        )

    top = np.argsort(-train_scores, kind="stable")[:10]
    top_rows = tuple(
        TopCombination(describe(combos[i], strategy.grid), _clean({"v": train_scores[i]})["v"]) for i in top
    )

    progress("significance")
    evaluated_on = "walk_forward" if stitched is not None else "test"
    evaluated_book = stitched.book if stitched is not None else book
    reported = evaluated_book.returns[:, 0]
    significance = (
        _significance(plan, market, grid.returns, reported, benchmark, evaluation_mask, evaluated_on, ledger)
        if strategy.significance.enabled
        else None
    )
    sleeves = range(len(symbols))
    per_symbol = {
        symbol: evaluated_book.measure_sleeve(sleeve, evaluation_mask)
        for symbol, sleeve in zip(symbols, sleeves, strict=True)
    }
    trades = evaluated_book.trade_list(sleeves, symbols, market.opens.to_numpy(dtype=float), evaluation_mask)

    curves = Curves(
        index=index,
        strategy=book.value[:, 0] / book.value[0, 0],
        walk_forward=stitched.book.value[:, 0] / stitched.book.value[0, 0] if stitched is not None else None,
        benchmark=benchmark.value[:, 0] / benchmark.value[0, 0],
        regime=regime,
        pre_cutoff=pre_cutoff,
    )
    return BacktestResult(
        strategy=plan.name,
        symbols=symbols,
        start=index[0].isoformat(),
        end=index[-1].isoformat(),
        bars=n_bars,
        objective=plan.objective,
        combinations=len(combos),
        chosen=describe(combos[chosen], strategy.grid),
        splits=split_table,
        walk_forward=stitched.table if stitched is not None else None,
        regimes=regime_table,
        cost_sensitivity=tuple(cost_rows),
        top_combinations=top_rows,
        warnings=list(market.warnings),
        curves=curves,
        data_hashes=dict(market.data_hashes),
        knowledge_cutoff=knowledge_cutoff,
        min_annualised_years=float(strategy.min_annualised_years),
        significance=significance,
        per_symbol=per_symbol,
        trades=trades,
        evaluated_on=evaluated_on,
    )


def _significance(
    plan: Plan,
    market: Market,
    returns: np.ndarray,
    reported: np.ndarray,
    benchmark: _Book,
    evaluation_mask: np.ndarray,
    evaluated_on: str,
    ledger: TrialLedger | None,
) -> SignificanceResult:
    """The significance figures of the reported returns, against every combination of the grid."""
    strategy = plan.strategy
    settings = strategy.significance
    counted = evaluation_mask & np.isfinite(returns).all(axis=1)
    record = None
    if settings.record_trials:
        trials = ledger if ledger is not None else TrialLedger()
        source = strategy_file(strategy)
        hashed = data_hash(market.data_hashes, market.inputs.documents)

        def record(sharpes: np.ndarray, observations: int) -> TrialCount:
            return trials.record(
                strategy_file=source,
                strategy=plan.name,
                data_hash=hashed,
                sharpes=sharpes.tolist(),
                observations=observations,
            )

    return assess(
        settings=settings,
        evaluated_on=evaluated_on,
        reported=reported[counted],
        combinations=returns[counted],
        history=returns[1:],
        benchmark=benchmark.returns[counted, 0],
        periods_per_year=market.periods,
        seed=int(strategy.seed),
        record=record,
    )


def run_backtest(
    strategy: Strategy,
    registry: Registry,
    *,
    progress: Progress = lambda stage: None,
    ledger: TrialLedger | None = None,
    executor: Executor | str | None = None,
) -> BacktestResult:
    """Prepare, load data, sweep the whole grid, choose on train, judge out of sample.

    ``ledger`` keeps the trials the Deflated Sharpe Ratio counts (default: under the cache directory).
    ``executor`` runs the sweep's blocks (default: the strategy's ``executor`` setting, else local).
    """
    random.seed(strategy.seed)
    np.random.seed(strategy.seed)
    plan = prepare(strategy, registry)
    chosen_executor = executor_from(executor if executor is not None else strategy.executor)
    with using(chosen_executor):
        progress("loading bars")
        market = load(plan, registry)
        progress(f"simulating {len(plan.combinations)} combination(s) x {len(market.symbols)} symbol(s)")
        grid = sweep(plan, registry, market, chosen_executor, progress=progress)
        progress("evaluating")
        return evaluate(plan, registry, market, grid, progress=progress, ledger=ledger)
