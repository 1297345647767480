"""Combining signals bar by bar: mean, confidence-weighted vote and majority.

Inputs are signals with identical index and columns, from any mix of models: technical ones
score every bar, document-driven ones mostly NaN (no news). At each bar only the signals that
have a score take part; where none has, the result has none either (NaN), so "no
information" never turns into a position by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fintrade.errors import ConfigError, DataError
from fintrade.types import Signal

if TYPE_CHECKING:
    import pandas as pd


def _values(signal: Signal, template: pd.DataFrame, position: int) -> tuple[np.ndarray, np.ndarray]:
    """A signal's scores and confidences in the template's row and column order.

    Models may order their columns differently (a document model sorting its symbols); the
    same labels in another order are realigned, different labels are an error, never NaN.
    """
    score, confidence = signal.score, signal.confidence
    same_rows = score.index.equals(template.index)
    if not same_rows or not score.columns.equals(template.columns):
        if not same_rows or len(score.columns) != len(template.columns) or set(score.columns) != set(template.columns):
            extra = sorted(map(str, set(score.columns) ^ set(template.columns)))[:3]
            raise DataError(
                f"signals to combine must cover the same bars and columns: signal {position + 1} has "
                f"{score.shape[0]} bars x {score.shape[1]} columns, signal 1 has {template.shape[0]} x "
                f"{template.shape[1]}" + (f" (columns in only one: {', '.join(extra)})" if extra else "")
            )
        score, confidence = score[template.columns], confidence[template.columns]
    return score.to_numpy(dtype=float), confidence.to_numpy(dtype=float)


def _stack(signals: Sequence[Signal]) -> tuple[np.ndarray, np.ndarray]:
    if not signals:
        raise ConfigError("an aggregator needs at least one signal")
    template = signals[0].score
    pairs = [_values(signal, template, position) for position, signal in enumerate(signals)]
    scores = np.stack([score for score, _ in pairs])
    confidences = np.stack([confidence for _, confidence in pairs])
    confidences = np.where(np.isnan(scores), np.nan, confidences)
    return scores, confidences


def like(template: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(values, index=template.index, columns=template.columns, copy=False)


def _all_missing(scores: np.ndarray) -> np.ndarray:
    return np.isnan(scores).all(axis=0)


def mean(signals: Sequence[Signal], params: Mapping[str, Any]) -> Signal:
    """Average score and average confidence of the signals present at each bar."""
    if len(signals) == 1:
        return signals[0]
    scores, confidences = _stack(signals)
    missing = _all_missing(scores)
    with np.errstate(invalid="ignore"):
        score = np.where(missing, np.nan, np.nansum(scores, axis=0) / np.maximum((~np.isnan(scores)).sum(axis=0), 1))
        confidence = np.where(
            missing, np.nan, np.nansum(confidences, axis=0) / np.maximum((~np.isnan(confidences)).sum(axis=0), 1)
        )
    template = signals[0].score
    return Signal(like(template, score), like(template, confidence))


def confidence_vote(signals: Sequence[Signal], params: Mapping[str, Any]) -> Signal:
    """Scores weighted by confidence; the confidence is the agreement-weighted mean confidence."""
    scores, confidences = _stack(signals)
    weights = np.nan_to_num(confidences)
    total = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, np.nansum(scores * weights, axis=0) / total, np.nan)
        confidence = np.where(total > 0, np.abs(np.nansum(np.sign(scores) * weights, axis=0)) / total, np.nan)
    score = np.where(_all_missing(scores), np.nan, score)
    template = signals[0].score
    strongest = np.where(np.isnan(confidences), -np.inf, confidences).max(axis=0)
    strongest = np.where(np.isinf(strongest), np.nan, strongest)
    return Signal(like(template, score), like(template, confidence * strongest))


def majority(signals: Sequence[Signal], params: Mapping[str, Any]) -> Signal:
    """The sign most signals agree on (ties give 0); confidence is the winning share."""
    scores, _ = _stack(signals)
    signs = np.sign(scores)
    present = (~np.isnan(signs)).sum(axis=0)
    net = np.nansum(signs, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(present > 0, np.sign(net), np.nan)
        winners = np.where(score > 0, (signs > 0).sum(axis=0), (signs < 0).sum(axis=0))
        confidence = np.where(present > 0, winners / present, np.nan)
    template = signals[0].score
    return Signal(like(template, score), like(template, confidence))
