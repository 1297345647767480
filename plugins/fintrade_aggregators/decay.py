"""The ``time-decay`` aggregator: combine, then carry each column's last signal forward, fading.

A document-driven signal speaks on the bars that had news and is silent (NaN) in between.
``time-decay`` first combines the signals bar by bar (``mean`` by default), then fills each
silent bar with the latest combined score and confidence, halved every ``half_life`` bars:
``score_t = score_s * 0.5 ** ((t - s) / half_life)`` where s is the latest bar up to t with a
combined score. Only earlier bars are carried, so nothing unknown at t is used; before a
column's first signal there is nothing to carry and it stays NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fintrade.errors import ConfigError, did_you_mean
from fintrade.types import Signal
from fintrade_aggregators.combine import confidence_vote, like, majority, mean

COMBINERS: dict[str, Callable[[Sequence[Signal], Mapping[str, Any]], Signal]] = {
    "mean": mean,
    "confidence-vote": confidence_vote,
    "majority": majority,
}
DEFAULTS: dict[str, Any] = {"half_life": 5.0, "combine": "mean"}


def _checked(params: Mapping[str, Any]) -> tuple[float, str]:
    for name in params:
        if name not in DEFAULTS:
            raise ConfigError(
                f"aggregator 'time-decay': unknown parameter {name!r}{did_you_mean(str(name), DEFAULTS)}; "
                f"known: {', '.join(sorted(DEFAULTS))}"
            )
    merged = {**DEFAULTS, **params}
    half_life, combine = merged["half_life"], merged["combine"]
    if isinstance(half_life, bool) or not isinstance(half_life, int | float | np.integer | np.floating):
        raise ConfigError(f"aggregator 'time-decay': half_life must be a number of bars, got {half_life!r}")
    if not 0 < half_life < np.inf:
        raise ConfigError(f"aggregator 'time-decay': half_life must be a positive number of bars, got {half_life!r}")
    if combine not in COMBINERS:
        raise ConfigError(
            f"aggregator 'time-decay': combine {combine!r}{did_you_mean(str(combine), COMBINERS)}; "
            f"choose one of {', '.join(COMBINERS)}"
        )
    return float(half_life), str(combine)


def carry_forward(values: np.ndarray, present: np.ndarray, half_life: float) -> np.ndarray:
    """Each row's latest ``present`` value (at or before it, per column) times
    ``0.5 ** (bars since / half_life)``; NaN before the first."""
    rows = np.arange(values.shape[0])[:, None]
    latest = np.maximum.accumulate(np.where(present, rows, -1), axis=0)
    carried = np.take_along_axis(values, np.maximum(latest, 0), axis=0)
    fade = np.exp2(-(rows - latest) / half_life)
    return np.where(latest >= 0, carried * fade, np.nan)


def time_decay(signals: Sequence[Signal], params: Mapping[str, Any]) -> Signal:
    """Combine with ``combine``, then carry the latest combined signal forward with ``half_life`` (bars)."""
    half_life, combine = _checked(params)
    combined = COMBINERS[combine](signals, {})
    score = combined.score.to_numpy(dtype=float)
    confidence = combined.confidence.to_numpy(dtype=float)
    present = ~np.isnan(score)
    template = combined.score
    return Signal(
        like(template, carry_forward(score, present, half_life)),
        like(template, carry_forward(confidence, present, half_life)),
    )
