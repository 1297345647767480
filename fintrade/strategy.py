"""The :class:`Strategy` base class that strategy files subclass.

A strategy is declarative: class attributes say what to trade, which signals to compute with
which parameters, how to combine them, what it costs and how to evaluate it. Methods are
optional hooks for custom logic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from fintrade.costs import Costs
from fintrade.regimes import Regimes
from fintrade.splits import Splits, WalkForward

if TYPE_CHECKING:
    import pandas as pd

    from fintrade.types import Signal

__all__ = ["Costs", "Regimes", "SignalSpec", "Splits", "Strategy", "WalkForward", "signal"]


@dataclass(frozen=True)
class SignalSpec:
    """One signal model used by a strategy, with its parameters.

    ``label`` names it in grids and reports (defaults to the model name), so the same model
    can appear twice with different parameters.
    """

    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def key(self) -> str:
        return self.label or self.model


def signal(model: str, *, label: str = "", **params: Any) -> SignalSpec:
    """``signal("sma-cross", fast=20, slow=100)``: a signal model with parameters."""
    return SignalSpec(model=model, params=dict(params), label=label)


class Strategy:
    """Subclass this in a strategy file and override the attributes you need."""

    #: What to trade, and where the bars come from.
    symbols: ClassVar[Sequence[str]] = ()
    source: ClassVar[str] = "sample"
    source_options: ClassVar[Mapping[str, Any]] = {}
    interval: ClassVar[str] = "1d"
    start: ClassVar[str | None] = None
    end: ClassVar[str | None] = None
    #: Text for document-driven signal models (``None``: no documents).
    text_source: ClassVar[str | None] = None
    text_options: ClassVar[Mapping[str, Any]] = {}
    #: When bars close, for point-in-time text: ``"16:00 America/New_York"``. ``None`` takes
    #: the data source's session close, else a bar closes when the next one opens.
    bar_close: ClassVar[str | None] = None

    #: Signals and how to combine them.
    signals: ClassVar[Sequence[SignalSpec]] = ()
    aggregator: ClassVar[str] = "mean"
    aggregator_params: ClassVar[Mapping[str, Any]] = {}

    #: From combined score to position.
    direction: ClassVar[Literal["long_only", "long_short"]] = "long_only"
    threshold: ClassVar[float] = 0.0
    position_size: ClassVar[float] = 1.0
    initial_cash: ClassVar[float] = 100_000.0

    #: Costs and evaluation.
    #: A Costs, or the name of a cost preset from a plugin (``"bybit-linear-taker"``).
    costs: ClassVar[Costs | str] = Costs()
    splits: ClassVar[Splits] = Splits()
    walk_forward: ClassVar[WalkForward | None] = WalkForward()
    regimes: ClassVar[Regimes] = Regimes()
    cost_multipliers: ClassVar[Sequence[float]] = (0.0, 1.0, 2.0)

    #: Parameter grid: ``{"<signal label>.<param>": values}``; chosen by ``objective`` on train.
    grid: ClassVar[Mapping[str, Sequence[Any]]] = {}
    objective: ClassVar[str] = "sharpe"
    seed: ClassVar[int] = 0

    @classmethod
    def strategy_name(cls) -> str:
        return cls.__name__

    def accept(self, params: Mapping[str, Any]) -> bool:
        """Keep a grid combination? Override to drop nonsense (e.g. fast >= slow)."""
        return True

    def positions(self, combined: Signal) -> pd.DataFrame:
        """Target positions in [-1, 1] (before ``position_size``) decided at each bar's close.

        The default goes long when the score is above ``threshold``, short (long/short only)
        when below ``-threshold``, and flat otherwise, including where there is no signal.
        """
        import pandas as pd

        score = combined.score.to_numpy(dtype=float)
        position = np.where(score > self.threshold, 1.0, 0.0)
        if self.direction == "long_short":
            position = np.where(score < -self.threshold, -1.0, position)
        return pd.DataFrame(position, index=combined.score.index, columns=combined.score.columns, copy=False)


def positions_from_entries_exits(
    entries: pd.DataFrame,
    exits: pd.DataFrame,
    short_entries: pd.DataFrame | None = None,
    short_exits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Turn boolean entry/exit frames into held target positions (1 long, -1 short, 0 flat).

    An entry opens (or flips to) a position that is held until its exit; on a bar with both
    an entry and an exit the exit wins.
    """
    import pandas as pd

    events = pd.DataFrame(np.nan, index=entries.index, columns=entries.columns)
    events = events.mask(entries.astype(bool), 1.0)
    if short_entries is not None:
        events = events.mask(short_entries.astype(bool), -1.0)
    long_exit = exits.astype(bool)
    short_exit = short_exits.astype(bool) if short_exits is not None else None
    held = events.ffill().fillna(0.0)
    # An exit flattens only the side it belongs to; re-run the fill after applying exits.
    flat = long_exit & (held > 0)
    if short_exit is not None:
        flat |= short_exit & (held < 0)
    events = events.mask(flat, 0.0)
    return events.ffill().fillna(0.0)
