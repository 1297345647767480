"""``fintrade data``: fetch bars into the cache, list what is cached, clear it."""

from __future__ import annotations

import json
from typing import Any

import typer

from fintrade.errors import ConfigError

app = typer.Typer(help="Fetch market data into the cache, list it, clear it.", no_args_is_help=True)


def _options(pairs: list[str]) -> dict[str, Any]:
    """``["adjusted=true", "limit=5"]`` -> ``{"adjusted": True, "limit": 5}`` (JSON values, else strings)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--option must look like name=value, got {pair!r}")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            options[name] = value
    return options


@app.command("fetch")
def fetch(
    source: str = typer.Argument(..., help="Data source name (see `fintrade plugins --hook data_sources`)."),
    symbols: list[str] = typer.Argument(..., help="One or more symbols, e.g. AAPL MSFT or BTC/USDT:USDT."),
    interval: str = typer.Option("1d", "--interval", "-i", help="Bar interval: 1m, 5m, 15m, 1h, 4h, 1d, ..."),
    start: str | None = typer.Option(None, "--start", help="First bar (inclusive), e.g. 2020-01-01."),
    end: str | None = typer.Option(None, "--end", help="End of the range (exclusive); default: now."),
    option: list[str] = typer.Option([], "--option", "-o", help="Source option name=value (repeatable)."),
) -> None:
    """Download bars into the cache (only what is not cached yet), one symbol at a time."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fintrade.bars import to_utc_timestamp, validate_bars
    from fintrade.calls import call_plugin
    from fintrade.registry import get_registry
    from fintrade.types import BarsRequest

    data_source = get_registry().data_sources.get(source)
    options = _options(option)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{source} {interval}", total=len(symbols))
        for symbol in symbols:
            progress.update(task, description=f"{source} {symbol} {interval}")
            request = BarsRequest((symbol,), interval, to_utc_timestamp(start), to_utc_timestamp(end), options)
            bars = call_plugin(f"data source {source!r}", data_source.load, request)
            if symbol not in bars:
                raise ConfigError(f"data source {source!r} returned no bars for {symbol!r}")
            frame = validate_bars(bars[symbol], f"source {source!r}, symbol {symbol!r}")
            progress.advance(task)
            console.print(f"{symbol}: {len(frame)} bars, {frame.index[0]} to {frame.index[-1]}")


@app.command("list")
def list_cached(as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON.")) -> None:
    """Show what is cached: source, symbol, interval, adjustment, range, rows, size."""
    from fintrade.cache import BarCache, cache_root

    entries = BarCache().entries()
    rows = [
        {
            "source": e.key.source,
            "symbol": e.key.symbol,
            "interval": e.key.interval,
            "adjustment": e.key.adjustment,
            "start": None if e.start is None or str(e.start) == "NaT" else e.start.isoformat(),
            "end": None if e.end is None or str(e.end) == "NaT" else e.end.isoformat(),
            "rows": e.rows,
            "size_bytes": e.size_bytes,
            "path": str(e.path),
        }
        for e in entries
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fintrade cache: {cache_root()}", title_justify="left")
    for column in ("source", "symbol", "interval", "adj.", "from", "to", "rows", "size"):
        table.add_column(column, justify="right" if column in ("rows", "size") else "left")
    for entry, row in zip(entries, rows, strict=True):
        span = [str(row[k] or "corrupt")[:16].replace("T", " ") for k in ("start", "end")]
        key = entry.key
        size = f"{entry.size_bytes / 1024:.0f} KiB"
        table.add_row(key.source, key.symbol, key.interval, key.adjustment, *span, str(entry.rows), size)
    Console().print(table)


@app.command("clear")
def clear(
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    symbol: str | None = typer.Option(None, "--symbol", help="Only this symbol."),
    interval: str | None = typer.Option(None, "--interval", help="Only this interval."),
) -> None:
    """Delete cached series (all of them, or those matching every filter given)."""
    from fintrade.cache import BarCache

    removed = BarCache().clear(source=source, symbol=symbol, interval=interval)
    typer.echo(f"removed {removed} cached series")
