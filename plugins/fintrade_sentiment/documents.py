"""From scored documents to per-bar signals, shared by every text model of this plugin.

Scoring and alignment are separate steps: a model scores each distinct text once, then each
parameter set of a sweep (``lag``, ``weighting``, ``half_life``, ``no_news``) only re-runs
:func:`fintrade.alignment.align_scores` on the same per-document scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError
from fintrade_sentiment.errors import MissingDocumentsError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from fintrade.alignment import Alignment
    from fintrade.types import Signal, SignalInput


def documents_for(inputs: SignalInput, model: str) -> pd.DataFrame:
    """The documents of ``inputs`` fit for alignment, or a one-line error without a text source.

    Documents the core already prepared pass through unchanged; anything else (a direct
    call, ``fintrade check``) is prepared here: empty texts, unknown symbols and documents
    after the last bar's close are dropped with a warning, never scored.
    """
    from fintrade.alignment import prepare_documents

    if inputs.documents is None:
        raise MissingDocumentsError(
            f"signal model {model!r} scores documents but the strategy has no text source: "
            'set `text_source` (e.g. text_source = "sample-tweets")'
        )
    return prepare_documents(inputs.documents, inputs.symbols, inputs.closes_at[-1], f"signal model {model!r}")


def alignment_of(params: Mapping[str, Any], model: str) -> Alignment:
    """The :class:`~fintrade.alignment.Alignment` named by a parameter set's alignment parameters."""
    from fintrade.alignment import Alignment

    lag, half_life = params.get("lag", "0s"), params.get("half_life")
    for name, value in (("lag", lag), ("half_life", half_life)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"signal model {model!r}: {name} must be a duration string such as '5min' or '1D'")
    return Alignment(
        lag=lag,
        weighting=params.get("weighting", "confidence"),
        half_life=half_life,
        no_news=params.get("no_news", "none"),
    )


def aligned_signal(
    documents: pd.DataFrame,
    score: np.ndarray,
    confidence: np.ndarray,
    inputs: SignalInput,
    params: Mapping[str, Any],
    model: str,
) -> Signal:
    """One parameter set's signal: the documents' scores aligned to bars, symbol columns."""
    from fintrade.alignment import align_scores

    scored = documents.assign(score=score, confidence=confidence)
    return align_scores(scored, inputs.closes_at, inputs.symbols, alignment_of(params, model), index=inputs.index)


def aligned_grid(
    documents: pd.DataFrame,
    scores: Sequence[tuple[np.ndarray, np.ndarray]],
    inputs: SignalInput,
    grid: Sequence[Mapping[str, Any]],
    model: str,
    knowledge_cutoff: pd.Timestamp | None = None,
) -> Signal:
    """Every parameter set's signal as ``(combo, symbol)`` columns; ``scores[i]`` belongs to ``grid[i]``.

    Parameter sets that align alike (same scores, same alignment) are aligned once.
    """
    import numpy as np
    import pandas as pd

    from fintrade.types import Signal

    done: dict[tuple[int, Alignment], Signal] = {}
    score_parts, confidence_parts = [], []
    for params, (score, confidence) in zip(grid, scores, strict=True):
        key = (id(score), alignment_of(params, model))
        if key not in done:
            done[key] = aligned_signal(documents, score, confidence, inputs, params, model)
        score_parts.append(done[key].score.to_numpy(dtype=float))
        confidence_parts.append(done[key].confidence.to_numpy(dtype=float))
    columns = pd.MultiIndex.from_product([range(len(grid)), inputs.symbols], names=["combo", "symbol"])
    return Signal(
        score=pd.DataFrame(np.hstack(score_parts), index=inputs.index, columns=columns, copy=False),
        confidence=pd.DataFrame(np.hstack(confidence_parts), index=inputs.index, columns=columns, copy=False),
        knowledge_cutoff=knowledge_cutoff,
    )
