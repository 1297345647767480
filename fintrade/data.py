"""Where the core asks plugins for bars and documents, and checks what comes back."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from fintrade.alignment import AlignmentWarning, bar_close_times, prepare_documents
from fintrade.bars import align_bars, bar_checks, clip_range, to_utc_timestamp, validate_bars
from fintrade.cache import DataWarning
from fintrade.calls import call_plugin
from fintrade.errors import ConfigError, DataError
from fintrade.registry import Registry
from fintrade.strategy import Strategy
from fintrade.types import DOCUMENT_COLUMNS, BarsRequest, DocumentsRequest, SignalInput


@contextmanager
def collect_data_warnings(notes: list[str]) -> Iterator[None]:
    """Append the text of every :class:`~fintrade.cache.DataWarning` raised inside (a corrupt
    cache file, a gap in a download) to ``notes``, so it reaches the result's warnings, and
    show every warning caught as it would have been shown without this block."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataWarning)
            yield
    finally:
        for record in caught:
            text = str(record.message)
            if issubclass(record.category, DataWarning) and text not in notes:
                notes.append(text)
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)


def load_bars(strategy: Strategy, registry: Registry) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The strategy's bars, validated and aligned on a common clock, plus warnings."""
    if not strategy.symbols:
        raise ConfigError("the strategy lists no symbols (symbols = ['AAPL', ...])")
    source = registry.data_sources.get(strategy.source)
    start, end = to_utc_timestamp(strategy.start, "start"), to_utc_timestamp(strategy.end, "end")
    if start is not None and end is not None and start >= end:
        raise DataError(f"empty date range: start {start.date()} is not before end {end.date()}")
    request = BarsRequest(tuple(strategy.symbols), strategy.interval, start, end, dict(strategy.source_options))
    notes: list[str] = []
    # The strategy's interval and price_tolerance hold for the checks the source runs itself too.
    checks = bar_checks(interval=strategy.interval, price_tolerance=strategy.price_tolerance)
    with collect_data_warnings(notes), checks:
        raw = call_plugin(f"data source {source.name!r}", source.load, request)
    bars: dict[str, pd.DataFrame] = {}
    for symbol in strategy.symbols:
        where = f"source {source.name!r}, symbol {symbol!r}"
        if symbol not in raw:
            raise DataError(f"{where}: the source returned no bars for this symbol")
        with collect_data_warnings(notes):
            frame = validate_bars(
                raw[symbol], where, interval=strategy.interval, price_tolerance=strategy.price_tolerance
            )
        frame = clip_range(frame, start, end)
        if frame.empty:
            raise DataError(f"{where}: no bars between {strategy.start} and {strategy.end}")
        bars[symbol] = frame
    aligned, dropped = align_bars(bars)
    if dropped:
        notes.append(f"{dropped} bars dropped to align {len(bars)} symbols on their common dates")
    if len(next(iter(aligned.values()))) < 10:
        raise DataError(f"only {len(next(iter(aligned.values())))} bars shared by all symbols; need at least 10")
    return aligned, notes


def load_documents(
    strategy: Strategy, registry: Registry, index: pd.DatetimeIndex, close_times: pd.DatetimeIndex
) -> tuple[pd.DataFrame | None, list[str]]:
    """Documents for the strategy's symbols known by the last bar's close, or None without a
    text source, plus warnings about what was dropped (see :func:`fintrade.alignment.prepare_documents`)."""
    if strategy.text_source is None:
        return None, []
    source = registry.text_sources.get(strategy.text_source)
    request = DocumentsRequest(tuple(strategy.symbols), index[0], close_times[-1], dict(strategy.text_options))
    notes: list[str] = []
    with collect_data_warnings(notes):
        documents = call_plugin(f"text source {source.name!r}", source.load, request)
    missing = [c for c in DOCUMENT_COLUMNS if c not in documents.columns]
    if missing:
        raise DataError(f"text source {source.name!r}: documents lack column(s) {', '.join(missing)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AlignmentWarning)
        prepared = prepare_documents(documents, list(strategy.symbols), close_times[-1], f"text source {source.name!r}")
    notes += [str(w.message) for w in caught if issubclass(w.category, AlignmentWarning)]
    if prepared.empty:
        notes.append(f"text source {source.name!r}: no usable documents for {', '.join(strategy.symbols)}")
    return prepared, notes


def load_signal_inputs(strategy: Strategy, registry: Registry) -> tuple[SignalInput, list[str]]:
    """Everything the strategy's signal models see: bars, each bar's close time and the documents
    known by the last close, plus warnings. What ``backtest`` and ``check`` both start from."""
    bars, notes = load_bars(strategy, registry)
    index = next(iter(bars.values())).index
    session_close = strategy.bar_close or registry.data_sources.get(strategy.source).session_close
    close_times = bar_close_times(index, strategy.interval, session_close)
    documents, document_warnings = load_documents(strategy, registry, index, close_times)
    return SignalInput(bars=bars, documents=documents, close_times=close_times), notes + document_warnings


def bars_hash(frame: pd.DataFrame) -> str:
    """A content hash of bars (index and values), recorded in run manifests."""
    digest = hashlib.sha256()
    digest.update(frame.index.asi8.tobytes())
    digest.update(frame.to_numpy(dtype=float).tobytes())
    return digest.hexdigest()[:16]
