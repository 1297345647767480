"""This plugin's text models called directly, outside a backtest (tests, notebooks).

The models only score documents (``score_documents``); a backtest hands them the prepared
documents and aligns their scores to bars itself. These helpers run the same core function,
:func:`fintrade.alignment.document_signal`, so a direct call gives what a backtest gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from fintrade.types import ScoredDocuments, Signal, SignalInput

ScoreDocuments = Callable[["pd.DataFrame", Mapping[str, Any]], "pd.DataFrame | ScoredDocuments"]


def signal_grid(model: str, score: ScoreDocuments, inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """Every parameter set's signal as ``(combo, symbol)`` columns, aligned by the core."""
    from fintrade.alignment import document_signal

    return document_signal(model, score, inputs, grid)


def single_signal(model: str, score: ScoreDocuments, inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """One parameter set's signal, symbol columns."""
    from fintrade.types import Signal

    signal = signal_grid(model, score, inputs, [params])
    return Signal(
        score=signal.score.droplevel("combo", axis=1),
        confidence=signal.confidence.droplevel("combo", axis=1),
        knowledge_cutoff=signal.knowledge_cutoff,
    )
