"""A backtest runs in stages: prepare (names only) -> load -> sweep -> evaluate.

Everything a strategy names is resolved by :func:`fintrade.evaluation.prepare` before any data
source is called, by ``fintrade backtest`` and ``fintrade check`` alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fintrade import Significance
from fintrade.cli.backtest_cmd import strategy_parameters
from fintrade.errors import ConfigError
from fintrade.evaluation import evaluate, load, prepare, run_backtest, sweep
from fintrade.registry import Registry, get_registry
from fintrade.strategy import SETTINGS, Strategy, signal
from tests.conftest import MemorySource
from tests.test_cli import fintrade

COUNTING_STRATEGY = """\
import fintrade
from fintrade import Strategy, signal
from fintrade.types import DataSource


def _load(request):
    with open({calls!r}, "a") as calls:
        calls.write("load\\n")
    raise RuntimeError("the data source was called")


@fintrade.hookimpl
def fintrade_data_sources():
    yield DataSource("counting", _load)


class Misspelt(Strategy):
    symbols = ["AAPL"]
    source = "counting"
    signals = [signal("sma-cross", fast=10, slow=50)]
    costs = "bybit-linear-takr"
"""


@pytest.mark.parametrize("command", ["backtest", "check"])
def test_a_misspelt_cost_preset_fails_in_one_line_before_any_data_source_is_called(
    command: str, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.txt"
    path = tmp_path / "misspelt.py"
    path.write_text(COUNTING_STRATEGY.format(calls=str(calls)))
    result = fintrade(command, str(path), "--quiet", env={"FINTRADE_CACHE_DIR": str(tmp_path / "cache")})
    known = ", ".join(get_registry().cost_presets.names())
    assert result.returncode == 1
    assert result.stderr == (
        f"error: unknown cost preset 'bybit-linear-takr' (did you mean 'bybit-linear-taker'?); known: {known}\n"
    )
    assert not calls.exists()


def _strategy(**attributes: object) -> Strategy:
    settings = {"symbols": ["AAA", "BBB"], "source": "memory", "signals": [signal("sma-cross", fast=5, slow=20)]}
    return type("Staged", (Strategy,), {**settings, **attributes})()


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"source": "memroy"}, "unknown data source 'memroy' (did you mean 'memory'?)"),
        ({"text_source": "sample-tweet"}, "unknown text source 'sample-tweet' (did you mean 'sample-tweets'?)"),
        (
            {"costs": "bybit-linear-takr"},
            "unknown cost preset 'bybit-linear-takr' (did you mean 'bybit-linear-taker'?)",
        ),
        ({"objective": "sharp"}, "unknown objective 'sharp' (did you mean 'sharpe'?)"),
        ({"signals": [signal("sma-crss")]}, "unknown signal model 'sma-crss' (did you mean 'sma-cross'?)"),
        ({"signals": [signal("sma-cross", fats=5)]}, "signal 'sma-cross': unknown parameter 'fats'"),
        ({"grid": {"sma-cross.slwo": [20, 30]}}, "grid key 'sma-cross.slwo': unknown parameter 'slwo'"),
        ({"aggregator": "meen"}, "unknown aggregator 'meen' (did you mean 'mean'?)"),
        ({"baselines": {"lexicon": [signal("lexicn")]}}, "unknown signal model 'lexicn' (did you mean 'lexicon'?)"),
    ],
    ids=["source", "text-source", "cost-preset", "objective", "model", "param", "grid", "aggregator", "baseline"],
)
def test_prepare_resolves_every_name_before_loading(
    attributes: dict[str, object], message: str, core_registry: Registry, memory_source: MemorySource
) -> None:
    strategy = _strategy(**attributes)
    with pytest.raises(ConfigError) as raised:
        prepare(strategy, core_registry)
    assert str(raised.value).startswith(message)
    with pytest.raises(ConfigError):
        run_backtest(strategy, core_registry)
    assert memory_source.requests == []


def test_prepare_resolves_what_the_strategy_names(core_registry: Registry) -> None:
    plan = prepare(_strategy(costs="bybit-linear-taker", grid={"sma-cross.fast": [5, 10]}), core_registry)
    assert plan.name == "Staged" and plan.data_source.name == "memory" and plan.text_source is None
    assert list(plan.signal_models) == ["sma-cross"] and plan.aggregator.name == "mean"
    assert plan.costs == core_registry.cost_presets.get("bybit-linear-taker").costs
    assert [combo.params["sma-cross.fast"] for combo in plan.combinations] == [5, 10]


def test_the_stages_called_one_by_one_give_run_backtest(core_registry: Registry) -> None:
    # Both runs alike: neither adds to a trial ledger the other would then count.
    strategy = _strategy(grid={"sma-cross.fast": [5, 10]}, significance=Significance(record_trials=False))
    plan = prepare(strategy, core_registry)
    market = load(plan, core_registry)
    grid = sweep(plan, core_registry, market)
    staged = evaluate(plan, core_registry, market, grid)
    assert market.symbols == ["AAA", "BBB"] and grid.returns.shape == (len(market.index), 2)
    assert json.dumps(staged.to_dict()) == json.dumps(run_backtest(strategy, core_registry).to_dict())


def test_the_manifest_lists_every_strategy_setting() -> None:
    assert SETTINGS[:3] == ("symbols", "source", "source_options") and "min_annualised_years" in SETTINGS
    parameters = strategy_parameters(_strategy())
    # min_annualised_years is reported at the top of the result instead.
    assert list(parameters) == [name for name in SETTINGS if name != "min_annualised_years"]
    assert parameters["signals"] == [{"model": "sma-cross", "params": {"fast": 5, "slow": 20}, "label": ""}]
