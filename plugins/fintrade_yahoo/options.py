"""Options of the ``yahoo`` and ``yahoo-news`` sources, checked with messages that name the option."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fintrade.errors import ConfigError, did_you_mean
from fintrade.retry import RetryPolicy

BAR_DEFAULTS: dict[str, Any] = {"adjusted": False, "timeout": 10.0, "attempts": 5, "backoff": 0.5}
NEWS_DEFAULTS: dict[str, Any] = {"count": 20, "tab": "news", "attempts": 5, "backoff": 0.5}
NEWS_TABS = ("news", "all", "press releases")


@dataclass(frozen=True)
class YahooOptions:
    """Checked options. ``attempts``/``backoff`` shape the retries (``backoff`` is the first wait, in s)."""

    adjusted: bool = False
    timeout: float = 10.0
    attempts: int = 5
    backoff: float = 0.5
    count: int = 20
    tab: str = "news"

    @property
    def adjustment(self) -> str:
        """The cache key's adjustment: adjusted and raw prices are cached apart and never mixed."""
        return "adjusted" if self.adjusted else "raw"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.attempts, base_delay=self.backoff)


def _number(options: Mapping[str, Any], name: str, where: str, minimum: float, integer: bool) -> Any:
    value = options[name]
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        wanted = "an integer" if integer else "a number"
        raise ConfigError(f"{where}: option {name!r} must be {wanted} >= {minimum:g}, got {value!r}")
    return value


def parse_options(options: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> YahooOptions:
    """Merge ``options`` over ``defaults``; an unknown or ill-typed option is a ConfigError."""
    for name in options:
        if name not in defaults:
            allowed = sorted(defaults)
            raise ConfigError(
                f"{where}: unknown option {name!r}{did_you_mean(str(name), allowed)}; options are {', '.join(allowed)}"
            )
    merged = {**defaults, **options}
    settings: dict[str, Any] = {}
    if "adjusted" in merged:
        if not isinstance(merged["adjusted"], bool):
            raise ConfigError(f"{where}: option 'adjusted' must be True or False, got {merged['adjusted']!r}")
        settings["adjusted"] = merged["adjusted"]
    if "timeout" in merged:
        settings["timeout"] = float(_number(merged, "timeout", where, 0.001, integer=False))
    settings["attempts"] = _number(merged, "attempts", where, 1, integer=True)
    settings["backoff"] = float(_number(merged, "backoff", where, 0, integer=False))
    if "count" in merged:
        settings["count"] = _number(merged, "count", where, 1, integer=True)
    if "tab" in merged:
        if merged["tab"] not in NEWS_TABS:
            raise ConfigError(f"{where}: option 'tab' must be one of {', '.join(map(repr, NEWS_TABS))}")
        settings["tab"] = merged["tab"]
    return YahooOptions(**settings)
