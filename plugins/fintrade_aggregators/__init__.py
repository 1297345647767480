"""Basic aggregators: mean, confidence-weighted vote and majority.

Inputs are signals with identical index and columns. Where no signal has a score at a bar,
the result has none either (NaN), so "no information" never turns into a position by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import fintrade

if TYPE_CHECKING:
    import pandas as pd

from fintrade.types import Aggregator, Signal


def _stack(signals: Sequence[Signal]) -> tuple[np.ndarray, np.ndarray]:
    scores = np.stack([s.score.to_numpy(dtype=float) for s in signals])
    confidences = np.stack([s.confidence.to_numpy(dtype=float) for s in signals])
    confidences = np.where(np.isnan(scores), np.nan, confidences)
    return scores, confidences


def _like(template: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
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
    return Signal(_like(template, score), _like(template, confidence))


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
    return Signal(_like(template, score), _like(template, confidence * strongest))


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
    return Signal(_like(template, score), _like(template, confidence))


@fintrade.hookimpl
def fintrade_aggregators() -> list[Aggregator]:
    return [
        Aggregator("mean", mean, description="Average score and confidence."),
        Aggregator("confidence-vote", confidence_vote, description="Confidence-weighted vote."),
        Aggregator("majority", majority, description="Majority of signs; ties are flat."),
    ]
