"""A pytest plugin for fintrade plugin authors: isolated plugins, synthetic data, a CLI runner.

Installing fintrade activates it (entry point ``pytest11``), so a plugin's test suite can use
the fixtures without any ``conftest.py``::

    import fintrade
    from fintrade.types import DataSource

    class MyPlugin:
        @fintrade.hookimpl
        def fintrade_data_sources():
            yield DataSource(name="my-bars", load=lambda request: {})

    def test_my_source_is_registered(register_plugin):
        register_plugin(MyPlugin, name="my-plugin")
        assert "my-bars" in fintrade.registry.get_registry().data_sources

Fixtures:

``fintrade_pm``
    an isolated :class:`~fintrade.plugin_manager.FintradePluginManager` (built-ins only, no
    entry points), installed as the process-wide manager for the test.
``register_plugin``
    ``register_plugin(plugin, name=...)`` registers a module or object into ``fintrade_pm``
    and unregisters it when the test ends.
``synthetic_bars``
    ``synthetic_bars(symbols, n_bars=..., seed=...)``: seeded OHLCV bars that satisfy the bars
    contract.
``synthetic_documents``
    ``synthetic_documents(symbols, n_documents=..., seed=...)``: seeded timestamped documents.
``cli_runner``
    ``cli_runner(["plugins", "--json"])`` runs the ``fintrade`` CLI in-process and returns its
    exit code, stdout and stderr.

Pytest imports this module in every session of every project installed beside fintrade, so it
imports nothing heavy at module level: pandas, numpy and the fintrade core are imported inside
the fixtures.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pandas as pd

    from fintrade.plugin_manager import FintradePluginManager

__all__ = ["CliResult", "make_synthetic_bars", "make_synthetic_documents"]

PLUGIN_ENVIRONMENT = ("FINTRADE_PLUGINS", "FINTRADE_DISABLE_PLUGINS", "FINTRADE_TRACE_HOOKS")
"""Variables that would change which plugins an isolated manager loads; cleared for the test."""

_INTERVAL = re.compile(r"^(\d+)(m|h|d|w)$")
_FREQUENCY_UNITS = {"m": "min", "h": "h", "d": "D", "w": "W"}


def _frequency(interval: str) -> str:
    """``"1d"`` -> ``"1D"``, ``"15m"`` -> ``"15min"``: a fintrade interval as a pandas frequency."""
    match = _INTERVAL.match(interval)
    if match is None:
        raise ValueError(f"interval {interval!r}: expected a number and a unit m, h, d or w (e.g. '1d', '15m')")
    count, unit = match.groups()
    return f"{count}{_FREQUENCY_UNITS[unit]}"


def _symbol_seed(seed: int, symbol: str) -> list[int]:
    # crc32, not hash(): str hashes change between interpreters, and the data must not.
    return [seed, zlib.crc32(symbol.encode("utf-8"))]


def _symbols(symbols: str | Sequence[str]) -> list[str]:
    return [symbols] if isinstance(symbols, str) else list(symbols)


def make_synthetic_bars(
    symbols: str | Sequence[str] = ("AAA",),
    *,
    n_bars: int = 500,
    start: str = "2020-01-01",
    interval: str = "1d",
    seed: int = 0,
    drift: float = 0.0003,
    volatility: float = 0.02,
    start_price: float = 100.0,
) -> dict[str, pd.DataFrame]:
    """Seeded random-walk OHLCV bars per symbol, following the bars contract.

    Closes follow a geometric random walk (``drift`` and ``volatility`` per bar); each bar
    opens near the previous close, its high and low enclose open and close, and volume is
    positive. Bars are on a regular UTC clock of ``interval`` starting at ``start``. The same
    ``(symbol, seed)`` gives the same bars in any process, and each symbol has its own path.
    """
    import numpy as np
    import pandas as pd

    if n_bars < 1:
        raise ValueError(f"n_bars must be positive, got {n_bars}")
    index = pd.date_range(start=start, periods=n_bars, freq=_frequency(interval), tz="UTC", name="time")
    bars = {}
    for symbol in _symbols(symbols):
        rng = np.random.default_rng(_symbol_seed(seed, symbol))
        log_returns = rng.normal(drift, volatility, n_bars)
        close = start_price * np.exp(np.cumsum(log_returns))
        previous_close = np.concatenate([[start_price], close[:-1]])
        open_ = previous_close * np.exp(rng.normal(0.0, volatility / 4, n_bars))
        wick = np.abs(rng.normal(0.0, volatility / 2, (2, n_bars)))
        high = np.maximum(open_, close) * (1.0 + wick[0])
        low = np.minimum(open_, close) * (1.0 - np.minimum(wick[1], 0.5))
        volume = np.round(rng.lognormal(13.0, 0.5, n_bars))
        bars[symbol] = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
        )
    return bars


_POSITIVE = ("beats estimates", "surges on strong demand", "raises guidance", "wins a major contract", "upgraded")
_NEGATIVE = ("misses estimates", "plunges on weak demand", "cuts guidance", "loses a key customer", "downgraded")
_NEUTRAL = ("schedules earnings call", "holds annual meeting", "names new director", "trades sideways")


def make_synthetic_documents(
    symbols: str | Sequence[str] = ("AAA",),
    *,
    n_documents: int = 100,
    start: str = "2020-01-01",
    end: str = "2021-01-01",
    seed: int = 0,
    source: str = "synthetic",
) -> pd.DataFrame:
    """Seeded headlines about ``symbols`` with columns ``published_at symbol text source id``.

    Timestamps are uniform over ``[start, end)`` in UTC and sorted; each headline is positive,
    negative or neutral in plain words (``"AAA beats estimates"``), so lexicon and language
    models have something to score. Ids are unique and stable for a given seed.
    """
    import numpy as np
    import pandas as pd

    names = _symbols(symbols)
    rng = np.random.default_rng([seed, n_documents])
    first, last = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    if last <= first:
        raise ValueError(f"end {end!r} must be after start {start!r}")
    offsets = np.sort(rng.integers(0, (last - first).value, n_documents))
    published_at = pd.DatetimeIndex(first.value + offsets, tz="UTC").floor("s")
    phrases = (_POSITIVE, _NEGATIVE, _NEUTRAL)
    rows_symbol, rows_text = [], []
    for _ in range(n_documents):
        symbol = names[int(rng.integers(len(names)))]
        tone = phrases[int(rng.integers(3))]
        rows_symbol.append(symbol)
        rows_text.append(f"{symbol} {tone[int(rng.integers(len(tone)))]}")
    return pd.DataFrame(
        {
            "published_at": published_at,
            "symbol": rows_symbol,
            "text": rows_text,
            "source": source,
            "id": [f"{source}-{seed}-{i:06d}" for i in range(n_documents)],
        }
    )


@pytest.fixture
def fintrade_pm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FintradePluginManager]:
    """An isolated plugin manager with fintrade's built-in plugins and no entry points.

    It is installed as the process-wide manager (:func:`fintrade.registry.set_plugin_manager`),
    so :func:`fintrade.registry.get_registry` and the CLI see exactly it for the duration of
    the test; the previous manager is restored afterwards. Installed third-party plugins and
    the ``FINTRADE_PLUGINS``, ``FINTRADE_DISABLE_PLUGINS`` and ``FINTRADE_TRACE_HOOKS``
    variables are ignored, so the test does not depend on the machine it runs on.
    """
    from fintrade import registry
    from fintrade.plugin_manager import create_plugin_manager

    for variable in PLUGIN_ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    # Read the attribute, not get_plugin_manager(): that would build a manager just to restore it.
    previous = registry._plugin_manager
    pm = create_plugin_manager(load_entry_points=False)
    registry.set_plugin_manager(pm)
    try:
        yield pm
    finally:
        registry.set_plugin_manager(previous)


RegisterPlugin = Callable[..., str]


@pytest.fixture
def register_plugin(fintrade_pm: FintradePluginManager) -> Iterator[RegisterPlugin]:
    """Register a plugin into ``fintrade_pm`` for one test: ``register_plugin(plugin, name="x")``.

    ``plugin`` is a module, class or object with ``@fintrade.hookimpl`` functions. It is
    validated like any plugin (a misspelled hook raises :class:`~fintrade.errors.PluginError`),
    recorded with source ``"test"``, and unregistered when the test ends. ``name`` defaults
    to the module's ``__name__`` or the object's class name. Returns the name.
    """
    from fintrade.plugin_manager import PluginInfo

    registered: list[str] = []
    counter = itertools.count(1)

    def register(plugin: object, name: str | None = None) -> str:
        if name is None:
            name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{next(counter)}"
        fintrade_pm.register_plugin(plugin, name, PluginInfo(name, "test", "ok"))
        registered.append(name)
        return name

    yield register
    for name in reversed(registered):
        if fintrade_pm.has_plugin(name):
            fintrade_pm.unregister(name=name)
        fintrade_pm.infos.pop(name, None)


@pytest.fixture
def synthetic_bars() -> Callable[..., dict[str, pd.DataFrame]]:
    """A factory of seeded OHLCV bars: ``synthetic_bars(["AAA", "BBB"], n_bars=300, seed=1)``.

    Returns ``{symbol: frame}`` following the bars contract (UTC ``DatetimeIndex``, float
    ``open high low close volume``, sorted, unique). Keyword arguments: ``n_bars``, ``start``,
    ``interval`` (``"1d"``, ``"1h"``, ``"15m"``, ...), ``seed``, ``drift``, ``volatility``,
    ``start_price``; see :func:`make_synthetic_bars`.
    """
    return make_synthetic_bars


@pytest.fixture
def synthetic_documents() -> Callable[..., pd.DataFrame]:
    """A factory of seeded documents: ``synthetic_documents(["AAA"], n_documents=50, seed=1)``.

    Returns a frame with the document columns ``published_at`` (UTC, sorted), ``symbol``,
    ``text``, ``source`` and ``id``. Keyword arguments: ``n_documents``, ``start``, ``end``,
    ``seed``, ``source``; see :func:`make_synthetic_documents`.
    """
    return make_synthetic_documents


@dataclass(frozen=True)
class CliResult:
    """What one ``fintrade`` invocation produced."""

    exit_code: int
    stdout: str
    stderr: str


def _exit_code(code: object, stderr: io.StringIO) -> int:
    """``sys.exit(code)`` as a process would report it: None is 0, a message is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=stderr)
    return 1


@pytest.fixture
def cli_runner(fintrade_pm: FintradePluginManager) -> Callable[..., CliResult]:
    """Run the ``fintrade`` CLI in-process: ``cli_runner(["backtest", "s.py"], env={...})``.

    Calls :func:`fintrade.cli.main.run` with the arguments, as the ``fintrade`` console script
    would, and returns a :class:`CliResult` with ``exit_code``, ``stdout`` and ``stderr``.
    ``env`` sets environment variables for the call only. It uses ``fintrade_pm``, so the
    commands see the built-ins and whatever the test registered with ``register_plugin``,
    including commands from ``fintrade_register_commands``. Exceptions that the CLI does not
    turn into an exit code (bugs) propagate with their traceback.
    """
    from fintrade.cli import main

    def invoke(args: Sequence[str], env: Mapping[str, str] | None = None) -> CliResult:
        stdout, stderr = io.StringIO(), io.StringIO()
        # run() adds plugin commands to the module-level app and replaces warnings.showwarning;
        # both are put back so that one invocation does not leak into the next.
        commands = list(main.app.registered_commands)
        groups = list(main.app.registered_groups)
        show_warning = warnings.showwarning
        code: object = 0
        with pytest.MonkeyPatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            patch.setattr(sys, "argv", ["fintrade", *args])
            try:
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                    main.run(list(args))
            except SystemExit as exc:
                code = exc.code
            finally:
                main.app.registered_commands[:] = commands
                main.app.registered_groups[:] = groups
                warnings.showwarning = show_warning
        exit_code = _exit_code(code, stderr)
        return CliResult(exit_code=exit_code, stdout=stdout.getvalue(), stderr=stderr.getvalue())

    return invoke
