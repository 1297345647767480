"""Aggregators: mean, confidence-weighted vote, majority and time-decay.

Each combines any mix of signals (technical rules scoring every bar, document models scoring
only bars with news) into one. Module roles: :mod:`.combine` (bar-by-bar combination),
:mod:`.decay` (carrying the last combined signal forward with a half-life).
"""

from __future__ import annotations

import fintrade
from fintrade.types import Aggregator
from fintrade_aggregators.combine import confidence_vote, majority, mean
from fintrade_aggregators.decay import DEFAULTS as TIME_DECAY_DEFAULTS
from fintrade_aggregators.decay import time_decay

__all__ = ["confidence_vote", "fintrade_aggregators", "majority", "mean", "time_decay"]


@fintrade.hookimpl
def fintrade_aggregators() -> list[Aggregator]:
    return [
        Aggregator("mean", mean, description="Average score and confidence."),
        Aggregator("confidence-vote", confidence_vote, description="Confidence-weighted vote."),
        Aggregator("majority", majority, description="Majority of signs; ties are flat."),
        Aggregator(
            "time-decay",
            time_decay,
            defaults=dict(TIME_DECAY_DEFAULTS),
            description="Combine (mean by default), then carry the last signal forward, halved every `half_life` bars.",
        ),
    ]
