"""The errors the sentiment plugin raises on purpose: each one prints as one clear CLI line."""

from __future__ import annotations

from fintrade.errors import ConfigError


class SentimentModelError(ConfigError):
    """A ``model`` that cannot be found, or is not a 3-class (negative, neutral, positive) classifier."""
