"""The honest answer: a strategy judged out of sample, per split, per fold, per regime, per cost level.

Signals for every grid combination are computed and simulated once over the whole history
(they are point-in-time, which ``fintrade check`` verifies). Parameters are then chosen by the
objective on in-sample windows only, and judged on windows that played no part in choosing.
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
from fintrade.sweep import Combination, combined_signal, describe, expand_grid, target_positions
from fintrade.trials import TrialCount, TrialLedger
from fintrade.types import Aggregator, DataSource, Signal, SignalInput, SignalModel, TextSource

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


# A backtest runs in stages, each a function of typed records, so that an executor can run them
# apart: prepare (names only, no data) -> load -> compute_signals -> simulate -> evaluate.
# run_backtest is their composition.


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


@dataclass(frozen=True)
class Positions:
    """What :func:`compute_signals` gives: the combined signal and the target positions of every
    combination, columns ``(combo, symbol)``."""

    combined: Signal
    frame: pd.DataFrame


@dataclass(frozen=True)
class Simulated:
    """What :func:`simulate` gives: every combination's book and buy-and-hold's."""

    book: _Book
    benchmark: _Book


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


def compute_signals(plan: Plan, registry: Registry, market: Market) -> Positions:
    """Every signal for every combination, combined by the aggregator, turned into target positions."""
    combined = combined_signal(plan.strategy, registry, market.inputs, plan.combinations)
    return Positions(combined, target_positions(plan.strategy, combined, plan.name))


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


def simulate(plan: Plan, market: Market, positions: Positions) -> Simulated:
    """Every combination's positions, and buy-and-hold, through the engine after costs."""
    book = _run(plan, market, positions.frame)
    hold = pd.DataFrame(1.0, index=market.index, columns=pd.Index(market.symbols, name="symbol"))
    return Simulated(book, _run(plan, market, hold))


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
    positions: Positions,
    benchmark: _Book,
    objective_scores: Callable[[np.ndarray], np.ndarray],
) -> _Stitched | None:
    """Choose per fold on its in-sample window, stitch the out-of-sample pieces, simulate them once."""
    strategy, folds = plan.strategy, market.folds
    if not folds or strategy.walk_forward is None:
        return None
    index, symbols = market.index, market.symbols
    n_bars = len(index)
    stitched_positions = np.zeros((n_bars, len(symbols)))
    chosen_per_fold = []
    for fold in folds:
        best = int(np.argmax(objective_scores(window_mask(n_bars, fold.in_sample))))
        chosen_per_fold.append(best)
        block = positions.frame.to_numpy(dtype=float)[:, best * len(symbols) : (best + 1) * len(symbols)]
        stitched_positions[fold.out_of_sample.as_slice()] = block[fold.out_of_sample.as_slice()]
    frame = pd.DataFrame(stitched_positions, index=index, columns=pd.Index(symbols, name="symbol"))
    stitched = _run(plan, market, frame)
    evaluation_mask = np.zeros(n_bars, dtype=bool)
    fold_rows = []
    for fold, best in zip(folds, chosen_per_fold, strict=True):
        oos = window_mask(n_bars, fold.out_of_sample)
        evaluation_mask |= oos
        in_sample_score = objective_scores(window_mask(n_bars, fold.in_sample))[best]
        fold_rows.append(
            FoldResult(
                fold=fold.number,
                in_sample=_window_dates(index, fold.in_sample),
                out_of_sample=_window_dates(index, fold.out_of_sample),
                params=describe(plan.combinations[best], strategy.grid),
                in_sample_objective=_clean({"v": in_sample_score})["v"],
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
    market: Market,
    positions: Positions,
    simulated: Simulated,
    *,
    progress: Progress = lambda stage: None,
    ledger: TrialLedger | None = None,
) -> BacktestResult:
    """Choose parameters on in-sample windows by the objective; judge them on the windows left out.

    Every combination's Sharpe ratio on the evaluated bars is added to ``ledger`` (default: the
    one under the cache directory) unless the strategy's ``significance.record_trials`` is off.
    """
    strategy, combos = plan.strategy, plan.combinations
    index, symbols, windows = market.index, market.symbols, market.windows
    n_bars = len(index)
    book, benchmark = simulated.book, simulated.benchmark

    def objective_scores(mask: np.ndarray) -> np.ndarray:
        """The objective of every combination, rounded so that noise cannot break a tie."""
        return _comparable(np.nan_to_num(book.scores(plan.objective, mask), nan=-np.inf))

    chosen = int(np.argmax(objective_scores(window_mask(n_bars, windows["train"]))))
    # A split of zero bars (a 0 fraction) is still reported, with null metrics.
    split_table = {
        split: SplitResult(
            span=_window_dates(index, window) if len(window) else Span(None, None),
            bars=len(window),
            strategy=book.measure(chosen, window_mask(n_bars, window)),
            benchmark=benchmark.measure(0, window_mask(n_bars, window)),
        )
        for split, window in windows.items()
    }

    test_mask = window_mask(n_bars, windows["test"])
    stitched = _walk_forward(plan, market, positions, benchmark, objective_scores)
    evaluation_mask = stitched.mask if stitched is not None else test_mask

    # Regimes describe the market: the equal-weighted closes of the traded symbols.
    closes = market.closes
    regime = strategy.regimes.label_returns((closes / closes.iloc[0]).mean(axis=1)).to_numpy()
    if stitched is not None:
        regime_table = _regime_table(plan, regime, stitched.book, 0, benchmark, evaluation_mask, "walk_forward")
    else:
        regime_table = _regime_table(plan, regime, book, chosen, benchmark, evaluation_mask, "test")

    # A model trained on data up to its cutoff may have seen what followed each earlier bar:
    # flag those bars and give the headline figures without them too.
    knowledge_cutoff, pre_cutoff = None, None
    cutoff = positions.combined.knowledge_cutoff
    if cutoff is not None:
        pre_cutoff = bars_through(index, cutoff)
        cutoff_windows = {"test": _cutoff_window(book, chosen, benchmark, test_mask, pre_cutoff)}
        if stitched is not None:
            cutoff_windows["walk_forward"] = _cutoff_window(stitched.book, 0, benchmark, evaluation_mask, pre_cutoff)
        knowledge_cutoff = KnowledgeCutoff(cutoff.isoformat(), int(pre_cutoff.sum()), cutoff_windows)

    progress("cost sensitivity")
    chosen_positions = positions.frame.iloc[:, chosen * len(symbols) : (chosen + 1) * len(symbols)]
    chosen_positions = (
        chosen_positions.droplevel("combo", axis=1) if chosen_positions.columns.nlevels > 1 else chosen_positions
    )
    cost_rows = []
    for multiplier in strategy.cost_multipliers:
        cost_rows.append(
            CostRow(
                multiplier=float(multiplier),
                costs=plan.costs.scaled(multiplier).as_dict(),
                test=_run(plan, market, chosen_positions, multiplier).measure(0, test_mask),
                walk_forward=(
                    _run(plan, market, stitched.frame, multiplier).measure(0, evaluation_mask)
                    if stitched is not None
                    else None
                ),
            )
        )

    train_scores = objective_scores(window_mask(n_bars, windows["train"]))
    top = np.argsort(-train_scores, kind="stable")[:10]
    top_rows = tuple(
        TopCombination(describe(combos[i], strategy.grid), _clean({"v": train_scores[i]})["v"]) for i in top
    )

    progress("significance")
    evaluated_on = "walk_forward" if stitched is not None else "test"
    evaluated_book, evaluated_column = (stitched.book, 0) if stitched is not None else (book, chosen)
    reported = evaluated_book.returns[:, evaluated_column]
    significance = (
        _significance(plan, market, book, reported, benchmark, evaluation_mask, evaluated_on, ledger)
        if strategy.significance.enabled
        else None
    )
    sleeves = range(evaluated_column * len(symbols), (evaluated_column + 1) * len(symbols))
    per_symbol = {
        symbol: evaluated_book.measure_sleeve(sleeve, evaluation_mask)
        for symbol, sleeve in zip(symbols, sleeves, strict=True)
    }
    trades = evaluated_book.trade_list(sleeves, symbols, market.opens.to_numpy(dtype=float), evaluation_mask)

    curves = Curves(
        index=index,
        strategy=book.value[:, chosen] / book.value[0, chosen],
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
    book: _Book,
    reported: np.ndarray,
    benchmark: _Book,
    evaluation_mask: np.ndarray,
    evaluated_on: str,
    ledger: TrialLedger | None,
) -> SignificanceResult:
    """The significance figures of the reported returns, against every combination of the grid."""
    strategy = plan.strategy
    settings = strategy.significance
    counted = evaluation_mask & np.isfinite(book.returns).all(axis=1)
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
        combinations=book.returns[counted],
        history=book.returns[1:],
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
) -> BacktestResult:
    """Prepare, load data, compute signals for the whole grid, simulate, choose on train, judge out of sample.

    ``ledger`` keeps the trials the Deflated Sharpe Ratio counts (default: under the cache directory).
    """
    random.seed(strategy.seed)
    np.random.seed(strategy.seed)
    plan = prepare(strategy, registry)
    progress("loading bars")
    market = load(plan, registry)
    progress("computing signals")
    positions = compute_signals(plan, registry, market)
    progress(f"simulating {len(plan.combinations)} combination(s) x {len(market.symbols)} symbol(s)")
    simulated = simulate(plan, market, positions)
    progress("evaluating")
    return evaluate(plan, market, positions, simulated, progress=progress, ledger=ledger)
