"""Significance in every backtest, end to end: known answers on synthetic markets, the trial
ledger across runs, per-symbol metrics and the trade list.

The statistics themselves are pinned against the papers in tests/test_significance.py; here
they are computed by ``run_backtest`` on markets whose answer is known by construction:

- no information: prices are an i.i.d. zero-drift random walk and every combination trades a
  seeded coin flip, so no combination has an edge and the search can only find luck;
- a planted edge: returns are autocorrelated (AR(1), phi = 0.4) and each combination follows
  the last return on a different share of the bars, so the edge is real, strong, and ranks the
  combinations the same way in every part of the history.
"""

from __future__ import annotations

import json
import math
import statistics
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fintrade
from fintrade import Costs, Splits, Strategy, WalkForward, signal
from fintrade.evaluation import run_backtest
from fintrade.inference import Significance
from fintrade.plugin_manager import PluginInfo
from fintrade.registry import Registry
from fintrade.trials import TrialLedger
from fintrade.types import Signal, SignalInput, SignalModel

N_BARS = 1500


def market(phi: float, seed: int, symbol: str, n_bars: int = N_BARS) -> pd.DataFrame:
    """Daily bars whose close-to-close log returns follow AR(1) with coefficient ``phi``, no drift.

    Each bar opens at the previous close, so a position filled at bar t's open earns bar t's return.
    """
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
    shocks = rng.normal(0.0, 0.01, n_bars)
    returns = np.empty(n_bars)
    returns[0] = shocks[0]
    for t in range(1, n_bars):
        returns[t] = phi * returns[t - 1] + shocks[t]
    close = 100 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    index = pd.date_range("2010-01-04", periods=n_bars, freq="B", tz="UTC")
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e6}, index=index)


def follow(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """On a share ``weight`` of the bars, the sign of the bar's own return; elsewhere a coin.

    Known at the bar's close: the bar's return, and draws seeded by ``seed`` that depend on
    nothing else. With one seed, a higher weight follows the return on a superset of the bars.
    """
    columns = {}
    for symbol, bars in inputs.bars.items():
        rng = np.random.default_rng([params["seed"], zlib.crc32(symbol.encode())])
        follows = rng.random(len(bars)) < params["weight"]
        coin = rng.choice([-1.0, 1.0], len(bars))
        momentum = np.sign(np.log(bars["close"]).diff().fillna(0.0).to_numpy())
        columns[symbol] = np.where(follows, momentum, coin)
    return Signal.certain(pd.DataFrame(columns, index=inputs.index))


class Follow:
    @fintrade.hookimpl
    def fintrade_signal_models(self) -> Iterator[SignalModel]:
        yield SignalModel(name="follow", compute=follow, defaults={"weight": 0.0, "seed": 0})


class Search(Strategy):
    """100 combinations judged on a 4-fold walk-forward: 1,200 out-of-sample bars."""

    symbols = ["AAA"]
    source = "memory"
    signals = [signal("follow")]
    direction = "long_short"
    costs = Costs()
    splits = Splits(train=0.6, validation=0.2, test=0.2)
    walk_forward = WalkForward(folds=4, mode="rolling")
    grid = {"follow.seed": list(range(100))}


class Edge(Search):
    """100 combinations that follow the autocorrelated returns on 50% to 100% of the bars."""

    grid = {"follow.weight": list(np.linspace(0.5, 1.0, 100).round(4)), "follow.seed": [7]}


@pytest.fixture
def follow_registry(core_pm) -> Registry:
    core_pm.register_plugin(Follow(), "follow-plugin", PluginInfo("follow-plugin", "test", "ok"))
    return Registry(core_pm)


def test_no_information_is_not_mistaken_for_an_edge(follow_registry, memory_source, tmp_path: Path) -> None:
    memory_source.frames["AAA"] = market(phi=0.0, seed=11, symbol="AAA")
    found = run_backtest(Search(), follow_registry, ledger=TrialLedger(tmp_path)).significance
    assert found is not None
    assert found.deflation.trials == 100
    assert found.deflation.value is not None and found.deflation.value < 0.5
    assert found.overfitting.value is not None and abs(found.overfitting.value - 0.5) <= 0.15
    assert found.reality_check is not None and found.reality_check.spa_pvalue > 0.1
    assert "not distinguishable from luck" in found.verdict


def test_a_planted_edge_survives_the_search(follow_registry, memory_source, tmp_path: Path) -> None:
    memory_source.frames["AAA"] = market(phi=0.4, seed=11, symbol="AAA")
    result = run_backtest(Edge(), follow_registry, ledger=TrialLedger(tmp_path))
    found = result.significance
    assert found is not None and found.evaluated_on == "walk_forward" and found.observations == 1200
    assert found.deflation.value is not None and found.deflation.value > 0.95
    assert found.overfitting.value is not None and found.overfitting.value < 0.2
    assert found.reality_check is not None and found.reality_check.spa_pvalue < 0.05
    assert found.psr is not None and found.psr > 0.99
    assert "unlikely to be luck alone" in found.verdict
    # The reported Sharpe is the one significance is computed on: the stitched walk-forward's.
    assert result.walk_forward is not None
    assert found.sharpe == pytest.approx(result.walk_forward.stitched.sharpe, rel=1e-9)
    interval = found.bootstrap["sharpe"]
    assert interval.low < found.sharpe < interval.high


class Ten(Search):
    grid = {"follow.seed": list(range(10))}


def test_the_ledger_counts_every_run_and_resets_when_the_data_changes(
    follow_registry, memory_source, tmp_path: Path
) -> None:
    memory_source.frames["AAA"] = market(phi=0.0, seed=1, symbol="AAA", n_bars=400)
    ledger = TrialLedger(tmp_path)
    counts = [run_backtest(Ten(), follow_registry, ledger=ledger).significance.deflation for _ in range(3)]
    assert [(c.trials, c.this_run, c.runs, c.reset) for c in counts] == [
        (10, 10, 1, False),
        (20, 10, 2, False),
        (30, 10, 3, False),
    ]
    # The variance of the trials' Sharpe ratios is taken over the ledger: three equal runs.
    one_run = np.array(json.loads(counts[0].ledger and Path(counts[0].ledger).read_text())["runs"][0]["sharpes"])
    assert counts[2].sharpe_variance == pytest.approx(np.var(np.tile(one_run, 3), ddof=1), rel=1e-9)
    [entry] = ledger.entries()
    assert (entry.strategy, entry.trials, entry.runs) == ("Ten", 30, 3)

    memory_source.frames["AAA"] = market(phi=0.0, seed=2, symbol="AAA", n_bars=400)
    changed = run_backtest(Ten(), follow_registry, ledger=ledger).significance.deflation
    assert (changed.trials, changed.runs, changed.reset) == (10, 1, True)
    # More trials make the same Sharpe ratio less convincing.
    assert counts[2].value < counts[0].value


def test_a_strategy_can_keep_its_runs_out_of_the_ledger(follow_registry, memory_source, tmp_path: Path) -> None:
    memory_source.frames["AAA"] = market(phi=0.0, seed=1, symbol="AAA", n_bars=400)
    quiet = type("Quiet", (Ten,), {"significance": Significance(record_trials=False)})()
    found = run_backtest(quiet, follow_registry, ledger=TrialLedger(tmp_path)).significance
    assert (found.deflation.trials, found.deflation.ledger) == (10, None)
    assert TrialLedger(tmp_path).entries() == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(partitions=15), "even number"),
        (dict(bootstrap_reps=0), "at least 1"),
        (dict(confidence=1.5), "in \\(0, 1\\)"),
        (dict(block_size=0.5), "at least 1 bar"),
    ],
)
def test_bad_significance_settings_are_refused_in_one_line(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(fintrade.ConfigError, match=message):
        Significance(**settings)


def test_per_symbol_metrics_and_trades_add_up_to_the_book(follow_registry, memory_source, tmp_path: Path) -> None:
    for symbol in ("AAA", "BBB"):
        memory_source.frames[symbol] = market(phi=0.2, seed=5, symbol=symbol, n_bars=400)
    costly = type(
        "Costly",
        (Ten,),
        {"symbols": ["AAA", "BBB"], "costs": Costs(fees=0.001, slippage=0.0005), "walk_forward": None},
    )()
    result = run_backtest(costly, follow_registry, ledger=TrialLedger(tmp_path))
    assert result.evaluated_on == "test"
    assert set(result.per_symbol) == {"AAA", "BBB"}
    test = result.splits["test"].strategy
    # Trades counted per symbol add up to the portfolio's.
    assert sum(m.trades for m in result.per_symbol.values()) == test.trades
    closed = [t for t in result.trades if t.status == "closed"]
    assert closed and {t.side for t in closed} == {"long", "short"}
    for trade in closed:
        assert trade.exit is not None and trade.exit >= trade.entry
        # Costs: both fills' fees (0.1% of traded value) plus slippage (0.05% of it).
        traded = trade.size * (trade.entry_price + trade.exit_price)
        assert trade.costs == pytest.approx(traded * 0.001 + trade.size * 0.0005 * _references(trade), rel=1e-6)
    data = result.to_dict()
    assert data["trades"][0].keys() >= {"entry", "exit", "side", "size", "pnl", "costs", "return"}
    assert data["per_symbol"]["AAA"]["sharpe"] == result.per_symbol["AAA"].sharpe


def _references(trade) -> float:
    """The two fills' prices before slippage: a buy paid 1.0005 x, a sell got 0.9995 x."""
    buy, sell = (trade.entry_price, trade.exit_price) if trade.side == "long" else (trade.exit_price, trade.entry_price)
    return buy / 1.0005 + sell / 0.9995


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_the_json_figures_reproduce_psr_and_dsr(follow_registry, memory_source, tmp_path: Path) -> None:
    """A reader with the JSON alone recomputes PSR and DSR (formulas written out here, not imported)."""
    memory_source.frames["AAA"] = market(phi=0.1, seed=3, symbol="AAA")
    data = run_backtest(Edge(), follow_registry, ledger=TrialLedger(tmp_path)).to_dict()["significance"]
    sr = data["sharpe"] / math.sqrt(data["periods_per_year"])
    g3, g4, t = data["skewness"], data["kurtosis"], data["observations"]
    spread = math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert data["psr"]["value"] == pytest.approx(_phi(sr * math.sqrt(t - 1) / spread), abs=1e-9)
    dsr = data["dsr"]
    n, variance = dsr["trials"], dsr["sharpe_variance"]
    gamma = 0.5772156649015329
    inverse = statistics.NormalDist().inv_cdf
    sr0 = math.sqrt(variance) * ((1 - gamma) * inverse(1 - 1 / n) + gamma * inverse(1 - 1 / (n * math.e)))
    assert dsr["expected_max_sharpe"] == pytest.approx(sr0 * math.sqrt(data["periods_per_year"]), rel=1e-9)
    assert dsr["value"] == pytest.approx(_phi((sr - sr0) * math.sqrt(t - 1) / spread), abs=1e-9)
