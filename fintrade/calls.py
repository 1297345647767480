"""Calling into plugin and strategy code, so that a failure names who failed and on what."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from fintrade.errors import FintradeError, PluginError

T = TypeVar("T")

_SUBJECT = re.compile(r"^[^']*('[^']*')")
"""The plugin ``what`` names, with its kind: ``signal model 'rsi'`` of ``signal model 'rsi' (signal 'fast')``."""


def prefixed_message(what: str, message: str) -> str:
    """``message`` prefixed with ``what``, naming the plugin once.

    Plugins are told to name themselves (``"signal model 'rsi': parameter 'window' must be ..."``),
    and ``what`` names the same plugin with the call's context (``"signal model 'rsi' (signal
    'fast') with {'window': 1}"``): the plugin's own ``"<kind> '<name>': "`` gives way to ``what``.
    A message that already starts with ``what`` (a nested call), or that names the plugin when
    ``what`` is the bare plugin (``"source 'yahoo', symbol 'AAPL': ..."`` for ``"data source
    'yahoo'"``), is kept as it is.
    """
    subject = _SUBJECT.match(what)
    if message.startswith(what):
        return message
    if subject is not None and message.startswith(f"{subject.group(0)}: "):
        return f"{what}: {message[len(subject.group(0)) + 2 :]}"
    if subject is not None and subject.group(0) == what and subject.group(1) in message:
        return message
    return f"{what}: {message}"


def call_plugin(what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``function``; a crash becomes ``PluginError("<what> failed: ...")``.

    ``what`` names the plugin, the call and the input, e.g. ``"data source 'yahoo' loading AAPL"``.
    Fintrade errors raised on purpose keep their type and message, prefixed with ``what`` once
    (:func:`prefixed_message`).
    """
    try:
        return function(*args, **kwargs)
    except FintradeError as exc:
        raise type(exc)(prefixed_message(what, str(exc))) from exc
    except Exception as exc:
        raise PluginError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def call_strategy(strategy: object, method: str, *args: Any) -> Any:
    """Call a strategy file's method; a crash points at the file and line that raised it."""
    import inspect
    import traceback
    from pathlib import Path

    from fintrade.errors import StrategyError

    try:
        return getattr(strategy, method)(*args)
    except FintradeError:
        raise
    except Exception as exc:
        source = inspect.getsourcefile(type(strategy)) or "<strategy>"
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == Path(source)]
        where = f"{source}:{frames[-1].lineno}" if frames else source
        raise StrategyError(
            f"{where}: {type(strategy).__name__}.{method}() failed: {type(exc).__name__}: {exc}"
        ) from exc
