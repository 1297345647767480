"""From combined signal to target positions: thresholds, confidence, HOLD and sizing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fintrade.errors import ConfigError
from fintrade.strategy import Strategy
from fintrade.types import Signal

INDEX = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
SCORE = [0.8, 0.1, np.nan, -0.6, -0.05, 0.5]
CONFIDENCE = [0.9, 0.9, np.nan, 0.4, 0.9, 0.2]


def signal() -> Signal:
    return Signal(
        score=pd.DataFrame({"A": SCORE}, index=INDEX), confidence=pd.DataFrame({"A": CONFIDENCE}, index=INDEX)
    )


def positions(**attributes: object) -> list[float]:
    strategy = type("Configured", (Strategy,), attributes)()
    return strategy.positions(signal())["A"].tolist()


def test_default_is_long_above_zero_and_flat_otherwise() -> None:
    assert positions() == [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]


def test_threshold_makes_small_scores_hold() -> None:
    assert positions(threshold=0.2, direction="long_short") == [1.0, 0.0, 0.0, -1.0, 0.0, 1.0]


def test_hold_keep_carries_the_last_decision_through_hold_and_missing_bars() -> None:
    assert positions(threshold=0.2, direction="long_short", hold="keep") == [1.0, 1.0, 1.0, -1.0, -1.0, 1.0]


def test_long_only_sell_exits_even_when_holding() -> None:
    assert positions(threshold=0.2, hold="keep") == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]


def test_min_confidence_turns_unsure_signals_into_hold() -> None:
    assert positions(direction="long_short", min_confidence=0.5) == [1.0, 1.0, 0.0, 0.0, -1.0, 0.0]


@pytest.mark.parametrize(
    ("sizing", "expected"),
    [
        ("score", [0.8, 0.1, 0.0, -0.6, -0.05, 0.5]),
        ("confidence", [0.9, 0.9, 0.0, -0.4, -0.9, 0.2]),
        ("score_confidence", [0.72, 0.09, 0.0, -0.24, -0.045, 0.1]),
    ],
)
def test_sizing_scales_by_score_and_confidence(sizing: str, expected: list[float]) -> None:
    assert positions(direction="long_short", sizing=sizing) == pytest.approx(expected)


@pytest.mark.parametrize(("attribute", "value"), [("sizing", "kelly"), ("hold", "maybe")])
def test_unknown_choices_are_config_errors(attribute: str, value: str) -> None:
    with pytest.raises(ConfigError, match=value):
        positions(**{attribute: value})
