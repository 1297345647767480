"""A grid swept in chunks: every combination's portfolio returns, in bounded memory.

Choosing parameters needs only each combination's returns (bars x combinations, 8 bytes per
combination-bar); the signals, positions and sleeve curves behind them are 100-odd bytes per
(combination, symbol) column-bar. So the grid is cut into blocks of combinations whose size
comes from the memory budget (``FINTRADE_MAX_MEMORY``, ``--max-memory``); each block's signals
are computed, screened (:func:`fintrade.screening.sleeve_values`) and reduced to returns before
the next starts. Peak memory is then the returns plus one block per worker, whatever the grid.

Symbols are never split across blocks: an aggregator or a strategy's ``positions()`` may look
across the symbols of a combination, and a combination's equity is the sum of its sleeves.

Blocks run on an executor (:mod:`fintrade.executors`). When a grid takes more than one block,
each finished block is kept on disk under ``<cache>/sweeps/<key>/`` (the key hashes the strategy
file, its settings, the grid and the data): a sweep interrupted and run again computes only the
blocks it had not finished. A sweep that completes removes its blocks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fintrade.cache import cache_root
from fintrade.errors import ConfigError
from fintrade.executors import Executor, run_chunks
from fintrade.metrics import bar_returns, window_scores
from fintrade.registry import Registry
from fintrade.screening import sleeve_values
from fintrade.splits import Window
from fintrade.strategy import SETTINGS
from fintrade.sweep import (
    BASE_MEMORY,
    BYTES_PER_COLUMN_BAR,
    RETURNS_BYTES,
    Combination,
    check_grid_memory,
    combined_signal,
    memory_budget,
    target_positions,
)

if TYPE_CHECKING:
    from fintrade.evaluation import Market, Plan

MAX_BLOCK_COLUMNS = 1024
"""At most this many (combination, symbol) columns per block: each of a block's arrays stays near
10 MB at 1,258 bars. On the 1,000 x 10 sweep, blocks of 256 to 4,096 columns timed within the
noise of one another; larger ones only hold more memory."""


@dataclass(frozen=True)
class GridReturns:
    """Every combination's portfolio returns, and what the signals said about themselves."""

    #: bars x combinations: simple returns of each combination's equity (the first bar NaN).
    returns: np.ndarray
    #: The latest training date of any signal model in the grid (None: none reports one).
    knowledge_cutoff: pd.Timestamp | None
    #: The blocks of combinations the grid was swept in.
    blocks: tuple[range, ...]
    #: The objective of every combination on each window parameters are chosen on (train, each
    #: fold's in-sample), keyed by ``(start, stop)``, as the blocks scored them; empty when a
    #: block's bars without a return differ from the grid's (the driver then scores them).
    scores: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


def choosing_windows(plan: Plan, market: Market) -> tuple[Window, ...]:
    """The windows parameters are chosen on: train, and each walk-forward fold's in-sample part."""
    folds = market.folds if plan.strategy.walk_forward is not None else ()
    windows = [market.windows["train"], *(fold.in_sample for fold in folds)]
    return tuple(dict.fromkeys(windows))


@dataclass(frozen=True)
class _Shared:
    """What every block needs: put in Ray's object store once, or inherited by forked workers.
    The plan travels without its combinations: each task carries its own."""

    plan: Plan
    market: Market
    registry: Registry
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class _Task:
    numbers: range
    combinations: tuple[Combination, ...]


@dataclass(frozen=True)
class _Block:
    returns: np.ndarray
    knowledge_cutoff: pd.Timestamp | None
    #: windows x combinations: the objective on each choosing window.
    scores: np.ndarray
    #: Per bar: whether every combination of the block has a return there.
    valid: np.ndarray


def block_positions(
    plan: Plan,
    registry: Registry,
    market: Market,
    combinations: Sequence[int],
    combos: Sequence[Combination] | None = None,
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Target positions of the grid combinations at ``combinations`` (their grid positions),
    columns ``(combo, symbol)`` numbered by grid position, and the signals' knowledge cutoff.
    ``combos``: those combinations, when the plan does not carry them (a worker's)."""
    if combos is None:
        combos = [plan.combinations[i] for i in combinations]
    combined = combined_signal(plan.strategy, registry, market.inputs, combos)
    positions = target_positions(plan.strategy, combined, plan.name)
    if positions.columns.nlevels > 1:
        numbers = np.asarray(combinations)[positions.columns.codes[0]]
        positions.columns = pd.MultiIndex.from_arrays(
            [numbers, positions.columns.get_level_values("symbol")], names=["combo", "symbol"]
        )
    return positions, combined.knowledge_cutoff


def _sweep_block(shared: _Shared, task: _Task) -> _Block:
    plan, market = shared.plan, shared.market
    positions, cutoff = block_positions(plan, shared.registry, market, task.numbers, task.combinations)
    n_symbols = len(market.symbols)
    values = sleeve_values(
        positions.to_numpy(dtype=float),
        np.tile(np.arange(n_symbols), len(task.numbers)),
        market.opens.to_numpy(dtype=float),
        market.closes.to_numpy(dtype=float),
        plan.costs,
        initial_cash=plan.strategy.initial_cash / n_symbols,
        position_size=plan.strategy.position_size,
        funding_rates=market.funding.to_numpy(dtype=float) if market.funding is not None else None,
    )
    del positions
    n_bars = values.shape[0]
    returns = bar_returns(values.reshape(n_bars, -1, n_symbols).sum(axis=2))
    del values
    # Scored here, in parallel, rather than on the driver: the same figures whenever the block's
    # bars without a return are the grid's (the driver checks, and scores itself otherwise).
    valid = ~np.isnan(returns).any(axis=1)
    scores = np.array(
        [window_scores(returns, market.periods, plan.objective, window, valid) for window in shared.windows]
    ).reshape(len(shared.windows), returns.shape[1])
    return _Block(returns, cutoff, scores, valid)


def block_size(n_combinations: int, n_symbols: int, n_bars: int, parallel: int) -> int:
    """Combinations per block: what the memory budget leaves after the grid's returns, shared
    among ``parallel`` workers, at most :data:`MAX_BLOCK_COLUMNS` columns.

    ``FINTRADE_BLOCK_SIZE`` (combinations) overrides it: smaller blocks spread a small grid over
    more Ray workers, and tests cut grids at chosen places.
    """
    check_grid_memory(n_combinations, n_symbols, n_bars)
    setting = os.environ.get("FINTRADE_BLOCK_SIZE", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ConfigError(f"FINTRADE_BLOCK_SIZE {setting!r} is not a number of combinations (a positive integer)")
        return min(int(setting), n_combinations)
    budget, _ = memory_budget()
    per_combination = BYTES_PER_COLUMN_BAR * n_symbols * n_bars
    largest = max(1, MAX_BLOCK_COLUMNS // n_symbols)
    if budget is None:
        return min(n_combinations, largest)
    spare = budget - BASE_MEMORY - RETURNS_BYTES * n_combinations * n_bars
    return int(max(1, min(n_combinations, largest, spare // (per_combination * max(parallel, 1)))))


def sweep_key(plan: Plan, market: Market) -> str:
    """What a sweep's blocks depend on: the strategy file and settings, the grid and the data."""
    from fintrade.inference import data_hash, strategy_file

    source = strategy_file(plan.strategy)
    text = Path(source).read_text(encoding="utf-8") if os.path.isfile(source) else source
    strategy = plan.strategy
    parts = {
        "strategy": text,
        "name": plan.name,
        "classes": [cls.__qualname__ for cls in type(strategy).__mro__],
        # Every declarative setting: a variant made in code shares the file but not these.
        "settings": {name: repr(getattr(strategy, name)) for name in SETTINGS},
        "combinations": [repr(sorted(c.params.items())) for c in plan.combinations],
        "costs": plan.costs.as_dict(),
        "initial_cash": plan.strategy.initial_cash,
        "position_size": plan.strategy.position_size,
        "data": data_hash(market.data_hashes, market.inputs.documents),
        "bars": [market.index[0].isoformat(), market.index[-1].isoformat(), len(market.index)],
    }
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:24]


class BlockStore:
    """Finished blocks of one sweep on disk, written atomically (temporary file, then rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, block: range) -> Path:
        return self.folder / f"block-{block.start}-{block.stop}.npz"

    def get(self, block: range) -> _Block | None:
        path = self._path(block)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                cutoff = str(stored["cutoff"])
                return _Block(
                    stored["returns"], pd.Timestamp(cutoff) if cutoff else None, stored["scores"], stored["valid"]
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # a damaged block is computed again
            return None

    def put(self, block: range, result: _Block) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{self._path(block).name}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            cutoff = result.knowledge_cutoff.isoformat() if result.knowledge_cutoff is not None else ""
            np.savez(file, returns=result.returns, cutoff=np.array(cutoff), scores=result.scores, valid=result.valid)
        os.replace(temporary, self._path(block))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def sweep_grid(
    plan: Plan,
    registry: Registry,
    market: Market,
    executor: Executor,
    *,
    block: int | None = None,
    progress: Callable[[str], None] = lambda stage: None,
) -> GridReturns:
    """Every combination's returns, swept in blocks of ``block`` combinations (default: from the
    memory budget) on ``executor``."""
    n_combinations, n_symbols, n_bars = len(plan.combinations), len(market.symbols), len(market.index)
    size = block if block is not None else block_size(n_combinations, n_symbols, n_bars, executor.parallel)
    if size < 1:
        raise ConfigError(f"a block must hold at least one combination, got {size}")
    blocks = tuple(range(start, min(start + size, n_combinations)) for start in range(0, n_combinations, size))
    # One block needs no resuming; it still clears what an interrupted sweep of the same key left.
    folder = BlockStore(cache_root() / "sweeps" / sweep_key(plan, market))
    store = folder if len(blocks) > 1 else None
    returns = np.empty((n_bars, n_combinations))
    windows = choosing_windows(plan, market)
    scores = np.empty((len(windows), n_combinations))
    valid = np.ones(n_bars, dtype=bool)
    valid_per_block: list[np.ndarray] = []
    cutoffs: list[pd.Timestamp] = []

    def keep(combinations: range, result: _Block) -> None:
        returns[:, combinations.start : combinations.stop] = result.returns
        scores[:, combinations.start : combinations.stop] = result.scores
        valid_per_block.append(result.valid)
        np.logical_and(valid, result.valid, out=valid)
        if result.knowledge_cutoff is not None:
            cutoffs.append(result.knowledge_cutoff)

    todo: list[range] = []
    for combinations in blocks:
        stored = store.get(combinations) if store is not None else None
        if stored is not None:
            keep(combinations, stored)
        else:
            todo.append(combinations)
    finished = len(blocks) - len(todo)
    if executor.name == "ray":
        # Workers elsewhere get the records the blocks call, not every installed plugin's.
        strategy = plan.strategy
        registry = registry.only(
            signal_models=[spec.model for spec in strategy.signals], aggregators=[strategy.aggregator]
        )
    if executor.name == "processes":
        # Forked workers inherit loaded kernels; each would otherwise start numba itself.
        from fintrade import decisions, screening

        decisions.warm_up()
        screening.warm_up()
    shared = _Shared(dataclasses.replace(plan, combinations=()), market, registry, windows)
    tasks = [_Task(numbers, tuple(plan.combinations[i] for i in numbers)) for numbers in todo]
    for position, result in run_chunks(
        executor,
        _sweep_block,
        shared,
        tasks,
        name=lambda task: f"combinations {task.numbers.start + 1}-{task.numbers.stop} of {n_combinations:,}",
        by_value=[plan.strategy],
    ):
        keep(todo[position], result)
        if store is not None:
            store.put(todo[position], result)
        finished += 1
        progress(
            f"simulating {n_combinations:,} combination(s) x {n_symbols} symbol(s): {finished}/{len(blocks)} blocks"
        )
    with contextlib.suppress(OSError):
        folder.clear()
    # A block's scores count bars where it has returns; they are the grid's only if the grid's
    # bars without a return are the same (almost always: only the first bar has none).
    uniform = all(np.array_equal(each, valid) for each in valid_per_block)
    scored = {(w.start, w.stop): scores[number] for number, w in enumerate(windows)} if uniform else {}
    return GridReturns(returns, max(cutoffs) if cutoffs else None, blocks, scored)
