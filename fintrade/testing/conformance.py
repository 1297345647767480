"""The conformance kit: every contract fintrade relies on, checked in a plugin author's own CI.

One function per kind of plugin runs every check for that kind and returns a
:class:`ConformanceReport`; when a check fails that was not marked, or a marked one passes, it
raises :class:`ConformanceError` naming each check and the plugin::

    from fintrade.testing.conformance import check_signal_model

    def test_my_model_conforms():
        check_signal_model(MY_MODEL, params={"window": 10})

A known gap is marked, not skipped, so it stays visible and the mark goes once it is fixed::

    check_signal_model(MY_MODEL, expected_failures={"deterministic": "sampling is not seeded yet"})

The checks (names as reports and ``expected_failures`` use them):

- data sources: ``returns_requested_symbols``, ``valid_bars`` (the bars contract, sorted
  unique UTC times included), ``within_range``, ``deterministic``, ``empty_range``,
  ``unknown_symbol`` (refused with a fintrade error, or left out; never a crash);
- text sources: ``document_columns``, ``valid_documents`` (UTC times, ids unique per symbol,
  known symbols), ``within_range``, ``deterministic``, ``empty_range``;
- signal models: ``signal_shape``, ``scores_in_range``, ``confidence_in_range``,
  ``deterministic``, ``no_lookahead`` (the truncation test of ``fintrade check``, on seeded
  synthetic bars and documents), ``short_input`` (one bar: a signal, or a fintrade error);
- aggregators: ``signal_shape``, ``scores_in_range``, ``confidence_in_range``, ``deterministic``,
  ``no_lookahead`` (combining truncated signals gives the truncated combination), ``one_signal``;
- datasets: ``valid_record`` (name, task, labels), ``columns`` (per task: ``text`` and ``label``;
  ``prompt`` and ``response``; the QA columns), ``non_empty``, ``valid_text`` (no blank text),
  ``labels_in_range`` (every row labelled, with a declared label), ``valid_dates`` (UTC),
  ``unique_ids``, ``deterministic``, ``unknown_option`` (refused with a fintrade error, or
  ignored; never a crash);
- adapter methods: ``valid_record``, ``unknown_dataset`` and ``empty_dataset`` (refused with a
  fintrade error, nothing written), ``trains`` (a short run on the kit's own dataset, read from
  the registry the method is handed, returns an artifact folder with its manifest).

Errors a plugin raises on purpose reach the user through the core, which names the plugin; a
crash (any other exception) fails the check that caused it, with the plugin's name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from fintrade.types import (
        AdapterMethod,
        Aggregator,
        Dataset,
        DataSource,
        Signal,
        SignalInput,
        SignalModel,
        TextSource,
    )

__all__ = [
    "ConformanceError",
    "ConformanceReport",
    "check_adapter_method",
    "check_aggregator",
    "check_data_source",
    "check_dataset",
    "check_signal_model",
    "check_text_source",
]

#: Values agree like ``fintrade check`` has them agree: within float noise, NaN equal to NaN.
RTOL = 1e-9
ATOL = 1e-12


class ConformanceError(AssertionError):
    """One or more contract checks failed (or a check marked as an expected failure passed)."""


class _CheckFailed(Exception):
    """Raised inside a check: the message says what broke."""


@dataclass
class ConformanceReport:
    """What the kit found for one plugin: each check's outcome by name."""

    plugin: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: Marked checks that failed as expected: name -> the author's reason.
    expected: dict[str, str] = field(default_factory=dict)
    #: Marked checks that passed: the mark is stale.
    unexpectedly_passed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unexpectedly_passed

    def summary(self) -> str:
        lines = [f"conformance: {self.plugin}: {len(self.passed)} passed, {len(self.failed)} failed"]
        lines += [f"  check {name!r} failed for {self.plugin}: {message}" for name, message in self.failed.items()]
        lines += [
            f"  check {name!r} passed for {self.plugin} but is marked as an expected failure; remove the mark"
            for name in self.unexpectedly_passed
        ]
        lines += [f"  check {name!r} failed as expected: {reason}" for name, reason in self.expected.items()]
        return "\n".join(lines)


class _Runner:
    """Runs named checks for one plugin, honouring ``expected_failures``."""

    def __init__(self, plugin: str, names: Sequence[str], expected_failures: Mapping[str, str] | None) -> None:
        marked = dict(expected_failures or {})
        unknown = sorted(set(marked) - set(names))
        if unknown:
            raise ValueError(f"expected_failures names unknown check(s) {unknown}; the checks are {list(names)}")
        self.marked = marked
        self.report = ConformanceReport(plugin)

    def run(self, name: str, check: Callable[[], None]) -> None:
        try:
            check()
        except _CheckFailed as exc:
            outcome: str | None = str(exc)
        except Exception as exc:  # a crash is a failure of this check, not of the kit
            outcome = f"raised {type(exc).__name__}: {exc}"
        else:
            outcome = None
        if name in self.marked:
            if outcome is None:
                self.report.unexpectedly_passed.append(name)
            else:
                self.report.expected[name] = self.marked[name]
        elif outcome is None:
            self.report.passed.append(name)
        else:
            self.report.failed[name] = outcome

    def finish(self) -> ConformanceReport:
        if not self.report.ok:
            raise ConformanceError(self.report.summary())
        return self.report


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _CheckFailed(message)


def _fintrade_error_allowed() -> contextlib.suppress:
    """A fintrade error is a legitimate refusal; anything else is a crash and fails the check."""
    from fintrade.errors import FintradeError

    return contextlib.suppress(FintradeError)


def _same(left: Any, right: Any) -> bool:
    import numpy as np

    a, b = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if a.shape != b.shape:
        return False
    with np.errstate(invalid="ignore"):
        return bool((np.isclose(a, b, rtol=RTOL, atol=ATOL) | (np.isnan(a) & np.isnan(b))).all())


def _timestamp(value: str | pd.Timestamp | None) -> pd.Timestamp | None:
    from fintrade.bars import to_utc_timestamp

    return to_utc_timestamp(value)


# --- data sources --------------------------------------------------------------------------

DATA_SOURCE_CHECKS = (
    "returns_requested_symbols",
    "valid_bars",
    "within_range",
    "deterministic",
    "empty_range",
    "unknown_symbol",
)


def check_data_source(
    source: DataSource,
    *,
    symbols: Sequence[str],
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    interval: str = "1d",
    options: Mapping[str, Any] | None = None,
    expected_failures: Mapping[str, str] | None = None,
) -> ConformanceReport:
    """Check a data source on ``symbols`` over ``[start, end)`` (data the source can serve in CI)."""
    from fintrade.bars import validate_bars
    from fintrade.types import BarsRequest

    runner = _Runner(f"data source {source.name!r}", DATA_SOURCE_CHECKS, expected_failures)
    request = BarsRequest(tuple(symbols), interval, _timestamp(start), _timestamp(end), dict(options or {}))
    loaded: dict[str, Any] = {}

    def load() -> Mapping[str, pd.DataFrame]:
        if "bars" not in loaded:
            loaded["bars"] = source.load(request)
        return loaded["bars"]

    def requested() -> None:
        bars = load()
        _require(
            isinstance(bars, Mapping), f"load() returned {type(bars).__name__}, expected a mapping of symbol -> bars"
        )
        _require(
            set(bars) == set(symbols), f"load() returned symbols {sorted(bars)} for a request of {sorted(symbols)}"
        )

    def valid() -> None:
        for symbol, frame in load().items():
            try:
                validate_bars(frame, f"symbol {symbol!r}", interval=interval)
            except Exception as exc:
                raise _CheckFailed(str(exc)) from exc

    def within() -> None:
        for symbol, frame in load().items():
            index = frame.index
            if request.start is not None:
                _require(bool((index >= request.start).all()), f"symbol {symbol!r}: bars before start {request.start}")
            if request.end is not None:
                _require(bool((index < request.end).all()), f"symbol {symbol!r}: bars at or after end {request.end}")

    def deterministic() -> None:
        first, again = load(), source.load(request)
        for symbol, frame in first.items():
            other = again.get(symbol)
            if other is None:
                raise _CheckFailed(f"symbol {symbol!r} missing from a second load")
            _require(
                frame.index.equals(other.index) and _same(frame.to_numpy(dtype=float), other.to_numpy(dtype=float)),
                f"symbol {symbol!r}: a second load of the same request gave different bars",
            )

    def empty_range() -> None:
        import pandas as pd

        far = pd.Timestamp("2200-01-01", tz="UTC")
        with _fintrade_error_allowed():
            bars = source.load(BarsRequest(tuple(symbols), interval, far, far + pd.Timedelta(days=7), request.options))
            for symbol, frame in bars.items():
                _require(len(frame) == 0, f"symbol {symbol!r}: {len(frame)} bars for a range in the year 2200")

    def unknown_symbol() -> None:
        with _fintrade_error_allowed():
            bars = source.load(
                BarsRequest(("NO-SUCH-SYMBOL-0",), interval, request.start, request.end, request.options)
            )
            frame = bars.get("NO-SUCH-SYMBOL-0")
            _require(frame is None or len(frame) == 0, "returned bars for a symbol that does not exist")

    for name, check in zip(
        DATA_SOURCE_CHECKS, (requested, valid, within, deterministic, empty_range, unknown_symbol), strict=True
    ):
        runner.run(name, check)
    return runner.finish()


# --- text sources --------------------------------------------------------------------------

TEXT_SOURCE_CHECKS = ("document_columns", "valid_documents", "within_range", "deterministic", "empty_range")


def check_text_source(
    source: TextSource,
    *,
    symbols: Sequence[str],
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    options: Mapping[str, Any] | None = None,
    expected_failures: Mapping[str, str] | None = None,
) -> ConformanceReport:
    """Check a text source on ``symbols`` over ``[start, end)``."""
    import pandas as pd

    from fintrade.types import DOCUMENT_COLUMNS, DocumentsRequest

    runner = _Runner(f"text source {source.name!r}", TEXT_SOURCE_CHECKS, expected_failures)
    request = DocumentsRequest(tuple(symbols), _timestamp(start), _timestamp(end), dict(options or {}))
    loaded: dict[str, pd.DataFrame] = {}

    def load() -> pd.DataFrame:
        if "documents" not in loaded:
            loaded["documents"] = source.load(request)
        return loaded["documents"]

    def columns() -> None:
        documents = load()
        _require(isinstance(documents, pd.DataFrame), f"load() returned {type(documents).__name__}, not a DataFrame")
        missing = [c for c in DOCUMENT_COLUMNS if c not in documents.columns]
        _require(not missing, f"missing column(s) {missing}; documents need {list(DOCUMENT_COLUMNS)}")

    def valid() -> None:
        documents = load()
        times = documents["published_at"]
        _require(
            isinstance(times.dtype, pd.DatetimeTZDtype), f"published_at must be timezone-aware, got dtype {times.dtype}"
        )
        _require(not times.isna().any(), f"{int(times.isna().sum())} documents without a published_at")
        # One document may concern several symbols: an id is unique per symbol.
        duplicated = documents.duplicated(["id", "symbol"])
        _require(not duplicated.any(), f"{int(duplicated.sum())} duplicate (id, symbol) pairs")
        strangers = sorted(set(documents["symbol"].dropna()) - set(symbols))
        _require(not strangers, f"documents about symbols not asked for: {strangers[:5]}")

    def within() -> None:
        times = load()["published_at"]
        if request.start is not None:
            _require(bool((times >= request.start).all()), f"documents before start {request.start}")
        if request.end is not None:
            _require(bool((times < request.end).all()), f"documents at or after end {request.end}")

    def deterministic() -> None:
        first, again = load(), source.load(request)
        _require(
            first.reset_index(drop=True).equals(again.reset_index(drop=True)),
            "a second load of the same request gave different documents",
        )

    def empty_range() -> None:
        far = pd.Timestamp("2200-01-01", tz="UTC")
        with _fintrade_error_allowed():
            documents = source.load(DocumentsRequest(tuple(symbols), far, far + pd.Timedelta(days=7), request.options))
            _require(len(documents) == 0, f"{len(documents)} documents for a range in the year 2200")

    for name, check in zip(TEXT_SOURCE_CHECKS, (columns, valid, within, deterministic, empty_range), strict=True):
        runner.run(name, check)
    return runner.finish()


# --- signal models -------------------------------------------------------------------------

SIGNAL_MODEL_CHECKS = (
    "signal_shape",
    "scores_in_range",
    "confidence_in_range",
    "deterministic",
    "no_lookahead",
    "short_input",
)


def _synthetic_inputs(symbols: Sequence[str], n_bars: int, documents: bool, seed: int) -> SignalInput:
    from fintrade.alignment import prepare_documents
    from fintrade.testing import make_synthetic_bars, make_synthetic_documents
    from fintrade.types import SignalInput

    bars = make_synthetic_bars(symbols, n_bars=n_bars, seed=seed)
    inputs = SignalInput(bars=bars)
    if not documents:
        return inputs
    index = inputs.index
    found = make_synthetic_documents(
        symbols, n_documents=4 * n_bars, start=str(index[0].date()), end=str(index[-1].date()), seed=seed
    )
    return SignalInput(bars=bars, documents=prepare_documents(found, list(symbols), index[-1]))


def _model_signal(model: SignalModel, inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """The signal the core computes for one parameter set (documents aligned by the core)."""
    from fintrade.sweep import compute_signal

    full = {**model.defaults, **params}
    return compute_signal(model, inputs, [full], model.name)


def _raw_signal(model: SignalModel, inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """What the model itself returns, before the core's own checks (so each check can name its break)."""
    from fintrade.alignment import document_signal

    full = {**model.defaults, **params}
    if model.score_documents is not None:
        return document_signal(model.name, model.score_documents, inputs, [full])
    if model.compute_grid is not None:
        return model.compute_grid(inputs, [full])
    assert model.compute is not None  # a SignalModel has compute or score_documents
    return model.compute(inputs, full)


def _check_ranges(signal: Signal, what: str, *, score: bool) -> None:
    import numpy as np

    values = (signal.score if score else signal.confidence).to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    low, high = (-1.0, 1.0) if score else (0.0, 1.0)
    bad = finite[(finite < low - 1e-9) | (finite > high + 1e-9)]
    if bad.size:
        raise _CheckFailed(f"{what} outside [{low:g}, {high:g}]: {bad.size} values, e.g. {float(bad[0])!r}")
    _require(not np.isinf(values).any(), f"{what} has infinite values")


def _signal_shape(signal: Any, inputs: SignalInput, columns: int) -> None:
    from fintrade.types import Signal

    _require(isinstance(signal, Signal), f"returned {type(signal).__name__}, expected fintrade.types.Signal")
    _require(signal.score.index.equals(inputs.index), "scores are not on the bars' index")
    _require(
        signal.score.shape[1] == columns and signal.confidence.shape == signal.score.shape,
        f"score {signal.score.shape} / confidence {signal.confidence.shape} columns, expected {columns}",
    )


def check_signal_model(
    model: SignalModel,
    *,
    params: Mapping[str, Any] | None = None,
    symbols: Sequence[str] = ("AAA", "BBB"),
    n_bars: int = 160,
    cuts: int = 24,
    seed: int = 0,
    expected_failures: Mapping[str, str] | None = None,
) -> ConformanceReport:
    """Check a signal model on seeded synthetic bars (and documents, when it reads them).

    ``no_lookahead`` runs ``fintrade check`` itself: a one-signal strategy over the same
    synthetic data, every computation on data cut at ``cuts`` bars compared with the full one.
    """
    params = dict(params or {})
    reads_documents = model.score_documents is not None or model.needs_documents
    inputs = _synthetic_inputs(symbols, n_bars, reads_documents, seed)
    runner = _Runner(f"signal model {model.name!r}", SIGNAL_MODEL_CHECKS, expected_failures)
    computed: dict[str, Signal] = {}

    def raw() -> Signal:
        if "raw" not in computed:
            computed["raw"] = _raw_signal(model, inputs, params)
        return computed["raw"]

    def shape() -> None:
        signal = raw()
        columns = len(symbols)
        _signal_shape(signal, inputs, columns)

    def deterministic() -> None:
        again = _raw_signal(model, inputs, params)
        _require(
            _same(raw().score, again.score) and _same(raw().confidence, again.confidence),
            "the same inputs and parameters gave different scores",
        )

    def no_lookahead() -> None:
        report = _truncation_check(model, params, symbols, n_bars, cuts, seed, reads_documents)
        _require(report.clean, report.summary())

    def short_input() -> None:
        from fintrade.types import SignalInput

        one = SignalInput(bars={s: frame.iloc[:1] for s, frame in inputs.bars.items()}, documents=None)
        with _fintrade_error_allowed():
            _signal_shape(_model_signal(model, one, params), one, len(symbols))

    runner.run("signal_shape", shape)
    runner.run("scores_in_range", lambda: _check_ranges(raw(), "scores", score=True))
    runner.run("confidence_in_range", lambda: _check_ranges(raw(), "confidences", score=False))
    runner.run("deterministic", deterministic)
    runner.run("no_lookahead", no_lookahead)
    runner.run("short_input", short_input)
    return runner.finish()


def _truncation_check(
    model: SignalModel,
    params: Mapping[str, Any],
    symbols: Sequence[str],
    n_bars: int,
    cuts: int,
    seed: int,
    reads_documents: bool,
) -> Any:
    """``fintrade check`` on a one-signal strategy over the kit's synthetic data."""
    import types

    import fintrade
    from fintrade.check import run_check
    from fintrade.plugin_manager import PluginInfo, create_plugin_manager
    from fintrade.registry import Registry
    from fintrade.strategy import Strategy, signal
    from fintrade.types import DataSource, TextSource

    inputs = _synthetic_inputs(symbols, n_bars, reads_documents, seed)
    plugin = types.SimpleNamespace()

    @fintrade.hookimpl
    def fintrade_data_sources() -> Iterator[DataSource]:
        yield DataSource(name="conformance-bars", load=lambda request: dict(inputs.bars))

    @fintrade.hookimpl
    def fintrade_text_sources() -> Iterator[TextSource]:
        documents = inputs.documents
        yield TextSource(name="conformance-documents", load=lambda request: documents)

    @fintrade.hookimpl
    def fintrade_signal_models() -> Iterator[SignalModel]:
        yield model

    plugin.fintrade_data_sources = fintrade_data_sources
    plugin.fintrade_text_sources = fintrade_text_sources
    plugin.fintrade_signal_models = fintrade_signal_models
    pm = create_plugin_manager(load_entry_points=False)
    if model.name in Registry(pm).signal_models.names():
        # A built-in under test: check the object given, not the one already registered.
        pm.unregister(name=next(name for name, p in pm.list_name_plugin() if _provides(p, model.name)))
    pm.register_plugin(plugin, "conformance", PluginInfo("conformance", "conformance kit", "ok"))
    attributes = {
        "symbols": list(symbols),
        "source": "conformance-bars",
        "signals": [signal(model.name, **params)],
        "walk_forward": None,
    }
    if reads_documents:
        attributes["text_source"] = "conformance-documents"
    strategy = type("Conformance", (Strategy,), attributes)()
    return run_check(strategy, Registry(pm), cuts=cuts)


def _provides(plugin: object, model: str) -> bool:
    hook = getattr(plugin, "fintrade_signal_models", None)
    if hook is None:
        return False
    with contextlib.suppress(Exception):
        return any(getattr(found, "name", None) == model for found in hook())
    return False


# --- aggregators ---------------------------------------------------------------------------

AGGREGATOR_CHECKS = (
    "signal_shape",
    "scores_in_range",
    "confidence_in_range",
    "deterministic",
    "no_lookahead",
    "one_signal",
)


def check_aggregator(
    aggregator: Aggregator,
    *,
    params: Mapping[str, Any] | None = None,
    symbols: Sequence[str] = ("AAA", "BBB"),
    n_bars: int = 120,
    seed: int = 0,
    expected_failures: Mapping[str, str] | None = None,
) -> ConformanceReport:
    """Check an aggregator on two seeded signals with gaps (NaN) and varying confidence."""
    import numpy as np
    import pandas as pd

    from fintrade.types import Signal

    params = {**aggregator.defaults, **(params or {})}
    index = pd.date_range("2020-01-01", periods=n_bars, freq="B", tz="UTC")
    columns = pd.Index(list(symbols), name="symbol")
    rng = np.random.default_rng(seed)

    def made() -> Signal:
        score = rng.uniform(-1, 1, (n_bars, len(symbols)))
        score[rng.random(score.shape) < 0.1] = np.nan
        confidence = np.where(np.isnan(score), np.nan, rng.uniform(0, 1, score.shape))
        return Signal(pd.DataFrame(score, index, columns), pd.DataFrame(confidence, index, columns))

    signals = [made(), made()]
    runner = _Runner(f"aggregator {aggregator.name!r}", AGGREGATOR_CHECKS, expected_failures)
    combined: dict[str, Signal] = {}

    def combine(parts: Sequence[Signal]) -> Signal:
        return aggregator.combine(list(parts), params)

    def full() -> Signal:
        if "full" not in combined:
            combined["full"] = combine(signals)
        return combined["full"]

    def deterministic() -> None:
        again = combine(signals)
        _require(_same(full().score, again.score), "the same signals gave a different combination")

    def no_lookahead() -> None:
        whole = full().score.to_numpy(dtype=float)
        for stop in sorted({1, n_bars // 3, n_bars // 2, n_bars - 1}):
            cut = [Signal(s.score.iloc[:stop], s.confidence.iloc[:stop]) for s in signals]
            part = combine(cut).score.to_numpy(dtype=float)
            _require(
                _same(whole[:stop], part),
                f"combining signals cut after bar {stop - 1} changes earlier values: later bars leak into earlier ones",
            )

    def one_signal() -> None:
        with _fintrade_error_allowed():
            _signal_shape(combine(signals[:1]), _bars_only(index, symbols), len(symbols))

    runner.run("signal_shape", lambda: _signal_shape(full(), _bars_only(index, symbols), len(symbols)))
    runner.run("scores_in_range", lambda: _check_ranges(full(), "combined scores", score=True))
    runner.run("confidence_in_range", lambda: _check_ranges(full(), "combined confidences", score=False))
    runner.run("deterministic", deterministic)
    runner.run("no_lookahead", no_lookahead)
    runner.run("one_signal", one_signal)
    return runner.finish()


def _bars_only(index: pd.DatetimeIndex, symbols: Sequence[str]) -> SignalInput:
    """Inputs whose only use is their index (for the shape check of a combination)."""
    import pandas as pd

    from fintrade.types import SignalInput

    return SignalInput(bars={s: pd.DataFrame(index=index) for s in symbols})


# --- datasets ------------------------------------------------------------------------------

DATASET_CHECKS = (
    "valid_record",
    "columns",
    "non_empty",
    "valid_text",
    "labels_in_range",
    "valid_dates",
    "unique_ids",
    "deterministic",
    "unknown_option",
)

#: The columns a dataset's rows need per task (the ``fintrade train`` tasks); any other task's
#: rows are ``text`` and ``label``, as the ``fintrade_datasets`` hook documents.
TASK_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "sft": ("prompt", "response"),
    "qa": ("question", "context", "answer_text", "answer_start"),
}
_TEXT_AND_LABEL = ("text", "label")
#: The columns that must hold non-blank text, per task.
_TEXT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "sft": ("prompt", "response"),
    "qa": ("question", "context", "answer_text"),
}


def _record_fields(record: Any, callable_field: str, text_fields: Sequence[str]) -> None:
    """Name, callable and text fields as the registry and ``fintrade plugins`` need them."""
    from fintrade.registry import NAME_PATTERN

    name = getattr(record, "name", None)
    _require(
        isinstance(name, str) and bool(NAME_PATTERN.match(name)),
        f"name {name!r} must be lower case letters, digits, '-', '_' or '.', starting with a letter",
    )
    _require(callable(getattr(record, callable_field, None)), f"{callable_field} is not callable")
    for text_field in text_fields:
        value = getattr(record, text_field, None)
        _require(isinstance(value, str), f"{text_field} must be a str, got {type(value).__name__}")


def check_dataset(
    dataset: Dataset,
    *,
    options: Mapping[str, Any] | None = None,
    expected_failures: Mapping[str, str] | None = None,
) -> ConformanceReport:
    """Check a labelled dataset loaded with ``options`` (data it can serve in CI).

    The rows' columns follow the dataset's ``task``: ``text`` and ``label`` (classification,
    sentiment), ``prompt`` and ``response`` (``sft``), ``question``, ``context``, ``answer_text``
    and ``answer_start`` (``qa``). Labels must be among the declared ``labels`` when it declares
    any, ``published_at`` (when given) UTC timestamps and ``id`` (when given) unique.
    """
    import pandas as pd

    options = dict(options or {})
    runner = _Runner(f"dataset {getattr(dataset, 'name', dataset)!r}", DATASET_CHECKS, expected_failures)
    task = str(getattr(dataset, "task", ""))
    needed = TASK_COLUMNS.get(task, _TEXT_AND_LABEL)
    loaded: dict[str, pd.DataFrame] = {}

    def load() -> pd.DataFrame:
        if "rows" not in loaded:
            loaded["rows"] = dataset.load(options)
        return loaded["rows"]

    def record() -> None:
        _record_fields(dataset, "load", ("task", "description", "licence"))
        _require(bool(dataset.task), "task is empty; name the task the rows are for (e.g. 'sentiment')")
        labels = dataset.labels
        _require(
            isinstance(labels, tuple) and all(isinstance(label, str) and label for label in labels),
            f"labels must be a tuple of non-empty str, got {labels!r}",
        )
        _require(len(set(labels)) == len(labels), f"labels {labels!r} repeat a label")

    def columns() -> None:
        rows = load()
        _require(isinstance(rows, pd.DataFrame), f"load() returned {type(rows).__name__}, not a DataFrame")
        missing = [column for column in needed if column not in rows.columns]
        _require(not missing, f"missing column(s) {missing}; task {task!r} needs {list(needed)}")

    def non_empty() -> None:
        _require(len(load()) > 0, "load() returned no rows; refuse with a fintrade error instead")

    def valid_text() -> None:
        rows = load()
        for column in _TEXT_COLUMNS.get(task, ("text",)):
            values = rows[column]
            blank = ~values.map(lambda value: isinstance(value, str) and bool(value.strip()))
            if blank.any():
                first = values[blank].iloc[0]
                raise _CheckFailed(
                    f"{int(blank.sum())} of {len(rows)} rows have no text in column {column!r} (e.g. {first!r})"
                )

    def labels_in_range() -> None:
        rows = load()
        if "label" not in rows.columns:
            return
        labels = rows["label"]
        _require(not labels.isna().any(), f"{int(labels.isna().sum())} rows have no label")
        if dataset.labels:
            strangers = sorted({str(label) for label in labels if label not in dataset.labels})
            _require(
                not strangers,
                f"labels {strangers[:5]} are not among the declared labels {list(dataset.labels)}",
            )

    def valid_dates() -> None:
        rows = load()
        if "published_at" not in rows.columns:
            return
        times = rows["published_at"]
        _require(
            isinstance(times.dtype, pd.DatetimeTZDtype) and str(times.dt.tz) == "UTC",
            f"published_at must hold UTC timestamps, got dtype {times.dtype}",
        )

    def unique_ids() -> None:
        rows = load()
        if "id" not in rows.columns:
            return
        duplicated = rows["id"].duplicated()
        if duplicated.any():
            raise _CheckFailed(f"{int(duplicated.sum())} duplicate ids, e.g. {rows['id'][duplicated].iloc[0]!r}")

    def deterministic() -> None:
        first, again = load(), dataset.load(options)
        _require(
            first.reset_index(drop=True).equals(again.reset_index(drop=True)),
            "a second load with the same options gave different rows",
        )

    def unknown_option() -> None:
        with _fintrade_error_allowed():
            rows = dataset.load({**options, "no_such_option_0": 1})
            _require(isinstance(rows, pd.DataFrame), f"load() returned {type(rows).__name__}, not a DataFrame")

    for name, check in zip(
        DATASET_CHECKS,
        (
            record,
            columns,
            non_empty,
            valid_text,
            labels_in_range,
            valid_dates,
            unique_ids,
            deterministic,
            unknown_option,
        ),
        strict=True,
    ):
        runner.run(name, check)
    return runner.finish()


# --- adapter methods -----------------------------------------------------------------------

ADAPTER_METHOD_CHECKS = ("valid_record", "unknown_dataset", "empty_dataset", "trains")

#: The datasets the kit registers for an adapter method, in a registry of its own.
KIT_DATASET = "conformance-labels"
KIT_EMPTY_DATASET = "conformance-empty"
UNKNOWN_DATASET = "no-such-dataset-0"
#: The kit dataset's labels: the sentiment task's, which the built-in training methods expect.
KIT_LABELS = ("negative", "neutral", "positive")


def _kit_rows(rows_per_label: int) -> pd.DataFrame:
    """Sentiment rows whose label a phrase gives away, dated one a day (UTC), ids unique."""
    import pandas as pd

    phrases = {"negative": "shares plunged", "neutral": "the board met", "positive": "profits soared"}
    rows = [
        (f"Company {chr(65 + i % 26)} {phrases[label]} in week {i}", label)
        for i in range(rows_per_label)
        for label in KIT_LABELS
    ]
    frame = pd.DataFrame(rows, columns=["text", "label"])
    frame["published_at"] = pd.date_range("2020-01-01", periods=len(frame), freq="D", tz="UTC")
    frame["id"] = [f"kit-{i}" for i in range(len(frame))]
    return frame


def _kit_registry(rows: pd.DataFrame) -> Any:
    """The built-in plugins plus the kit's two datasets (the labelled one and an empty one)."""
    import types

    import fintrade
    from fintrade.plugin_manager import PluginInfo, create_plugin_manager
    from fintrade.registry import Registry
    from fintrade.types import Dataset

    @fintrade.hookimpl
    def fintrade_datasets() -> Iterator[Dataset]:
        yield Dataset(name=KIT_DATASET, load=lambda options: rows.copy(), labels=KIT_LABELS)
        yield Dataset(name=KIT_EMPTY_DATASET, load=lambda options: rows.iloc[:0].copy(), labels=KIT_LABELS)

    plugin = types.SimpleNamespace(fintrade_datasets=fintrade_datasets)
    pm = create_plugin_manager(load_entry_points=False)
    pm.register_plugin(plugin, "conformance", PluginInfo("conformance", "conformance kit", "ok"))
    return Registry(pm)


def check_adapter_method(
    method: AdapterMethod,
    *,
    options: Mapping[str, Any] | None = None,
    rows_per_label: int = 10,
    expected_failures: Mapping[str, str] | None = None,
) -> ConformanceReport:
    """Check an adapter method by training it on the kit's own small sentiment dataset.

    Every call is ``method.train(config)`` with ``config`` as ``fintrade train`` builds it:
    ``options`` (the method's own, e.g. ``{"model": "minilm", "max_steps": 1}``: keep the run to
    seconds) plus ``registry`` (a registry holding the kit's datasets, which only this registry
    has, so a method must read its data from it), ``dataset`` and ``output`` (a fresh folder).

    - ``valid_record``: a lower-case name, a callable ``train``, a str ``description``;
    - ``unknown_dataset``: a dataset no registry has is refused with a fintrade error naming it,
      and nothing is written;
    - ``empty_dataset``: a dataset with no rows is refused with a fintrade error, nothing written;
    - ``trains``: a run returns the artifact folder, which holds ``fintrade_manifest.json`` (a
      JSON object; ``fintrade train`` prints from it) naming the method.
    """
    import json
    import tempfile
    from pathlib import Path

    from fintrade.errors import FintradeError

    runner = _Runner(f"adapter method {getattr(method, 'name', method)!r}", ADAPTER_METHOD_CHECKS, expected_failures)
    registry = _kit_registry(_kit_rows(rows_per_label))

    with tempfile.TemporaryDirectory(prefix="fintrade-conformance-") as scratch:

        def config(dataset: str, output: str) -> dict[str, Any]:
            return {**(options or {}), "registry": registry, "dataset": dataset, "output": str(Path(scratch) / output)}

        def untouched(output: str) -> None:
            folder = Path(scratch) / output
            written = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            _require(not written, f"wrote {written[:5]} into output {str(folder)!r} before refusing")

        def refused(dataset: str, output: str) -> str:
            try:
                result = method.train(config(dataset, output))
            except FintradeError as exc:
                untouched(output)
                return str(exc)
            raise _CheckFailed(f"train() returned {result!r} instead of refusing with a fintrade error")

        def unknown_dataset() -> None:
            message = refused(UNKNOWN_DATASET, "unknown")
            _require(UNKNOWN_DATASET in message, f"the error does not name dataset {UNKNOWN_DATASET!r}: {message!r}")

        def trains() -> None:
            result = method.train(config(KIT_DATASET, "artifact"))
            _require(isinstance(result, str | Path), f"train() returned {type(result).__name__}, not a path")
            folder = Path(result)
            _require(folder.is_dir(), f"train() returned {str(folder)!r}, which is not a folder")
            manifest_file = folder / "fintrade_manifest.json"
            _require(manifest_file.is_file(), f"the artifact {str(folder)!r} has no fintrade_manifest.json")
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            _require(
                isinstance(manifest, dict), f"fintrade_manifest.json holds {type(manifest).__name__}, not an object"
            )
            _require(
                manifest.get("method") == method.name,
                f"the manifest names method {manifest.get('method')!r}, not {method.name!r}",
            )

        runner.run("valid_record", lambda: _record_fields(method, "train", ("description",)))
        runner.run("unknown_dataset", unknown_dataset)

        def empty_dataset() -> None:
            refused(KIT_EMPTY_DATASET, "empty")

        runner.run("empty_dataset", empty_dataset)
        runner.run("trains", trains)
    return runner.finish()
