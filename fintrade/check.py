"""The truncation test for lookahead behind ``fintrade check``.

A signal at bar t may use only what was known at t's close. So recomputing a strategy's
signals on data *cut* at t (the bars up to and including t, and the documents published by
t's close) must give, at every bar up to t, exactly the values computed on the full history.
Any difference means something after t reached a bar at or before t: a lookahead leak. It is
the one test that needs no knowledge of how a model works, so it holds plugins, inline models,
aggregators and a strategy's own ``positions()`` to the same rule.

Each signal of the strategy is checked with its parameters (the first accepted grid
combination by default, or every one), then the aggregated signal and the target positions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fintrade.alignment import bars_through
from fintrade.data import load_signal_inputs
from fintrade.errors import ConfigError, FintradeError
from fintrade.evaluation import prepare
from fintrade.registry import Registry
from fintrade.strategy import Strategy
from fintrade.sweep import Combination, combine_signals, compute_signals, describe, target_positions
from fintrade.types import SignalInput

__all__ = ["CheckResult", "Leak", "choose_cuts", "cut_inputs", "run_check"]

#: Values agree when ``|full - cut| <= ATOL + RTOL * |full|``, or when both are NaN. Models may
#: sum in a different order on fewer rows; anything beyond float noise is a real difference.
RTOL = 1e-9
ATOL = 1e-12
DEFAULT_CUTS = 8

#: ``progress(done, total, what)``: after each of the ``total`` computations (full history, then each cut).
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Leak:
    """One series and symbol whose values change when the future is cut off.

    ``bar`` is the earliest bar that differs over all cuts, ``cut`` the cut time that showed it,
    ``full`` and ``truncated`` the two values there (None for NaN), ``cuts_differing`` how many
    of the cut times showed any difference.
    """

    series: str
    model: str
    params: dict[str, Any]
    symbol: str
    bar: str
    cut: str
    field: str
    full: float | None
    truncated: float | None
    cuts_differing: int


@dataclass
class CheckResult:
    """What ``fintrade check`` found; :meth:`to_dict` is the stable JSON form."""

    strategy: str
    symbols: list[str]
    start: str
    end: str
    bars: int
    cuts: list[str]
    series: list[dict[str, Any]]
    combinations: int
    compared: int
    leaks: list[Leak] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.leaks

    def summary(self) -> str:
        """One line: clean, or which series leak for which symbols."""
        names = [row["series"] for row in self.series]
        if self.clean:
            return (
                f"clean: {len(names)} series ({', '.join(names)}) x {len(self.symbols)} symbol(s) are the same on data "
                f"cut at {len(self.cuts)} times as on the full history ({self.compared:,} values compared)"
            )
        leaking: dict[str, list[str]] = {}
        for leak in self.leaks:
            symbols = leaking.setdefault(leak.series, [])
            if leak.symbol not in symbols:
                symbols.append(leak.symbol)
        described = "; ".join(f"{name} ({', '.join(symbols)})" for name, symbols in leaking.items())
        return (
            f"LOOKAHEAD: {len(leaking)} of {len(names)} series change when the data is cut at {len(self.cuts)} times, "
            f"so they use data from after the bar they are reported at: {described}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "symbols": self.symbols,
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "cuts": self.cuts,
            "series": self.series,
            "combinations": self.combinations,
            "compared": self.compared,
            "clean": self.clean,
            "summary": self.summary(),
            "leaks": [asdict(leak) for leak in self.leaks],
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class _Series:
    """One checked series: per field a bars x columns array, and who each column is."""

    name: str
    model: str
    fields: dict[str, np.ndarray]
    columns: list[tuple[dict[str, Any], str]]  # (params, symbol) per column


def cut_inputs(inputs: SignalInput, position: int) -> SignalInput:
    """What was known at the close of bar ``position``: the bars up to and including it, and the
    documents published by its close."""
    stop = position + 1
    bars = {symbol: frame.iloc[:stop] for symbol, frame in inputs.bars.items()}
    closes_at = inputs.closes_at[:stop]
    documents = inputs.documents
    if documents is not None:
        known = np.asarray(documents["published_at"] <= closes_at[-1])
        documents = documents.loc[known]
    close_times = None if inputs.close_times is None else inputs.close_times[:stop]
    return SignalInput(bars=bars, documents=documents, close_times=close_times)


def choose_cuts(n_bars: int, warmup: int, count: int) -> list[int]:
    """``count`` bar positions spread evenly from ``warmup`` to the second-to-last bar.

    The last cut drops a single bar, the finest test there is; cutting at the last bar would
    drop nothing.
    """
    if count < 1:
        raise ConfigError(f"--cuts must be at least 1, got {count}")
    last = n_bars - 2
    first = min(max(warmup, 0), last)
    return sorted(set(np.linspace(first, last, count).round().astype(int).tolist()))


def _cuts_at(index: pd.DatetimeIndex, moments: Sequence[str]) -> list[int]:
    """Positions of the last bar at or before each moment (a date covers its whole day)."""
    positions = set()
    for moment in moments:
        through = bars_through(index, moment)
        if not through.any():
            raise ConfigError(f"--at {moment}: before the first bar ({index[0]})")
        position = int(np.flatnonzero(through)[-1])
        if position >= len(index) - 1:
            raise ConfigError(f"--at {moment}: at or after the last bar ({index[-1]}), so nothing would be cut")
        positions.add(position)
    return sorted(positions)


def _warmup(series: Sequence[_Series]) -> int:
    """The first bar at which every signal column that ever has a score has one."""
    starts = []
    for item in series:
        finite = np.isfinite(item.fields["score"])
        has_value = finite.any(axis=0)
        starts += list(finite.argmax(axis=0)[has_value])
    return int(max(starts)) if starts else 0


def _representatives(strategy: Strategy, combos: Sequence[Combination]) -> dict[str, list[int]]:
    """Per signal, the first combination of each distinct parameter set (a grid repeats them)."""
    chosen: dict[str, list[int]] = {}
    for spec in strategy.signals:
        seen: set[tuple[tuple[str, str], ...]] = set()
        chosen[spec.key] = []
        for i, combo in enumerate(combos):
            key = tuple(sorted((name, repr(value)) for name, value in combo.for_signal(spec.key).items()))
            if key not in seen:
                seen.add(key)
                chosen[spec.key].append(i)
    return chosen


def _series(
    strategy: Strategy,
    registry: Registry,
    inputs: SignalInput,
    combos: Sequence[Combination],
    representatives: dict[str, list[int]],
) -> list[_Series]:
    """Every checked series computed on ``inputs``: each signal, the combined signal, the positions."""
    symbols = inputs.symbols
    n_symbols = len(symbols)

    def columns_of(combo_positions: Sequence[int]) -> np.ndarray:
        return (np.asarray(combo_positions)[:, None] * n_symbols + np.arange(n_symbols)[None, :]).ravel()

    signals = compute_signals(strategy, registry, inputs, combos)
    result = []
    for spec, signal in zip(strategy.signals, signals, strict=True):
        picks = representatives[spec.key]
        take = columns_of(picks)
        result.append(
            _Series(
                spec.key,
                spec.model,
                {
                    "score": signal.score.to_numpy(dtype=float)[:, take],
                    "confidence": signal.confidence.to_numpy(dtype=float)[:, take],
                },
                [(combos[i].for_signal(spec.key), symbol) for i in picks for symbol in symbols],
            )
        )
    everything = list(range(len(combos)))
    # Combinations differ only in what the grid varies; without a grid there is one, named by nothing.
    labels = [
        (describe(combo, strategy.grid) if strategy.grid else {}, symbol) for combo in combos for symbol in symbols
    ]
    combined = combine_signals(strategy, registry, signals)
    result.append(
        _Series(
            "combined",
            f"aggregator {strategy.aggregator}",
            {
                "score": combined.score.to_numpy(dtype=float)[:, columns_of(everything)],
                "confidence": combined.confidence.to_numpy(dtype=float)[:, columns_of(everything)],
            },
            labels,
        )
    )
    positions = target_positions(strategy, combined, strategy.strategy_name())
    result.append(
        _Series(
            "positions",
            f"{strategy.strategy_name()}.positions()",
            {"position": positions.to_numpy(dtype=float)[:, columns_of(everything)]},
            labels,
        )
    )
    return result


def _differences(full: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: does any row differ (NaN equals NaN), and the first row that does."""
    with np.errstate(invalid="ignore"):
        same = np.isclose(cut, full, rtol=RTOL, atol=ATOL) | (np.isnan(full) & np.isnan(cut))
    differs = ~same
    return differs.any(axis=0), differs.argmax(axis=0)


def _value(number: float) -> float | None:
    return None if np.isnan(number) else float(number)


def run_check(
    strategy: Strategy,
    registry: Registry,
    *,
    cuts: int = DEFAULT_CUTS,
    at: Sequence[str] | None = None,
    all_combinations: bool = False,
    progress: Progress = lambda done, total, what: None,
) -> CheckResult:
    """Compute every checked series on the full history and on data cut at each cut time; compare."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The names and settings a backtest resolves first are resolved here too, before any data.
        plan = prepare(strategy, registry)
        inputs, notes = load_signal_inputs(strategy, registry)
        combos = list(plan.combinations)
        if not all_combinations:
            combos = combos[:1]
        representatives = _representatives(strategy, combos)
        full = _series(strategy, registry, inputs, combos, representatives)
    notes += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    index = inputs.index
    n_bars = len(index)
    positions = _cuts_at(index, at) if at else choose_cuts(n_bars, _warmup(full[: len(strategy.signals)]), cuts)
    total = len(positions) + 1
    progress(1, total, "full history")

    # (series, column) -> the earliest difference seen so far, and in how many cuts it differed.
    found: dict[tuple[int, int], dict[str, Any]] = {}
    compared = 0
    for step, position in enumerate(positions, start=2):
        moment = index[position]
        try:
            with warnings.catch_warnings():
                # The full run already reported what the data or models warn about.
                warnings.simplefilter("ignore")
                truncated = _series(strategy, registry, cut_inputs(inputs, position), combos, representatives)
        except FintradeError as exc:
            raise type(exc)(f"on data cut at {moment}: {exc}") from exc
        for s, (whole, part) in enumerate(zip(full, truncated, strict=True)):
            never = position + 1
            earliest = np.full(len(whole.columns), never)
            field_of = np.full(len(whole.columns), "", dtype=object)
            for name, values in whole.fields.items():
                head = values[: position + 1]
                compared += head.size
                differs, first = _differences(head, part.fields[name])
                earlier = differs & (first < earliest)  # on a tie the score, checked first, names it
                earliest[earlier], field_of[earlier] = first[earlier], name
            for column in np.flatnonzero(earliest < never).tolist():
                row, name = int(earliest[column]), str(field_of[column])
                record = found.setdefault((s, column), {"cuts_differing": 0})
                record["cuts_differing"] += 1
                if "row" not in record or row < record["row"]:
                    record.update(
                        row=row,
                        cut=position,
                        field=name,
                        full=_value(whole.fields[name][row, column]),
                        truncated=_value(part.fields[name][row, column]),
                    )
        progress(step, total, f"cut at {moment}")

    leaks = []
    for (s, col), record in sorted(found.items()):
        params, symbol = full[s].columns[col]
        leaks.append(
            Leak(
                series=full[s].name,
                model=full[s].model,
                params=params,
                symbol=symbol,
                bar=index[record["row"]].isoformat(),
                cut=index[record["cut"]].isoformat(),
                field=record["field"],
                full=record["full"],
                truncated=record["truncated"],
                cuts_differing=record["cuts_differing"],
            )
        )
    return CheckResult(
        strategy=strategy.strategy_name(),
        symbols=inputs.symbols,
        start=index[0].isoformat(),
        end=index[-1].isoformat(),
        bars=n_bars,
        cuts=[index[p].isoformat() for p in positions],
        series=[{"series": item.name, "model": item.model, "columns": len(item.columns)} for item in full],
        combinations=len(combos),
        compared=compared,
        leaks=leaks,
        warnings=list(dict.fromkeys(notes)),
    )
