"""The errors the adapter plugin raises on purpose: each one prints as one clear CLI line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fintrade.errors import ConfigError, DataError, FintradeError
from fintrade.models.errors import QuantizationUnavailableError, UnknownModelError

__all__ = [
    "DatasetLabelError",
    "QuantizationUnavailableError",
    "TeacherError",
    "TrainingFailedError",
    "UnknownModelError",
    "UnsupportedMethodError",
    "describe_exception",
    "one_line_failures",
]


class UnsupportedMethodError(ConfigError):
    """An adapter method that the base model's architecture cannot take (prefix on MPNet, ...)."""


class DatasetLabelError(DataError):
    """A dataset whose labels do not match the task, or that has no rows."""


class TeacherError(ConfigError):
    """A distillation teacher that cannot be found, is not a classifier, or predicts other labels."""


class TrainingFailedError(FintradeError):
    """Something inside the training stack (torch, transformers, peft) failed; the cause is chained."""


def describe_exception(exc: BaseException) -> str:
    """``"ValueError: first line of the message"``: what one CLI line or one table cell can hold."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@contextmanager
def one_line_failures(command: str) -> Iterator[None]:
    """Turn an unexpected exception in ``command`` into one CLI line; ``--traceback`` still shows the stack.

    Errors fintrade raises on purpose pass unchanged. Used as a decorator on the training commands,
    whose failures come as often from the libraries (a release that changed an API, memory) as
    from fintrade, and whose users want the reason, not 60 lines of torch internals.
    """
    try:
        yield
    except FintradeError:
        raise
    except Exception as exc:
        raise TrainingFailedError(f"{command} failed: {describe_exception(exc)} (--traceback shows the stack)") from exc
