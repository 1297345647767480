"""Checking the ``options`` a strategy or a command passes to a plugin, with clear errors.

For plugin authors: a source's or dataset's ``load`` receives free-form options; these helpers
refuse what would otherwise be silently ignored or guessed at, naming the plugin (``where``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fintrade.errors import ConfigError, did_you_mean


def check_option_names(options: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Refuse unknown option names: a misspelt ``adjustd=True`` must not silently do nothing."""
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


def path_option(options: Mapping[str, Any], where: str, expected: str) -> Path:
    """The existing file or directory named by option ``path``; ``expected`` says what it should hold."""
    value = options.get("path")
    if value is None or value == "":
        raise ConfigError(f"{where}: option 'path' is required ({expected})")
    if not isinstance(value, str | Path):
        raise ConfigError(f"{where}: option 'path' must be a string or Path, got {type(value).__name__}")
    path = Path(value).expanduser().absolute()
    if not path.exists():
        raise ConfigError(f"{where}: path {str(path)!r} does not exist ({expected})")
    return path
