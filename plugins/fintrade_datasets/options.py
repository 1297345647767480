"""Check the ``options`` a user passes to a dataset's ``load``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fintrade.errors import ConfigError, did_you_mean


def check_option_names(options: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Refuse unknown option names: a misspelt ``agreemnt="50"`` must not silently load AllAgree."""
    allowed = sorted(known)
    for name in options:
        if name not in allowed:
            hint = f"options are {', '.join(allowed)}" if allowed else "it takes no options"
            raise ConfigError(f"{where}: unknown option {name!r}{did_you_mean(str(name), allowed)}; {hint}")


def bool_option(options: Mapping[str, Any], name: str, default: bool, where: str) -> bool:
    """A true/false option; ``"yes"`` or ``1`` are refused rather than guessed at."""
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: option {name!r} must be True or False, got {value!r}")
    return value


def text_option(options: Mapping[str, Any], name: str, default: str | None, where: str) -> str | None:
    """A non-empty string option (a column name, an encoding), or ``default`` when absent."""
    value = options.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: option {name!r} must be a non-empty string, got {value!r}")
    return value
