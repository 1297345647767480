"""The errors the model service raises on purpose; a leaf module, cheap to import."""

from __future__ import annotations

from fintrade.errors import ConfigError


class UnknownModelError(ConfigError):
    """A model name that is neither an offline alias, a local folder nor a hub id, or that cannot be loaded."""


class QuantizationUnavailableError(ConfigError):
    """4-bit loading asked for where bitsandbytes cannot run."""
