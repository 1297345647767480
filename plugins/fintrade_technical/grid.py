"""Scoring a whole parameter grid at once, and the single-parameter-set call built from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fintrade.types import Signal, SignalInput

if TYPE_CHECKING:
    import pandas as pd

GridFunction = Callable[[SignalInput, Sequence[Mapping[str, Any]]], Signal]


def grid_frame(values: np.ndarray, index: pd.Index, symbols: Sequence[str]) -> pd.DataFrame:
    """(bars, combos, symbols) -> frame with ``(combo, symbol)`` columns."""
    import pandas as pd

    n_bars, n_combos, n_symbols = values.shape
    columns = pd.MultiIndex.from_product([range(n_combos), list(symbols)], names=["combo", "symbol"])
    return pd.DataFrame(values.reshape(n_bars, n_combos * n_symbols), index=index, columns=columns, copy=False)


def grid_signal(values: np.ndarray, inputs: SignalInput) -> Signal:
    """A fully confident signal from (bars, combos, symbols) scores; NaN (warm-up) stays NaN."""
    return Signal.certain(grid_frame(values, inputs.index, inputs.symbols))


def single(grid_function: GridFunction) -> Callable[[SignalInput, Mapping[str, Any]], Signal]:
    """``compute(inputs, params)`` from a grid function: a grid of one, without the combo level."""

    def compute(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
        signal = grid_function(inputs, [params])
        return Signal(signal.score.droplevel("combo", axis=1), signal.confidence.droplevel("combo", axis=1))

    compute.__doc__ = grid_function.__doc__
    return compute
