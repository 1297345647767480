"""Baselines run exactly like the strategy and land side by side in the result and the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fintrade.comparison import COMPARED_METRICS, baseline_strategy, run_with_baselines
from fintrade.errors import ConfigError
from fintrade.evaluation import BacktestResult, run_backtest
from fintrade.plugin_manager import create_plugin_manager
from fintrade.registry import Registry
from fintrade.report import render_report
from fintrade.strategy import Costs, Strategy, WalkForward, signal
from fintrade.testing import CliResult
from tests.test_report import Page


class Crossover(Strategy):
    symbols = ["AAPL", "MSFT"]
    source = "sample"
    start = "2013-01-01"
    end = "2016-12-31"
    signals = [signal("sma-cross", fast=10, slow=50)]
    costs = Costs(fees=0.001)
    walk_forward = WalkForward(folds=3)
    grid = {"sma-cross.fast": [5, 10]}
    baselines = {"momentum": [signal("momentum", lookback=20)], "rsi": [signal("rsi")]}


class MomentumOnly(Crossover):
    signals = [signal("momentum", lookback=20)]
    grid = {}
    baselines = {}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(create_plugin_manager(load_entry_points=False))


@pytest.fixture(scope="module")
def compared(registry: Registry) -> tuple[BacktestResult, dict[str, BacktestResult]]:
    return run_with_baselines(Crossover(), registry, lambda s: run_backtest(s, registry))


def test_table_has_strategy_each_baseline_and_buy_and_hold(compared: tuple[BacktestResult, dict]) -> None:
    result, _ = compared
    assert result.comparison is not None
    assert result.comparison.evaluated_on == "walk-forward"
    assert result.walk_forward is not None
    rows = result.comparison.rows
    assert [(row.name, row.kind) for row in rows] == [
        ("Crossover", "strategy"),
        ("momentum", "baseline"),
        ("rsi", "baseline"),
        ("buy-and-hold", "benchmark"),
    ]
    assert rows[0].metrics == result.walk_forward.stitched
    assert rows[-1].metrics == result.walk_forward.benchmark
    assert result.to_dict()["comparison"] == result.comparison.to_dict()
    assert set(result.to_dict()["comparison"]["rows"][0]) == {"name", "kind", *COMPARED_METRICS}


def test_a_baseline_is_the_same_strategy_with_other_signals(
    compared: tuple[BacktestResult, dict], registry: Registry
) -> None:
    result, baselines = compared
    alone = run_backtest(MomentumOnly(), registry)
    momentum, wf = baselines["momentum"].walk_forward, result.walk_forward
    assert momentum is not None and alone.walk_forward is not None and wf is not None
    assert result.comparison is not None
    assert momentum.stitched == alone.walk_forward.stitched
    assert result.comparison.rows[1].metrics.sharpe == alone.walk_forward.stitched.sharpe
    # Same bars, same benchmark: only the signals differ.
    assert momentum.benchmark == wf.benchmark


def test_report_shows_the_side_by_side_table_and_baseline_curves(compared: tuple[BacktestResult, dict]) -> None:
    result, _ = compared
    page = Page(render_report(result))
    assert page.errors == []
    names = [row["cells"][0] for row in page.tables["comparison"]]
    assert names == ["Crossover", "momentum", "rsi", "buy-and-hold"]
    legend = " ".join(page.texts.get("charts", []))
    assert "Baseline momentum" in legend and "Baseline rsi" in legend
    assert set(result.baseline_curves) == {"momentum", "rsi"}


def test_a_baseline_needs_signal_specs() -> None:
    with pytest.raises(ConfigError, match="baseline 'x'"):
        baseline_strategy(Crossover(), "x", ["momentum"])  # type: ignore[list-item]


def test_cli_prints_the_side_by_side_table(tmp_path: Path, cli_runner: Callable[..., CliResult]) -> None:
    path = tmp_path / "s.py"
    path.write_text(
        "from fintrade import Strategy, WalkForward, signal\n"
        "class S(Strategy):\n"
        "    symbols = ['AAPL']\n"
        "    start = '2014-01-01'\n"
        "    end = '2015-12-31'\n"
        "    signals = [signal('sma-cross', fast=5, slow=20)]\n"
        "    walk_forward = None\n"
        "    baselines = {'momentum': [signal('momentum')]}\n"
    )
    result = cli_runner(["backtest", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "Side by side, on the test bars" in result.stdout
    assert "momentum (baseline)" in result.stdout
    # Piped output: the whole table, with the win column filled for the series that trade.
    assert "…" not in result.stdout
    row = next(line for line in result.stdout.splitlines() if "momentum (baseline)" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert len(cells) == 8 and cells[5].endswith("%"), cells  # series, return, CAGR, Sharpe, maxDD, win, ...


def test_side_by_side_rows_carry_the_win_rate(compared: tuple[BacktestResult, dict]) -> None:
    result, baselines = compared
    rsi, wf = baselines["rsi"].walk_forward, result.walk_forward
    assert result.comparison is not None and rsi is not None and wf is not None
    rows = {row.name: row.metrics for row in result.comparison.rows}
    assert rows["Crossover"].win_rate == wf.stitched.win_rate is not None
    assert rows["rsi"].win_rate == rsi.stitched.win_rate
    assert rows["buy-and-hold"].win_rate is None  # buy-and-hold closes no trade
