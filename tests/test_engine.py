"""The engine against hand-computed fills, fees and slippage, to the cent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fintrade.costs import Costs
from fintrade.engine import executed_targets, order_sizes, simulate
from fintrade.errors import ConfigError

INDEX = pd.date_range("2021-01-04", periods=6, freq="D", tz="UTC")
OPEN = pd.DataFrame({"X": [99.0, 101.0, 103.0, 104.0, 104.0, 106.0]}, index=INDEX)
CLOSE = pd.DataFrame({"X": [100.0, 102.0, 104.0, 103.0, 105.0, 107.0]}, index=INDEX)


def _positions(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"X": values}, index=INDEX)


def test_round_trip_with_fees_and_slippage_to_the_cent() -> None:
    # Decided long at bar 0's close, flat at bar 2's close: bought at bar 1's open, sold at bar 3's open.
    costs = Costs(fees=0.001, fixed_fees=1.0, slippage=0.0004, spread=0.0002)
    sim = simulate(_positions([1, 1, 0, 0, 0, 0]), OPEN, CLOSE, costs, initial_cash=10_000.0)

    impact = 0.0004 + 0.0002 / 2
    buy_price = 101.0 * (1 + impact)
    # All cash goes in: size * price * (1 + fee) + fixed fee = cash.
    shares = (10_000.0 - 1.0) / (buy_price * 1.001)
    sell_price = 104.0 * (1 - impact)
    proceeds = shares * sell_price
    final_cash = proceeds - proceeds * 0.001 - 1.0

    assert sim.value[0, 0] == pytest.approx(10_000.0, abs=0.005)
    assert sim.value[1, 0] == pytest.approx(shares * 102.0, abs=0.005)  # marked at the close
    assert sim.value[2, 0] == pytest.approx(shares * 104.0, abs=0.005)
    assert sim.value[-1, 0] == pytest.approx(final_cash, abs=0.005)
    assert round(sim.value[-1, 0], 2) == round(final_cash, 2)

    orders = sim.portfolio.orders.records
    assert list(orders["idx"]) == [1, 3]
    assert orders["price"].tolist() == pytest.approx([buy_price, sell_price], abs=1e-9)


def test_short_round_trip_gains_when_price_falls() -> None:
    open_ = pd.DataFrame({"X": [100.0, 100.0, 90.0, 90.0, 90.0, 90.0]}, index=INDEX)
    close = open_.copy()
    sim = simulate(_positions([-1, 0, 0, 0, 0, 0]), open_, close, Costs(), initial_cash=1_000.0)
    # Short 10 shares at 100 on bar 1, covered at 90 on bar 2: +100.
    assert sim.value[-1, 0] == pytest.approx(1_100.0, abs=0.005)


def test_fill_at_close_trades_on_the_decision_bar() -> None:
    sim = simulate(_positions([0, 1, 1, 1, 1, 1]), OPEN, CLOSE, Costs(), initial_cash=1_000.0, fill="close")
    assert list(sim.portfolio.orders.records["idx"]) == [1]
    assert sim.value[-1, 0] == pytest.approx(1_000.0 / 102.0 * 107.0, abs=0.005)


def test_position_size_is_a_fraction_of_equity() -> None:
    sim = simulate(_positions([1, 1, 1, 1, 1, 1]), OPEN, CLOSE, Costs(), initial_cash=1_000.0, position_size=0.5)
    shares = 500.0 / 101.0
    assert sim.value[-1, 0] == pytest.approx(500.0 + shares * 107.0, abs=0.005)


def test_a_strategy_that_never_trades_keeps_its_cash() -> None:
    sim = simulate(_positions([0, 0, 0, 0, 0, 0]), OPEN, CLOSE, Costs(fees=0.001), initial_cash=1_000.0)
    assert sim.value[:, 0].tolist() == [1_000.0] * 6


def test_unchanged_targets_send_no_orders() -> None:
    targets = executed_targets(np.array([[1.0], [1.0], [0.0], [0.0], [-1.0]]), "next_open")
    assert targets[:, 0].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    sizes = order_sizes(targets)
    assert np.isnan(sizes[[0, 2, 4], 0]).all()
    assert sizes[1, 0] == 1.0 and sizes[3, 0] == 0.0


def test_capital_is_split_equally_between_symbols() -> None:
    both_open = pd.concat({"X": OPEN["X"], "Y": OPEN["X"]}, axis=1)
    both_close = pd.concat({"X": CLOSE["X"], "Y": CLOSE["X"]}, axis=1)
    positions = pd.DataFrame({"X": [1.0] * 6, "Y": [0.0] * 6}, index=INDEX)
    sim = simulate(positions, both_open, both_close, Costs(), initial_cash=2_000.0)
    assert sim.value[0].tolist() == pytest.approx([1_000.0, 1_000.0])
    assert sim.value[-1, 1] == pytest.approx(1_000.0)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"position_size must be in \(0, 1\], got 2"):
        simulate(_positions([1] * 6), OPEN, CLOSE, Costs(), initial_cash=1.0, position_size=2)
    with pytest.raises(ConfigError, match=r"costs\.fees must be a non-negative number, got -0\.1"):
        Costs(fees=-0.1)


def test_sleeve_values_equal_vectorbt_portfolio_value() -> None:
    # The engine rebuilds equity from fills instead of Portfolio.value(); both must agree.
    rng = np.random.default_rng(7)
    n_bars, n_columns = 300, 6
    index = pd.date_range("2020-01-01", periods=n_bars, tz="UTC")
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_bars, 3)), axis=0)), index=index)
    close.columns = ["A", "B", "C"]
    open_ = close.shift(1).fillna(close.iloc[0]) * (1 + rng.normal(0, 0.002, close.shape))
    columns = pd.MultiIndex.from_product([range(2), ["A", "B", "C"]], names=["combo", "symbol"])
    positions = pd.DataFrame(rng.choice([-1.0, 0.0, 0.5, 1.0], (n_bars, n_columns)), index=index, columns=columns)
    costs = Costs(fees=0.001, fixed_fees=0.5, slippage=0.0005, spread=0.0004)
    sim = simulate(positions, open_, close, costs, initial_cash=30_000.0, position_size=0.8)
    np.testing.assert_allclose(sim.value, sim.portfolio.value().to_numpy(), rtol=1e-12)
    assert len(sim.portfolio.orders.records) > 100


def test_funding_is_charged_on_the_position_held_at_each_bar() -> None:
    # Long 10 units from bar 1's open (100) to bar 3's open; funding 1% at bars 1 and 2, 5% at bar 4.
    # Settlements are paid by the position carried into the bar: bar 2 only (entered at bar 1's open).
    flat = pd.DataFrame({"X": [100.0] * 6}, index=INDEX)
    funding = pd.DataFrame({"X": [0.0, 0.01, 0.01, 0.0, 0.05, 0.0]}, index=INDEX)
    long_ = simulate(_positions([1, 1, 0, 0, 0, 0]), flat, flat, Costs(), initial_cash=1_000.0, funding_rates=funding)
    assert long_.value[:, 0].tolist() == pytest.approx([1_000.0, 1_000.0, 990.0, 990.0, 990.0, 990.0])
    short = simulate(_positions([-1, -1, 0, 0, 0, 0]), flat, flat, Costs(), initial_cash=1_000.0, funding_rates=funding)
    assert short.value[-1, 0] == pytest.approx(1_010.0)  # shorts receive a positive rate
    unfunded = simulate(_positions([1, 1, 0, 0, 0, 0]), flat, flat, Costs(), initial_cash=1_000.0)
    assert unfunded.value[-1, 0] == pytest.approx(1_000.0)
