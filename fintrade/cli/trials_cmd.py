"""``fintrade trials``: the trial ledger each strategy's Deflated Sharpe Ratio counts (fintrade.trials)."""

from __future__ import annotations

import json

import typer

app = typer.Typer(
    help="The trial ledger: every combination a strategy was judged on, across runs, on the same data.",
    no_args_is_help=True,
)


@app.command("list")
def list_trials(as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON.")) -> None:
    """Show each strategy's ledger: trials counted, runs, the data they were made on, when."""
    from fintrade.trials import TrialLedger

    ledger = TrialLedger()
    entries = ledger.entries()
    if as_json:
        typer.echo(json.dumps([entry.to_dict() for entry in entries], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fintrade trial ledger: {ledger.root}", title_justify="left")
    for column in ("strategy", "file", "trials", "runs", "data", "first run", "last run"):
        table.add_column(column, justify="right" if column in ("trials", "runs") else "left")
    for entry in entries:
        table.add_row(
            entry.strategy,
            entry.strategy_file,
            f"{entry.trials:,}",
            str(entry.runs),
            entry.data_hash[:12],
            entry.first_run.replace("T", " ")[:16],
            entry.last_run.replace("T", " ")[:16],
        )
    Console().print(table if entries else f"no trials recorded under {ledger.root}")


@app.command("clear")
def clear(
    strategy: str | None = typer.Option(None, "--strategy", help="Only this strategy (its class name)."),
) -> None:
    """Forget recorded trials (all of them, or one strategy's): the next run counts from zero."""
    from fintrade.trials import TrialLedger

    removed = TrialLedger().clear(strategy)
    typer.echo(f"removed {removed} trial ledger{'s' if removed != 1 else ''}")
