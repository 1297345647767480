"""The ``local`` data source: OHLCV bars from CSV or Parquet files.

Option ``path`` is one file (bars of one symbol) or a directory of ``<SYMBOL>.csv`` /
``<SYMBOL>.parquet`` files. Columns are matched ignoring case, spaces and punctuation; the
time column is ``datetime``, ``timestamp``, ``date`` or ``time`` (or ``date`` plus ``time``,
or a Parquet ``DatetimeIndex``), and each timestamp is the bar's open time. Naive times are
UTC; a file may not mix naive and offset times, nor UTC offsets other than a daylight-saving
pair, and epoch numbers may not land in 1970. With ``adjusted=True`` the prices are scaled by
``adj_close / close`` (volume is kept). Optional columns the engine understands
(``funding_rate``, ``dividends``, ``stock_splits``) are kept.

The files' own interval is used as is: nothing is resampled, but bars spaced far closer than
the requested interval are refused (``fintrade.bars.check_spacing``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fintrade.bars import OPTIONAL_COLUMNS, clip_range, to_utc_timestamp, validate_bars
from fintrade.errors import ConfigError, DataError
from fintrade.options import bool_option, check_option_names, path_option
from fintrade.types import OHLCV_COLUMNS, BarsRequest
from fintrade_local.tables import Table, column_key, columns_by_key, file_format, read_table
from fintrade_local.timestamps import check_one_offset, parse_utc

SOURCE = "source 'local'"
OPTIONS: tuple[str, ...] = ("path", "adjusted")
BAR_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")
# In order of preference, when a file has several.
TIME_COLUMNS: tuple[str, ...] = ("datetime", "timestamp", "date", "time")
PATH_HELP = "a CSV or Parquet file for one symbol, or a directory of <SYMBOL>.csv / <SYMBOL>.parquet files"


def _time_values(table: Table, columns: dict[str, object], where: str) -> tuple[pd.Series, str]:
    frame = table.frame
    if "date" in columns and "time" in columns and "datetime" not in columns and "timestamp" not in columns:
        # Intraday exports often split the stamp in two; either half alone would collide.
        date = frame[columns["date"]].astype(str).str.strip()
        return date + " " + frame[columns["time"]].astype(str).str.strip(), "date and time"
    for key in TIME_COLUMNS:
        if key in columns:
            return frame[columns[key]], str(columns[key])
    if table.time_index is not None:
        return pd.Series(table.time_index, index=frame.index), "index"
    raise DataError(
        f"{where}: no date/time column (looked for {', '.join(TIME_COLUMNS)}, "
        f"or a Parquet DatetimeIndex); columns are {', '.join(map(str, frame.columns))}"
    )


def _adjust(bars: pd.DataFrame, table: Table, columns: dict[str, object], where: str) -> pd.DataFrame:
    if "adjclose" not in columns:
        raise DataError(f"{where}: option adjusted=True needs an 'Adj Close' column, and the file has none")
    adj_close = pd.to_numeric(table.frame[columns["adjclose"]], errors="coerce").to_numpy(dtype=float)
    ratio = pd.Series(adj_close, index=bars.index) / bars["close"]
    bad = ratio.isna() | (ratio <= 0)
    if bad.any():
        raise DataError(
            f"{where}: column {columns['adjclose']!r} is missing, non-numeric or not positive at {bad.idxmax()}"
        )
    adjusted = bars.copy()
    for column in ("open", "high", "low", "close"):
        adjusted[column] = bars[column] * ratio
    return adjusted


def read_bar_file(path: Path, symbol: str, *, adjusted: bool = False, interval: str | None = None) -> pd.DataFrame:
    """Bars from one file, checked against the bars contract, with errors naming the file.

    ``interval``: the interval the bars should have; bars spaced far closer are an error.
    """
    where = f"{SOURCE}, symbol {symbol!r} ({path})"
    table = read_table(path, where)
    if table.frame.empty:
        raise DataError(f"{where}: the file has no rows")
    columns = columns_by_key(table.frame, where)
    values, column = _time_values(table, columns, where)
    check_one_offset(values, column, where, table.row_word)
    index = parse_utc(values, column, where, table.row_word)
    # Optional columns too: dropping a perpetual's funding_rate would backtest it without funding.
    names = (*OHLCV_COLUMNS, *OPTIONAL_COLUMNS)
    found = {name: columns[column_key(name)] for name in names if column_key(name) in columns}
    bars = pd.DataFrame({name: table.frame[column].to_numpy() for name, column in found.items()}, index=index)
    bars = validate_bars(bars, where, interval=interval)
    return _adjust(bars, table, columns, where) if adjusted else bars


def _symbol_of(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".csv", ".parquet", ".pq"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _find_symbol_file(directory: Path, symbol: str, listing: dict[str, list[Path]]) -> Path:
    wanted = [f"{symbol}{suffix}" for suffix in BAR_SUFFIXES]
    found = [directory / name for name in wanted if (directory / name).is_file()]
    if not found:
        # Case-insensitive file systems find "aapl.csv" for AAPL; do the same everywhere.
        found = [path for name in wanted for path in listing.get(name.lower(), [])]
    if not found:
        raise DataError(f"{SOURCE}: no file for symbol {symbol!r} in {directory} (looked for {', '.join(wanted)})")
    if len(found) > 1:
        names = " and ".join(path.name for path in found)
        raise DataError(f"{SOURCE}: both {names} in {directory} hold symbol {symbol!r}; keep one")
    return found[0]


def resolve_files(path: Path, symbols: tuple[str, ...]) -> dict[str, Path]:
    """Which file holds each symbol. No symbols: every bar file in a directory, or the one file."""
    if path.is_file():
        if file_format(path) not in ("csv", "parquet"):
            raise ConfigError(f"{SOURCE}: {path} is not a CSV or Parquet file (option 'path' is {PATH_HELP})")
        if len(symbols) > 1:
            raise ConfigError(
                f"{SOURCE}: {path} is a single file but {len(symbols)} symbols were requested "
                f"({', '.join(symbols)}); point option 'path' at a directory of <SYMBOL>.csv files"
            )
        return {symbols[0] if symbols else _symbol_of(path): path}
    listing: dict[str, list[Path]] = {}
    for child in sorted(path.iterdir()):
        if child.is_file() and child.suffix.lower() in BAR_SUFFIXES:
            listing.setdefault(child.name.lower(), []).append(child)
    if not symbols:
        if not listing:
            raise DataError(f"{SOURCE}: no .csv or .parquet files in {path}")
        files = [file for group in listing.values() for file in group]
        return {_symbol_of(file): file for file in files}
    return {symbol: _find_symbol_file(path, symbol, listing) for symbol in symbols}


def _range_text(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    return f"[{start if start is not None else '-inf'}, {end if end is not None else '+inf'})"


def load_local_bars(request: BarsRequest) -> dict[str, pd.DataFrame]:
    """The ``local`` source's ``load``: ``{symbol: bars}`` with open times in ``[start, end)``."""
    check_option_names(request.options, OPTIONS, SOURCE)
    path = path_option(request.options, SOURCE, PATH_HELP)
    adjusted = bool_option(request.options, "adjusted", False, SOURCE)
    start, end = to_utc_timestamp(request.start), to_utc_timestamp(request.end)
    bars: dict[str, pd.DataFrame] = {}
    for symbol, file in resolve_files(path, tuple(request.symbols)).items():
        frame = read_bar_file(file, symbol, adjusted=adjusted, interval=request.interval)
        clipped = clip_range(frame, start, end)
        if clipped.empty:
            raise DataError(
                f"{SOURCE}, symbol {symbol!r} ({file}): no bars in {_range_text(start, end)}; "
                f"the file covers {frame.index[0]} .. {frame.index[-1]}"
            )
        bars[symbol] = clipped
    return bars


__all__ = ["load_local_bars", "read_bar_file", "resolve_files"]
