"""Point-in-time alignment of timestamped documents to bars: the one place it happens.

A document is *known* from ``published_at + lag`` (the availability lag covers the time a
feed takes to deliver it, or a rule such as "only act on news a minute old"). It counts for
the first bar whose **close** is at or after that moment: the decision at bar t is taken at
t's close, so anything that became available later belongs to t+1 at the earliest. A
document published one second after a bar's close therefore affects only the next bar.

Bars are labelled by their open time (the bars contract), so alignment needs each bar's close
time too, :func:`bar_close_times`: either ``open + interval`` (24-hour markets, intraday
bars) or a session close such as ``"16:00 America/New_York"`` for daily equity bars, whose
label (09:30 New York, or midnight UTC at Yahoo) says nothing about when trading ended.

Per symbol and bar the documents are aggregated into a :class:`~fintrade.types.Signal`: the
confidence-weighted mean score (or the plain mean), optionally with time decay. A bar without
news is explicitly *no signal* (NaN), or, when asked, the decayed carry-over of earlier news:
never a forward fill of something not yet known.

Text models do not call any of this themselves: a model that declares
``SignalModel.score_documents`` is handed the prepared documents and returns one score per
document (:func:`document_signal` runs it), and the core alone decides which bar each score
reaches, with the alignment parameters :data:`ALIGNMENT_DEFAULTS` that every such model takes.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fintrade.errors import ConfigError, DataError, PluginError
from fintrade.types import ALIGNMENT_DEFAULTS

if TYPE_CHECKING:
    import pandas as pd

    from fintrade.types import ScoredDocuments, Signal, SignalInput

__all__ = [
    "ALIGNMENT_DEFAULTS",
    "Alignment",
    "AlignmentWarning",
    "align_scores",
    "alignment_of",
    "attach_scores",
    "available_bar",
    "bar_close_times",
    "bars_through",
    "document_signal",
    "handed_documents",
    "prepare_documents",
    "session_close_times",
]

_SESSION_CLOSE = re.compile(r"^(\d{1,2}):(\d{2})\s+(\S+)$")
# Set on what prepare_documents returns (pandas keeps attrs through row selections), so the
# core prepares documents once on their way from the text source to a model.
_PREPARED = "fintrade.prepared"


class AlignmentWarning(UserWarning):
    """Documents dropped or adjusted on their way to bars (no timestamp, future, unknown symbol)."""


@dataclass(frozen=True)
class Alignment:
    """How documents become per-bar signals.

    ``lag``: availability lag added to ``published_at`` (``"0s"``, ``"5min"``, ``"1h"``).
    ``weighting``: ``"confidence"`` (confidence-weighted mean score) or ``"equal"``.
    ``half_life``: time decay of a document's weight with its age at the bar's close
    (``"1D"``, ``"6h"``); ``None`` weighs every document of the bar alike.
    ``no_news``: a bar without new documents gets ``"none"`` (no signal) or ``"carry"``, the
    decayed evidence of earlier documents (needs ``half_life``; without decay a carry-over
    would hold stale news forever).
    """

    lag: str = "0s"
    weighting: Literal["confidence", "equal"] = "confidence"
    half_life: str | None = None
    no_news: Literal["none", "carry"] = "none"

    def __post_init__(self) -> None:
        import pandas as pd

        for name in ("lag", "half_life"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                delta = pd.Timedelta(value)
            except (ValueError, TypeError):
                raise ConfigError(f"alignment {name} {value!r} is not a duration (e.g. '30min', '1h', '1D')") from None
            if delta < pd.Timedelta(0) or (name == "half_life" and delta == pd.Timedelta(0)):
                raise ConfigError(f"alignment {name} {value!r} must be positive")
        if self.weighting not in ("confidence", "equal"):
            raise ConfigError(f"alignment weighting {self.weighting!r}: choose 'confidence' or 'equal'")
        if self.no_news not in ("none", "carry"):
            raise ConfigError(f"alignment no_news {self.no_news!r}: choose 'none' or 'carry'")
        if self.no_news == "carry" and self.half_life is None:
            raise ConfigError("alignment no_news='carry' needs a half_life: undecayed news would be carried forever")


def session_close_times(index: pd.DatetimeIndex, session_close: str) -> pd.DatetimeIndex:
    """For each bar label, the first moment at or after it when the clock in the session's
    timezone reads the session close (``"16:00 America/New_York"``), in UTC.

    Works for any label convention: a 09:30 New York open and a midnight-UTC label of the
    same trading day both map to that day's 16:00 New York, daylight saving included.
    """
    import pandas as pd

    match = _SESSION_CLOSE.match(session_close.strip())
    if not match:
        raise ConfigError(f"session close {session_close!r}: expected 'HH:MM Area/City', e.g. '16:00 America/New_York'")
    hours, minutes, zone = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        local = index.tz_convert(zone)
    except Exception:  # zoneinfo raises several types for an unknown zone
        raise ConfigError(f"session close {session_close!r}: unknown timezone {zone!r}") from None
    offset = pd.Timedelta(hours=hours, minutes=minutes)
    wall = local.tz_localize(None)
    # Wall-clock arithmetic, then localise: a fixed UTC offset would be an hour off on DST days.
    same_day = wall.normalize() + offset
    candidate = same_day.where(same_day >= wall, same_day + pd.Timedelta(days=1))
    closes = pd.DatetimeIndex(candidate).tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    return closes.tz_convert("UTC")


def bar_close_times(index: pd.DatetimeIndex, interval: str, session_close: str | None = None) -> pd.DatetimeIndex:
    """When each bar closed: the session close when given, else ``open + interval``.

    Both are capped at the next bar's open, so a close can never fall after a later bar began.
    """
    import pandas as pd

    from fintrade.cache import interval_length

    closes = session_close_times(index, session_close) if session_close else index + interval_length(interval)
    closes = closes.as_unit("ns")
    if len(index) > 1:
        # Integer nanoseconds: pandas 3 indexes may hold microseconds, so fix the unit first.
        following = np.append(index[1:].as_unit("ns").asi8, np.iinfo(np.int64).max)
        closes = pd.DatetimeIndex(np.minimum(closes.asi8, following).astype("datetime64[ns]")).tz_localize("UTC")
    return closes


def bars_through(index: pd.DatetimeIndex, moment: pd.Timestamp | str) -> np.ndarray:
    """True for the bars labelled at or before ``moment`` (UTC when it has no timezone).

    A date without a time of day covers that whole day: "data up to 2015-06-30" includes the
    bar of June 30th, whatever hour its label carries (09:30 New York, midnight UTC).
    """
    import pandas as pd

    try:
        stamp = pd.Timestamp(moment)
    except (TypeError, ValueError):
        raise ConfigError(f"{moment!r} is not a date or time") from None
    if pd.isna(stamp):
        raise ConfigError(f"{moment!r} is not a date or time")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if stamp == stamp.normalize():
        return np.asarray(index < stamp + pd.Timedelta(days=1))
    return np.asarray(index <= stamp)


def prepare_documents(
    documents: pd.DataFrame, symbols: Sequence[str], last_close: pd.Timestamp, where: str = "documents"
) -> pd.DataFrame:
    """Documents fit for alignment: UTC timestamps, known symbols, non-empty text, not after the
    data, each id once per symbol.

    A naive ``published_at`` (or a plain date) is a :class:`~fintrade.errors.DataError`: the
    source must say when, in UTC, a document was known. What is dropped is said once per
    reason, with a count, in an :class:`AlignmentWarning`. Documents with an empty symbol
    concern the whole market and are kept for every symbol.
    """
    import pandas as pd

    missing = [column for column in ("published_at", "symbol", "text") if column not in documents.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    frame = documents.copy()
    published = frame["published_at"]
    if not isinstance(published.dtype, pd.DatetimeTZDtype):
        _refuse_naive(published, where)
        try:
            published = pd.to_datetime(published, utc=True, errors="coerce", format="mixed")
        except (TypeError, ValueError):
            raise DataError(f"{where}: published_at is not a timestamp column") from None
    frame["published_at"] = published.dt.tz_convert("UTC")
    frame["symbol"] = frame["symbol"].fillna("").astype(str)
    frame["text"] = frame["text"].fillna("").astype(str)

    dropped: list[str] = []

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        count = int(mask.sum())
        if count:
            dropped.append(f"{count} {reason}")
            frame = frame.loc[~mask]

    drop(frame["published_at"].isna(), "without a timestamp")
    drop(frame["text"].str.strip() == "", "with empty text")
    known = set(symbols)
    drop(~frame["symbol"].isin(known) & (frame["symbol"] != ""), f"about symbols not traded ({', '.join(symbols)})")
    drop(frame["published_at"] > last_close, f"published after the last bar's close ({last_close})")
    if "id" in frame.columns:
        # The same document twice would count twice; one id may name a story about several symbols.
        drop(frame.duplicated(["id", "symbol"], keep="first"), "with a duplicate id (the first kept)")
    if dropped:
        warnings.warn(f"{where}: dropped {'; '.join(dropped)}", AlignmentWarning, stacklevel=2)
    prepared = frame.sort_values("published_at", kind="stable")
    prepared.attrs[_PREPARED] = True
    return prepared


def _refuse_naive(published: pd.Series, where: str) -> None:
    """A time without a timezone could be any of 24 hours: refuse it rather than guess UTC.

    Dates without a time are refused too: counted from their start they would reach the bars
    of that day before the news existed. Numbers (epoch times) are UTC by definition.
    """
    import pandas as pd

    if pd.api.types.is_datetime64_dtype(published.dtype):
        if published.notna().any():
            raise DataError(
                f"{where}: published_at has no timezone (first {published.dropna().iloc[0]}); "
                "text sources must return timezone-aware times (UTC)"
            )
        return
    for position, value in enumerate(published.tolist()):
        if isinstance(value, str):
            text = value.strip()
            try:
                stamp = pd.Timestamp(text)
            except (TypeError, ValueError, OverflowError):
                continue  # unparseable: dropped below as having no timestamp
            if pd.isna(stamp) or stamp.tzinfo is not None:
                continue
            kind = "a time without a timezone" if ":" in text else "a date without a time"
            raise DataError(
                f"{where}: published_at {value!r} (row {position + 1}) is {kind}; "
                "text sources must return timezone-aware times (UTC)"
            )
        if hasattr(value, "tzinfo") and value.tzinfo is None and not pd.isna(value):
            raise DataError(
                f"{where}: published_at {value} (row {position + 1}) has no timezone; "
                "text sources must return timezone-aware times (UTC)"
            )


def available_bar(published_at: pd.Series, closes: pd.DatetimeIndex, lag: str = "0s") -> np.ndarray:
    """Position of the first bar whose close is at or after ``published_at + lag``; -1 if none."""
    import pandas as pd

    available = (pd.DatetimeIndex(published_at) + pd.Timedelta(lag)).as_unit("ns")
    position = closes.as_unit("ns").searchsorted(available, side="left")
    return np.where(position < len(closes), position, -1)


def align_scores(
    documents: pd.DataFrame,
    closes: pd.DatetimeIndex,
    symbols: Sequence[str],
    alignment: Alignment | None = None,
    index: pd.DatetimeIndex | None = None,
) -> Signal:
    """Per-document ``score`` (in [-1, 1]) and ``confidence`` (in [0, 1]) to per-bar signals.

    ``documents`` carries ``published_at``, ``symbol``, ``score`` and optionally
    ``confidence`` (default 1), already through :func:`prepare_documents`. ``closes`` are the
    bars' close times (:func:`bar_close_times`); the result is indexed by ``index`` (the bars'
    labels, default ``closes``) with one column per symbol.

    Without decay, the score of a bar is the (confidence-weighted) mean of its documents and
    the confidence their mean confidence. With ``half_life`` h, a document of age a at the
    bar's close weighs ``c * 2**(-a/h)``; with total weight W and weighted score sum S, the
    score is ``S / max(W, 1)`` and the confidence ``min(W, 1)``: a single fresh document at
    full confidence is full evidence, and evidence fades toward zero as it ages.
    """
    import pandas as pd

    from fintrade.types import Signal

    alignment = alignment or Alignment()
    labels = closes if index is None else index
    closes = closes.as_unit("ns")
    n_bars, columns = len(closes), list(symbols)

    bar = available_bar(documents["published_at"], closes, alignment.lag)
    keep = bar >= 0
    frame = documents.loc[keep]
    bar = bar[keep]
    score = frame["score"].to_numpy(dtype=float)
    if np.isnan(score).any() or (np.abs(score) > 1 + 1e-9).any():
        raise DataError("document scores must be finite numbers in [-1, 1]")
    confidence = (
        frame["confidence"].to_numpy(dtype=float) if "confidence" in frame.columns else np.ones(len(frame), dtype=float)
    )
    if np.isnan(confidence).any() or (confidence < 0).any() or (confidence > 1 + 1e-9).any():
        raise DataError("document confidences must be numbers in [0, 1]")
    weight = confidence if alignment.weighting == "confidence" else np.ones_like(confidence)

    # Market-wide documents (empty symbol) count for every symbol.
    symbol = frame["symbol"].to_numpy(dtype=object)
    rows, cols, picks = [], [], []
    for j, name in enumerate(columns):
        mask = (symbol == name) | (symbol == "")
        rows.append(bar[mask])
        cols.append(np.full(int(mask.sum()), j))
        picks.append(np.flatnonzero(mask))
    row, col, pick = np.concatenate(rows), np.concatenate(cols), np.concatenate(picks)
    s, c, w = score[pick], confidence[pick], weight[pick]

    shape = (n_bars, len(columns))
    count = np.zeros(shape)
    np.add.at(count, (row, col), 1.0)

    if alignment.half_life is None:
        weight_sum, score_sum, confidence_sum = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        np.add.at(weight_sum, (row, col), w)
        np.add.at(score_sum, (row, col), w * s)
        np.add.at(confidence_sum, (row, col), c)
        with np.errstate(invalid="ignore", divide="ignore"):
            # All-zero weights (every document at confidence 0) fall back to the plain mean.
            mean_score = np.where(weight_sum > 0, score_sum / weight_sum, np.nan)
            plain = np.zeros(shape)
            np.add.at(plain, (row, col), s)
            mean_score = np.where((weight_sum == 0) & (count > 0), plain / count, mean_score)
            out_score = np.where(count > 0, mean_score, np.nan)
            out_confidence = np.where(count > 0, confidence_sum / count, np.nan)
    else:
        half_life = pd.Timedelta(alignment.half_life).value
        published = pd.DatetimeIndex(frame["published_at"]).as_unit("ns").asi8[pick] + pd.Timedelta(alignment.lag).value
        age = (closes.asi8[row] - published).astype(float)
        decayed = w * np.exp2(-age / half_life)
        fresh_weight, fresh_score = np.zeros(shape), np.zeros(shape)
        np.add.at(fresh_weight, (row, col), decayed)
        np.add.at(fresh_score, (row, col), decayed * s)
        weight_total, score_total = fresh_weight.copy(), fresh_score.copy()
        steps = np.exp2(-np.diff(closes.asi8).astype(float) / half_life)
        for t in range(1, n_bars):
            weight_total[t] += weight_total[t - 1] * steps[t - 1]
            score_total[t] += score_total[t - 1] * steps[t - 1]
        out_score = score_total / np.maximum(weight_total, 1.0)
        out_confidence = np.minimum(weight_total, 1.0)
        if alignment.no_news == "none":
            out_score = np.where(count > 0, out_score, np.nan)
            out_confidence = np.where(count > 0, out_confidence, np.nan)
        else:
            # Before the first document there is nothing to carry.
            nothing = weight_total == 0
            out_score = np.where(nothing, np.nan, out_score)
            out_confidence = np.where(nothing, np.nan, out_confidence)

    column_index = pd.Index(columns, name="symbol")
    return Signal(
        score=pd.DataFrame(np.clip(out_score, -1.0, 1.0), index=labels, columns=column_index),
        confidence=pd.DataFrame(np.clip(out_confidence, 0.0, 1.0), index=labels, columns=column_index),
    )


def alignment_of(params: Mapping[str, Any], model: str) -> Alignment:
    """The :class:`Alignment` named by a parameter set's alignment parameters (the rest ignored)."""
    lag, half_life = params.get("lag", ALIGNMENT_DEFAULTS["lag"]), params.get("half_life")
    for name, value in (("lag", lag), ("half_life", half_life)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"signal model {model!r}: {name} must be a duration string such as '5min' or '1D'")
    return Alignment(
        lag=lag,
        weighting=params.get("weighting", ALIGNMENT_DEFAULTS["weighting"]),
        half_life=half_life,
        no_news=params.get("no_news", ALIGNMENT_DEFAULTS["no_news"]),
    )


def handed_documents(inputs: SignalInput, model: str) -> pd.DataFrame:
    """The documents a text model of ``inputs`` may see: prepared (:func:`prepare_documents`, once:
    documents the core loaded are not prepared again), about the traded symbols or the whole
    market, published by the last bar's close, each with an ``id``.

    Without documents (the strategy has no ``text_source``) a one-line :class:`ConfigError`.
    """
    if inputs.documents is None:
        raise ConfigError(
            f"signal model {model!r} scores documents but the strategy has no text source: "
            'set `text_source` (e.g. text_source = "sample-tweets")'
        )
    documents = inputs.documents
    if not documents.attrs.get(_PREPARED):
        documents = prepare_documents(documents, inputs.symbols, inputs.closes_at[-1], f"signal model {model!r}")
    # Prepared for a longer history or more symbols (a cut of `fintrade check`, a test's slice of
    # the bars): a model is never handed what cannot reach one of these bars.
    known = (documents["published_at"] <= inputs.closes_at[-1]) & documents["symbol"].isin([*inputs.symbols, ""])
    if not known.all():
        documents = documents.loc[known]
    if "id" not in documents.columns:
        documents = documents.assign(id=np.arange(len(documents)))
    return documents


def attach_scores(documents: pd.DataFrame, scored: pd.DataFrame, what: str) -> pd.DataFrame:
    """``documents`` with the ``score`` and ``confidence`` a text model returned for them.

    ``scored`` holds ``id``, ``score`` and optionally ``confidence`` (default 1) and ``symbol``
    (then rows match on id and symbol, else a score holds for every row with that id). Scores
    for documents that were not handed, a document scored twice, or values out of range are a
    :class:`PluginError` naming ``what``. Every other column (a ``published_at``, a bar) is
    ignored: when a document counts is the core's decision. Documents left unscored count for
    nothing.
    """
    import pandas as pd

    if not isinstance(scored, pd.DataFrame):
        raise PluginError(
            f"{what} returned {type(scored).__name__}, expected a DataFrame with columns id, score "
            "and optionally confidence"
        )
    missing = [column for column in ("id", "score") if column not in scored.columns]
    if missing:
        raise PluginError(f"{what} returned document scores without column(s) {', '.join(missing)}")
    keys = ["id", "symbol"] if "symbol" in scored.columns else ["id"]
    given = pd.MultiIndex.from_frame(documents[keys]) if len(keys) > 1 else pd.Index(documents["id"])
    returned = pd.MultiIndex.from_frame(scored[keys]) if len(keys) > 1 else pd.Index(scored["id"])
    if returned.has_duplicates:
        first = returned[returned.duplicated()][0]
        raise PluginError(f"{what} returned more than one score for document {first!r}")
    unknown = ~returned.isin(given)
    if unknown.any():
        first = returned[unknown][0]
        raise PluginError(
            f"{what} returned scores for {int(unknown.sum())} document(s) it was not given (first: {first!r}); "
            "a text model scores only the documents the core hands it"
        )
    score = scored["score"].to_numpy(dtype=float)
    if np.isnan(score).any() or (np.abs(score) > 1 + 1e-9).any():
        raise PluginError(f"{what} returned document scores that are not finite numbers in [-1, 1]")
    confidence = scored["confidence"].to_numpy(dtype=float) if "confidence" in scored.columns else np.ones(len(scored))
    if np.isnan(confidence).any() or (confidence < 0).any() or (confidence > 1 + 1e-9).any():
        raise PluginError(f"{what} returned document confidences that are not numbers in [0, 1]")
    position = returned.get_indexer(given)
    found = position >= 0
    return documents.loc[found].assign(score=score[position[found]], confidence=confidence[position[found]])


def document_signal(
    model: str,
    score_documents: Callable[[pd.DataFrame, Mapping[str, Any]], pd.DataFrame | ScoredDocuments],
    inputs: SignalInput,
    grid: Sequence[Mapping[str, Any]],
    what: str | None = None,
) -> Signal:
    """Every parameter set's signal of a document-scoring model, ``(combo, symbol)`` columns.

    ``score_documents(documents, params)`` is called once per distinct set of the parameters
    that are not alignment parameters, on the documents of :func:`handed_documents`, and each
    distinct (scores, :class:`Alignment`) pair is aligned once by :func:`align_scores`. The
    signal's knowledge cutoff is the latest any call reported.
    """
    import pandas as pd

    from fintrade.calls import call_plugin
    from fintrade.types import ScoredDocuments, Signal

    what = what or f"signal model {model!r}"
    documents = handed_documents(inputs, model)
    scored: dict[tuple[tuple[str, str], ...], pd.DataFrame] = {}
    aligned: dict[tuple[tuple[tuple[str, str], ...], Alignment], Signal] = {}
    cutoffs = []
    score_parts, confidence_parts = [], []
    for params in grid:
        scoring = {name: value for name, value in params.items() if name not in ALIGNMENT_DEFAULTS}
        key = tuple(sorted((name, repr(value)) for name, value in scoring.items()))
        if key not in scored:
            result = call_plugin(what, score_documents, documents.copy(), scoring)
            if isinstance(result, ScoredDocuments):
                if result.knowledge_cutoff is not None:
                    cutoffs.append(result.knowledge_cutoff)
                result = result.scores
            scored[key] = attach_scores(documents, result, what)
        alignment = alignment_of(params, model)
        if (key, alignment) not in aligned:
            aligned[key, alignment] = align_scores(
                scored[key], inputs.closes_at, inputs.symbols, alignment, index=inputs.index
            )
        score_parts.append(aligned[key, alignment].score.to_numpy(dtype=float))
        confidence_parts.append(aligned[key, alignment].confidence.to_numpy(dtype=float))
    columns = pd.MultiIndex.from_product([range(len(grid)), inputs.symbols], names=["combo", "symbol"])
    return Signal(
        score=pd.DataFrame(np.hstack(score_parts), index=inputs.index, columns=columns, copy=False),
        confidence=pd.DataFrame(np.hstack(confidence_parts), index=inputs.index, columns=columns, copy=False),
        knowledge_cutoff=max(cutoffs) if cutoffs else None,
    )
