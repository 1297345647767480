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
        # Plugins often name themselves already ("source 'yahoo', symbol 'AAPL': ..."); say it once.
        name = what.split()[-1] if what.endswith("'") else what
        message = str(exc) if name in str(exc) else f"{what}: {exc}"
        raise type(exc)(message) from exc
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
