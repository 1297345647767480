"""Two frictions a new plugin author met (issue 15): a plugin's ConfigError shown with its prefix
twice, and a base signal parameter that the grid replaces never checked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from fintrade import Strategy, signal
from fintrade.calls import call_plugin, prefixed_message
from fintrade.errors import ConfigError, DataError
from fintrade.plugin_manager import create_plugin_manager
from fintrade.registry import Registry
from fintrade.sweep import expand_grid

ROOT = Path(__file__).resolve().parents[1]

STRICT_MODEL = """
import fintrade
from fintrade import Strategy, signal
from fintrade.errors import ConfigError
from fintrade.types import Signal, SignalModel


def compute(inputs, params):
    window = params["window"]
    if not isinstance(window, int) or window < 2:
        raise ConfigError(f"signal model 'strict': parameter 'window' must be an integer >= 2, got {window!r}")
    close = inputs.field("close")
    return Signal.certain((close.pct_change(window).fillna(0.0) * 10).clip(-1.0, 1.0))


@fintrade.hookimpl
def fintrade_signal_models():
    yield SignalModel(name="strict", compute=compute, defaults={"window": 14})


class Strict(Strategy):
    symbols = ["AAPL"]
    start = "2015-01-01"
    end = "2016-01-01"
"""


def fintrade(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FINTRADE_")}
    return subprocess.run(
        [sys.executable, "-m", "fintrade.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**environment, "COLUMNS": "120"},
        timeout=300,
    )


def _strategy_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "strict_strategy.py"
    path.write_text(STRICT_MODEL + textwrap.indent(textwrap.dedent(body), "    "), encoding="utf-8")
    return path


# --- a plugin's ConfigError: its message once, one prefix --------------------------------------


def test_a_plugins_config_error_is_one_line_with_one_prefix(tmp_path: Path) -> None:
    path = _strategy_file(tmp_path, 'signals = [signal("strict", window=1)]\n')
    result = fintrade("backtest", str(path), "--quiet")
    assert result.returncode == 1
    assert result.stderr == (
        "error: signal model 'strict' (signal 'strict') with {'window': 1}: "
        "parameter 'window' must be an integer >= 2, got 1\n"
    )


def test_a_grid_value_refused_by_a_builtin_names_the_signal_once(tmp_path: Path) -> None:
    path = _strategy_file(
        tmp_path, 'signals = [signal("sma-cross", fast=5, slow=50)]\ngrid = {"sma-cross.fast": [5, "x"]}\n'
    )
    result = fintrade("backtest", str(path), "--quiet")
    assert result.returncode == 1
    assert result.stderr == (
        "error: signal model 'sma-cross' (signal 'sma-cross'): parameter 'fast' must be a positive integer, got 'x'\n"
    )


@pytest.mark.parametrize(
    ("what", "message", "shown"),
    [
        # The plugin names itself as the docs ask: its own prefix gives way to the call's context.
        (
            "signal model 'rsi' (signal 'slow') with {'window': 1}",
            "signal model 'rsi': parameter 'window' must be >= 2, got 1",
            "signal model 'rsi' (signal 'slow') with {'window': 1}: parameter 'window' must be >= 2, got 1",
        ),
        (
            "signal model 'rsi' (signal 'rsi')",
            "signal model 'rsi': bad",
            "signal model 'rsi' (signal 'rsi'): bad",
        ),
        # A plugin that does not name itself gets the prefix once.
        ("aggregator 'mean'", "weights must sum to 1", "aggregator 'mean': weights must sum to 1"),
        # Already prefixed by a nested call: kept.
        ("signal model 'w' (signal 'w')", "signal model 'w' (signal 'w'): bad", "signal model 'w' (signal 'w'): bad"),
        # Names the plugin its own way, for a bare plugin: kept.
        ("data source 'yahoo'", "source 'yahoo', symbol 'AAPL': no bars", "source 'yahoo', symbol 'AAPL': no bars"),
        # Another plugin's prefix is not this plugin's: both stay.
        (
            "signal model 'rsi' (signal 'rsi')",
            "signal model 'other': bad",
            "signal model 'rsi' (signal 'rsi'): signal model 'other': bad",
        ),
    ],
)
def test_prefixed_message(what: str, message: str, shown: str) -> None:
    assert prefixed_message(what, message) == shown


def test_call_plugin_keeps_the_error_type() -> None:
    def load() -> None:
        raise DataError("data source 'mine': column 'close' is missing")

    with pytest.raises(DataError) as raised:
        call_plugin("data source 'mine' loading AAA", load)
    assert str(raised.value) == "data source 'mine' loading AAA: column 'close' is missing"


# --- a base parameter the grid replaces is checked too -----------------------------------------


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(create_plugin_manager(load_entry_points=False))


def _grid_strategy(base: dict, grid: dict) -> Strategy:
    attributes = {"symbols": ["AAA"], "signals": [signal("sma-cross", **base)], "grid": grid}
    return type("Swept", (Strategy,), attributes)()


def test_a_base_value_the_grid_replaces_is_checked(registry: Registry) -> None:
    strategy = _grid_strategy({"fast": "x", "slow": 50}, {"sma-cross.fast": [5, 10]})
    with pytest.raises(ConfigError) as raised:
        expand_grid(strategy, registry)
    assert str(raised.value) == (
        "signal 'sma-cross': parameter 'fast' = 'x' is not a number like the values of grid key "
        "'sma-cross.fast' (5, 10), which replace it; fix it or leave it out"
    )


def test_a_base_bool_where_the_grid_has_numbers_is_refused(registry: Registry) -> None:
    strategy = _grid_strategy({"slow": True}, {"sma-cross.slow": [50, 100]})
    with pytest.raises(ConfigError, match=r"^signal 'sma-cross': parameter 'slow' = True is not a number "):
        expand_grid(strategy, registry)


@pytest.mark.parametrize(
    ("base", "grid"),
    [
        ({"fast": 10, "slow": 40}, {"sma-cross.slow": [30, 60]}),  # a number the grid replaces: fine
        ({"fast": 10.0}, {"sma-cross.fast": [5, 10]}),  # floats and ints are both numbers
        ({"fast": 10}, {"sma-cross.slow": [30, 60]}),  # not replaced at all
    ],
)
def test_base_values_of_the_right_kind_pass(registry: Registry, base: dict, grid: dict) -> None:
    combos = expand_grid(_grid_strategy(base, grid), registry)
    assert len(combos) == 2


def test_durations_may_be_given_as_strings_or_timedeltas(registry: Registry) -> None:
    # A model may convert a parameter from several types; only bool, number and str are compared.
    attributes = {
        "symbols": ["AAA"],
        "signals": [signal("lexicon", half_life=pd.Timedelta("2D"))],
        "grid": {"lexicon.half_life": ["12h", "5D"]},
    }
    assert len(expand_grid(type("Text", (Strategy,), attributes)(), registry)) == 2
