"""The exceptions fintrade raises on purpose.

Every error a user can cause is a :class:`FintradeError`: the CLI prints its message as one
line and exits non-zero. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FintradeError(Exception):
    """An error caused by input, configuration or a plugin, with a message fit for users."""

    exit_code = 1


class PluginError(FintradeError):
    """A plugin failed to load, registered something invalid, or clashed with another."""


class StrategyError(FintradeError):
    """A strategy file could not be loaded or is inconsistent."""


class DataError(FintradeError):
    """Bars or documents break the data contract (columns, order, NaNs, ranges)."""


class DataWarning(UserWarning):
    """Something about the data deserves attention but does not stop the run (:mod:`fintrade.cache` re-exports it)."""


class ConfigError(FintradeError):
    """Unknown names or parameters, or settings that cannot work together."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
