"""Backtest evaluation: splits, walk-forward, regimes, cost sensitivity, sweeps and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from fintrade import Costs, Regimes, Splits, Strategy, WalkForward, signal
from fintrade.errors import ConfigError, DataError
from fintrade.evaluation import run_backtest
from fintrade.regimes import WARMUP
from tests.conftest import random_walk_bars


class Trend(Strategy):
    symbols = ["AAA", "BBB"]
    source = "memory"
    signals = [signal("sma-cross", fast=10, slow=40)]
    costs = Costs(fees=0.001, slippage=0.0005)
    walk_forward = WalkForward(folds=4, mode="rolling")
    grid = {"sma-cross.fast": [5, 10, 20], "sma-cross.slow": [30, 60, 90]}


def _strategy(**overrides: Any) -> Strategy:
    return type("Custom", (Trend,), overrides)()


def test_report_has_every_section(core_registry) -> None:
    result = run_backtest(Trend(), core_registry)
    data = result.to_dict()
    assert data["combinations"] == 9
    assert set(data["splits"]) == {"train", "validation", "test"}
    assert [f["fold"] for f in data["walk_forward"]["folds"]] == [1, 2, 3, 4]
    assert set(data["regimes"]["table"]) == {"bull", "bear", "sideways"}
    assert [row["multiplier"] for row in data["cost_sensitivity"]] == [0.0, 1.0, 2.0]
    assert set(data["chosen_params"]) == {"sma-cross.fast", "sma-cross.slow"}
    split_bars = sum(s["bars"] for s in data["splits"].values())
    assert split_bars == data["bars"] == 600


def test_costs_lower_returns_monotonically(core_registry) -> None:
    rows = run_backtest(Trend(), core_registry).cost_sensitivity
    returns = [row.walk_forward.total_return for row in rows if row.walk_forward is not None]
    assert returns[0] > returns[1] > returns[2]


def test_parameters_are_chosen_on_train_only(core_registry, memory_source) -> None:
    baseline = run_backtest(Trend(), core_registry)
    # Wreck everything after the train split: the choice must not move.
    for symbol in Trend.symbols:
        frame = random_walk_bars(symbol)
        cut = round(len(frame) * 0.6)
        tail = frame.iloc[cut:].copy()
        tail[["open", "high", "low", "close"]] *= np.linspace(1, 3, len(tail))[:, None]
        memory_source.frames[symbol] = pd.concat([frame.iloc[:cut], tail])
    planted = run_backtest(Trend(), core_registry)
    assert planted.chosen == baseline.chosen
    assert planted.splits["test"].strategy != baseline.splits["test"].strategy


def test_walk_forward_never_uses_out_of_sample_data(core_registry, memory_source) -> None:
    baseline = run_backtest(Trend(), core_registry).walk_forward
    # 600 bars in 5 chunks of 120: fold 3 chooses on bars 240..360 and trades 360..480. Change 360 on.
    for symbol in Trend.symbols:
        frame = random_walk_bars(symbol)
        frame.iloc[360:480, :4] = frame.iloc[360:480, :4].to_numpy() * np.linspace(1, 0.5, 120)[:, None]
        frame.iloc[480:, :4] = frame.iloc[480:, :4].to_numpy() * 0.5
        memory_source.frames[symbol] = frame
    planted = run_backtest(Trend(), core_registry).walk_forward
    # Folds 1 to 3 chose on bars before 360; fold 3 trades the changed chunk.
    assert planted is not None and baseline is not None
    assert [f.params for f in planted.folds[:3]] == [f.params for f in baseline.folds[:3]]
    assert planted.folds[2].strategy != baseline.folds[2].strategy


def test_anchored_walk_forward_grows_the_in_sample_window(core_registry) -> None:
    folds = run_backtest(_strategy(walk_forward=WalkForward(folds=3, mode="anchored")), core_registry).walk_forward
    assert folds is not None
    starts = {f.in_sample.start for f in folds.folds}
    assert len(starts) == 1
    assert folds.mode == "anchored"


def test_long_short_takes_short_positions(core_registry) -> None:
    long_only = run_backtest(_strategy(grid={}), core_registry)
    long_short = run_backtest(_strategy(grid={}, direction="long_short"), core_registry)
    assert long_only.splits["train"].strategy.exposure < long_short.splits["train"].strategy.exposure


def test_grid_sweep_matches_single_runs(core_registry) -> None:
    swept = run_backtest(_strategy(grid={"sma-cross.fast": [5, 20], "sma-cross.slow": [60]}), core_registry)
    single = run_backtest(_strategy(grid={}, signals=[signal("sma-cross", **_plain(swept.chosen))]), core_registry)
    assert swept.splits["test"].strategy == single.splits["test"].strategy


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {name.split(".", 1)[1]: value for name, value in params.items()}


def test_regime_labels_use_no_future_data() -> None:
    close = random_walk_bars("AAA")["close"]
    labeller = Regimes(window=20, threshold=0.03)
    full = labeller.label(close)
    for cut in (25, 100, 333, 599):
        truncated = labeller.label(close.iloc[:cut])
        pd.testing.assert_series_equal(truncated, full.iloc[:cut])
    assert (full.iloc[:20] == WARMUP).all()
    assert set(full.iloc[20:]) <= {"bull", "bear", "sideways"}


def test_the_truncation_check_catches_a_leaky_labeller() -> None:
    class Centred(Regimes):
        def label(self, market_close):  # planted leak: a centred window looks ahead
            return super().label(market_close.shift(-self.window // 2).ffill())

    close = random_walk_bars("AAA")["close"]
    leaky = Centred(window=20, threshold=0.03)
    with pytest.raises(AssertionError):
        pd.testing.assert_series_equal(leaky.label(close.iloc[:300]), leaky.label(close).iloc[:300])


def test_regime_of_a_bar_is_known_before_it(core_registry) -> None:
    close = random_walk_bars("AAA")["close"]
    labeller = Regimes(window=20, threshold=0.03)
    assert labeller.label_returns(close).iloc[1:].tolist() == labeller.label(close).iloc[:-1].tolist()


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (
            {"signals": [signal("sma-cross", fast=5, slo=20)]},
            ConfigError,
            "signal 'sma-cross': unknown parameter 'slo' for signal model 'sma-cross' (did you mean 'slow'?); "
            "known: fast, slow",
        ),
        (
            {"grid": {"sma-cross.fats": [1]}},
            ConfigError,
            "grid key 'sma-cross.fats': unknown parameter 'fats' for signal model 'sma-cross' (did you mean 'fast'?)",
        ),
        ({"grid": {"sma.fast": [1]}}, ConfigError, "grid key 'sma.fast': no signal labelled 'sma'"),
        (
            {"signals": [signal("sma-crosss")]},
            ConfigError,
            "unknown signal model 'sma-crosss' (did you mean 'sma-cross'?)",
        ),
        ({"aggregator": "meen"}, ConfigError, "unknown aggregator 'meen' (did you mean 'mean'?)"),
        ({"source": "memroy"}, ConfigError, "unknown data source 'memroy' (did you mean 'memory'?)"),
        ({"objective": "sharp"}, ConfigError, "unknown objective 'sharp'"),
        (
            {"start": "2019-01-01", "end": "2018-01-01"},
            DataError,
            "empty date range: start 2019-01-01 is not before end 2018-01-01",
        ),
        ({"start": "2030-01-01"}, DataError, "source 'memory', symbol 'AAA': no bars between 2030-01-01 and None"),
        ({"walk_forward": WalkForward(folds=400)}, DataError, "walk-forward fold 1 has 1 in-sample bars"),
        (
            {"splits": Splits(train=0.998, validation=0.0, test=0.002)},
            DataError,
            "the test split (0% of 600 bars) has 1 bars",
        ),
    ],
)
def test_bad_strategies_fail_with_one_clear_line(core_registry, overrides, error, message) -> None:
    with pytest.raises(error) as caught:
        run_backtest(_strategy(**overrides), core_registry)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns="close"), "source 'memory', symbol 'AAA': missing column(s) close"),
        (lambda f: f.assign(open="x"), "column 'open' is not numeric (first bad value 'x' at 2018-01-01"),
        (lambda f: f.iloc[::-1], "timestamps are not sorted"),
        (lambda f: pd.concat([f.iloc[:5], f.iloc[4:]]), "duplicate timestamp 2018-01-05 00:00:00+00:00"),
        (lambda f: f.assign(close=f["close"].where(f.index != f.index[7])), "NaN price at 2018-01-10 00:00:00+00:00"),
        (lambda f: f.tz_localize(None), "timestamps must be timezone-aware"),
    ],
)
def test_bad_bars_fail_with_one_clear_line(core_registry, memory_source, mutate, message) -> None:
    memory_source.frames["AAA"] = mutate(random_walk_bars("AAA"))
    with pytest.raises(DataError) as caught:
        run_backtest(Trend(), core_registry)
    assert message in str(caught.value)
