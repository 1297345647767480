"""The frozen records plugins register, and the data they exchange.

Hooks in :mod:`fintrade.hookspecs` yield these. The core validates every one
(:func:`fintrade.registry.validate_name`) before anything uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fintrade.costs import Costs

if TYPE_CHECKING:
    # pandas is imported lazily so that `fintrade --help` stays fast.
    import pandas as pd

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
DOCUMENT_COLUMNS: tuple[str, ...] = ("published_at", "symbol", "text", "source", "id")
DATED_DOCUMENTS = "fintrade.dated"
"""Key of ``DataFrame.attrs`` a text source sets (to True) on documents whose dates without a
time it moved to the end of their day, as ``local-documents`` does with ``dates=True``: their
midnight times are then known to be honest, and ``fintrade check`` does not report them as a
leak risk."""

ALIGNMENT_DEFAULTS: Mapping[str, Any] = {"lag": "0s", "weighting": "confidence", "half_life": None, "no_news": "none"}
"""The alignment parameters every document-scoring signal model takes, with their defaults (the
fields of :class:`fintrade.alignment.Alignment`, which applies them). The core adds them to
such a model's ``defaults`` and keeps them: the model never sees them."""

Bars = dict[str, "pd.DataFrame"]
"""Bars for many symbols: symbol -> frame with a UTC ``DatetimeIndex`` and OHLCV columns."""


@dataclass(frozen=True)
class BarsRequest:
    """What a strategy asks a data source for."""

    symbols: tuple[str, ...]
    interval: str = "1d"
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentsRequest:
    """What a strategy asks a text source for: documents about ``symbols`` in a time range."""

    symbols: tuple[str, ...]
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSource:
    """OHLCV bars for symbols, an interval and a date range.

    ``load`` returns one frame per requested symbol, keyed by symbol, following the bars
    contract: tz-aware UTC ``DatetimeIndex`` of bar open times, float columns
    ``open high low close volume``, sorted and unique. The core checks the contract.
    """

    name: str
    load: Callable[[BarsRequest], Mapping[str, pd.DataFrame]]
    description: str = ""
    intervals: tuple[str, ...] = ("1d",)
    #: For sessions that end before the next bar opens (daily equity bars): the local close,
    #: ``"16:00 America/New_York"``. ``None``: a bar closes when the next one opens.
    session_close: str | None = None


@dataclass(frozen=True)
class TextSource:
    """Timestamped documents (news, tweets).

    ``load`` returns one frame with columns ``published_at`` (UTC), ``symbol`` (may be
    empty), ``text``, ``source`` and ``id``.
    """

    name: str
    load: Callable[[DocumentsRequest], pd.DataFrame]
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    """Labelled text for training and evaluating models.

    ``load`` takes options (split, subset, ...) and returns a frame with ``text`` and
    ``label`` columns, plus ``published_at`` when the dates are known.
    """

    name: str
    load: Callable[[Mapping[str, Any]], pd.DataFrame]
    task: str = "sentiment"
    labels: tuple[str, ...] = ()
    description: str = ""
    licence: str = ""


@dataclass(frozen=True)
class AdapterMethod:
    """A way to adapt a base model: LoRA, QLoRA, prefix tuning, distillation, ...

    ``train`` receives a training configuration (a mapping) and returns the path of the
    artifact it wrote. The mapping may hold ``registry``, the :class:`fintrade.registry.Registry`
    to look datasets up in (``fintrade train`` passes the one it built): a method reads its data
    from that registry, and treats the entry as no training option.
    """

    name: str
    train: Callable[[Mapping[str, Any]], Any]
    description: str = ""


@dataclass(frozen=True)
class SignalInput:
    """Everything a signal model may look at: the bars, and documents when it asks for them.

    The core only passes data up to the end of the backtest. Documents are prepared by the core
    (:func:`fintrade.alignment.prepare_documents`: UTC times, traded symbols, nothing after the
    last close); which bar each may reach is decided by the core for a model that scores
    documents (``SignalModel.score_documents``). For a per-bar model (``compute``) the
    point-in-time discipline inside the range (a score at bar t uses nothing after t's close)
    is the model's, and ``fintrade check`` verifies it.
    """

    bars: Mapping[str, pd.DataFrame]
    documents: pd.DataFrame | None = None
    #: When each bar closed (UTC), from :func:`fintrade.alignment.bar_close_times`; documents
    #: count for bar t only if known by ``close_times[t]``. ``None``: the bar labels.
    close_times: pd.DatetimeIndex | None = None

    @property
    def symbols(self) -> list[str]:
        return list(self.bars)

    @property
    def index(self) -> pd.DatetimeIndex:
        return next(iter(self.bars.values())).index  # type: ignore[return-value]

    @property
    def closes_at(self) -> pd.DatetimeIndex:
        """Each bar's close time; falls back to the labels, which is never later than the close."""
        return self.index if self.close_times is None else self.close_times

    def field(self, name: str) -> pd.DataFrame:
        """One OHLCV field for every symbol, as a bars-by-symbols frame."""
        import pandas as pd

        return pd.DataFrame({symbol: frame[name] for symbol, frame in self.bars.items()})


@dataclass(frozen=True)
class Signal:
    """Scores in [-1, 1] and confidences in [0, 1], per bar per column.

    Columns are symbols, or a ``(combo, symbol)`` MultiIndex when a parameter grid is
    evaluated at once. NaN means "no signal at this bar".
    """

    score: pd.DataFrame
    confidence: pd.DataFrame
    #: The latest date in the data a model was trained on (from its artifact manifest). Bars up
    #: to it may be scored by a model that already saw what happened next: reports flag them.
    knowledge_cutoff: pd.Timestamp | None = None

    @classmethod
    def certain(cls, score: pd.DataFrame) -> Signal:
        """A signal whose every non-missing score has confidence 1."""
        import numpy as np
        import pandas as pd

        # 1 where there is a score, NaN where there is none: NaN * 0 stays NaN; in two passes
        # without the boolean mask and second array that np.where would take.
        confidence = np.multiply(score.to_numpy(dtype=float), 0.0)
        confidence += 1.0
        return cls(
            score=score, confidence=pd.DataFrame(confidence, index=score.index, columns=score.columns, copy=False)
        )


@dataclass(frozen=True)
class ScoredDocuments:
    """What ``SignalModel.score_documents`` may return instead of a bare frame: the per-document
    ``scores`` (columns ``id``, ``score``, optionally ``confidence`` and ``symbol``) and the
    ``knowledge_cutoff`` of the model that produced them (see :attr:`Signal.knowledge_cutoff`)."""

    scores: pd.DataFrame
    knowledge_cutoff: pd.Timestamp | None = None


@dataclass(frozen=True)
class SignalModel:
    """Turns bars and/or documents into a :class:`Signal`, in one of two ways.

    Per bar: ``compute(inputs, params)`` scores one parameter set. ``compute_grid(inputs,
    grid)``, when given, scores many at once and returns columns ``(combo, symbol)`` where
    ``combo`` is the position in ``grid``; without it the core calls ``compute`` once per
    distinct parameter set.

    Per document: ``score_documents(documents, params)`` receives the documents the core
    prepared (UTC ``published_at``, traded symbols, nothing after the last bar's close, an
    ``id`` each) and returns one score per document, a frame with ``id``, ``score`` in [-1, 1]
    and optionally ``confidence`` in [0, 1] and ``symbol`` (or a :class:`ScoredDocuments`).
    The core refuses scores for documents it did not hand over and aligns the rest to bars
    itself (:func:`fintrade.alignment.document_signal`), so such a model cannot place a score
    on a bar before its document was known. Its ``defaults`` gain the alignment parameters
    (:data:`fintrade.alignment.ALIGNMENT_DEFAULTS`: ``lag``, ``weighting``, ``half_life``,
    ``no_news``), which the core keeps: ``params`` holds only the model's own.
    ``compute`` and ``compute_grid`` are then unused.
    """

    name: str
    compute: Callable[[SignalInput, Mapping[str, Any]], Signal] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    compute_grid: Callable[[SignalInput, Sequence[Mapping[str, Any]]], Signal] | None = None
    needs_documents: bool = False
    description: str = ""
    score_documents: Callable[[pd.DataFrame, Mapping[str, Any]], pd.DataFrame | ScoredDocuments] | None = None

    def __post_init__(self) -> None:
        from fintrade.errors import PluginError

        if self.score_documents is None:
            if self.compute is None:
                raise PluginError(
                    f"signal model {self.name!r}: give compute (per-bar scores) or score_documents "
                    "(per-document scores)"
                )
            return
        # The model's own parameters first, then the core's alignment parameters.
        extra = {name: value for name, value in ALIGNMENT_DEFAULTS.items() if name not in self.defaults}
        object.__setattr__(self, "defaults", {**self.defaults, **extra})
        object.__setattr__(self, "needs_documents", True)


@dataclass(frozen=True)
class CostPreset:
    """Named transaction costs for a venue (``bybit-linear-taker``), usable as ``costs = "<name>"``."""

    name: str
    costs: Costs
    description: str = ""


@dataclass(frozen=True)
class Aggregator:
    """Combines several signals (aligned columns) into one."""

    name: str
    combine: Callable[[Sequence[Signal], Mapping[str, Any]], Signal]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
