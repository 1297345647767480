"""From a strategy's parameter grid to target positions for every combination at once.

Each signal model sees only its distinct parameter sets (a 1,000-combination grid over two
SMA windows is 1,000 sets for ``sma-cross`` but may be 10 for another signal); the results
are laid out as ``(combo, symbol)`` columns, so that a block of the grid is simulated in one call
(:mod:`fintrade.grid`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fintrade.alignment import available_bar, document_signal
from fintrade.calls import call_plugin, call_strategy
from fintrade.errors import ConfigError, PluginError, did_you_mean
from fintrade.registry import Registry
from fintrade.strategy import SignalSpec, Strategy
from fintrade.types import Signal, SignalInput, SignalModel

Params = dict[str, Any]

BASE_MEMORY = 385 * 2**20
"""Bytes a backtest holds whatever its grid: the interpreter, pandas, vectorbt and the data."""
BYTES_PER_COLUMN_BAR = 112
"""Peak bytes per (combination, symbol) column per bar of the combinations computed at once:
scores, confidences, positions, orders and sleeve values held together. Measured: the bundled
sample's 5 symbols x 1,258 daily bars under
``sma-cross`` grids of 10, 400 and 1,600 combinations peaked at 0.37, 0.67 and 1.52 GB (max RSS),
a straight line of 0.36 GiB + 112 bytes per column-bar."""
MEMORY_FRACTION = 0.5
"""Without ``FINTRADE_MAX_MEMORY``, a grid may use this share of the machine's memory."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_memory(text: str, what: str = "FINTRADE_MAX_MEMORY") -> int:
    """``"8G"`` -> 8 GiB in bytes; ``"512M"``, ``"1.5GB"``, ``"1000000"`` (bytes) work too."""
    match = _SIZE.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"{what} {text!r} is not a memory size: use bytes or a number with K, M, G or T (8G, 512M)")
    power = " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * 1024**power)


def format_memory(size: float) -> str:
    """Bytes as people read them: ``"6.0 GiB"``, ``"512 MiB"``."""
    for unit, power in (("TiB", 4), ("GiB", 3), ("MiB", 2)):
        if size >= 1024**power:
            return f"{size / 1024**power:.1f} {unit}"
    return f"{size / 1024:.0f} KiB"


def total_memory() -> int | None:
    """The machine's physical memory in bytes, or None where neither sysconf nor /proc says."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_budget() -> tuple[int | None, str]:
    """The bytes a grid may use and where that figure comes from (for the refusal message)."""
    setting = os.environ.get("FINTRADE_MAX_MEMORY", "").strip()
    if setting:
        return parse_memory(setting), f"FINTRADE_MAX_MEMORY={setting}"
    total = total_memory()
    if total is None:
        return None, "no limit: the machine's memory is unknown"
    return int(total * MEMORY_FRACTION), f"half of this machine's {format_memory(total)}; FINTRADE_MAX_MEMORY sets it"


RETURNS_BYTES = 16
"""Bytes per combination-bar the grid's returns hold for evaluation: the matrix, and the copy of
the evaluated bars significance takes."""


def grid_memory(n_combinations: int, n_symbols: int, n_bars: int, block: int = 1) -> int:
    """Estimated peak bytes of a backtest over ``n_combinations`` x ``n_symbols`` columns of
    ``n_bars``, swept ``block`` combinations at a time: the returns of every combination, and one
    block's signals, positions and sleeve curves (:mod:`fintrade.grid`)."""
    return BASE_MEMORY + RETURNS_BYTES * n_combinations * n_bars + BYTES_PER_COLUMN_BAR * block * n_symbols * n_bars


def check_grid_memory(n_combinations: int, n_symbols: int, n_bars: int, block: int = 1) -> None:
    """Refuse, before any signal is computed, a grid whose estimate exceeds the memory budget.

    Past the machine's memory the operating system kills the run minutes later with no word
    of why; a one-line refusal up front says how big the grid is and how to shrink it.
    """
    budget, origin = memory_budget()
    needed = grid_memory(n_combinations, n_symbols, n_bars, block)
    if budget is None or needed <= budget:
        return
    suggested = math.ceil(needed / 1024**3)
    raise ConfigError(
        f"the grid of {n_combinations:,} combinations x {n_symbols} symbols x {n_bars:,} bars needs about "
        f"{format_memory(needed)} of memory, over the budget of {format_memory(budget)} ({origin}); use fewer "
        f"combinations or symbols or a shorter range, or raise the budget (FINTRADE_MAX_MEMORY={suggested}G "
        f"or fintrade backtest --max-memory {suggested}G)"
    )


@dataclass(frozen=True)
class Combination:
    """One point of the grid: ``{"<signal label>.<param>": value}`` for every signal parameter."""

    params: Params

    def for_signal(self, key: str) -> Params:
        prefix = f"{key}."
        return {name[len(prefix) :]: value for name, value in self.params.items() if name.startswith(prefix)}


def _check_params(spec: SignalSpec, model: SignalModel, names: Sequence[str], where: str) -> None:
    for name in names:
        if name not in model.defaults:
            known = ", ".join(sorted(model.defaults)) or "none"
            raise ConfigError(
                f"{where}: unknown parameter {name!r} for signal model {model.name!r}"
                f"{did_you_mean(name, model.defaults)}; known: {known}"
            )


def _kind(value: Any) -> str | None:
    """A parameter value's kind, ``bool``, ``number`` or ``str``; None (anything goes) for the rest,
    which models may convert from several types (a duration from a string or a Timedelta)."""
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    return "str" if isinstance(value, str) else None


def _check_replaced(key: str, param: str, value: Any, name: str, values: Sequence[Any], default: Any) -> None:
    """A base value the grid replaces never reaches the model's own checks: it must at least be of
    the kind of the values that do (the grid's and the default)."""
    kinds = {kind for kind in map(_kind, [*values, default]) if kind is not None}
    if _kind(value) is not None and kinds and _kind(value) not in kinds:
        raise ConfigError(
            f"signal {key!r}: parameter {param!r} = {value!r} is not a {' or '.join(sorted(kinds))} like the "
            f"values of grid key {name!r} ({', '.join(map(repr, values))}), which replace it; fix it or leave it out"
        )


def expand_grid(strategy: Strategy, registry: Registry) -> list[Combination]:
    """Every accepted combination of the grid, with defaults filled in for each signal."""
    if not strategy.signals:
        raise ConfigError("the strategy lists no signals (signals = [signal('sma-cross', fast=20, slow=100)])")
    specs = {spec.key: spec for spec in strategy.signals}
    if len(specs) != len(strategy.signals):
        raise ConfigError("two signals share a label; give them distinct label= values")
    base: Params = {}
    for key, spec in specs.items():
        model = registry.signal_models.get(spec.model)
        _check_params(spec, model, list(spec.params), f"signal {key!r}")
        base.update({f"{key}.{name}": value for name, value in {**model.defaults, **spec.params}.items()})
    axes: dict[str, list[Any]] = {}
    for name, values in strategy.grid.items():
        key, _, param = name.rpartition(".")
        if key not in specs:
            raise ConfigError(
                f"grid key {name!r}: no signal labelled {key!r}{did_you_mean(key, specs)}; "
                "grid keys look like '<signal label>.<parameter>'"
            )
        _check_params(specs[key], registry.signal_models.get(specs[key].model), [param], f"grid key {name!r}")
        values = list(values) if not isinstance(values, str) else [values]
        if not values:
            raise ConfigError(f"grid key {name!r} has no values")
        if param in specs[key].params:
            default = registry.signal_models.get(specs[key].model).defaults[param]
            _check_replaced(key, param, specs[key].params[param], name, values, default)
        axes[name] = values
    combos = [
        Combination({**base, **dict(zip(axes, point, strict=True))}) for point in itertools.product(*axes.values())
    ]
    accepted = [combo for combo in combos if call_strategy(strategy, "accept", combo.params)]
    if not accepted:
        raise ConfigError(f"the strategy's accept() rejected all {len(combos)} grid combinations")
    return accepted


def _distinct(param_sets: Sequence[Params]) -> tuple[list[Params], np.ndarray]:
    """Distinct parameter sets and, for each input, the position of its distinct set."""
    seen: dict[tuple[tuple[str, Any], ...], int] = {}
    unique: list[Params] = []
    positions = np.empty(len(param_sets), dtype=int)
    for i, params in enumerate(param_sets):
        key = tuple(sorted(params.items(), key=lambda item: item[0]))
        if key not in seen:
            seen[key] = len(unique)
            unique.append(params)
        positions[i] = seen[key]
    return unique, positions


def value_range(values: np.ndarray) -> tuple[float, float]:
    """The smallest and largest value ignoring NaN, in one pass (:func:`fintrade.decisions.value_range`)."""
    from fintrade import decisions  # numba: imported when a sweep runs, not with the CLI

    return decisions.value_range(values)


def largest_magnitude(values: np.ndarray) -> float:
    """The largest ``|value|`` ignoring NaN (0 for none), in one pass without a copy of a grid-sized array."""
    lowest, highest = value_range(values)
    return max(highest, -lowest, 0.0)


def _check_signal(signal: Signal, inputs: SignalInput, what: str, n_sets: int) -> None:
    if not isinstance(signal, Signal):
        raise PluginError(f"{what} returned {type(signal).__name__}, expected fintrade.types.Signal")
    if not signal.score.index.equals(inputs.index):
        raise PluginError(f"{what} returned scores on a different index than the bars")
    expected = n_sets * len(inputs.symbols)
    if signal.score.shape[1] != expected or signal.confidence.shape != signal.score.shape:
        raise PluginError(f"{what} returned {signal.score.shape[1]} score columns, expected {expected}")
    values = signal.score.to_numpy(dtype=float)
    if largest_magnitude(values) > 1.0 + 1e-9:
        raise PluginError(f"{what} returned scores outside [-1, 1]")


def latest_cutoff(signals: Sequence[Signal], what: str) -> pd.Timestamp | None:
    """The latest ``knowledge_cutoff`` among ``signals`` (UTC), or None when none has one.

    A combination of signals may have seen as far as the most recent of its parts.
    """
    cutoffs = []
    for signal in signals:
        if signal.knowledge_cutoff is None:
            continue
        try:
            cutoff = pd.Timestamp(signal.knowledge_cutoff)
        except (TypeError, ValueError):
            raise PluginError(f"{what}: knowledge_cutoff {signal.knowledge_cutoff!r} is not a date") from None
        if pd.isna(cutoff):
            continue
        cutoffs.append(cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC"))
    return max(cutoffs) if cutoffs else None


def _per_bar(model: SignalModel) -> Callable[[SignalInput, Mapping[str, Any]], Signal]:
    """The model's ``compute``; a record always has it or ``score_documents`` (``SignalModel``)."""
    if model.compute is None:
        raise PluginError(f"signal model {model.name!r} has no compute function")
    return model.compute


PROBE_RTOL = 1e-9
PROBE_ATOL = 1e-12
"""How far a per-bar text model's score may move when later documents are withheld: float noise
(``fintrade check``'s tolerance)."""


def _withheld_documents(inputs: SignalInput) -> tuple[SignalInput, int] | None:
    """``inputs`` without the documents that first reach the last bar any document reaches, and
    the bar before it (the probe bar); None when there is nothing to withhold."""
    documents = inputs.documents
    if documents is None or documents.empty:
        return None
    bar = available_bar(documents["published_at"], inputs.closes_at)
    reached = bar[bar >= 0]
    if len(reached) == 0 or reached.max() < 1:
        return None
    probe = int(reached.max()) - 1
    known = (bar >= 0) & (bar <= probe)
    return dataclasses.replace(inputs, documents=documents.loc[known]), probe


def _probe_documents(
    model: SignalModel, inputs: SignalInput, unique: Sequence[Params], scores: np.ndarray, what: str
) -> None:
    """Refuse a per-bar model reading documents whose scores use documents from after a bar's close.

    The model runs again without the last documents; the scores up to the bar before them must
    not move. This catches the common leaks (documents shifted a bar early, statistics over all
    documents) at the cost of one more call; ``fintrade check`` cuts at many bars and says where.
    """
    withheld = _withheld_documents(inputs)
    if withheld is None:
        return
    cut, probe = withheld
    if model.compute_grid is not None:
        again = call_plugin(what, model.compute_grid, cut, unique)
        _check_signal(again, cut, what, len(unique))
        withheld_scores = again.score.to_numpy(dtype=float)
    else:
        parts = []
        for params in unique:
            single = call_plugin(f"{what} with {params}", _per_bar(model), cut, params)
            _check_signal(single, cut, what, 1)
            parts.append(single.score[cut.symbols].to_numpy(dtype=float))
        withheld_scores = np.hstack(parts)
    full, short = scores[: probe + 1], withheld_scores[: probe + 1]
    same = np.isclose(short, full, rtol=PROBE_RTOL, atol=PROBE_ATOL) | (np.isnan(full) & np.isnan(short))
    if not same.all():
        first = int(np.flatnonzero(~same.all(axis=1))[0])
        raise PluginError(
            f"{what} is not point-in-time: its score at bar {inputs.index[first]} changes when the documents "
            f"published after the close of bar {inputs.index[probe]} are withheld, so it uses documents from "
            "after a bar's close; score documents with score_documents and let the core align them, or count "
            "a document only from the first bar whose close is at or after its published_at "
            "(fintrade check shows where)"
        )


def compute_signal(
    model: SignalModel, inputs: SignalInput, param_sets: Sequence[Params], key: str, *, probe: bool = False
) -> Signal:
    """Scores for each parameter set, as ``(combo, symbol)`` columns in the order given.

    A model that scores documents (``score_documents``) has them aligned to bars here, by the
    core (:func:`fintrade.alignment.document_signal`). A per-bar model is called as it is; with
    ``probe``, one that reads documents is called once more without the latest ones and
    refused if its earlier scores move (:func:`_probe_documents`).
    """
    unique, positions = _distinct(param_sets)
    what = f"signal model {model.name!r} (signal {key!r})"
    if model.score_documents is not None:
        signal = call_plugin(what, document_signal, model.name, model.score_documents, inputs, unique, what)
        _check_signal(signal, inputs, what, len(unique))
        scores, confidences = signal.score.to_numpy(dtype=float), signal.confidence.to_numpy(dtype=float)
        parts = [signal]
    elif model.compute_grid is not None:
        signal = call_plugin(what, model.compute_grid, inputs, unique)
        _check_signal(signal, inputs, what, len(unique))
        scores, confidences = signal.score.to_numpy(dtype=float), signal.confidence.to_numpy(dtype=float)
        parts = [signal]
    else:
        parts = []
        for params in unique:
            single = call_plugin(f"{what} with {params}", _per_bar(model), inputs, params)
            _check_signal(single, inputs, what, 1)
            parts.append(single)
        scores = np.hstack([p.score[inputs.symbols].to_numpy(dtype=float) for p in parts])
        confidences = np.hstack([p.confidence[inputs.symbols].to_numpy(dtype=float) for p in parts])
    if probe and model.score_documents is None and model.needs_documents:
        _probe_documents(model, inputs, unique, scores, what)
    n_symbols = len(inputs.symbols)
    if not np.array_equal(positions, np.arange(len(unique))):
        column_order = (positions[:, None] * n_symbols + np.arange(n_symbols)[None, :]).ravel()
        scores, confidences = scores[:, column_order], confidences[:, column_order]
    columns = pd.MultiIndex.from_product([range(len(param_sets)), inputs.symbols], names=["combo", "symbol"])
    return Signal(
        pd.DataFrame(scores, index=inputs.index, columns=columns, copy=False),
        pd.DataFrame(confidences, index=inputs.index, columns=columns, copy=False),
        knowledge_cutoff=latest_cutoff(parts, what),
    )


def compute_signals(
    strategy: Strategy,
    registry: Registry,
    inputs: SignalInput,
    combos: Sequence[Combination],
    *,
    probe: bool = False,
) -> list[Signal]:
    """Every signal of the strategy for every combination, in the order of ``strategy.signals``.

    A grid too large for the memory budget is refused first (:func:`check_grid_memory`).
    ``probe``: refuse per-bar text models that use later documents (see :func:`compute_signal`);
    a backtest probes, ``fintrade check`` does not, so that it can report where they leak.
    """
    check_grid_memory(len(combos), len(inputs.symbols), len(inputs.index), block=len(combos))
    signals = []
    for spec in strategy.signals:
        model = registry.signal_models.get(spec.model)
        param_sets = [combo.for_signal(spec.key) for combo in combos]
        signals.append(compute_signal(model, inputs, param_sets, spec.key, probe=probe))
    return signals


def combine_signals(strategy: Strategy, registry: Registry, signals: Sequence[Signal]) -> Signal:
    """The strategy's aggregator over ``signals``, carrying the latest knowledge cutoff of its inputs.

    The core sets the cutoff after the aggregator ran, so an aggregator that builds a fresh
    Signal cannot drop it.
    """
    aggregator = registry.aggregators.get(strategy.aggregator)
    params = {**aggregator.defaults, **strategy.aggregator_params}
    what = f"aggregator {aggregator.name!r}"
    combined = call_plugin(what, aggregator.combine, signals, params)
    if not isinstance(combined, Signal) or combined.score.shape != signals[0].score.shape:
        raise PluginError(f"aggregator {aggregator.name!r} must return a Signal shaped like its inputs")
    if largest_magnitude(combined.score.to_numpy(dtype=float)) > 1.0 + 1e-9:
        raise PluginError(f"aggregator {aggregator.name!r} returned scores outside [-1, 1]")
    return dataclasses.replace(combined, knowledge_cutoff=latest_cutoff(signals, what))


def combined_signal(
    strategy: Strategy, registry: Registry, inputs: SignalInput, combos: Sequence[Combination]
) -> Signal:
    """Every signal of the strategy for every combination, combined by its aggregator: what a
    backtest trades, so per-bar text models are probed (:func:`compute_signal`)."""
    return combine_signals(strategy, registry, compute_signals(strategy, registry, inputs, combos, probe=True))


def target_positions(strategy: Strategy, combined: Signal, where: str) -> pd.DataFrame:
    """The strategy's target positions, checked: same shape, in [-1, 1], long-only when asked."""
    positions = call_strategy(strategy, "positions", combined)
    if not isinstance(positions, pd.DataFrame) or positions.shape != combined.score.shape:
        raise ConfigError(f"{where}: positions() must return a DataFrame shaped like the signal")
    values = positions.to_numpy(dtype=float)
    if largest_magnitude(values) > 1.0 + 1e-9:
        raise ConfigError(f"{where}: positions() returned values outside [-1, 1]")
    if strategy.direction == "long_only" and value_range(values)[0] < 0:
        raise ConfigError(f"{where}: positions() returned short positions but direction is 'long_only'")
    if strategy.direction not in ("long_only", "long_short"):
        raise ConfigError(f"{where}: direction must be 'long_only' or 'long_short', got {strategy.direction!r}")
    return positions


def describe(combo: Combination, grid: Mapping[str, Any]) -> Params:
    """The parameters a grid varied (all of them when there is no grid)."""
    return {name: combo.params[name] for name in grid} if grid else dict(combo.params)
