"""The errors the adapter plugin raises on purpose: each one prints as one clear CLI line."""

from __future__ import annotations

from fintrade.errors import ConfigError, DataError


class UnknownModelError(ConfigError):
    """A model name that is neither an offline alias, a local folder nor a hub id."""


class UnsupportedMethodError(ConfigError):
    """An adapter method that the base model's architecture cannot take (prefix on MPNet, ...)."""


class QuantizationUnavailableError(ConfigError):
    """4-bit training asked for where bitsandbytes cannot run."""


class DatasetLabelError(DataError):
    """A dataset whose labels do not match the task, or that has no rows."""


class TeacherError(ConfigError):
    """A distillation teacher that cannot be found, is not a classifier, or predicts other labels."""
