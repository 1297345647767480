"""Built-in technical signals and aggregators: hand-checked values, grids, and no lookahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fintrade.registry import Registry
from fintrade.strategy import positions_from_entries_exits
from fintrade.types import Signal, SignalInput
from tests.conftest import random_walk_bars

INPUTS = SignalInput(bars={s: random_walk_bars(s, n_bars=300) for s in ("AAA", "BBB")})


def _frame(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"X": values}, index=pd.date_range("2020-01-01", periods=len(values), tz="UTC"))


@pytest.mark.parametrize(
    ("model", "params"), [("sma-cross", {"fast": 5, "slow": 20}), ("momentum", {"lookback": 10, "scale": 0.05})]
)
def test_technical_signals_use_no_future_data(core_registry: Registry, model: str, params: dict) -> None:
    compute = core_registry.signal_models.get(model).compute
    full = compute(INPUTS, params).score
    for cut in (30, 120, 299):
        truncated = SignalInput(bars={s: f.iloc[:cut] for s, f in INPUTS.bars.items()})
        pd.testing.assert_frame_equal(compute(truncated, params).score, full.iloc[:cut])


def test_sma_cross_by_hand(core_registry: Registry) -> None:
    close = [1.0, 2.0, 3.0, 2.0, 1.0, 0.5]
    bars = _frame(close).rename(columns={"X": "close"})
    score = core_registry.signal_models.get("sma-cross").compute(SignalInput({"X": bars}), {"fast": 1, "slow": 3}).score
    # slow SMA: -, -, 2, 2.33, 2, 1.17; fast = close.
    assert score["X"].tolist()[:2] == [pytest.approx(np.nan, nan_ok=True)] * 2
    assert score["X"].tolist()[2:] == [1.0, -1.0, -1.0, -1.0]


def test_grid_equals_one_by_one(core_registry: Registry) -> None:
    model = core_registry.signal_models.get("sma-cross")
    grid = [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 50}, {"fast": 5, "slow": 50}]
    together = model.compute_grid(INPUTS, grid).score
    for combo, params in enumerate(grid):
        alone = model.compute(INPUTS, params).score
        np.testing.assert_array_equal(together[combo].to_numpy(), alone.to_numpy())


def _signal(scores: list[float], confidences: list[float]) -> Signal:
    return Signal(_frame(scores), _frame(confidences))


def test_aggregators_by_hand(core_registry: Registry) -> None:
    a = _signal([1.0, -0.5, np.nan, 0.2], [1.0, 0.5, np.nan, 0.0])
    b = _signal([0.0, -1.0, np.nan, np.nan], [0.5, 1.0, np.nan, np.nan])
    c = _signal([1.0, 0.5, np.nan, -0.2], [1.0, 1.0, np.nan, 1.0])
    get = core_registry.aggregators.get
    mean = get("mean").combine([a, b, c], {})
    np.testing.assert_allclose(mean.score["X"], [2 / 3, -1 / 3, np.nan, 0.0])
    majority = get("majority").combine([a, b, c], {})
    np.testing.assert_allclose(majority.score["X"], [1.0, -1.0, np.nan, 0.0])
    np.testing.assert_allclose(majority.confidence["X"][:2], [2 / 3, 2 / 3])
    vote = get("confidence-vote").combine([a, b, c], {})
    np.testing.assert_allclose(vote.score["X"], [2 / 2.5, (-0.25 - 1.0 + 0.5) / 2.5, np.nan, -0.2])


def test_entries_and_exits_become_held_positions() -> None:
    entries = _frame([0, 1, 0, 0, 0, 0, 0]).astype(bool)
    exits = _frame([0, 0, 0, 1, 0, 0, 0]).astype(bool)
    short_entries = _frame([0, 0, 0, 0, 1, 0, 0]).astype(bool)
    short_exits = _frame([0, 0, 0, 0, 0, 0, 1]).astype(bool)
    held = positions_from_entries_exits(entries, exits, short_entries, short_exits)
    assert held["X"].tolist() == [0.0, 1.0, 1.0, 0.0, -1.0, -1.0, 0.0]


def test_an_aggregator_returning_scores_outside_the_range_is_refused() -> None:
    import fintrade
    from fintrade.errors import PluginError
    from fintrade.plugin_manager import create_plugin_manager
    from fintrade.strategy import Strategy
    from fintrade.sweep import combine_signals
    from fintrade.types import Aggregator

    class Overshoot:
        @fintrade.hookimpl
        def fintrade_aggregators(self) -> list[Aggregator]:
            def combine(signals, params):  # type: ignore[no-untyped-def]
                return Signal.certain(signals[0].score * 2.0)

            return [Aggregator(name="overshoot", combine=combine)]

    pm = create_plugin_manager(load_entry_points=False)
    pm.register(Overshoot(), name="overshoot")
    strategy = type("Over", (Strategy,), {"aggregator": "overshoot"})()
    scores = pd.DataFrame({"X": [0.2, 0.9]}, index=pd.date_range("2020-01-01", periods=2, tz="UTC"))
    with pytest.raises(PluginError, match="outside"):
        combine_signals(strategy, Registry(pm), [Signal.certain(scores)])
