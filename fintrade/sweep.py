"""From a strategy's parameter grid to target positions for every combination at once.

Each signal model sees only its distinct parameter sets (a 1,000-combination grid over two
SMA windows is 1,000 sets for ``sma-cross`` but may be 10 for another signal); the results
are laid out as ``(combo, symbol)`` columns so the engine simulates the whole grid in one call.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fintrade.calls import call_plugin, call_strategy
from fintrade.errors import ConfigError, PluginError, did_you_mean
from fintrade.registry import Registry
from fintrade.strategy import SignalSpec, Strategy
from fintrade.types import Signal, SignalInput, SignalModel

Params = dict[str, Any]


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


def _check_signal(signal: Signal, inputs: SignalInput, what: str, n_sets: int) -> None:
    if not isinstance(signal, Signal):
        raise PluginError(f"{what} returned {type(signal).__name__}, expected fintrade.types.Signal")
    if not signal.score.index.equals(inputs.index):
        raise PluginError(f"{what} returned scores on a different index than the bars")
    expected = n_sets * len(inputs.symbols)
    if signal.score.shape[1] != expected or signal.confidence.shape != signal.score.shape:
        raise PluginError(f"{what} returned {signal.score.shape[1]} score columns, expected {expected}")
    values = signal.score.to_numpy(dtype=float)
    if np.nanmax(np.abs(values), initial=0.0) > 1.0 + 1e-9:
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


def compute_signal(model: SignalModel, inputs: SignalInput, param_sets: Sequence[Params], key: str) -> Signal:
    """Scores for each parameter set, as ``(combo, symbol)`` columns in the order given."""
    unique, positions = _distinct(param_sets)
    what = f"signal model {model.name!r} (signal {key!r})"
    if model.compute_grid is not None:
        signal = call_plugin(what, model.compute_grid, inputs, unique)
        _check_signal(signal, inputs, what, len(unique))
        scores, confidences = signal.score.to_numpy(dtype=float), signal.confidence.to_numpy(dtype=float)
        parts = [signal]
    else:
        parts = []
        for params in unique:
            single = call_plugin(f"{what} with {params}", model.compute, inputs, params)
            _check_signal(single, inputs, what, 1)
            parts.append(single)
        scores = np.hstack([p.score[inputs.symbols].to_numpy(dtype=float) for p in parts])
        confidences = np.hstack([p.confidence[inputs.symbols].to_numpy(dtype=float) for p in parts])
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
    strategy: Strategy, registry: Registry, inputs: SignalInput, combos: Sequence[Combination]
) -> list[Signal]:
    """Every signal of the strategy for every combination, in the order of ``strategy.signals``."""
    signals = []
    for spec in strategy.signals:
        model = registry.signal_models.get(spec.model)
        signals.append(compute_signal(model, inputs, [combo.for_signal(spec.key) for combo in combos], spec.key))
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
    if np.nanmax(np.abs(combined.score.to_numpy(dtype=float)), initial=0.0) > 1.0 + 1e-9:
        raise PluginError(f"aggregator {aggregator.name!r} returned scores outside [-1, 1]")
    return dataclasses.replace(combined, knowledge_cutoff=latest_cutoff(signals, what))


def combined_signal(
    strategy: Strategy, registry: Registry, inputs: SignalInput, combos: Sequence[Combination]
) -> Signal:
    """Every signal of the strategy for every combination, combined by its aggregator."""
    return combine_signals(strategy, registry, compute_signals(strategy, registry, inputs, combos))


def target_positions(strategy: Strategy, combined: Signal, where: str) -> pd.DataFrame:
    """The strategy's target positions, checked: same shape, in [-1, 1], long-only when asked."""
    positions = call_strategy(strategy, "positions", combined)
    if not isinstance(positions, pd.DataFrame) or positions.shape != combined.score.shape:
        raise ConfigError(f"{where}: positions() must return a DataFrame shaped like the signal")
    values = positions.to_numpy(dtype=float)
    if np.nanmax(np.abs(values), initial=0.0) > 1.0 + 1e-9:
        raise ConfigError(f"{where}: positions() returned values outside [-1, 1]")
    if strategy.direction == "long_only" and np.nanmin(values, initial=0.0) < 0:
        raise ConfigError(f"{where}: positions() returned short positions but direction is 'long_only'")
    if strategy.direction not in ("long_only", "long_short"):
        raise ConfigError(f"{where}: direction must be 'long_only' or 'long_short', got {strategy.direction!r}")
    return positions


def describe(combo: Combination, grid: Mapping[str, Any]) -> Params:
    """The parameters a grid varied (all of them when there is no grid)."""
    return {name: combo.params[name] for name in grid} if grid else dict(combo.params)
