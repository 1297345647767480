"""Calling into plugin and strategy code, so that a failure names who failed and on what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fintrade.errors import FintradeError, PluginError

T = TypeVar("T")


def call_plugin(what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``function``; a crash becomes ``PluginError("<what> failed: ...")``.

    ``what`` names the plugin, the call and the input, e.g. ``"data source 'yahoo' loading AAPL"``.
    Fintrade errors raised on purpose keep their message, prefixed with ``what``.
    """
    try:
        return function(*args, **kwargs)
    except FintradeError as exc:
        raise type(exc)(f"{what}: {exc}") from exc
    except Exception as exc:
        raise PluginError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
