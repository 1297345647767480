"""Baselines evaluated exactly like the strategy, for a side-by-side comparison.

A strategy may name ``baselines``: other signal sets (a lexicon model beside a language model,
a momentum rule) that answer "is the clever part worth it?". Each is run as the same strategy
with only its signals replaced, so data, costs, splits, walk-forward, regimes, direction and
sizing are identical, and its figures land in one table with the strategy and buy-and-hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fintrade.errors import ConfigError
from fintrade.metrics import ANNUALISED_FLAG
from fintrade.results import Comparison, ComparisonRow, WindowMetrics
from fintrade.strategy import SignalSpec, Strategy

if TYPE_CHECKING:
    from fintrade.evaluation import BacktestResult
    from fintrade.registry import Registry

#: The figures compared side by side, in table order, and whether the window is long enough to annualise.
COMPARED_METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "sharpe",
    "max_drawdown",
    "exposure",
    "trades",
    "win_rate",
    ANNUALISED_FLAG,
)


def baseline_strategy(strategy: Strategy, name: str, signals: Sequence[SignalSpec]) -> Strategy:
    """``strategy`` with its signals (and grid) replaced by ``signals``; everything else kept."""
    signals = tuple(signals)
    if not signals or not all(isinstance(spec, SignalSpec) for spec in signals):
        raise ConfigError(f"baseline {name!r}: give a list of signal(...) specs, e.g. [signal('lexicon')]")
    attributes = {
        "signals": signals,
        "grid": {},
        "baselines": {},
        "accept": lambda self, params: True,
        # The side-by-side table shows a baseline's metrics only: no significance, no trials counted.
        "significance": dataclasses.replace(strategy.significance, enabled=False, record_trials=False),
    }
    derived = type(f"{type(strategy).__name__}[{name}]", (type(strategy),), attributes)
    return derived()


def evaluated_metrics(result: BacktestResult) -> tuple[str, WindowMetrics, WindowMetrics]:
    """What a result is judged on: the stitched walk-forward when there is one, else the test split.

    Returns the name of that window, the strategy's metrics and the benchmark's (buy-and-hold).
    """
    if result.walk_forward is not None:
        return "walk-forward", result.walk_forward.stitched, result.walk_forward.benchmark
    test = result.splits.get("test") or next(iter(result.splits.values()))
    return "test", test.strategy, test.benchmark


def _row(name: str, kind: str, metrics: WindowMetrics) -> ComparisonRow:
    return ComparisonRow(name, kind, metrics, COMPARED_METRICS)


def run_with_baselines(
    strategy: Strategy,
    registry: Registry,
    run: Callable[[Strategy], BacktestResult],
) -> tuple[BacktestResult, dict[str, BacktestResult]]:
    """Run the strategy, then each baseline; the result comes back with the side-by-side table."""
    result = run(strategy)
    baselines = {
        name: run(baseline_strategy(strategy, name, signals)) for name, signals in dict(strategy.baselines).items()
    }
    window, metrics, benchmark = evaluated_metrics(result)
    rows = [_row(strategy.strategy_name(), "strategy", metrics)]
    for name, baseline in baselines.items():
        rows.append(_row(name, "baseline", evaluated_metrics(baseline)[1]))
    rows.append(_row("buy-and-hold", "benchmark", benchmark))
    curves = {
        name: baseline.curves.walk_forward if baseline.curves.walk_forward is not None else baseline.curves.strategy
        for name, baseline in baselines.items()
    }
    result = dataclasses.replace(result, comparison=Comparison(window, tuple(rows)), baseline_curves=curves)
    return result, baselines
