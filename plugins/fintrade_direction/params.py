"""The ``market-direction`` parameters: defaults, and checks that fail as one ConfigError line."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fintrade.errors import ConfigError, did_you_mean

MODEL = "market-direction"
DEFAULTS: dict[str, Any] = {
    "text": True,
    "model": "minilm",
    "pca": 16,
    "lag": "0s",
    "flat": 0.25,
    "min_train": 250,
    "refit_every": 21,
    "train_window": 0,
    "C": 1.0,
}


@dataclass(frozen=True)
class DirectionParams:
    """Checked parameters (see ``docs/signals.md``, market-direction)."""

    text: bool
    model: str
    pca: int
    lag: str
    flat: float
    min_train: int
    refit_every: int
    train_window: int
    C: float


def _fail(name: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"signal model {MODEL!r}: parameter {name!r} must be {expected}, got {value!r}")


def _integer(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise _fail(name, "a positive integer" if minimum == 1 else f"an integer >= {minimum}", value)
    return int(value)


def _number(value: object, name: str, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value > 0 if positive else value >= 0):
        raise _fail(name, "a positive number" if positive else "a number >= 0", value)
    if value == float("inf"):
        raise _fail(name, "finite", value)
    return float(value)


def check_params(params: Mapping[str, Any]) -> DirectionParams:
    """Defaults filled in; unknown names and bad values refused."""
    import pandas as pd

    for name in params:
        if name not in DEFAULTS:
            raise ConfigError(
                f"signal model {MODEL!r}: unknown parameter {name!r}{did_you_mean(str(name), DEFAULTS)}; "
                f"known: {', '.join(sorted(DEFAULTS))}"
            )
    merged = {**DEFAULTS, **params}
    if not isinstance(merged["text"], bool):
        raise _fail("text", "True or False", merged["text"])
    if not isinstance(merged["model"], str) or not merged["model"]:
        raise _fail("model", "a model alias, folder or hub id", merged["model"])
    lag = merged["lag"]
    try:
        if not isinstance(lag, str) or pd.Timedelta(lag) < pd.Timedelta(0):
            raise ValueError
    except (ValueError, TypeError):
        raise _fail("lag", "a non-negative duration such as '0s' or '5min'", lag) from None
    return DirectionParams(
        text=merged["text"],
        model=merged["model"],
        pca=_integer(merged["pca"], "pca", 0),
        lag=str(lag),
        flat=_number(merged["flat"], "flat", positive=False),
        min_train=_integer(merged["min_train"], "min_train", 1),
        refit_every=_integer(merged["refit_every"], "refit_every", 1),
        train_window=_integer(merged["train_window"], "train_window", 0),
        C=_number(merged["C"], "C", positive=True),
    )
