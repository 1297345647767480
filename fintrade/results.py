"""What a backtest reports, as frozen records; each ``to_dict()`` gives the stable JSON form.

:mod:`fintrade.evaluation` builds them; the report, the console summary and the comparison
read their attributes. The JSON keys and values are those of ``fintrade backtest --json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from fintrade.metrics import ANNUALISED_FLAG, METRICS, TRADE_METRICS

#: The metric names of a :class:`WindowMetrics`, in JSON order (the flag last).
METRIC_NAMES: tuple[str, ...] = (*METRICS, *TRADE_METRICS)


@dataclass(frozen=True)
class WindowMetrics:
    """The metrics of one series over one window of bars; a figure is None where it is undefined.

    ``annualised_meaningful`` is false when the window is shorter than the strategy's
    ``min_annualised_years``, so its annualised figures mean little.
    """

    total_return: float | None
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    volatility: float | None
    exposure: float | None
    turnover: float | None
    trades: float | None
    win_rate: float | None
    annualised_meaningful: bool

    @classmethod
    def from_values(cls, values: Mapping[str, float | None], annualised_meaningful: bool) -> WindowMetrics:
        """From figures by metric name (every name of :data:`METRIC_NAMES`)."""
        return cls(**{name: values[name] for name in METRIC_NAMES}, annualised_meaningful=annualised_meaningful)

    def get(self, name: str) -> float | bool | None:
        """A figure by metric name (or the flag), for tables that list metrics by name; None if unknown."""
        if name in METRIC_NAMES or name == ANNUALISED_FLAG:
            value: float | bool | None = getattr(self, name)
            return value
        return None

    def to_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


def _metrics(metrics: WindowMetrics | None) -> dict[str, Any] | None:
    return metrics.to_dict() if metrics is not None else None


@dataclass(frozen=True)
class Span:
    """The first and last bar of a window (ISO 8601); both None for a window of no bars."""

    start: str | None
    end: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end}


@dataclass(frozen=True)
class SplitResult:
    """The chosen parameters and buy-and-hold over one split (train, validation, test)."""

    span: Span
    bars: int
    strategy: WindowMetrics
    benchmark: WindowMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.span.to_dict(),
            "bars": self.bars,
            "strategy": self.strategy.to_dict(),
            "benchmark": self.benchmark.to_dict(),
        }


@dataclass(frozen=True)
class FoldResult:
    """One walk-forward fold: parameters chosen in sample, judged out of sample."""

    fold: int
    in_sample: Span
    out_of_sample: Span
    params: dict[str, Any]
    in_sample_objective: float | None
    strategy: WindowMetrics
    benchmark: WindowMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "fold": self.fold,
            "in_sample": self.in_sample.to_dict(),
            "out_of_sample": self.out_of_sample.to_dict(),
            "params": self.params,
            "in_sample_objective": self.in_sample_objective,
            "strategy": self.strategy.to_dict(),
            "benchmark": self.benchmark.to_dict(),
        }


@dataclass(frozen=True)
class WalkForwardResult:
    """Every fold, and the out-of-sample pieces stitched together beside buy-and-hold."""

    mode: str
    folds: tuple[FoldResult, ...]
    stitched: WindowMetrics
    benchmark: WindowMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "folds": [fold.to_dict() for fold in self.folds],
            "stitched": self.stitched.to_dict(),
            "benchmark": self.benchmark.to_dict(),
        }


@dataclass(frozen=True)
class RegimeRow:
    """The evaluated bars of one market regime."""

    bars: int
    strategy: WindowMetrics
    benchmark: WindowMetrics

    def to_dict(self) -> dict[str, Any]:
        return {"bars": self.bars, "strategy": self.strategy.to_dict(), "benchmark": self.benchmark.to_dict()}


@dataclass(frozen=True)
class RegimeTable:
    """Metrics per regime on the evaluated window (``"walk_forward"`` or ``"test"``)."""

    evaluated_on: str
    window: int
    threshold: float
    #: Rows by regime label, in regime order, a warm-up row last when there is one.
    rows: Mapping[str, RegimeRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluated_on": self.evaluated_on,
            "window": self.window,
            "threshold": self.threshold,
            "table": {label: row.to_dict() for label, row in self.rows.items()},
        }


@dataclass(frozen=True)
class CostRow:
    """The chosen strategy with every cost scaled by ``multiplier``."""

    multiplier: float
    #: The scaled costs per fill, as :meth:`fintrade.costs.Costs.as_dict` gives them.
    costs: dict[str, Any]
    test: WindowMetrics
    #: None when the strategy has no walk-forward.
    walk_forward: WindowMetrics | None = None

    def to_dict(self) -> dict[str, Any]:
        row = {"multiplier": self.multiplier, "costs": self.costs, "test": self.test.to_dict()}
        if self.walk_forward is not None:
            row["walk_forward"] = self.walk_forward.to_dict()
        return row


@dataclass(frozen=True)
class TopCombination:
    """One of the best combinations on train."""

    params: dict[str, Any]
    train_objective: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "train_objective": self.train_objective}


@dataclass(frozen=True)
class CutoffWindow:
    """One evaluated window with every bar, and without those up to the knowledge cutoff."""

    bars: int
    flagged_bars: int
    all_bars: WindowMetrics
    #: None when every bar of the window falls at or before the cutoff.
    after_cutoff: WindowMetrics | None
    benchmark_after_cutoff: WindowMetrics | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bars": self.bars,
            "flagged_bars": self.flagged_bars,
            "all_bars": self.all_bars.to_dict(),
            "after_cutoff": _metrics(self.after_cutoff),
            "benchmark_after_cutoff": _metrics(self.benchmark_after_cutoff),
        }


@dataclass(frozen=True)
class KnowledgeCutoff:
    """The latest training date of the signal models, and the windows judged with and without it."""

    cutoff: str
    flagged_bars: int
    #: By window name: ``"test"``, and ``"walk_forward"`` when there is one.
    windows: Mapping[str, CutoffWindow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff,
            "flagged_bars": self.flagged_bars,
            "windows": {name: window.to_dict() for name, window in self.windows.items()},
        }


@dataclass(frozen=True)
class ComparisonRow:
    """One series of the side-by-side table: the strategy, a baseline or buy-and-hold."""

    name: str
    #: ``"strategy"``, ``"baseline"`` or ``"benchmark"``.
    kind: str
    metrics: WindowMetrics
    #: The metric names shown, in order (:data:`fintrade.comparison.COMPARED_METRICS`).
    compared: tuple[str, ...] = field(default=(*METRIC_NAMES, ANNUALISED_FLAG))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, **{name: self.metrics.get(name) for name in self.compared}}


@dataclass(frozen=True)
class Comparison:
    """The strategy beside its baselines and buy-and-hold on one window (``"walk-forward"`` or ``"test"``)."""

    evaluated_on: str
    rows: tuple[ComparisonRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"evaluated_on": self.evaluated_on, "rows": [row.to_dict() for row in self.rows]}


@dataclass(frozen=True)
class Trade:
    """One round trip of one symbol in the evaluated book, as vectorbt recorded it.

    ``pnl`` and ``return_`` are after fees and slippage (the fill prices already carry the
    slippage and half spread); ``costs`` is what those fees and price impacts cost in all.
    Perpetual funding is booked to the sleeve's equity, not to trades. An ``open`` trade is
    marked at the last close (``exit`` is None).
    """

    symbol: str
    side: str
    entry: str
    exit: str | None
    size: float
    entry_price: float
    exit_price: float
    pnl: float
    return_: float
    costs: float
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side,
            "entry": self.entry,
            "exit": self.exit,
            "size": self.size,
            "entry_price": self.entry_price,
            "exit_price": self.exit_price,
            "pnl": self.pnl,
            "return": self.return_,
            "costs": self.costs,
            "status": self.status,
        }
