"""The lean sweep keeps today's numbers: the screen equals the engine, the fused decision rule
equals the documented one, window scores equal masked metrics, and a grid swept in blocks (of any
size, on any executor, interrupted and resumed, or failing) gives the same result or says which
chunk failed.

Small synthetic data throughout: the point is equality, not scale (bench/ measures scale).
"""

from __future__ import annotations

import json
import os
import signal as signals
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fintrade
from fintrade import grid as grid_module
from fintrade.costs import Costs
from fintrade.decisions import SIZINGS, decide, value_range
from fintrade.engine import simulate
from fintrade.evaluation import evaluate, load, prepare, run_backtest
from fintrade.executors import MAX_RETRIES, ChunkFailed, Executor, run_chunks
from fintrade.grid import GridReturns, block_positions, sweep_grid, sweep_key
from fintrade.metrics import OBJECTIVES, bar_returns, compute_metrics, window_mask, window_scores
from fintrade.plugin_manager import FintradePluginManager, PluginInfo
from fintrade.registry import Registry
from fintrade.screening import sleeve_values
from fintrade.splits import Splits, WalkForward, Window
from fintrade.strategy import Significance, Strategy, signal
from fintrade.types import Signal, SignalInput, SignalModel
from tests.conftest import MemorySource, random_walk_bars


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Swept blocks go under the cache directory: a fresh one per test, never the user's."""
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FINTRADE_BLOCK_SIZE", raising=False)
    monkeypatch.delenv("FINTRADE_EXECUTOR", raising=False)
    monkeypatch.delenv("FINTRADE_MAX_MEMORY", raising=False)


# --- 1. the screen equals the engine ------------------------------------------------------------

N_BARS, N_SYMBOLS, N_COMBOS = 90, 3, 4
SYMBOLS = ["AAA", "BBB", "CCC"]


def _prices(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (N_BARS, N_SYMBOLS)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.004, (N_BARS, N_SYMBOLS)))
    # One symbol has no prices on some bars (a halt), and an open missing on its own.
    close[40:44, 1] = np.nan
    open_[40:44, 1] = np.nan
    open_[60, 1] = np.nan
    # Another is listed two bars late: nothing to value or fill at before its first prices.
    close[:2, 2] = np.nan
    open_[:2, 2] = np.nan
    index = pd.date_range("2021-01-01", periods=N_BARS, freq="D", tz="UTC")
    columns = pd.Index(SYMBOLS, name="symbol")
    return pd.DataFrame(open_, index, columns), pd.DataFrame(close, index, columns)


def _random_positions(seed: int = 3) -> np.ndarray:
    """Targets held for a few bars (unchanged targets send no order), then changed: long, short,
    flips, NaN (no decision), and values outside [-1, 1] that the engine clips."""
    rng = np.random.default_rng(seed)
    levels = np.array([-1.7, -1.0, -0.4, 0.0, 0.25, 0.6, 1.0, 1.3, np.nan])
    positions = rng.choice(levels, size=(N_BARS, N_SYMBOLS * N_COMBOS))
    held = rng.random(N_BARS) < 0.6
    for i in np.flatnonzero(held[1:]) + 1:
        positions[i] = positions[i - 1]
    positions[5:9, 0] = [1.0, -1.0, 1.0, -1.0]  # flips on consecutive bars
    return positions


COSTS = {
    "none": Costs(),
    "fees": Costs(fees=0.0015),
    "fixed_fees": Costs(fixed_fees=3.0),
    "slippage": Costs(slippage=0.002),
    "spread": Costs(spread=0.003),
    "all": Costs(fees=0.001, fixed_fees=2.0, slippage=0.0007, spread=0.0004),
}
SETTINGS = {
    "full-size": (1.0, False),
    "half-size": (0.5, False),
    "funding": (1.0, True),
    "half-size-funding": (0.4, True),
}


def _funding(opens: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rates = np.zeros(opens.shape)
    settle = np.arange(N_BARS) % 3 == 0  # settlements every third bar, some of them missing
    rates[settle] = rng.normal(0.0001, 0.0003, (int(settle.sum()), N_SYMBOLS))
    rates[12, 2] = np.nan
    return pd.DataFrame(rates, index=opens.index, columns=opens.columns)


def _screen_and_engine(costs: Costs, fill: str, setting: str) -> tuple[np.ndarray, np.ndarray]:
    position_size, with_funding = SETTINGS[setting]
    opens, closes = _prices()
    funding = _funding(opens) if with_funding else None
    positions = _random_positions()
    columns = pd.MultiIndex.from_product([range(N_COMBOS), SYMBOLS], names=["combo", "symbol"])
    engine = simulate(
        pd.DataFrame(positions, index=opens.index, columns=columns),
        opens,
        closes,
        costs,
        initial_cash=90_000.0,
        position_size=position_size,
        fill=fill,  # type: ignore[arg-type]
        funding_rates=funding,
    )
    screen = sleeve_values(
        positions,
        np.tile(np.arange(N_SYMBOLS), N_COMBOS),
        opens.to_numpy(),
        closes.to_numpy(),
        costs,
        initial_cash=90_000.0 / N_SYMBOLS,
        position_size=position_size,
        fill=fill,
        funding_rates=funding.to_numpy() if funding is not None else None,
    )
    return screen, engine.value


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("costs", list(COSTS))
def test_the_screen_equals_the_engine(costs: str, fill: str, setting: str) -> None:
    screen, engine = _screen_and_engine(COSTS[costs], fill, setting)
    assert screen.shape == engine.shape == (N_BARS, N_SYMBOLS * N_COMBOS)
    # The test is not vacuous: the sleeves moved, and the halted symbol's closes are missing.
    assert np.isnan(engine[40:44, 1::N_SYMBOLS]).all() and np.isfinite(engine[:, 0::N_SYMBOLS]).all()
    assert np.nanstd(engine[-1]) > 0
    np.testing.assert_allclose(screen, engine, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("costs", list(COSTS))
def test_the_screen_is_bitwise_the_engine(costs: str, fill: str) -> None:
    screen, engine = _screen_and_engine(COSTS[costs], fill, "half-size-funding")
    assert np.array_equal(screen, engine, equal_nan=True)


def test_the_screen_refuses_an_unknown_fill() -> None:
    from fintrade.errors import ConfigError

    opens, closes = _prices()
    with pytest.raises(ConfigError, match="fill must be 'next_open' or 'close', got 'open'"):
        sleeve_values(np.zeros((N_BARS, 1)), np.zeros(1), opens, closes, Costs(), initial_cash=1.0, fill="open")


# --- 2. the fused decision rule equals the documented one --------------------------------------


def _documented_rule(
    score: np.ndarray,
    confidence: np.ndarray,
    *,
    threshold: float,
    min_confidence: float,
    long_short: bool,
    sizing: str,
    keep: bool,
) -> np.ndarray:
    """Strategy.positions' docstring, in plain numpy, bar by bar.

    BUY (long) above ``threshold``, SELL (short when long/short, else flat) below ``-threshold``,
    HOLD in between, when the confidence is under ``min_confidence`` (a missing confidence is 0),
    or when there is no score; HOLD is flat or keeps the last position (flat before the first);
    the size is 1, ``|score|``, the confidence or their product, and the position is in [-1, 1].
    """
    confidence = np.where(np.isnan(confidence), 0.0, confidence)
    out = np.zeros(score.shape)
    for i in range(score.shape[0]):
        for j in range(score.shape[1]):
            s, c = score[i, j], confidence[i, j]
            size = {"fixed": 1.0, "score": abs(s), "confidence": c, "score_confidence": abs(s) * c}[sizing]
            if not np.isnan(s) and c >= min_confidence and s > threshold:
                out[i, j] = min(size, 1.0)
            elif not np.isnan(s) and c >= min_confidence and s < -threshold:
                out[i, j] = max(-size, -1.0) if long_short else 0.0
            else:
                out[i, j] = out[i - 1, j] if keep and i > 0 else 0.0
    return out


def _scores(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = rng.uniform(-1, 1, (80, 6))
    score[rng.random(score.shape) < 0.15] = np.nan
    score[3, :] = 0.2  # exactly the threshold: HOLD
    score[4, :] = -0.2
    confidence = rng.uniform(0, 1.3, score.shape)  # beyond 1: the size is still clipped
    confidence[rng.random(score.shape) < 0.15] = np.nan
    confidence[6, :] = 0.3  # exactly min_confidence: not under it, so it acts
    score[6, :] = 0.9
    return score, confidence


@pytest.mark.parametrize("keep", [False, True], ids=["flat", "keep"])
@pytest.mark.parametrize("long_short", [False, True], ids=["long_only", "long_short"])
@pytest.mark.parametrize("sizing", SIZINGS)
@pytest.mark.parametrize(("threshold", "min_confidence"), [(0.0, 0.0), (0.2, 0.3)])
def test_the_fused_rule_is_the_documented_rule(
    threshold: float, min_confidence: float, sizing: str, long_short: bool, keep: bool
) -> None:
    score, confidence = _scores()
    settings = dict(threshold=threshold, min_confidence=min_confidence, long_short=long_short, sizing=sizing)
    expected = _documented_rule(score, confidence, keep=keep, **settings)  # type: ignore[arg-type]
    fused = decide(score, confidence, keep=keep, **settings)  # type: ignore[arg-type]
    np.testing.assert_array_equal(fused, expected)
    assert (expected != 0).any() and (expected[1:] != expected[:-1]).any()
    if long_short:
        assert (expected < 0).any()

    # The same through the public path, Strategy.positions, on (combo, symbol) columns.
    class Rule(Strategy):
        pass

    Rule.threshold, Rule.min_confidence, Rule.sizing = threshold, min_confidence, sizing
    Rule.direction = "long_short" if long_short else "long_only"
    Rule.hold = "keep" if keep else "flat"
    columns = pd.MultiIndex.from_product([range(2), ["AAA", "BBB", "CCC"]], names=["combo", "symbol"])
    index = pd.date_range("2022-01-03", periods=len(score), freq="B", tz="UTC")
    combined = Signal(pd.DataFrame(score, index, columns), pd.DataFrame(confidence, index, columns))
    positions = Rule().positions(combined)
    assert positions.index.equals(index) and positions.columns.equals(columns)
    np.testing.assert_array_equal(positions.to_numpy(), expected)


def test_the_rule_refuses_an_unknown_sizing_and_hold() -> None:
    from fintrade.errors import ConfigError

    score, confidence = _scores()
    combined = Signal(pd.DataFrame(score), pd.DataFrame(confidence))
    with pytest.raises(ConfigError, match="sizing 'size'"):
        type("Bad", (Strategy,), {"sizing": "size"})().positions(combined)
    with pytest.raises(ConfigError, match="hold 'hold'"):
        type("Bad", (Strategy,), {"hold": "hold"})().positions(combined)


@pytest.mark.parametrize("layout", ["contiguous", "strided", "all-nan", "empty"])
def test_the_bounds_check_sees_every_value(layout: str) -> None:
    values = _scores()[0]
    values = {
        "contiguous": values,
        "strided": values[::2, ::3],
        "all-nan": np.full((4, 3), np.nan),
        "empty": np.zeros((0, 3)),
    }[layout]
    expected = (np.nanmin(values), np.nanmax(values)) if np.isfinite(values).any() else (np.inf, -np.inf)
    assert value_range(values) == expected


# --- 3. window scores equal masked metrics ----------------------------------------------------


def _grid_returns() -> np.ndarray:
    rng = np.random.default_rng(2)
    returns = rng.normal(0.0005, 0.012, (150, 7))
    returns[0] = np.nan  # the first bar has no return
    returns[57, 3] = np.nan  # a bar where one combination has none: counted in no column
    returns[:, 5] = 0.0  # a curve that never moves
    returns[100:, 6] = -0.03 + rng.normal(0, 1e-4, 50)  # one that only loses from bar 100 on
    return returns


WINDOWS = {
    "from-0": Window(0, 60),
    "later": Window(40, 90),
    "over-the-nan-row": Window(50, 70),
    "to-the-end": Window(100, 150),
    "one-bar": Window(57, 58),
    "two-bars": Window(89, 91),
    "one-return": Window(10, 11),
    "empty": Window(70, 70),
}


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_window_scores_equal_masked_metrics(objective: str, window: str, monkeypatch: pytest.MonkeyPatch) -> None:
    returns = _grid_returns()
    counted = ~np.isnan(returns).any(axis=1)
    chosen = WINDOWS[window]
    expected = compute_metrics(returns, 252.0, window_mask(len(returns), chosen)).values[objective]
    np.testing.assert_allclose(window_scores(returns, 252.0, objective, chosen, counted), expected, rtol=1e-12, atol=0)
    # Scored in blocks of columns narrower than the grid: the same figures.
    monkeypatch.setattr("fintrade.metrics.SCORE_BLOCK", 3)
    blocked = window_scores(returns, 252.0, objective, chosen, counted)
    np.testing.assert_allclose(blocked, expected, rtol=1e-12, atol=0)
    if window in ("empty", "one-bar"):  # no counted return
        assert np.isnan(blocked).all()
    elif window != "one-return":
        assert np.isfinite(blocked).sum() >= 5


def test_a_constant_return_scores_the_same_whatever_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    returns = _grid_returns()
    returns[1:, 0] = 0.001  # the same return every bar: no spread, so no Sharpe ratio
    counted = ~np.isnan(returns).any(axis=1)
    window = Window(0, len(returns))
    expected = compute_metrics(returns, 252.0, window_mask(len(returns), window)).values["sharpe"]
    monkeypatch.setattr("fintrade.metrics.SCORE_BLOCK", 1)
    np.testing.assert_allclose(window_scores(returns, 252.0, "sharpe", window, counted), expected, rtol=1e-12, atol=0)


# --- 4. a grid swept in blocks of any size, on any executor, gives the same result --------------

# What the tripwire model does, set by each test before the sweep: forked workers inherit it.
TRIPWIRE: dict[str, Any] = {}


def _first_attempt(marker: str | None) -> bool:
    """True the first time for a marker file (created atomically: one worker wins); always without one."""
    if marker is None:
        return True
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def _tripwire(inputs: SignalInput, params: dict[str, Any]) -> Signal:
    """Momentum over ``window`` bars, and a way to fail on chosen parameters or calls."""
    window = params["window"]
    TRIPWIRE["calls"] = TRIPWIRE.get("calls", 0) + 1
    time.sleep(TRIPWIRE.get("delay", {}).get(window, 0.0))
    if TRIPWIRE.get("interrupt_at") == TRIPWIRE["calls"] or window == TRIPWIRE.get("interrupt_on"):
        raise KeyboardInterrupt  # Ctrl-C in the middle of the sweep
    if window == TRIPWIRE.get("raise_on"):
        raise ZeroDivisionError(f"window {window} divides by nothing")
    if window == TRIPWIRE.get("kill_on") and _first_attempt(TRIPWIRE.get("marker")):
        os.kill(os.getpid(), signals.SIGKILL)
    close = inputs.field("close")
    score = np.tanh(close.pct_change(window) * 20)
    # As if trained up to a date that depends on the parameters: the grid's cutoff is the latest.
    cutoff = inputs.index[100 + window]
    return Signal(score, pd.DataFrame(0.8, index=score.index, columns=score.columns), knowledge_cutoff=cutoff)


@pytest.fixture
def scale_registry(core_pm: FintradePluginManager, memory_source: MemorySource) -> Iterator[Registry]:
    """The built-ins, the memory source (shorter series) and the tripwire model."""

    @fintrade.hookimpl
    def fintrade_signal_models():
        yield SignalModel(name="tripwire", compute=_tripwire, defaults={"window": 5})

    plugin = types.ModuleType("tripwire_plugin")
    plugin.fintrade_signal_models = fintrade_signal_models  # type: ignore[attr-defined]
    core_pm.register_plugin(plugin, "tripwire_plugin", PluginInfo("tripwire_plugin", "test", "ok"))
    for number, symbol in enumerate(["AAA", "BBB", "CCC"]):
        memory_source.frames[symbol] = random_walk_bars(symbol, n_bars=260, seed=number)
    TRIPWIRE.clear()
    yield Registry(core_pm)
    TRIPWIRE.clear()


class Sweep(Strategy):
    """12 combinations of two signals, walk-forward, significance without the ledger, every cost."""

    symbols = ["AAA", "BBB", "CCC"]
    source = "memory"
    signals = [signal("sma-cross", fast=5, slow=30), signal("tripwire", window=5)]
    direction = "long_short"
    costs = Costs(fees=0.0008, fixed_fees=1.5, slippage=0.0004, spread=0.0006)
    splits = Splits(train=0.5, validation=0.2, test=0.3)
    walk_forward = WalkForward(folds=3, mode="rolling")
    significance = Significance(record_trials=False, bootstrap_reps=200, partitions=4)
    position_size = 0.8
    grid = {"sma-cross.fast": [3, 5, 8], "sma-cross.slow": [20, 40], "tripwire.window": [4, 9]}


class Wide(Sweep):
    """20 combinations of the tripwire alone: one model call per combination."""

    signals = [signal("tripwire", window=5)]
    grid = {"tripwire.window": list(range(2, 22))}


def _staged(
    strategy: Strategy, registry: Registry, block: int | None, executor: Executor | None = None
) -> tuple[Any, Any, GridReturns, str]:
    """prepare -> load -> sweep_grid in blocks of ``block`` on ``executor`` -> evaluate, and the result's JSON."""
    plan = prepare(strategy, registry)
    market = load(plan, registry)
    swept = sweep_grid(plan, registry, market, executor or Executor(), block=block)
    return plan, market, swept, json.dumps(evaluate(plan, registry, market, swept).to_dict())


def test_blocks_of_any_size_give_the_same_result(scale_registry: Registry, tmp_path: Path) -> None:
    results: dict[int, tuple[GridReturns, str]] = {}
    for block in (1, 5, 12):
        plan, market, swept, text = _staged(Sweep(), scale_registry, block)
        assert [len(b) for b in swept.blocks] == {1: [1] * 12, 5: [5, 5, 2], 12: [12]}[block]
        results[block] = (swept, text)
    assert len(plan.combinations) == 12 and market.symbols == ["AAA", "BBB", "CCC"]
    reference = results[12][0].returns
    assert np.isnan(reference[0]).all() and np.isfinite(reference[1:]).all()
    assert np.unique(reference[1:], axis=1).shape[1] == 12  # twelve different curves
    for swept, text in results.values():
        assert np.array_equal(swept.returns, reference, equal_nan=True)
        assert text == results[12][1]
    data = json.loads(results[12][1])
    assert data["walk_forward"] is not None and data["significance"] is not None and data["trades"]
    assert data["knowledge_cutoff"]["cutoff"] == market.index[100 + 9].isoformat()
    assert all(swept.knowledge_cutoff == market.index[109] for swept, _ in results.values())

    # The same as run_backtest, which sizes blocks from the budget, on the local executor.
    assert json.dumps(run_backtest(Sweep(), scale_registry, executor="local").to_dict()) == results[12][1]
    # No block is left behind under the cache once a sweep completes.
    assert not (tmp_path / "cache" / "sweeps").exists() or not any((tmp_path / "cache" / "sweeps").iterdir())

    # The screened returns are the engine's (vectorbt's Portfolio, the engine of record) to 1e-12.
    positions, _ = block_positions(plan, scale_registry, market, range(12))
    simulated = simulate(
        positions,
        market.opens,
        market.closes,
        plan.costs,
        initial_cash=Sweep.initial_cash,
        position_size=Sweep.position_size,
    )
    engine = bar_returns(simulated.value.reshape(len(market.index), 12, 3).sum(axis=2))
    np.testing.assert_allclose(reference, engine, rtol=1e-12, atol=0)


def test_a_block_holds_at_least_one_combination_and_at_most_the_grid(scale_registry: Registry) -> None:
    from fintrade.errors import ConfigError

    plan = prepare(Wide(), scale_registry)
    market = load(plan, scale_registry)
    with pytest.raises(ConfigError, match=r"^a block must hold at least one combination, got 0$"):
        sweep_grid(plan, scale_registry, market, Executor(), block=0)
    assert sweep_grid(plan, scale_registry, market, Executor(), block=50).blocks == (range(0, 20),)


def test_blocks_sized_from_the_memory_budget_give_the_same_result(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fintrade.grid import block_size
    from fintrade.sweep import BASE_MEMORY, BYTES_PER_COLUMN_BAR, RETURNS_BYTES

    whole = json.dumps(run_backtest(Sweep(), scale_registry, executor="local").to_dict())
    n_bars = 260
    # Room for the grid's returns and four combinations' blocks of 3 symbols, one worker at a time.
    budget = BASE_MEMORY + RETURNS_BYTES * 12 * n_bars + 4 * BYTES_PER_COLUMN_BAR * 3 * n_bars + 100
    monkeypatch.setenv("FINTRADE_MAX_MEMORY", str(budget))
    assert block_size(12, 3, n_bars, 1) == 4
    assert block_size(12, 3, n_bars, 2) == 2  # shared among two workers
    stages: list[str] = []
    budgeted = run_backtest(Sweep(), scale_registry, executor="local", progress=stages.append)
    assert json.dumps(budgeted.to_dict()) == whole
    assert [stage[-10:] for stage in stages if stage.endswith("blocks")] == ["1/3 blocks", "2/3 blocks", "3/3 blocks"]


def test_the_processes_executor_gives_the_same_result(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local = json.dumps(run_backtest(Sweep(), scale_registry, executor="local").to_dict())
    monkeypatch.setenv("FINTRADE_BLOCK_SIZE", "5")
    real = grid_module._sweep_block
    where = tmp_path / "pids"

    def watched(shared: Any, task: Any) -> Any:
        with open(where, "a") as file:
            file.write(f"{os.getpid()} {task.numbers.start}\n")
        return real(shared, task)

    monkeypatch.setattr(grid_module, "_sweep_block", watched)
    pooled = run_backtest(Sweep(), scale_registry, executor=Executor("processes", workers=2))
    assert json.dumps(pooled.to_dict()) == local
    ran = [line.split() for line in where.read_text().splitlines()]
    assert sorted(int(start) for _, start in ran) == [0, 5, 10]
    assert os.getpid() not in {int(pid) for pid, _ in ran}  # the blocks ran in worker processes


# --- 5. an interrupted sweep resumes where it stopped ----------------------------------------


def _counting_blocks(monkeypatch: pytest.MonkeyPatch) -> list[range]:
    """The blocks the sweep computes, in order; each block's model calls go to TRIPWIRE["swept"]."""
    computed: list[range] = []
    real = grid_module._sweep_block

    def counted(shared: Any, task: Any) -> Any:
        computed.append(task.numbers)
        before = TRIPWIRE.get("calls", 0)
        block = real(shared, task)
        TRIPWIRE["swept"] = TRIPWIRE.get("swept", 0) + TRIPWIRE["calls"] - before
        return block

    monkeypatch.setattr(grid_module, "_sweep_block", counted)
    return computed


def _sweep_folder(registry: Registry, tmp_path: Path) -> Path:
    plan = prepare(Wide(), registry)
    return tmp_path / "cache" / "sweeps" / sweep_key(plan, load(plan, registry))


def _interrupted(registry: Registry, monkeypatch: pytest.MonkeyPatch, after: int) -> list[range]:
    """Sweep Wide in blocks of 3 combinations and press Ctrl-C in the block after ``after``."""
    computed = _counting_blocks(monkeypatch)
    TRIPWIRE.update(calls=0, interrupt_at=after * 3 + 2)
    with pytest.raises(KeyboardInterrupt):
        _staged(Wide(), registry, 3)
    TRIPWIRE.clear()
    return computed


def test_an_interrupted_sweep_recomputes_only_the_unfinished_blocks(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    *_, uninterrupted = _staged(Wide(), scale_registry, 20)
    folder = _sweep_folder(scale_registry, tmp_path)
    computed = _interrupted(scale_registry, monkeypatch, after=3)
    assert computed == [range(0, 3), range(3, 6), range(6, 9), range(9, 12)]
    stored = sorted(path.name for path in folder.iterdir())
    assert stored == ["block-0-3.npz", "block-3-6.npz", "block-6-9.npz"]

    computed.clear()
    *_, resumed = _staged(Wide(), scale_registry, 3)
    assert computed == [range(9, 12), range(12, 15), range(15, 18), range(18, 20)]
    assert TRIPWIRE["swept"] == 11  # the model ran for the 11 unfinished combinations only
    assert resumed == uninterrupted
    assert not folder.exists()  # a completed sweep removes its blocks


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_block_is_computed_again(
    damage: str, scale_registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    *_, uninterrupted = _staged(Wide(), scale_registry, 20)
    folder = _sweep_folder(scale_registry, tmp_path)
    computed = _interrupted(scale_registry, monkeypatch, after=3)
    block = folder / "block-3-6.npz"
    content = block.read_bytes()
    block.write_bytes({"garbage": b"not a block" * 10, "truncated": content[: len(content) // 2], "empty": b""}[damage])

    computed.clear()
    *_, resumed = _staged(Wide(), scale_registry, 3)
    assert computed == [range(3, 6), range(9, 12), range(12, 15), range(15, 18), range(18, 20)]
    assert resumed == uninterrupted


def test_a_sweep_interrupted_on_the_processes_executor_resumes_on_local(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    *_, uninterrupted = _staged(Wide(), scale_registry, 20)
    folder = _sweep_folder(scale_registry, tmp_path)
    TRIPWIRE["interrupt_on"] = 15  # window 15: combination 14, in block 13-15
    with pytest.raises(KeyboardInterrupt):
        _staged(Wide(), scale_registry, 3, Executor("processes", workers=2))
    TRIPWIRE.clear()
    stored = {path.name for path in folder.iterdir()}
    assert "block-12-15.npz" not in stored and all(name.endswith(".npz") for name in stored)

    computed = _counting_blocks(monkeypatch)
    *_, resumed = _staged(Wide(), scale_registry, 3)
    blocks = [range(start, min(start + 3, 20)) for start in range(0, 20, 3)]
    assert computed == [block for block in blocks if f"block-{block.start}-{block.stop}.npz" not in stored]
    assert resumed == uninterrupted and not folder.exists()


def test_blocks_of_a_strategy_with_other_settings_are_not_read(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    shorting = type("Wide", (Wide,), {"direction": "long_short", "__module__": Wide.__module__})
    flat = type("Wide", (Wide,), {"direction": "long_only", "__module__": Wide.__module__})
    *_, expected = _staged(flat(), scale_registry, 20)
    TRIPWIRE.update(calls=0, interrupt_at=3 * 3 + 2)  # Ctrl-C in the fourth block, three stored
    with pytest.raises(KeyboardInterrupt):
        _staged(shorting(), scale_registry, 3)
    TRIPWIRE.clear()
    *_, resumed = _staged(flat(), scale_registry, 3)
    assert resumed == expected


def test_blocks_of_another_strategy_or_data_are_not_read(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch, memory_source: MemorySource
) -> None:
    plan = prepare(Wide(), scale_registry)
    key = sweep_key(plan, load(plan, scale_registry))
    costly = type("Wide", (Wide,), {"costs": Costs(fees=0.01)})()
    assert sweep_key(prepare(costly, scale_registry), load(plan, scale_registry)) != key
    memory_source.frames["AAA"] = random_walk_bars("AAA", n_bars=260, seed=99)
    assert sweep_key(plan, load(plan, scale_registry)) != key


def test_a_single_block_sweep_removes_the_blocks_an_interrupted_one_left(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = _sweep_folder(scale_registry, tmp_path)
    _interrupted(scale_registry, monkeypatch, after=3)
    assert folder.exists()
    _staged(Wide(), scale_registry, 20)  # one block: nothing to resume, and nothing left behind either
    assert not folder.exists()


def test_executor_settings_take_effect_in_order(scale_registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from fintrade.errors import ConfigError
    from fintrade.executors import active, executor_from

    def used(strategy: Strategy, executor: Any = None) -> str:
        seen: list[str] = []
        run_backtest(strategy, scale_registry, executor=executor, progress=lambda stage: seen.append(active().name))
        assert len(set(seen)) == 1
        return seen[0]

    pooled = type("Pooled", (Wide,), {"executor": "processes", "grid": {"tripwire.window": [3, 6]}})()
    small = type("Small", (Wide,), {"grid": {"tripwire.window": [3, 6]}})()
    assert used(small) == "local" and active().name == "local"
    assert used(pooled) == "processes" and active().name == "local"  # restored after the run
    assert used(pooled, "local") == "local"  # the caller's (the command line's) choice wins
    monkeypatch.setenv("FINTRADE_EXECUTOR", "processes")
    assert used(small) == "processes"
    monkeypatch.delenv("FINTRADE_EXECUTOR")
    assert executor_from(None, "10.0.0.1:6379") == Executor("ray", "10.0.0.1:6379")
    assert executor_from(Executor("ray", workers=2), "auto") == Executor("ray", "auto", 2)
    for bad, message in [
        (lambda: Executor("processes", workers=0), "executor workers must be a positive integer, got 0"),
        (lambda: Executor("local", workers=True), "executor workers must be a positive integer, got True"),
        (lambda: executor_from(3), "executor = 3: give 'local', 'processes', 'ray' or Executor(...)"),
    ]:
        with pytest.raises(ConfigError) as raised:
            bad()
        assert str(raised.value) == message
    assert Executor("processes", workers=3).parallel == 3 and Executor("local", workers=3).parallel == 1


# --- 6. failures name the chunk --------------------------------------------------------------


@pytest.mark.parametrize("executor", ["local", "processes"])
def test_a_chunk_whose_signal_model_raises_fails_as_on_local(executor: str, scale_registry: Registry) -> None:
    # The brief asked for a ChunkFailed naming the combinations; fintrade/executors.py documents (f8cd4c4)
    # that a plugin's error passes as it is, since it already names the model and its parameters.
    from fintrade.errors import PluginError

    TRIPWIRE["raise_on"] = 9  # window 9 is combination 8, in combinations 6-10
    with pytest.raises(PluginError) as raised:
        _staged(Wide(), scale_registry, 5, Executor(executor, workers=2 if executor == "processes" else None))
    assert str(raised.value) == (
        "signal model 'tripwire' (signal 'tripwire') with {'window': 9} failed: "
        "ZeroDivisionError: window 9 divides by nothing"
    )
    assert not isinstance(raised.value, ChunkFailed)


def test_a_chunk_whose_kernel_raises_names_its_combinations(
    scale_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = grid_module.sleeve_values

    def failing(positions: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        if positions.shape[1] == 3 * 5 and TRIPWIRE.get("calls", 0) > 10:
            raise MemoryError("Unable to allocate 12.0 GiB")
        return real(positions, *args, **kwargs)

    monkeypatch.setattr(grid_module, "sleeve_values", failing)
    with pytest.raises(ChunkFailed, match=r"^combinations 11-15 of 20 failed: MemoryError: Unable to allocate"):
        _staged(Wide(), scale_registry, 5)


def test_a_killed_worker_is_retried(scale_registry: Registry, tmp_path: Path) -> None:
    *_, local = _staged(Wide(), scale_registry, 5)
    TRIPWIRE.update(kill_on=9, marker=str(tmp_path / "killed-once"))
    *_, pooled = _staged(Wide(), scale_registry, 5, Executor("processes", workers=2))
    assert (tmp_path / "killed-once").exists()  # a worker did die
    assert pooled == local


def test_a_worker_that_always_dies_fails_the_chunk_and_says_to_lower_the_budget(scale_registry: Registry) -> None:
    # Every attempt of combinations 16-20 dies (window 21 is combination 20), after the other blocks
    # are done: a death breaks the whole pool and is counted against every chunk in it (see
    # test_chunks_whose_workers_die_once_each_all_complete), so the dying block runs alone here.
    TRIPWIRE.update(kill_on=21, delay={21: 1.0})
    with pytest.raises(ChunkFailed) as raised:
        _staged(Wide(), scale_registry, 5, Executor("processes", workers=2))
    message = str(raised.value)
    assert message.startswith("combinations 16-20 of 20 failed: its worker")
    assert f"died {MAX_RETRIES + 1} times" in message and "\n" not in message
    assert "lower the memory budget (--max-memory)" in message


def _dies_once(folder: Path, chunk: int) -> int:
    """Chunks 2 to 6 kill their worker on their first attempt; every chunk takes a moment."""
    if chunk in range(2, 7):
        try:
            os.close(os.open(folder / f"died-{chunk}", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), signals.SIGKILL)
    time.sleep(0.05)
    return chunk * 10


def test_chunks_whose_workers_die_once_each_all_complete(tmp_path: Path) -> None:
    results = dict(run_chunks(Executor("processes", workers=2), _dies_once, tmp_path, list(range(8))))
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"died-{chunk}" for chunk in range(2, 7)]
    assert results == {position: position * 10 for position in range(8)}


# --- 7. the command line ------------------------------------------------------------------------

CLI_STRATEGY = """\
from fintrade import Costs, Significance, Strategy, WalkForward, signal


class Tiny(Strategy):
    symbols = ["AAA", "BBB"]
    source = "synthetic"
    source_options = {"bars": 260, "seed": 3}
    signals = [signal("sma-cross", fast=5, slow=20)]
    direction = "long_short"
    costs = Costs(fees=0.001, fixed_fees=1.0, slippage=0.0005, spread=0.0004)
    walk_forward = WalkForward(folds=3)
    significance = Significance(record_trials=False, bootstrap_reps=100, partitions=4)
    grid = {"sma-cross.fast": [3, 5, 8], "sma-cross.slow": [20, 30]}
"""


@pytest.fixture
def cli_strategy(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(CLI_STRATEGY)
    return path


def _comparable_payload(stdout: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON without what differs between two runs of one command (when, how it was typed, where
    it ran); and the executor the manifest recorded."""
    payload = json.loads(stdout)
    manifest = payload["manifest"]
    executor = manifest["parameters"].pop("executor")
    for volatile in ("created_at", "command"):
        manifest.pop(volatile)
    return payload, executor


def test_the_processes_executor_prints_the_local_json(cli_runner: Any, cli_strategy: Path, tmp_path: Path) -> None:
    cache = {"FINTRADE_CACHE_DIR": str(tmp_path / "cache")}
    local = cli_runner(["backtest", str(cli_strategy), "--json", "--quiet"], env=cache)
    assert local.exit_code == 0, local.stderr
    pooled = cli_runner(
        ["backtest", str(cli_strategy), "--json", "--quiet", "--executor", "processes"],
        env={**cache, "FINTRADE_BLOCK_SIZE": "2"},  # three blocks: the pool runs them
    )
    assert pooled.exit_code == 0, pooled.stderr
    local_payload, local_executor = _comparable_payload(local.stdout)
    pooled_payload, pooled_executor = _comparable_payload(pooled.stdout)
    assert local_executor == {"name": "local", "address": None, "workers": None}
    assert pooled_executor["name"] == "processes"
    assert json.dumps(pooled_payload) == json.dumps(local_payload)
    assert local_payload["combinations"] == 6 and local_payload["walk_forward"] is not None
    assert not (tmp_path / "cache" / "sweeps").exists() or not any((tmp_path / "cache" / "sweeps").iterdir())


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        (
            ["--executor", "bogus"],
            {},
            "error: unknown executor 'bogus': choose one of local, processes, ray",
        ),
        (
            ["--executor", "local", "--ray-address", "auto"],
            {},
            "error: a Ray address ('auto') needs the ray executor, not 'local'",
        ),
        (
            [],
            {"FINTRADE_BLOCK_SIZE": "abc"},
            "error: FINTRADE_BLOCK_SIZE 'abc' is not a number of combinations (a positive integer)",
        ),
        (
            [],
            {"FINTRADE_BLOCK_SIZE": "0"},
            "error: FINTRADE_BLOCK_SIZE '0' is not a number of combinations (a positive integer)",
        ),
        (
            ["--max-memory", "lots"],
            {},
            "error: --max-memory 'lots' is not a memory size: use bytes or a number with K, M, G or T (8G, 512M)",
        ),
    ],
    ids=["bogus-executor", "address-without-ray", "block-size-abc", "block-size-0", "max-memory"],
)
def test_a_bad_executor_setting_is_one_line(
    options: list[str], env: dict[str, str], message: str, cli_runner: Any, cli_strategy: Path, tmp_path: Path
) -> None:
    result = cli_runner(
        ["backtest", str(cli_strategy), "--json", "--quiet", *options],
        env={"FINTRADE_CACHE_DIR": str(tmp_path / "cache"), **env},
    )
    assert result.exit_code == 1
    assert result.stderr == message + "\n"
    assert result.stdout == "" and "Traceback" not in result.stderr
