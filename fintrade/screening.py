"""Screening a grid: every sleeve's equity at each close, without vectorbt's ``Portfolio``.

:func:`fintrade.engine.simulate` builds a vectorbt ``Portfolio``: prices broadcast to every
column, order records for every fill, trade records on demand. Choosing among thousands of
combinations needs none of that, only each combination's equity curve. :func:`sleeve_values`
computes the same curve in one pass that reads prices per symbol, with vectorbt's own order
execution (``vectorbt.portfolio.nb.execute_order_nb``, the function its simulator calls for each
order), and books each fill's cash and units exactly as :func:`fintrade.engine.sleeve_values`
does, so the figures equal the engine's (a test holds them to 1e-12 over every cost type).
vectorbt stays the engine of record: the combinations a report shows are simulated through it.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from vectorbt.portfolio.enums import Direction, OrderStatus, ProcessOrderState, SizeType
from vectorbt.portfolio.nb import execute_order_nb, order_nb
from vectorbt.utils.math_ import is_close_nb

from fintrade.costs import Costs
from fintrade.errors import ConfigError


@njit(cache=True)
def _snapped(value: float) -> float:
    return 0.0 if is_close_nb(value, 0.0) else value


@njit(cache=True)
def _sleeve_values_nb(
    positions: np.ndarray,
    symbol_of_column: np.ndarray,
    fill_prices: np.ndarray,
    closes: np.ndarray,
    funding_rates: np.ndarray,
    marks: np.ndarray,
    has_funding: bool,
    next_open: bool,
    position_size: float,
    initial_cash: float,
    fees: float,
    fixed_fees: float,
    slippage: float,
) -> np.ndarray:
    n_bars, n_columns = positions.shape
    out = np.empty((n_bars, n_columns))
    # Per column: vectorbt's execution state, the target in force, and the running sums that
    # fintrade.engine.sleeve_values accumulates (units held, cash flows, funding paid).
    cash = np.full(n_columns, initial_cash)
    free_cash = np.full(n_columns, initial_cash)
    position = np.zeros(n_columns)
    debt = np.zeros(n_columns)
    val_price = np.full(n_columns, np.nan)
    target = np.zeros(n_columns)
    decided = np.zeros(n_columns)
    units = np.zeros(n_columns)
    flows = np.zeros(n_columns)
    funding = np.zeros(n_columns)
    for i in range(n_bars):
        for col in range(n_columns):
            symbol = symbol_of_column[col]
            # The decision at this close (clipped, scaled) and the target traded at this bar.
            now = positions[i, col]
            if np.isnan(now):
                now = 0.0
            now = min(max(now, -1.0), 1.0) * position_size
            previous_target = target[col]
            target[col] = decided[col] if next_open else now
            decided[col] = now
            price = fill_prices[i, symbol]
            if not np.isnan(price):
                val_price[col] = price  # vectorbt values a column at its order price, carried forward
            if has_funding:
                funding[col] += units[col] * marks[i, symbol] * funding_rates[i, symbol]
            # An order only where the target changes (fintrade.engine.order_sizes).
            if target[col] != previous_target or (i == 0 and target[col] != 0.0):
                value = cash[col]
                if position[col] != 0:
                    value += position[col] * val_price[col]
                state = ProcessOrderState(
                    cash=cash[col],
                    position=position[col],
                    debt=debt[col],
                    free_cash=free_cash[col],
                    val_price=val_price[col],
                    value=value,
                    oidx=0,
                    lidx=0,
                )
                order = order_nb(
                    size=target[col],
                    price=price,
                    size_type=SizeType.TargetPercent,
                    direction=Direction.Both,
                    fees=fees,
                    fixed_fees=fixed_fees,
                    slippage=slippage,
                )
                executed, result = execute_order_nb(state, order)
                if result.status == OrderStatus.Filled:
                    signed = result.size if result.side == 0 else -result.size
                    units[col] += signed
                    flows[col] += -signed * result.price - result.fees
                # vectorbt rounds a state within 1e-12 of zero to zero on its next call, order or
                # not, and values the column with the rounded position: so do we.
                cash[col] = _snapped(executed.cash)
                position[col] = _snapped(executed.position)
                debt[col] = _snapped(executed.debt)
                free_cash[col] = _snapped(executed.free_cash)
            held = flows[col] - funding[col] if has_funding else flows[col]
            out[i, col] = (held + initial_cash) + units[col] * closes[i, symbol]
    return out


def sleeve_values(
    positions: np.ndarray,
    symbol_of_column: np.ndarray,
    opens: np.ndarray,
    closes: np.ndarray,
    costs: Costs,
    *,
    initial_cash: float,
    position_size: float = 1.0,
    fill: str = "next_open",
    funding_rates: np.ndarray | None = None,
) -> np.ndarray:
    """Each column's sleeve equity at each close (bars x columns), as :func:`fintrade.engine.simulate`.

    ``positions`` (bars x columns) are target positions; column ``j`` trades symbol
    ``symbol_of_column[j]`` of ``opens`` and ``closes`` (bars x symbols), which are never
    copied per column. ``initial_cash`` is one sleeve's. ``funding_rates`` (bars x symbols)
    charges perpetual funding marked at the open.
    """
    if fill not in ("next_open", "close"):
        raise ConfigError(f"fill must be 'next_open' or 'close', got {fill!r}")
    opens = np.ascontiguousarray(opens, dtype=float)
    closes = np.ascontiguousarray(closes, dtype=float)
    has_funding = funding_rates is not None
    rates = np.nan_to_num(np.ascontiguousarray(funding_rates, dtype=float)) if has_funding else np.zeros((1, 1))
    return _sleeve_values_nb(
        np.ascontiguousarray(positions, dtype=float),
        np.ascontiguousarray(symbol_of_column, dtype=np.int64),
        closes if fill == "close" else opens,
        closes,
        rates,
        opens,
        has_funding,
        fill == "next_open",
        float(position_size),
        float(initial_cash),
        float(costs.fees),
        float(costs.fixed_fees),
        float(costs.price_impact),
    )


def warm_up() -> None:
    """Load the kernel in this process (numba's start): done once before forking workers."""
    prices = np.ones((2, 1))
    sleeve_values(np.zeros((2, 1)), np.zeros(1, dtype=np.int64), prices, prices, Costs(), initial_cash=1.0)
