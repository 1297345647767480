"""The rich console summary of a backtest."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from fintrade.evaluation import BacktestResult

COLUMNS = (
    ("total_return", "return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"),
    ("max_drawdown", "max DD", "pct"),
    ("win_rate", "win", "pct"),
    ("trades", "trades", "int"),
    ("exposure", "exposure", "pct"),
    ("turnover", "turnover", "num"),
)


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "int":
        return f"{value:.0f}"
    return f"{value:.2f}"


def _metric_table(title: str, label: str, rows: list[tuple[str, dict[str, Any] | None]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    for name, metrics in rows:
        if metrics is None:
            table.add_row(name, *["–"] * len(COLUMNS))
        else:
            table.add_row(name, *(_format(metrics.get(key), kind) for key, _, kind in COLUMNS))
    return table


def print_summary(result: BacktestResult, console: Console) -> None:
    console.print(
        f"[bold]{result.strategy}[/bold]: {', '.join(result.symbols)} | {result.start[:10]} to {result.end[:10]} "
        f"| {result.bars} bars | {result.combinations} combination(s), chosen on train by {result.objective}: "
        f"{result.chosen}"
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    split_rows: list[tuple[str, dict[str, Any] | None]] = []
    for split, row in result.splits.items():
        split_rows += [(f"{split} strategy", row["strategy"]), (f"{split} buy & hold", row["benchmark"])]
    console.print(_metric_table("Splits (parameters chosen on train)", "split", split_rows))
    if result.walk_forward:
        wf = result.walk_forward
        fold_rows: list[tuple[str, dict[str, Any] | None]] = [
            (f"fold {f['fold']} {f['out_of_sample']['start'][:10]} {f['params']}", f["strategy"]) for f in wf["folds"]
        ]
        fold_rows += [("stitched out-of-sample", wf["stitched"]), ("buy & hold", wf["benchmark"])]
        console.print(_metric_table(f"Walk-forward ({wf['mode']}, out of sample)", "fold", fold_rows))
    regime_rows: list[tuple[str, dict[str, Any] | None]] = []
    for regime, row in result.regimes["table"].items():
        regime_rows += [
            (f"{regime} ({row['bars']} bars) strategy", row["strategy"]),
            (f"{regime} buy & hold", row["benchmark"]),
        ]
    console.print(_metric_table(f"Regimes (on {result.regimes['evaluated_on']} bars)", "regime", regime_rows))
    cost_rows: list[tuple[str, dict[str, Any] | None]] = []
    for row in result.cost_sensitivity:
        cost_rows.append((f"{row['multiplier']:g}x costs, test", row["test"]))
        if "walk_forward" in row:
            cost_rows.append((f"{row['multiplier']:g}x costs, walk-forward", row["walk_forward"]))
    console.print(_metric_table("Cost sensitivity", "costs", cost_rows))
