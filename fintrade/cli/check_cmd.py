"""``fintrade check STRATEGY.py[:Class]``: the truncation test for lookahead."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from fintrade.check import CheckResult

#: Rows shown in the console table; --json has them all.
MAX_ROWS = 40


def _number(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.6g}"


def _moment(text: str) -> str:
    """An ISO timestamp as ``YYYY-MM-DD``, with ``HH:MM`` only when it is not midnight."""
    day, _, time = text.partition("T")
    return day if time[:5] in ("", "00:00") else f"{day} {time[:5]}"


def _params(params: dict[str, Any]) -> str:
    from fintrade.cli.summary import params_text

    return params_text(params) if params else ""


def _cut_kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in kinds.items())


def print_check(result: CheckResult, console: Any) -> None:
    """What was checked, the one-line verdict, any leak risk and, on leaks, a table naming each
    series, grid combination, symbol, first bar and cut."""
    from rich.table import Table

    colour = "green" if result.clean else "red"
    console.print(f"[bold]{result.strategy}[/bold]: {', '.join(result.symbols)} | {result.bars} bars")
    console.print(
        f"checked: {result.coverage} | {len(result.cuts)} cuts ({_cut_kinds(result.cut_kinds)}) | {result.isolation}",
        highlight=False,
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if result.leaks:
        for risk in result.risks:
            console.print(f"[red]leak risk:[/red] {risk}")
    console.print(f"[{colour}]{result.summary()}[/{colour}]")
    if not result.leaks:
        return
    table = Table(
        title="Values that change when the data is cut (first differing bar per series, combination and symbol)",
        title_justify="left",
        padding=(0, 1),
        pad_edge=False,
    )
    shown = result.leaks[:MAX_ROWS]
    with_grid = any(leak.combination for leak in shown)  # a column of blanks helps no one
    headers = ["series", *(["combination"] if with_grid else []), "symbol", "first bar", "cut at", "field"]
    for column in [*headers, "full history", "cut data", "cuts"]:
        numeric = column in ("full history", "cut data", "cuts")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column != "combination")
    for leak in shown:
        table.add_row(
            leak.series,
            *([f"#{leak.combination_number} {_params(leak.combination)}"] if with_grid else []),
            leak.symbol,
            _moment(leak.bar),
            _moment(leak.cut),
            leak.field,
            _number(leak.full),
            _number(leak.truncated),
            f"{leak.cuts_differing}/{len(result.cuts)}",
        )
    console.print(table)
    if len(result.leaks) > MAX_ROWS:
        console.print(f"... and {len(result.leaks) - MAX_ROWS} more (see --json)")


def check(
    strategy: str = typer.Argument(..., help="Strategy file, optionally with a class: path.py[:ClassName]."),
    cuts: int | None = typer.Option(
        None,
        "--cuts",
        help="How many cut bars: every bar of a short history, else warm-up, spread, calendar and event bars "
        "(default 64; 8 with --fast).",
    ),
    at: str | None = typer.Option(
        None, "--at", help="Cut at these dates (or times) instead, comma-separated: 2015-03-02,2016-01-04."
    ),
    fast: bool = typer.Option(
        False,
        "--fast",
        help="Quick mode: the first grid combination only, 8 cuts from the end of the warm-up, in this process.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON instead of tables."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Check a strategy for lookahead: recompute its signals on data cut at many bars and compare."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fintrade.check import run_check
    from fintrade.loading import load_strategy
    from fintrade.plugin_manager import register_module_plugin
    from fintrade.registry import Registry, get_plugin_manager

    moments = [part.strip() for part in at.split(",") if part.strip()] if at else None
    loaded = load_strategy(strategy)
    pm = get_plugin_manager()
    if loaded.has_inline_plugin:
        register_module_plugin(pm, loaded.module, str(loaded.path), "strategy file")
    registry = Registry(pm)
    console = Console(stderr=True, quiet=quiet)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # A bar in a terminal; in a log, one line per step (a live display there leaves blank lines).
    live = console.is_terminal and not quiet
    # Refreshed by hand, never by a thread: the check forks, and a fork copies a lock a thread holds.
    with Progress(*columns, console=console, transient=True, disable=not live, auto_refresh=False) as progress:
        task = progress.add_task("computing signals on the full history", total=None)

        def report(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=f"checked {what}")
            progress.refresh()
            if not live:
                console.print(f"checked {what} ({done}/{total})", highlight=False)

        result = run_check(loaded.strategy, registry, cuts=cuts, at=moments, fast=fast, progress=report)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        print_check(result, Console())
    if not result.clean:
        raise typer.Exit(1)
