"""The :class:`Strategy` base class that strategy files subclass.

A strategy is declarative: class attributes say what to trade, which signals to compute with
which parameters, how to combine them, what it costs and how to evaluate it. Methods are
optional hooks for custom logic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from fintrade.costs import Costs
from fintrade.errors import ConfigError
from fintrade.executors import Executor
from fintrade.inference import Significance
from fintrade.regimes import Regimes
from fintrade.splits import Splits, WalkForward

if TYPE_CHECKING:
    import pandas as pd

    from fintrade.types import Signal

__all__ = [
    "SETTINGS",
    "Costs",
    "Regimes",
    "SignalSpec",
    "Significance",
    "Splits",
    "Strategy",
    "WalkForward",
    "signal",
]


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


def signal(model: str, /, *, label: str = "", **params: Any) -> SignalSpec:
    """``signal("sma-cross", fast=20, slow=100)``: a signal model with parameters.

    ``model`` is positional-only, so a signal model may itself take a parameter called
    ``model``: ``signal("llm-sentiment", model="out/my-adapter")``.
    """
    return SignalSpec(model=model, params=dict(params), label=label)


class Strategy:
    """Subclass this in a strategy file and override the attributes you need."""

    #: What to trade, and where the bars come from.
    symbols: ClassVar[Sequence[str]] = ()
    source: ClassVar[str] = "sample"
    source_options: ClassVar[Mapping[str, Any]] = {}
    interval: ClassVar[str] = "1d"
    #: A date string (``"2015-01-01"``), ``datetime.date`` or ``pd.Timestamp``; naive means UTC.
    start: ClassVar[str | date | None] = None
    end: ClassVar[str | date | None] = None
    #: Bars whose open or close lie outside [low, high] are an error; up to this fraction of the
    #: close (``0.001``) they are repaired instead (high and low widened) and counted in a warning.
    price_tolerance: ClassVar[float] = 0.0
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

    #: From combined score to position: BUY when the score is above ``threshold``, SELL
    #: (short, or flat when long-only) below ``-threshold``, HOLD in between.
    direction: ClassVar[Literal["long_only", "long_short"]] = "long_only"
    threshold: ClassVar[float] = 0.0
    #: Signals less confident than this are HOLD, whatever their score.
    min_confidence: ClassVar[float] = 0.0
    #: What HOLD (and a bar without a signal) means: ``"flat"``, or ``"keep"`` the last position.
    hold: ClassVar[Literal["flat", "keep"]] = "flat"
    #: Position size from the signal: ``"fixed"`` (full size), ``"score"`` (``|score|``),
    #: ``"confidence"``, or ``"score_confidence"`` (``|score| * confidence``).
    sizing: ClassVar[Literal["fixed", "score", "confidence", "score_confidence"]] = "fixed"
    position_size: ClassVar[float] = 1.0
    initial_cash: ClassVar[float] = 100_000.0

    #: Costs and evaluation.
    #: A Costs, or the name of a cost preset from a plugin (``"bybit-linear-taker"``).
    costs: ClassVar[Costs | str] = Costs()
    splits: ClassVar[Splits] = Splits()
    walk_forward: ClassVar[WalkForward | None] = WalkForward()
    regimes: ClassVar[Regimes] = Regimes()
    cost_multipliers: ClassVar[Sequence[float]] = (0.0, 1.0, 2.0)
    #: Windows shorter than this many years have their annualised figures (CAGR, volatility,
    #: Sharpe, Sortino, turnover) flagged as not meaningful: a quarter extrapolated is noise.
    min_annualised_years: ClassVar[float] = 0.25
    #: Whether the edge survives the search (PSR, Deflated Sharpe with the trial ledger, PBO,
    #: bootstrap intervals, SPA); docs/evaluation.md explains each figure.
    significance: ClassVar[Significance] = Significance()
    #: Where the sweep runs: ``"local"``, ``"processes"``, ``"ray"`` or ``Executor("ray", address=...)``;
    #: None: ``FINTRADE_EXECUTOR``, else local. ``--executor`` overrides it (docs/scale.md).
    executor: ClassVar[Executor | str | None] = None

    #: Other signal sets run exactly like this strategy and shown side by side with it:
    #: ``{"lexicon": [signal("lexicon")], "momentum": [signal("momentum", lookback=20)]}``.
    baselines: ClassVar[Mapping[str, Sequence[SignalSpec]]] = {}

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

        BUY (long) when the score is above ``threshold``, SELL (short when long/short, else
        flat) below ``-threshold``, HOLD otherwise or when the confidence is under
        ``min_confidence``; ``hold`` says whether HOLD and missing signals mean flat or keep
        the last position. ``sizing`` scales each position by the score and/or confidence.
        """
        import pandas as pd

        from fintrade.decisions import SIZINGS, decide

        if self.sizing not in SIZINGS:
            raise ConfigError(f"sizing {self.sizing!r}: choose 'fixed', 'score', 'confidence' or 'score_confidence'")
        if self.hold not in ("flat", "keep"):
            raise ConfigError(f"hold {self.hold!r}: choose 'flat' or 'keep'")
        position = decide(
            combined.score.to_numpy(dtype=float),
            combined.confidence.to_numpy(dtype=float),
            threshold=self.threshold,
            min_confidence=self.min_confidence,
            long_short=self.direction == "long_short",
            sizing=self.sizing,
            keep=self.hold == "keep",
        )
        return pd.DataFrame(position, index=combined.score.index, columns=combined.score.columns, copy=False)


#: The declarative settings of a strategy, in the order :class:`Strategy` declares them: its
#: ``ClassVar`` attributes. Adding one to the class adds it here, to manifests and to the names
#: a strategy file may set.
SETTINGS: tuple[str, ...] = tuple(
    name for name, annotation in Strategy.__annotations__.items() if str(annotation).startswith("ClassVar")
)


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
