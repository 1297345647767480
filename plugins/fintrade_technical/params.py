"""Checking a technical signal's parameters: defaults filled in, anything wrong is one ConfigError line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fintrade.errors import ConfigError, did_you_mean


def with_defaults(params: Mapping[str, Any], defaults: Mapping[str, Any], model: str) -> dict[str, Any]:
    """``defaults`` overridden by ``params``; an unknown name is refused, not silently ignored."""
    for name in params:
        if name not in defaults:
            known = ", ".join(sorted(defaults))
            raise ConfigError(
                f"signal model {model!r}: unknown parameter {name!r}{did_you_mean(str(name), defaults)}; known: {known}"
            )
    return {**defaults, **params}


def positive_int(params: Mapping[str, Any], name: str, model: str) -> int:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"signal model {model!r}: parameter {name!r} must be a positive integer, got {value!r}")
    return int(value)


def positive_number(params: Mapping[str, Any], name: str, model: str) -> float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) or not value > 0:
        raise ConfigError(f"signal model {model!r}: parameter {name!r} must be a positive number, got {value!r}")
    if not np.isfinite(value):
        raise ConfigError(f"signal model {model!r}: parameter {name!r} must be finite, got {value!r}")
    return float(value)


def number_between(params: Mapping[str, Any], name: str, low: float, high: float, model: str) -> float:
    """A number in the closed interval ``[low, high]``."""
    value = params[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not low <= value <= high
    ):
        raise ConfigError(
            f"signal model {model!r}: parameter {name!r} must be a number between {low:g} and {high:g}, got {value!r}"
        )
    return float(value)


def choice(params: Mapping[str, Any], name: str, choices: Sequence[str], model: str) -> str:
    value = params[name]
    if value not in choices:
        raise ConfigError(
            f"signal model {model!r}: parameter {name!r} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )
    return str(value)
