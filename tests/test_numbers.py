"""The reported numbers against an independent computation written here with plain numpy and pandas.

Each test builds bars and positions it controls (an inline data source and a signal model
whose scores are the positions), runs a backtest, and recomputes the figure from the prices
without fintrade's metric code: a small zero-cost engine below fills each target at the next
open exactly as documented. Bars open at the previous close, so the equity known when a fill
is sized (the previous close) is the equity at the fill, and the figures match to rounding.
"""

from __future__ import annotations

import io
import json
import types
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import fintrade
from fintrade import Regimes, Splits, Strategy, WalkForward, signal
from fintrade.cli.summary import print_summary
from fintrade.evaluation import BacktestResult, run_backtest
from fintrade.plugin_manager import PluginInfo, create_plugin_manager
from fintrade.registry import Registry
from fintrade.report import render_report
from fintrade.types import DataSource, Signal, SignalModel
from tests.test_report import Page

N_BARS = 300
INDEX = pd.date_range("2020-01-01", periods=N_BARS, freq="B", tz="UTC")
# Bars per year as the data shows it: bar count minus one over the calendar span.
PERIODS = (N_BARS - 1) / ((INDEX[-1] - INDEX[0]).total_seconds() / (365.25 * 24 * 3600))
CASH = 100_000.0


def gapless_bars(close: np.ndarray) -> pd.DataFrame:
    """Bars whose open is the previous close: no overnight gap."""
    open_ = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": 1e6,
        },
        index=INDEX,
    )


def random_walk(seed: int, drift: float = 0.0005) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(drift + rng.normal(0.0, 0.012, N_BARS)))


def blocks(*values: tuple[int, float]) -> np.ndarray:
    """``blocks((100, 1.0), (200, -1.0))``: +1 for bars 0..99, -1 up to bar 199, ..."""
    out = np.zeros(N_BARS)
    start = 0
    for stop, value in values:
        out[start:stop] = value
        start = stop
    return out


def registry(frames: dict[str, pd.DataFrame], patterns: dict[str, pd.DataFrame]) -> Registry:
    """Built-ins plus a ``frames`` data source and a ``given`` signal model (score = pattern * scale)."""

    @fintrade.hookimpl
    def fintrade_data_sources():
        yield DataSource(name="frames", load=lambda request: {s: frames[s] for s in request.symbols})

    def given(inputs: Any, params: Any) -> Signal:
        score = patterns[params["pattern"]].reindex(index=inputs.index, columns=inputs.symbols) * params["scale"]
        return Signal.certain(score)

    @fintrade.hookimpl
    def fintrade_signal_models():
        yield SignalModel("given", given, defaults={"pattern": "main", "scale": 1.0})

    plugin = types.ModuleType("numbers_plugin")
    plugin.fintrade_data_sources = fintrade_data_sources  # type: ignore[attr-defined]
    plugin.fintrade_signal_models = fintrade_signal_models  # type: ignore[attr-defined]
    pm = create_plugin_manager(load_entry_points=False)
    pm.register_plugin(plugin, "numbers_plugin", PluginInfo("numbers_plugin", "test", "ok"))
    return Registry(pm)


class Given(Strategy):
    symbols = ["AAA"]
    source = "frames"
    signals = [signal("given")]
    direction = "long_short"
    splits = Splits(train=0.5, validation=0.25, test=0.25)
    walk_forward = None


def backtest(positions: dict[str, np.ndarray], closes: dict[str, np.ndarray], **attributes: Any) -> BacktestResult:
    """Run ``Given`` on gapless bars of ``closes`` with positions decided at each close."""
    frames = {symbol: gapless_bars(close) for symbol, close in closes.items()}
    patterns = {"main": pd.DataFrame(positions, index=INDEX)}
    strategy = type("Given", (Given,), {"symbols": list(closes), **attributes})()
    return run_backtest(strategy, registry(frames, patterns))


def engine(decided: np.ndarray, closes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A zero-cost engine: each symbol's sleeve gets an equal share of the cash, and a target
    decided at bar t's close is filled at bar t+1's open (the previous close), only when it changes.

    Returns the sleeve values at each close (bars x symbols), the value traded at each bar as a
    fraction of the portfolio's equity at the fill, and the gross position value at the fill as
    a fraction of that equity.
    """
    n_bars, n_symbols = decided.shape
    opens = np.vstack([closes[:1], closes[:-1]])
    targets = np.vstack([np.zeros((1, n_symbols)), decided[:-1]])
    cash, units = np.full(n_symbols, CASH / n_symbols), np.zeros(n_symbols)
    values, traded, gross = np.empty((n_bars, n_symbols)), np.zeros(n_bars), np.zeros(n_bars)
    for t in range(n_bars):
        at_fill = cash + units * opens[t]
        equity = at_fill.sum()
        for s in range(n_symbols):
            previous = targets[t - 1, s] if t else 0.0
            if targets[t, s] != previous:
                new_units = targets[t, s] * at_fill[s] / opens[t, s]
                traded[t] += abs(new_units - units[s]) * opens[t, s] / equity
                cash[s] -= (new_units - units[s]) * opens[t, s]
                units[s] = new_units
        gross[t] = np.abs(units * opens[t]).sum() / equity
        values[t] = cash + units * closes[t]
    return values, traded, gross


def window_bars(result: BacktestResult, split: str) -> np.ndarray:
    """Positions of a split's bars, from its dates."""
    row = result.splits[split]
    start, end = pd.Timestamp(row.span.start), pd.Timestamp(row.span.end)
    return np.flatnonzero(INDEX.to_series().between(start, end).to_numpy())


def one_way_turnover(traded: np.ndarray, bars: np.ndarray) -> float:
    """Half the traded value per year; the window's first bar counts only when it is not bar 0."""
    counted = bars[bars > 0]
    return traded[counted].sum() / 2.0 / (len(counted) / PERIODS)


# --- turnover and exposure --------------------------------------------------------------------


def test_a_long_short_flip_turns_over_twice_the_equity() -> None:
    close = random_walk(1)
    decided = blocks((100, 1.0), (200, -1.0), (N_BARS, 1.0))
    result = backtest({"AAA": decided}, {"AAA": close})
    _, traded, _ = engine(decided[:, None], close[:, None])
    # Filled at the next open: enter at bar 1, flip at bars 101 and 201. Out of a long, a flip
    # trades twice the equity; out of a short, twice the equity plus what the short drifted.
    assert np.flatnonzero(traded).tolist() == [1, 101, 201]
    assert traded[101] == pytest.approx(2.0) and traded[201] != pytest.approx(2.0)
    for split in ("train", "validation", "test"):
        bars = window_bars(result, split)
        assert result.splits[split].strategy.turnover == pytest.approx(one_way_turnover(traded, bars), rel=1e-9)
    # The train split (bars 0..149) holds the entry and one flip: 1 + 2 traded, half of it one-way.
    assert result.splits["train"].strategy.turnover == pytest.approx(1.5 / (149 / PERIODS), rel=1e-9)
    assert result.splits["train"].strategy.exposure == 1.0  # always fully in, long or short


def test_opposite_trades_in_two_symbols_add_up() -> None:
    # AAA rallies while held long and BBB while held short, so the sleeves' shares of the
    # portfolio drift apart before they both flip at bar 120.
    closes = {"AAA": random_walk(2, drift=0.004), "BBB": random_walk(3, drift=0.004)}
    decided = np.column_stack([blocks((120, 1.0), (N_BARS, -1.0)), blocks((120, -1.0), (N_BARS, 1.0))])
    result = backtest(dict(zip(closes, decided.T, strict=True)), closes)
    values, traded, _ = engine(decided, np.column_stack(list(closes.values())))
    share = values[119] / values[119].sum()
    assert abs(share[0] - 0.5) > 0.1  # the flip is value-weighted, not a plain average of the symbols
    assert traded[121] > 1.9  # both sleeves trade about twice their value: the trades do not cancel
    for split in ("train", "validation", "test"):
        bars = window_bars(result, split)
        assert result.splits[split].strategy.turnover == pytest.approx(one_way_turnover(traded, bars), rel=1e-9)
    # The same capital, returns to the cent: the engine above is the one the figures describe.
    equity = values.sum(axis=1)
    train = window_bars(result, "train")
    assert result.splits["train"].strategy.total_return == pytest.approx(equity[train[-1]] / equity[0] - 1.0, rel=1e-9)


def test_exposure_is_gross_and_value_weighted() -> None:
    closes = {"AAA": random_walk(4, drift=0.003), "BBB": random_walk(5, drift=-0.002)}
    decided = np.column_stack([np.ones(N_BARS), blocks((230, 0.0), (N_BARS, -1.0))])
    result = backtest(dict(zip(closes, decided.T, strict=True)), closes)
    _, _, gross = engine(decided, np.column_stack(list(closes.values())))
    for split in ("train", "validation"):
        bars = window_bars(result, split)
        counted = bars[bars > 0]
        assert result.splits[split].strategy.exposure == pytest.approx(gross[counted].mean(), rel=1e-9)
    # Only AAA is held over validation: exposure is its share of the equity, above a plain half.
    assert 0.5 < result.splits["validation"].strategy.exposure < 1.0


# --- the first bar ----------------------------------------------------------------------------


def _figures(returns: np.ndarray) -> dict[str, float]:
    years = len(returns) / PERIODS
    growth = np.prod(1.0 + returns)
    downside = np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))
    return {
        "total_return": growth - 1.0,
        "cagr": growth ** (1.0 / years) - 1.0,
        "sharpe": returns.mean() / returns.std(ddof=1) * np.sqrt(PERIODS),
        "sortino": returns.mean() / downside * np.sqrt(PERIODS),
        "volatility": returns.std(ddof=1) * np.sqrt(PERIODS),
    }


def test_a_window_starting_at_bar_zero_has_no_return_for_its_first_bar() -> None:
    close = random_walk(6)
    result = backtest({"AAA": np.ones(N_BARS)}, {"AAA": close})
    # Long from bar 1's open, which is bar 0's close: every later return is the price's.
    price_returns = close[1:] / close[:-1] - 1.0
    train = window_bars(result, "train")
    assert train[0] == 0
    expected = _figures(price_returns[: len(train) - 1])  # bars 1..149: 149 returns, not 150
    for name, value in expected.items():
        assert result.splits["train"].strategy.get(name) == pytest.approx(value, rel=1e-9), name
    # A later window keeps its first bar's return, from the previous close: windows tile.
    validation = window_bars(result, "validation")
    expected = _figures(price_returns[validation[0] - 1 : validation[-1]])
    for name, value in expected.items():
        assert result.splits["validation"].strategy.get(name) == pytest.approx(value, rel=1e-9), name


# --- ties -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scales", [(1.0, 1.0 - 1e-15), (1.0 - 1e-15, 1.0)])
def test_a_tie_up_to_noise_picks_the_first_combination(scales: tuple[float, float]) -> None:
    # Two sizes a rounding error apart: the same positions, objectives equal up to floating-point
    # noise. Whichever comes first in the grid is chosen, in the train choice, in every fold,
    # and first in the top combinations; plain argmax would follow the noise in one of the orders.
    closes = {"AAA": random_walk(7, drift=0.002), "BBB": random_walk(8, drift=0.001)}
    signs = np.where(np.sin(np.arange(N_BARS) / 9.0) > 0, 0.8, -0.6)
    positions = {"AAA": signs, "BBB": -signs[::-1]}
    result = backtest(
        positions,
        closes,
        sizing="score",
        grid={"given.scale": list(scales)},
        walk_forward=WalkForward(folds=3),
    )
    assert result.chosen == {"given.scale": scales[0]}
    assert result.walk_forward is not None
    assert [fold.params["given.scale"] for fold in result.walk_forward.folds] == [scales[0]] * 3
    top = result.top_combinations
    assert [row.params["given.scale"] for row in top] == list(scales)
    assert top[0].train_objective == top[1].train_objective


# --- regimes ----------------------------------------------------------------------------------


def test_the_regime_table_accounts_for_every_evaluated_bar() -> None:
    closes = {"AAA": random_walk(9, drift=0.002), "BBB": random_walk(10, drift=-0.001)}
    window, threshold = 200, 0.05
    result = backtest(
        {"AAA": np.ones(N_BARS), "BBB": np.ones(N_BARS)},
        closes,
        splits=Splits(train=0.5, validation=0.0, test=0.5),
        regimes=Regimes(window=window, threshold=threshold),
    )
    # The market: equal-weighted closes; a bar's regime is the trailing return known at the
    # previous close, unknown (warm-up) until `window` closes precede that close.
    market = np.mean([close / close[0] for close in closes.values()], axis=0)
    known = np.full(N_BARS, np.nan)
    known[window + 1 :] = market[window:-1] / market[: -window - 1] - 1.0
    labels = np.where(
        np.isnan(known), "warmup", np.where(known > threshold, "bull", np.where(known < -threshold, "bear", "sideways"))
    )
    test = window_bars(result, "test")
    table = result.regimes.rows
    counts = pd.Series(labels[test]).value_counts().to_dict()
    assert counts["warmup"] == window + 1 - test[0] > 0
    assert {label: row.bars for label, row in table.items() if row.bars} == counts
    assert sum(row.bars for row in table.values()) == len(test) == result.splits["test"].bars

    console = Console(file=io.StringIO(), width=200)
    print_summary(result, console)
    assert f"warm-up ({counts['warmup']})" in console.file.getvalue()  # type: ignore[attr-defined]
    page = Page(render_report(result))
    rows = [row for row in page.tables["regimes"] if row["attrs"].get("data-regime") == "warmup"]
    assert rows and rows[0]["cells"][0] == "warm-up" and rows[0]["cells"][1] == str(counts["warmup"])


# --- empty windows, JSON precision, short windows ---------------------------------------------


def test_a_window_with_no_bars_reports_null_metrics() -> None:
    result = backtest({"AAA": np.ones(N_BARS)}, {"AAA": random_walk(11)}, splits=Splits(0.8, 0.0, 0.2))
    validation = json.loads(json.dumps(result.to_dict()))["splits"]["validation"]
    assert validation["bars"] == 0
    for series in ("strategy", "benchmark"):
        metrics = {k: v for k, v in validation[series].items() if k != "annualised_meaningful"}
        assert metrics and all(value is None for value in metrics.values()), metrics


def test_a_tiny_figure_survives_json() -> None:
    # Flat prices, then a move of 1.234567e-7 on the test split's last bar.
    close = np.full(N_BARS, 100.0)
    close[-1] = 100.0 * (1.0 + 1.234567e-7)
    result = backtest({"AAA": np.ones(N_BARS)}, {"AAA": close})
    data = json.loads(json.dumps(result.to_dict()))
    assert data["splits"]["test"]["benchmark"]["total_return"] == pytest.approx(1.234567e-7, rel=1e-6)
    assert data["splits"]["test"]["strategy"]["total_return"] == pytest.approx(1.234567e-7, rel=1e-6)


def test_annualised_figures_of_a_short_window_are_flagged() -> None:
    close = random_walk(12)
    # 300 bars: test is the last 30 (about 0.12 years), train the first 240.
    result = backtest({"AAA": np.ones(N_BARS)}, {"AAA": close}, splits=Splits(0.8, 0.1, 0.1))
    test, train = result.splits["test"].strategy, result.splits["train"].strategy
    assert (29 / PERIODS) < 0.25 < (239 / PERIODS)  # the flag follows the year count of counted returns
    assert test.annualised_meaningful is False and train.annualised_meaningful is True
    assert test.cagr is not None  # kept in the JSON, flagged
    bars = window_bars(result, "test")
    assert test.total_return == pytest.approx(close[bars[-1]] / close[bars[0] - 1] - 1.0, rel=1e-9)

    console = Console(file=io.StringIO(), width=200)
    print_summary(result, console)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    row = next(line for line in lines if line.startswith("│test ") or line.startswith("test "))
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[1] == f"{test.total_return:.1%}"  # the total return stays
    assert cells[2] == "n/m" and cells[3] == "n/m"  # CAGR, Sharpe
    page = Page(render_report(result))
    test_row = next(r for r in page.tables["splits"] if r["attrs"].get("data-split") == "test")
    assert "n/m" in test_row["cells"]

    longer = backtest({"AAA": np.ones(N_BARS)}, {"AAA": close}, splits=Splits(0.8, 0.1, 0.1), min_annualised_years=0.1)
    assert longer.splits["test"].strategy.annualised_meaningful is True


def test_piped_tables_are_not_cut_to_80_columns() -> None:
    result = backtest({"AAA": np.ones(N_BARS)}, {"AAA": random_walk(13)})
    stream = io.StringIO()
    console = Console(file=stream, width=40)  # not a terminal: a pipe or a log
    assert not console.is_terminal
    print_summary(result, console)
    text = stream.getvalue()
    assert "…" not in text
    header = next(line for line in text.splitlines() if "return" in line)
    assert all(name in header for name in ("return", "CAGR", "Sharpe", "maxDD", "win", "trades", "expo"))
