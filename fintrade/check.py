"""The truncation test for lookahead behind ``fintrade check``.

A signal at bar t may use only what was known at t's close. So recomputing a strategy's
signals on data *cut* at t (the bars up to and including t, and the documents published by
t's close) must give, at every bar up to t, exactly the values computed on the full history.
Any difference means something after t reached a bar at or before t: a lookahead leak. It is
the one test that needs no knowledge of how a model works, so it holds plugins, inline models,
aggregators and a strategy's own ``positions()`` to the same rule.

By default every accepted grid combination is checked (each signal on each of its distinct
parameter sets, then the aggregated signal and the target positions of every combination),
at up to :data:`DEFAULT_CUTS` cut bars chosen by :func:`sample_cuts`: every bar of a short
history; otherwise bars from the first one on (warm-ups), bars spread evenly, calendar
boundaries and event bars. A peek at bar m of bar m + 1 shows only in a cut exactly at m, so
the cuts go where leaks like to hide. Each computation (the full history and every cut) runs
in a freshly forked process, from the state the strategy and its plugins had after import:
a fit cached in a module-level variable by one computation cannot leak into the next.
``fast=True`` keeps the quick mode: the first combination, :data:`FAST_CUTS` cuts spread from
the end of the warm-up, in this process.

Documents stamped with a date only (at midnight) are reported as a leak risk: they may have
been published after the close of the bar they are counted at, which no cut can show.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd

from fintrade.alignment import available_bar, bars_through
from fintrade.data import load_signal_inputs
from fintrade.errors import ConfigError, FintradeError
from fintrade.evaluation import prepare
from fintrade.registry import Registry
from fintrade.strategy import Strategy
from fintrade.sweep import Combination, combine_signals, compute_signals, describe, target_positions
from fintrade.types import DATED_DOCUMENTS, SignalInput

__all__ = [
    "DEFAULT_CUTS",
    "FAST_CUTS",
    "CheckResult",
    "CutGroup",
    "CutPlan",
    "Leak",
    "calendar_bars",
    "change_bars",
    "choose_cuts",
    "cut_inputs",
    "date_only_risks",
    "fork_available",
    "run_check",
    "sample_cuts",
]

#: Values agree when ``|full - cut| <= ATOL + RTOL * |full|``, or when both are NaN. Models may
#: sum in a different order on fewer rows; anything beyond float noise is a real difference.
RTOL = 1e-9
ATOL = 1e-12
#: Cut bars by default; a history of at most this many bars plus one is cut at every bar.
DEFAULT_CUTS = 64
#: Cut bars with ``fast=True`` (``--fast``), spread from the end of the warm-up.
FAST_CUTS = 8
#: Computations running at once, each in its own process.
WORKERS = 2
#: Documents count as dated (no time of day) when at least this share sits exactly at midnight.
MIDNIGHT_SHARE = 0.5

#: ``progress(done, total, what)``: after each of the ``total`` computations (full history, then each cut).
Progress = Callable[[int, int, str], None]

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Leak:
    """One series, grid combination and symbol whose values change when the future is cut off.

    ``params`` are the series' own parameters (a signal's; for the combined signal and the
    positions, the grid values), ``combination`` the grid values of the first combination
    using them and ``combination_number`` its place in the grid (1 for the first), ``bar`` the
    earliest bar that differs over all cuts, ``cut`` the cut time that showed it, ``full`` and
    ``truncated`` the two values there (None for NaN), ``cuts_differing`` how many of the cut
    times showed any difference.
    """

    series: str
    model: str
    params: dict[str, Any]
    combination: dict[str, Any]
    combination_number: int
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
    cut_kinds: dict[str, int]
    series: list[dict[str, Any]]
    combinations: int
    grid_combinations: int
    compared: int
    isolation: str
    leaks: list[Leak] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No value changed when the data was cut, and nothing else puts the result in doubt."""
        return not self.leaks and not self.risks

    @property
    def coverage(self) -> str:
        """Which combinations were checked: ``"whole grid: 41 combinations"``."""
        if self.combinations < self.grid_combinations:
            return f"first combination of {self.grid_combinations} (--fast)"
        plural = "s" if self.grid_combinations != 1 else ""
        return f"whole grid: {self.grid_combinations} combination{plural}"

    def summary(self) -> str:
        """One line: clean, which series leak for which symbols, or the leak risks."""
        names = [row["series"] for row in self.series]
        if self.leaks:
            leaking: dict[str, list[str]] = {}
            for leak in self.leaks:
                symbols = leaking.setdefault(leak.series, [])
                if leak.symbol not in symbols:
                    symbols.append(leak.symbol)
            described = "; ".join(f"{name} ({', '.join(symbols)})" for name, symbols in leaking.items())
            return (
                f"LOOKAHEAD: {len(leaking)} of {len(names)} series change when the data is cut at "
                f"{len(self.cuts)} times, so they use data from after the bar they are reported at: {described}"
            )
        if self.risks:
            return f"LEAK RISK: {'; '.join(self.risks)}"
        return (
            f"clean: {self.coverage}; {len(names)} series ({', '.join(names)}) x {len(self.symbols)} symbol(s) "
            f"are the same on data cut at {len(self.cuts)} times as on the full history "
            f"({self.compared:,} values compared)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "symbols": self.symbols,
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "cuts": self.cuts,
            "cut_kinds": self.cut_kinds,
            "series": self.series,
            "combinations": self.combinations,
            "grid_combinations": self.grid_combinations,
            "coverage": self.coverage,
            "isolation": self.isolation,
            "compared": self.compared,
            "clean": self.clean,
            "summary": self.summary(),
            "leaks": [asdict(leak) for leak in self.leaks],
            "risks": self.risks,
            "warnings": self.warnings,
        }


# --- what a cut keeps ---------------------------------------------------------------------------


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


# --- where to cut -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CutGroup:
    """Candidate cut bars for one reason (``"month-end"``, ``"documents"``); ``weight`` is how
    many of them each round of :func:`sample_cuts` takes, in spread order (``spread``, so that
    any number of them covers the whole group) or in the order given, best first."""

    name: str
    bars: np.ndarray
    weight: int = 1
    spread: bool = True


@dataclass(frozen=True)
class CutPlan:
    """The cut bars (positions, ascending) and how many each reason contributed."""

    positions: list[int]
    kinds: dict[str, int]


def choose_cuts(n_bars: int, warmup: int, count: int) -> list[int]:
    """``count`` bar positions spread evenly from ``warmup`` to the second-to-last bar (``--fast``).

    The last cut drops a single bar, the finest test there is; cutting at the last bar would
    drop nothing.
    """
    if count < 1:
        raise ConfigError(f"--cuts must be at least 1, got {count}")
    last = n_bars - 2
    first = min(max(warmup, 0), last)
    return sorted(set(np.linspace(first, last, count).round().astype(int).tolist()))


def _spread_order(bars: np.ndarray) -> np.ndarray:
    """``bars`` (ascending) reordered so that every prefix is spread over the whole list: the
    van der Corput order 0, 1/2, 1/4, 3/4, 1/8, ... of their positions."""
    count = len(bars)
    if count <= 2:
        return bars
    size = 1 << (count - 1).bit_length()
    ranks = np.arange(size)
    reversed_bits = np.zeros(size, dtype=np.int64)
    for bit in range(size.bit_length() - 1):
        reversed_bits |= ((ranks >> bit) & 1) << (size.bit_length() - 2 - bit)
    picks = reversed_bits * count // size
    _, first = np.unique(picks, return_index=True)
    return bars[picks[np.sort(first)]]


def sample_cuts(n_bars: int, count: int, groups: Sequence[CutGroup]) -> CutPlan:
    """The cut bars: every bar but the last when there are at most ``count`` of them, otherwise
    ``count`` bars taken round by round from ``groups`` (each group's ``weight`` per round, each
    group's bars in spread order), so that every reason gets its share and the result is the
    same on every run."""
    if count < 1:
        raise ConfigError(f"--cuts must be at least 1, got {count}")
    last = n_bars - 2
    if last + 1 <= count:
        return CutPlan(list(range(last + 1)), {"every bar": last + 1})
    queues = []
    for group in groups:
        bars = np.asarray(group.bars, dtype=np.int64)
        bars = bars[(bars >= 0) & (bars <= last)]
        if group.spread:
            bars = _spread_order(np.unique(bars))
        queues.append((group, list(dict.fromkeys(bars.tolist()))))
    chosen: dict[int, str] = {}
    while len(chosen) < count and any(queue for _, queue in queues):
        for group, queue in queues:
            taken = 0
            while queue and taken < group.weight and len(chosen) < count:
                bar = int(queue.pop(0))
                if bar not in chosen:
                    chosen[bar] = group.name
                    taken += 1
    kinds: dict[str, int] = {}
    for name in chosen.values():
        kinds[name] = kinds.get(name, 0) + 1
    return CutPlan(sorted(chosen), kinds)


def calendar_bars(index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """The last bar of each year, quarter, month and week (UTC dates of the bar labels), but
    never the last bar of the data, whose period may go on."""
    naive = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
    found = {}
    for name, frequency in (("year-end", "Y"), ("quarter-end", "Q"), ("month-end", "M"), ("week-end", "W")):
        period = naive.to_period(frequency).asi8
        found[name] = np.flatnonzero(period[:-1] != period[1:])
    return found


def change_bars(values: np.ndarray) -> np.ndarray:
    """Bars at which any column differs from the bar before (NaN to a number counts)."""
    if len(values) < 2:
        return np.zeros(0, dtype=np.int64)
    before, after = values[:-1], values[1:]
    with np.errstate(invalid="ignore"):
        moved = (before != after) & ~(np.isnan(before) & np.isnan(after))
    return np.flatnonzero(moved.any(axis=1)) + 1


def _warmup_bars(first_values: Sequence[int], n_bars: int) -> np.ndarray:
    """Bar 0, then in turns the last warm-up bar of each signal column (shortest warm-up first)
    and 1, 2, 4, 8, ... bars in: best first. A ``.bfill()`` hides a warm-up from the full
    history (it has values from bar 0), so the ladder looks inside warm-ups of every length."""
    ladder = [1 << k for k in range(max(n_bars, 1).bit_length())]
    ends = sorted({first - 1 for first in first_values if first > 0})
    turns = [bar for pair in itertools.zip_longest(ends, ladder) for bar in pair if bar is not None]
    return np.asarray(list(dict.fromkeys([0, *turns])), dtype=np.int64)


# --- what is computed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """One checked series: per field a bars x columns array, and who each column is."""

    name: str
    model: str
    fields: dict[str, np.ndarray]
    columns: list[tuple[dict[str, Any], int, str]]  # (params, first combination, symbol) per column


class _Difference(NamedTuple):
    """The first bar of one column that differs in one cut."""

    row: int
    field: str
    full: float | None
    truncated: float | None


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


@dataclass(frozen=True)
class _Computation:
    """Everything one computation needs; a forked child inherits it whole."""

    strategy: Strategy
    registry: Registry
    inputs: SignalInput
    combos: list[Combination]
    representatives: dict[str, list[int]]

    def series(self, inputs: SignalInput) -> list[_Series]:
        """Every checked series on ``inputs``: each signal, the combined signal, the positions."""
        strategy, combos = self.strategy, self.combos
        symbols = inputs.symbols
        n_symbols = len(symbols)

        def columns_of(combo_positions: Sequence[int]) -> np.ndarray:
            return (np.asarray(combo_positions)[:, None] * n_symbols + np.arange(n_symbols)[None, :]).ravel()

        signals = compute_signals(strategy, self.registry, inputs, combos)
        result = []
        for spec, signal in zip(strategy.signals, signals, strict=True):
            picks = self.representatives[spec.key]
            take = columns_of(picks)
            result.append(
                _Series(
                    spec.key,
                    spec.model,
                    {
                        "score": signal.score.to_numpy(dtype=float)[:, take],
                        "confidence": signal.confidence.to_numpy(dtype=float)[:, take],
                    },
                    [(combos[i].for_signal(spec.key), i, symbol) for i in picks for symbol in symbols],
                )
            )
        everything = columns_of(range(len(combos)))
        # Combinations differ only in what the grid varies; without a grid there is one, named by nothing.
        labels = [
            (describe(combo, strategy.grid) if strategy.grid else {}, i, symbol)
            for i, combo in enumerate(combos)
            for symbol in symbols
        ]
        combined = combine_signals(strategy, self.registry, signals)
        result.append(
            _Series(
                "combined",
                f"aggregator {strategy.aggregator}",
                {
                    "score": combined.score.to_numpy(dtype=float)[:, everything],
                    "confidence": combined.confidence.to_numpy(dtype=float)[:, everything],
                },
                labels,
            )
        )
        positions = target_positions(strategy, combined, strategy.strategy_name())
        result.append(
            _Series(
                "positions",
                f"{strategy.strategy_name()}.positions()",
                {"position": positions.to_numpy(dtype=float)[:, everything]},
                labels,
            )
        )
        return result

    def full(self) -> tuple[list[_Series], list[str]]:
        """The series on the full history, and the text of the warnings computing them raised."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            series = self.series(self.inputs)
        return series, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]

    def cut(self, position: int, full: Sequence[_Series]) -> tuple[dict[tuple[int, int], _Difference], int]:
        """The series on data cut at ``position`` against ``full``: the first differing bar of
        each column that differs, keyed by (series, column), and how many values were compared."""
        try:
            with warnings.catch_warnings():
                # The full run already reported what the data or models warn about.
                warnings.simplefilter("ignore")
                truncated = self.series(cut_inputs(self.inputs, position))
        except FintradeError as exc:
            raise type(exc)(f"on data cut at {self.inputs.index[position]}: {exc}") from exc
        return _compare(full, truncated, position)


def _compare(
    full: Sequence[_Series], truncated: Sequence[_Series], position: int
) -> tuple[dict[tuple[int, int], _Difference], int]:
    """Per (series, column): the earliest bar up to ``position`` whose value differs; on a tie
    the field checked first (the score) names it."""
    found: dict[tuple[int, int], _Difference] = {}
    compared = 0
    for s, (whole, part) in enumerate(zip(full, truncated, strict=True)):
        never = position + 1
        earliest = np.full(len(whole.columns), never)
        field_of = np.full(len(whole.columns), "", dtype=object)
        for name, values in whole.fields.items():
            head = values[: position + 1]
            compared += head.size
            with np.errstate(invalid="ignore"):
                cut_values = part.fields[name]
                same = np.isclose(cut_values, head, rtol=RTOL, atol=ATOL) | (np.isnan(head) & np.isnan(cut_values))
            differs = ~same
            first = differs.argmax(axis=0)
            earlier = differs.any(axis=0) & (first < earliest)
            earliest[earlier], field_of[earlier] = first[earlier], name
        for column in np.flatnonzero(earliest < never).tolist():
            row, name = int(earliest[column]), str(field_of[column])
            found[(s, column)] = _Difference(
                row, name, _value(whole.fields[name][row, column]), _value(part.fields[name][row, column])
            )
    return found, compared


def _value(number: float) -> float | None:
    return None if np.isnan(number) else float(number)


def _first_values(series: Sequence[_Series]) -> list[int]:
    """Per signal column that ever has a score, the first bar that has one."""
    starts: list[int] = []
    for item in series:
        finite = np.isfinite(item.fields["score"])
        starts += finite.argmax(axis=0)[finite.any(axis=0)].tolist()
    return starts


# --- running each computation in a fresh process ------------------------------------------------


def fork_available() -> bool:
    """Whether computations can run in forked processes (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _child(send: Connection, work: Callable[[_T], _R], argument: _T) -> None:
    """In a forked process: run ``work(argument)`` and send back the result, or the error."""
    # Torch's and tokenizers' thread pools may have run in the parent; one thread per process
    # here (the processes are the parallelism) keeps them from waiting on threads fork dropped.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    try:
        message: tuple[str, Any] = ("ok", work(argument))
    except FintradeError as exc:
        message = ("error", (type(exc), str(exc)))
    except BaseException:  # a bug: its traceback goes back to be shown
        message = ("crash", traceback.format_exc())
    try:
        send.send(message)
    except Exception:  # an unpicklable result, say
        send.send(("crash", traceback.format_exc()))
    finally:
        send.close()


def _reraise(status: str, payload: Any, process: multiprocessing.process.BaseProcess) -> None:
    if status == "error":
        kind, text = payload
        try:
            error = kind(text)
        except Exception:
            error = FintradeError(text)
        raise error
    if status == "crash":
        raise RuntimeError(f"a check computation failed in its process:\n{payload}")
    raise RuntimeError(f"a check computation's process ended without a result (exit code {process.exitcode})")


def _forked(work: Callable[[_T], _R], arguments: Sequence[_T], on_result: Callable[[_T, _R], None]) -> None:
    """``work`` on each argument, each in a new forked process, :data:`WORKERS` at a time.

    A fresh process per computation (``maxtasksperchild=1``), forked from this one: each starts
    from the state this process has now, and a child's module-level state dies with it. Only
    results travel back; a child's ``FintradeError`` is raised here with its message. Every
    child is ended and reaped on the way out, whatever happens.
    """
    from fintrade.decisions import warm_up

    warm_up()  # numba's start, paid once here rather than in every child
    context = multiprocessing.get_context("fork")
    waiting = list(reversed(arguments))
    running: dict[Connection, tuple[multiprocessing.process.BaseProcess, _T]] = {}
    # Out of the collector's sight, this process's objects are not touched (so not copied) by
    # each child's garbage collections: a fork then costs milliseconds, not a copy of the heap.
    gc.freeze()
    try:
        while waiting or running:
            while waiting and len(running) < WORKERS:
                argument = waiting.pop()
                receive, send = context.Pipe(duplex=False)
                started = context.Process(target=_child, args=(send, work, argument), daemon=True)
                started.start()
                send.close()  # the child holds the other end: EOF here when it dies
                running[receive] = (started, argument)
            for ready in wait(list(running)):
                assert isinstance(ready, Connection)
                finished, argument = running.pop(ready)
                try:
                    status, payload = ready.recv()
                except EOFError:
                    status, payload = "died", None
                finally:
                    ready.close()
                finished.join()
                if status != "ok":
                    _reraise(status, payload, finished)
                on_result(argument, payload)
    finally:
        for receive, (left, _) in running.items():
            left.terminate()
            left.join()
            receive.close()
        gc.unfreeze()


def _in_process(work: Callable[[_T], _R], arguments: Sequence[_T], on_result: Callable[[_T, _R], None]) -> None:
    for argument in arguments:
        on_result(argument, work(argument))


# --- leak risks no cut can show ----------------------------------------------------------------


def date_only_risks(documents: pd.DataFrame | None, zones: Sequence[str] = ()) -> list[str]:
    """A leak risk when (nearly) every document is stamped exactly at midnight, in UTC or one of
    ``zones``: a date without a time, counted from the start of its day, reaches that day's bar
    though the news may have come after its close. Documents a source declared dated and moved
    to the end of their day (``attrs[DATED_DOCUMENTS]``, as ``local-documents`` with
    ``dates=True`` does) are not a risk."""
    if documents is None or documents.empty or documents.attrs.get(DATED_DOCUMENTS):
        return []
    published = pd.DatetimeIndex(documents["published_at"])
    for zone in dict.fromkeys(["UTC", *zones]):
        local = published.tz_convert(zone)
        at_midnight = int((local == local.normalize()).sum())
        if at_midnight / len(published) >= MIDNIGHT_SHARE:
            return [
                f"{at_midnight:,} of {len(published):,} documents are stamped exactly at midnight {zone}: dates "
                "without a time, counted from the start of their day, may reach a bar that closed before they "
                "were published; give the text source publication times, or declare the dates so the source "
                "counts them from the end of their day (local-documents: dates=True with timezone)"
            ]
    return []


def _session_zones(strategy: Strategy, registry: Registry) -> list[str]:
    """The timezone of the market's session close (``"16:00 America/New_York"``), if any."""
    close = strategy.bar_close or registry.data_sources.get(strategy.source).session_close
    parts = (close or "").split()
    return [parts[-1]] if len(parts) == 2 else []


# --- the check ----------------------------------------------------------------------------------


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


def _default_cuts(inputs: SignalInput, full: Sequence[_Series], n_signals: int, count: int) -> CutPlan:
    """The default cut rule (:func:`sample_cuts`) over this strategy's warm-ups, calendar and events."""
    n_bars = len(inputs.index)
    groups = [
        CutGroup("warm-up", _warmup_bars(_first_values(full[:n_signals]), n_bars), spread=False),
        CutGroup("spread", np.linspace(0, n_bars - 2, max(count, 2)).round().astype(np.int64), weight=2),
        *(CutGroup(name, bars) for name, bars in calendar_bars(inputs.index).items()),
    ]
    if inputs.documents is not None and not inputs.documents.empty:
        arrivals = available_bar(inputs.documents["published_at"], inputs.closes_at)
        groups.append(CutGroup("documents", arrivals[arrivals >= 0]))
    groups.append(CutGroup("position changes", change_bars(full[-1].fields["position"])))
    groups.append(CutGroup("combined changes", change_bars(full[-2].fields["score"])))
    return sample_cuts(n_bars, count, groups)


def _cut_plan(
    inputs: SignalInput, full: Sequence[_Series], n_signals: int, cuts: int | None, at: Sequence[str] | None, fast: bool
) -> CutPlan:
    """``--at``'s bars, ``--fast``'s bars after the warm-up, or the default rule's."""
    if at:
        positions = _cuts_at(inputs.index, at)
        return CutPlan(positions, {"--at": len(positions)})
    if fast:
        warmup = max(_first_values(full[:n_signals]), default=0)
        positions = choose_cuts(len(inputs.index), warmup, FAST_CUTS if cuts is None else cuts)
        return CutPlan(positions, {"after the warm-up": len(positions)})
    return _default_cuts(inputs, full, n_signals, DEFAULT_CUTS if cuts is None else cuts)


_Runner = Callable[[Callable[[Any], Any], Sequence[Any], Callable[[Any, Any], None]], None]


def _isolation(fast: bool) -> tuple[_Runner, str, str | None]:
    """How computations run, its description, and a warning when they cannot run apart."""
    if fast:
        return _in_process, "in process (--fast)", None
    if fork_available():
        # This process loads the data but computes no signal itself: children forked from it
        # start from the state every strategy and plugin module had after import.
        return _forked, "a fresh process per computation", None
    return (
        _in_process,
        "in process (this platform cannot fork)",
        "fork is not available here, so every computation ran in this process: state a strategy or plugin "
        "keeps between calls (a cached fit) could hide a leak",
    )


@dataclass
class _Findings:
    """Differences gathered over the cuts, in whatever order the cuts finish."""

    # (series, column) -> [earliest difference, the cut that showed it, how many cuts differed]
    first: dict[tuple[int, int], list[Any]] = field(default_factory=dict)
    compared: int = 0
    cuts: int = 0

    def add(self, position: int, result: tuple[dict[tuple[int, int], _Difference], int]) -> None:
        differences, compared = result
        self.compared += compared
        self.cuts += 1
        for key, difference in differences.items():
            record = self.first.setdefault(key, [difference, position, 0])
            record[2] += 1
            # The earliest bar wins, then the earliest cut: the same result in any order.
            if (difference.row, position) < (record[0].row, record[1]):
                record[0], record[1] = difference, position

    def leaks(
        self, full: Sequence[_Series], combos: Sequence[Combination], grid: Mapping[str, Any], index: pd.DatetimeIndex
    ) -> list[Leak]:
        """One :class:`Leak` per differing (series, column), in series and column order."""
        leaks = []
        for (s, column), (difference, position, differing) in sorted(self.first.items()):
            params, number, symbol = full[s].columns[column]
            leaks.append(
                Leak(
                    series=full[s].name,
                    model=full[s].model,
                    params=params,
                    combination=describe(combos[number], grid) if grid else {},
                    combination_number=number + 1,
                    symbol=symbol,
                    bar=index[difference.row].isoformat(),
                    cut=index[position].isoformat(),
                    field=difference.field,
                    full=difference.full,
                    truncated=difference.truncated,
                    cuts_differing=differing,
                )
            )
        return leaks


def run_check(
    strategy: Strategy,
    registry: Registry,
    *,
    cuts: int | None = None,
    at: Sequence[str] | None = None,
    fast: bool = False,
    progress: Progress = lambda done, total, what: None,
) -> CheckResult:
    """Compute every checked series on the full history and on data cut at each cut bar; compare.

    ``cuts``: how many cut bars (default :data:`DEFAULT_CUTS`, or :data:`FAST_CUTS` with
    ``fast``); ``at``: cut at these dates or times instead; ``fast``: the first grid
    combination only, cuts spread from the end of the warm-up, computed in this process.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The names and settings a backtest resolves first are resolved here too, before any data.
        plan = prepare(strategy, registry)
        inputs, notes = load_signal_inputs(strategy, registry)
    notes += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    grid = list(plan.combinations)
    combos = grid[:1] if fast else grid
    computation = _Computation(strategy, registry, inputs, combos, _representatives(strategy, combos))
    run, isolation, note = _isolation(fast)
    notes += [note] if note else []

    computed: list[tuple[list[_Series], list[str]]] = []
    run(lambda _: computation.full(), [None], lambda _, result: computed.append(result))
    full, full_notes = computed[0]
    notes += full_notes
    index = inputs.index
    cut_plan = _cut_plan(inputs, full, len(strategy.signals), cuts, at, fast)
    total = len(cut_plan.positions) + 1
    progress(1, total, "full history")

    findings = _Findings()

    def add(position: int, result: tuple[dict[tuple[int, int], _Difference], int]) -> None:
        findings.add(position, result)
        progress(1 + findings.cuts, total, f"cut at {index[position]}")

    run(lambda position: computation.cut(position, full), cut_plan.positions, add)
    return CheckResult(
        strategy=strategy.strategy_name(),
        symbols=inputs.symbols,
        start=index[0].isoformat(),
        end=index[-1].isoformat(),
        bars=len(index),
        cuts=[index[p].isoformat() for p in cut_plan.positions],
        cut_kinds=cut_plan.kinds,
        series=[{"series": item.name, "model": item.model, "columns": len(item.columns)} for item in full],
        combinations=len(combos),
        grid_combinations=len(grid),
        compared=findings.compared,
        isolation=isolation,
        leaks=findings.leaks(full, combos, strategy.grid, index),
        risks=date_only_risks(inputs.documents, _session_zones(strategy, registry)),
        warnings=list(dict.fromkeys(notes)),
    )
