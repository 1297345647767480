"""The backtest engine: target positions in, a vectorbt portfolio out.

This is the one place where fills and fees happen. A position decided at bar t's close is
traded at bar t+1's open (``fill="next_open"``), or at bar t's close when a strategy asks for
``fill="close"``. Costs come from :class:`fintrade.costs.Costs`: percentage and fixed fees
per fill, and slippage plus half the spread applied against the fill price.

Columns are independent sleeves: each symbol (in each parameter combination) starts with an
equal share of the capital, and a strategy's equity is the sum of its sleeves.

Perpetual swaps pay funding: when bars carry a ``funding_rate`` column, the position carried
into a bar (held before its fill) pays ``units * open * rate`` at that bar (longs pay a
positive rate, shorts receive it). Funding is booked into the sleeve's equity after the simulation, so it does not
change the size of later orders; over a backtest that difference is second order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from fintrade.costs import Costs
from fintrade.errors import ConfigError


@dataclass(frozen=True)
class Simulation:
    """What the engine returns: sleeve values and executed weights, as plain arrays."""

    index: pd.DatetimeIndex
    columns: pd.Index
    value: np.ndarray  # bars x columns: sleeve equity at each close
    weight: np.ndarray  # bars x columns: target weight in force after each bar's fill
    portfolio: Any  # the vectorbt Portfolio, for trade records


def executed_targets(positions: np.ndarray, fill: Literal["next_open", "close"]) -> np.ndarray:
    """The target weight traded at each bar: the decision of the previous close for next-open fills."""
    if fill == "close":
        return positions
    shifted = np.empty_like(positions)
    shifted[0] = 0.0
    shifted[1:] = positions[:-1]
    return shifted


def order_sizes(targets: np.ndarray) -> np.ndarray:
    """Target-percent orders only where the target changes (NaN = no order).

    Re-sending an unchanged target every bar would rebalance drift daily and pay fees on it.
    """
    sizes = targets.copy()
    sizes[1:][targets[1:] == targets[:-1]] = np.nan
    sizes[0][targets[0] == 0.0] = np.nan
    return sizes


def sleeve_values(
    orders: np.ndarray,
    close: np.ndarray,
    initial_cash: float,
    funding: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Equity of each column at each close, rebuilt from the fills.

    Cash moves by each fill's signed value and fees; holdings are marked at the close. This is
    what ``Portfolio.value()`` computes, without the intermediate DataFrames it builds (about
    half of a large sweep's time under pandas 3). ``funding`` is ``(rates, mark prices)``, both
    bars x columns: the units carried into each bar pay ``units * mark * rate`` there.
    """
    n_bars, n_columns = close.shape
    signed_size = np.where(orders["side"] == 0, orders["size"], -orders["size"])  # side 0 = buy
    cell = orders["idx"] * n_columns + orders["col"]
    cells = n_bars * n_columns
    # bincount returns integers when there are no orders at all (a strategy that never trades).
    units = np.bincount(cell, weights=signed_size, minlength=cells).astype(float).reshape(n_bars, n_columns)
    cash = np.bincount(cell, weights=-signed_size * orders["price"] - orders["fees"], minlength=cells).astype(float)
    cash = cash.reshape(n_bars, n_columns)
    np.cumsum(units, axis=0, out=units)
    np.cumsum(cash, axis=0, out=cash)
    if funding is not None:
        # A settlement at a bar's open is paid by the position carried into the bar: the units
        # held before that bar's own fill (an entry at the settlement time does not pay it).
        rates, marks = funding
        carried = np.vstack([np.zeros((1, n_columns)), units[:-1]])
        cash -= np.cumsum(carried * marks * rates, axis=0)
    units *= close
    cash += initial_cash
    cash += units
    return cash


def simulate(
    positions: pd.DataFrame,
    open_prices: pd.DataFrame,
    close_prices: pd.DataFrame,
    costs: Costs,
    *,
    initial_cash: float,
    position_size: float = 1.0,
    fill: Literal["next_open", "close"] = "next_open",
    funding_rates: pd.DataFrame | None = None,
) -> Simulation:
    """Simulate target positions (bars x columns, in [-1, 1]) on prices (bars x symbols).

    ``positions`` columns are symbols, or ``(combo, symbol)`` pairs; prices are matched by the
    ``symbol`` level. The capital is split equally over the symbols of one combination.
    ``funding_rates`` (bars x symbols) charges perpetual-swap funding, marked at the open.
    """
    import vectorbt as vbt

    if fill not in ("next_open", "close"):
        raise ConfigError(f"fill must be 'next_open' or 'close', got {fill!r}")
    if not 0 < position_size <= 1:
        raise ConfigError(f"position_size must be in (0, 1], got {position_size!r}")
    symbols = positions.columns.get_level_values("symbol") if positions.columns.nlevels > 1 else positions.columns
    n_symbols = len(pd.unique(symbols))
    column_positions = close_prices.columns.get_indexer(symbols)
    if (column_positions < 0).any():
        raise ConfigError(f"positions name symbols without prices: {sorted(set(symbols) - set(close_prices.columns))}")
    # Row-major arrays: pandas hands out column-major ones, which the simulator walks slowly.
    close = np.ascontiguousarray(close_prices.to_numpy(dtype=float))[:, column_positions]
    price = close if fill == "close" else np.ascontiguousarray(open_prices.to_numpy(dtype=float))[:, column_positions]

    decided = np.array(positions.to_numpy(dtype=float), order="C", copy=True)
    np.nan_to_num(decided, copy=False)
    np.clip(decided, -1.0, 1.0, out=decided)
    decided *= position_size
    targets = executed_targets(decided, fill)
    portfolio = vbt.Portfolio.from_orders(
        close=close,
        size=order_sizes(targets),
        size_type="targetpercent",
        price=price,
        fees=costs.fees,
        fixed_fees=costs.fixed_fees,
        slippage=costs.price_impact,
        init_cash=initial_cash / n_symbols,
        direction="both",
        engine="rust",
    )
    funding = None
    if funding_rates is not None:
        rates = np.ascontiguousarray(funding_rates.to_numpy(dtype=float))[:, column_positions]
        marks = np.ascontiguousarray(open_prices.to_numpy(dtype=float))[:, column_positions]
        funding = (np.nan_to_num(rates), marks)
    value = sleeve_values(portfolio.orders.values, close, initial_cash / n_symbols, funding)
    return Simulation(positions.index, positions.columns, value, targets, portfolio)
