"""Strategy files: loading by path and class, and errors that point at the file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fintrade.errors import StrategyError
from fintrade.loading import load_strategy, split_spec


def _write(tmp_path: Path, source: str, name: str = "strategy.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def _error(spec: str) -> str:
    with pytest.raises(StrategyError) as caught:
        load_strategy(spec)
    return str(caught.value)


GOOD = """
from fintrade import Strategy, signal

class Trend(Strategy):
    symbols = ["A"]
    signals = [signal("sma-cross", fast=5, slow=20)]
"""


def test_loads_the_only_strategy_class(tmp_path: Path) -> None:
    loaded = load_strategy(str(_write(tmp_path, GOOD)))
    assert type(loaded.strategy).__name__ == "Trend"
    assert loaded.strategy.signals[0].params == {"fast": 5, "slow": 20}
    assert not loaded.has_inline_plugin


def test_split_spec() -> None:
    assert split_spec("dir/s.py:Name") == (Path("dir/s.py"), "Name")
    assert split_spec("dir/s.py") == (Path("dir/s.py"), None)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.py"
    assert _error(str(path)) == f"{path}: strategy file not found"


def test_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "from fintrade import Strategy\n\nclass Broken(Strategy)\n    symbols = ['A']\n")
    assert _error(str(path)) == f"{path}:3: syntax error: expected ':'"


def test_error_while_executing_points_at_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "from fintrade import Strategy\n\nx = 1\nundefined_name + 1\n")
    assert _error(str(path)) == f"{path}:4: NameError: name 'undefined_name' is not defined"


def test_no_strategy_class(tmp_path: Path) -> None:
    path = _write(tmp_path, "from fintrade import Strategy\n")
    assert _error(str(path)) == f"{path}: no Strategy subclass defined (class MyStrategy(fintrade.Strategy): ...)"


def test_two_strategy_classes_need_a_choice(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "\nclass Another(Strategy):\n    symbols = ['B']\n")
    assert _error(str(path)) == f"{path}: 2 Strategy subclasses (Another, Trend); choose one with {path}:Another"
    assert type(load_strategy(f"{path}:Trend").strategy).__name__ == "Trend"


def test_unknown_class_name(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    assert _error(f"{path}:Trnd") == f"{path}: no Strategy subclass named 'Trnd' (found: Trend)"


def test_misspelled_attribute_points_at_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('symbols = ["A"]', 'symbol = ["A"]'))
    assert _error(str(path)) == (
        f"{path}:4: unknown strategy attribute 'symbol' (did you mean 'symbols'?) (prefix private helpers with '_')"
    )


def test_inline_plugins_are_detected(tmp_path: Path) -> None:
    source = GOOD + ("\nimport fintrade\n\n@fintrade.hookimpl\ndef fintrade_aggregators():\n    return []\n")
    assert load_strategy(str(_write(tmp_path, source))).has_inline_plugin


def test_fintrade_errors_at_import_keep_their_message(tmp_path: Path) -> None:
    path = _write(tmp_path, "from fintrade import Costs\n\nCOSTS = Costs(fees=-1)\n")
    assert _error(str(path)) == f"{path}:3: costs.fees must be a non-negative number, got -1"


def test_a_crash_in_a_strategy_method_points_at_its_line(tmp_path: Path, core_registry) -> None:
    from fintrade.evaluation import run_backtest

    source = GOOD.replace('symbols = ["A"]', 'symbols = ["A"]\n    source = "memory"') + (
        "\n    def accept(self, params):\n        return params['sma-cross.fast'] / 0\n"
    )
    path = _write(tmp_path, source)
    with pytest.raises(StrategyError) as caught:
        run_backtest(load_strategy(str(path)).strategy, core_registry)
    assert str(caught.value) == f"{path}:9: Trend.accept() failed: ZeroDivisionError: division by zero"
