"""The typed backtest records: frozen, read by attribute, and ``to_dict()`` is exactly the JSON shape."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from fintrade import Costs, Strategy, WalkForward, signal
from fintrade.evaluation import BacktestResult, run_backtest
from fintrade.metrics import ANNUALISED_FLAG
from fintrade.results import (
    METRIC_NAMES,
    ComparisonRow,
    CostRow,
    CutoffWindow,
    Span,
    SplitResult,
    TopCombination,
    WindowMetrics,
)


class Trend(Strategy):
    symbols = ["AAA", "BBB"]
    source = "memory"
    signals = [signal("sma-cross", fast=10, slow=40)]
    costs = Costs(fees=0.001, slippage=0.0005)
    walk_forward = WalkForward(folds=3, mode="rolling")
    grid = {"sma-cross.fast": [5, 10], "sma-cross.slow": [30, 60]}


def _metrics(**overrides: Any) -> WindowMetrics:
    values: dict[str, float | None] = dict.fromkeys(METRIC_NAMES, 0.5)
    values.update(overrides)
    return WindowMetrics.from_values(values, annualised_meaningful=True)


@pytest.fixture
def result(core_registry) -> BacktestResult:
    return run_backtest(Trend(), core_registry)


def test_window_metrics_keep_the_metric_dict_shape() -> None:
    metrics = _metrics(win_rate=None)
    assert list(metrics.to_dict()) == [*METRIC_NAMES, ANNUALISED_FLAG]
    assert metrics.to_dict()["win_rate"] is None and metrics.to_dict()[ANNUALISED_FLAG] is True
    assert metrics.get("sharpe") == 0.5 and metrics.get(ANNUALISED_FLAG) is True
    assert metrics.get("no_such_metric") is None


def test_records_are_frozen(result: BacktestResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.splits["test"].strategy.sharpe = 9.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.splits["test"].bars = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.comparison = None  # type: ignore[misc]


def test_to_dict_is_plain_json_with_the_stable_keys(result: BacktestResult) -> None:
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data  # no numpy scalars, no records left inside
    split = data["splits"]["test"]
    assert list(split) == ["start", "end", "bars", "strategy", "benchmark"]
    assert split["strategy"] == result.splits["test"].strategy.to_dict()
    fold = data["walk_forward"]["folds"][0]
    assert list(fold) == [
        "fold",
        "in_sample",
        "out_of_sample",
        "params",
        "in_sample_objective",
        "strategy",
        "benchmark",
    ]
    assert list(data["walk_forward"]) == ["mode", "folds", "stitched", "benchmark"]
    assert list(data["regimes"]) == ["evaluated_on", "window", "threshold", "table"]
    assert list(data["cost_sensitivity"][0]) == ["multiplier", "costs", "test", "walk_forward"]
    assert list(data["top_combinations"][0]) == ["params", "train_objective"]


def test_optional_parts_stay_out_of_the_json_or_null() -> None:
    row = CostRow(1.0, {"fees": 0.001}, _metrics())
    assert "walk_forward" not in row.to_dict()
    empty = SplitResult(Span(None, None), 0, _metrics(), _metrics())
    assert empty.to_dict()["start"] is None and empty.to_dict()["end"] is None
    window = CutoffWindow(10, 10, _metrics(), None, None)
    assert window.to_dict()["after_cutoff"] is None and window.to_dict()["benchmark_after_cutoff"] is None
    assert TopCombination({"a.b": 1}, None).to_dict() == {"params": {"a.b": 1}, "train_objective": None}


def test_a_comparison_row_shows_only_the_compared_metrics() -> None:
    row = ComparisonRow("x", "baseline", _metrics(sharpe=1.5), ("sharpe", ANNUALISED_FLAG))
    assert row.to_dict() == {"name": "x", "kind": "baseline", "sharpe": 1.5, ANNUALISED_FLAG: True}


def _flags(node: Any) -> list[bool]:
    """Every ``annualised_meaningful`` in the JSON, in order."""
    if isinstance(node, dict):
        own = [node[ANNUALISED_FLAG]] if ANNUALISED_FLAG in node else []
        return own + [flag for value in node.values() for flag in _flags(value)]
    if isinstance(node, list):
        return [flag for value in node for flag in _flags(value)]
    return []


def test_window_metrics_walks_every_set_of_figures_in_the_json(result: BacktestResult) -> None:
    flags = [metrics.annualised_meaningful for metrics in result.window_metrics()]
    assert flags == _flags(result.to_dict()) and len(flags) > 20
