"""The default decision rule, fused: scores and confidences in, target positions out, in one pass.

:meth:`fintrade.strategy.Strategy.positions` describes the rule; this is its arithmetic over a
whole block of a grid without the half-dozen temporaries of the same size that numpy
expressions would allocate (a sweep spends more time in them than in the simulation).
"""

from __future__ import annotations

import numpy as np
from numba import njit

SIZINGS: tuple[str, ...] = ("fixed", "score", "confidence", "score_confidence")


@njit(cache=True)
def _decide_nb(
    score: np.ndarray,
    confidence: np.ndarray,
    threshold: float,
    min_confidence: float,
    short: float,
    sizing: int,
    keep: bool,
) -> np.ndarray:
    n_bars, n_columns = score.shape
    out = np.empty((n_bars, n_columns))
    for i in range(n_bars):
        for col in range(n_columns):
            value = score[i, col]
            weight = confidence[i, col]
            if np.isnan(weight):
                weight = 0.0
            side = np.nan
            if not np.isnan(value) and weight >= min_confidence:
                if value > threshold:
                    side = 1.0
                elif value < -threshold:
                    side = short
            if sizing == 0:
                magnitude = 1.0
            elif sizing == 1:
                magnitude = abs(value)
            elif sizing == 2:
                magnitude = weight
            else:
                magnitude = abs(value) * weight
            if np.isnan(magnitude):
                magnitude = 0.0
            position = min(max(side * magnitude, -1.0), 1.0)
            if np.isnan(position):
                # HOLD or no signal: flat, or the last position kept (flat before the first).
                position = out[i - 1, col] if keep and i > 0 else 0.0
            out[i, col] = position
    return out


def decide(
    score: np.ndarray,
    confidence: np.ndarray,
    *,
    threshold: float,
    min_confidence: float,
    long_short: bool,
    sizing: str,
    keep: bool,
) -> np.ndarray:
    """Target positions (bars x columns) by the rule of :meth:`fintrade.strategy.Strategy.positions`."""
    return _decide_nb(
        np.asarray(score, dtype=float),
        np.asarray(confidence, dtype=float),
        float(threshold),
        float(min_confidence),
        -1.0 if long_short else 0.0,
        SIZINGS.index(sizing),
        bool(keep),
    )


@njit(cache=True)
def _value_range_nb(values: np.ndarray) -> tuple[float, float]:
    lowest, highest = np.inf, -np.inf
    for value in values:
        if value < lowest:
            lowest = value
        if value > highest:
            highest = value
    return lowest, highest


def value_range(values: np.ndarray) -> tuple[float, float]:
    """The smallest and largest value ignoring NaN (``(inf, -inf)`` for none): the bounds checks
    on scores and positions, in one pass over a block without the copies ``abs`` would make."""
    return _value_range_nb(np.asarray(values, dtype=float).ravel(order="K"))


def warm_up() -> None:
    """Load the kernels in this process (about a second, mostly numba starting): a process that
    forks many children, like ``fintrade check``, calls this first so that no child pays it."""
    for layout in (np.ascontiguousarray, np.asfortranarray):
        score = layout(np.zeros((2, 2)))
        decide(score, score, threshold=0.0, min_confidence=0.0, long_short=False, sizing="fixed", keep=False)
    value_range(np.zeros(2))
