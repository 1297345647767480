"""The rich console summary of a backtest."""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table

from fintrade.evaluation import BacktestResult
from fintrade.inference import SignificanceResult
from fintrade.metrics import ANNUALISED
from fintrade.regimes import WARMUP
from fintrade.results import KnowledgeCutoff, WindowMetrics

#: Shown instead of an annualised figure over a window too short for it to mean anything.
NOT_MEANINGFUL = "n/m"

# Short headers keep the tables readable in an 80-column terminal.
COLUMNS = (
    ("total_return", "return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("max_drawdown", "maxDD", "pct"),
    ("win_rate", "win", "pct"),
    ("trades", "trades", "int"),
    ("exposure", "expo", "pct"),
)


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "int":
        return f"{value:.0f}"
    return f"{value:.2f}"


def params_text(params: dict[str, Any]) -> str:
    """``{"sma-cross.fast": 5}`` -> ``fast=5``; the signal label stays when two signals share a name."""
    short = [name.rpartition(".")[2] for name in params]
    names = short if len(set(short)) == len(short) else list(params)
    return " ".join(f"{name}={value}" for name, value in zip(names, params.values(), strict=True))


def _cell(metrics: WindowMetrics, key: str, kind: str) -> str:
    if key in ANNUALISED and not metrics.annualised_meaningful and metrics.get(key) is not None:
        return NOT_MEANINGFUL
    return _format(metrics.get(key), kind)


def _metric_table(title: str, label: str, rows: list[tuple[str, WindowMetrics | None]]) -> Table:
    table = Table(title=title, title_justify="left", padding=(0, 1), pad_edge=False)
    table.add_column(label, no_wrap=True)
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    short = False
    for name, metrics in rows:
        if metrics is None:
            table.add_row(name, *["–"] * len(COLUMNS))
        else:
            table.add_row(name, *(_cell(metrics, key, kind) for key, _, kind in COLUMNS))
            short |= not metrics.annualised_meaningful
    if short:
        table.caption = f"{NOT_MEANINGFUL}: annualised over a window shorter than min_annualised_years"
        table.caption_justify = "left"
    return table


def _print(console: Console, renderable: RenderableType) -> None:
    """Print in full: piped or logged output gets the width a table needs, and lines do not wrap.

    A terminal keeps its own width; anything else (a file, a pipe, a CI log) has no width to
    respect, and rich would otherwise squeeze the tables to 80 columns and cut headers short.
    """
    if console.is_terminal or isinstance(renderable, str):
        console.print(renderable, soft_wrap=not console.is_terminal)
        return
    needed = console.measure(renderable, options=console.options.update_width(10_000)).maximum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(renderable)
    finally:
        console.width = width


WINDOW_NAMES = {"test": "test", "walk_forward": "wf stitched"}


def print_cutoff(cutoff: KnowledgeCutoff, console: Console) -> None:
    """The knowledge-cutoff flag: how many evaluated bars a model may have seen past, and the
    headline metrics with and without them."""
    windows = cutoff.windows
    sentence_names = {"test": "test", "walk_forward": "walk-forward out-of-sample"}
    counts = ", ".join(
        f"{row.flagged_bars} of {row.bars} {sentence_names.get(name, name)} bars" for name, row in windows.items()
    )
    _print(
        console,
        f"[yellow]knowledge cutoff:[/yellow] a signal model was trained on data up to {cutoff.cutoff[:10]}; "
        f"{counts} fall at or before it (the model may have seen what came next)",
    )
    rows: list[tuple[str, WindowMetrics | None]] = []
    for name, row in windows.items():
        label = WINDOW_NAMES.get(name, name)
        rows += [
            (f"{label}, all bars", row.all_bars),
            (f"{label}, after cutoff", row.after_cutoff),
            (f"{label} b&h, after", row.benchmark_after_cutoff),
        ]
    _print(console, _metric_table("Knowledge cutoff: with and without the flagged bars", "window", rows))


def print_summary(result: BacktestResult, console: Console) -> None:
    _print(
        console,
        f"[bold]{result.strategy}[/bold]: {', '.join(result.symbols)} | {result.start[:10]} to {result.end[:10]} "
        f"| {result.bars} bars | {result.combinations} combination(s) | selection objective: {result.objective} "
        f"(best on train: {params_text(result.chosen)})",
    )
    for warning in result.warnings:
        _print(console, f"[yellow]warning:[/yellow] {warning}")
    if result.knowledge_cutoff:
        print_cutoff(result.knowledge_cutoff, console)
    if result.comparison:
        window = {"walk-forward": "walk-forward out-of-sample", "test": "test"}[result.comparison.evaluated_on]
        compared: list[tuple[str, WindowMetrics | None]] = [
            (f"{row.name} ({row.kind})", row.metrics) for row in result.comparison.rows
        ]
        _print(console, _metric_table(f"Side by side, on the {window} bars", "series", compared))
    split_rows: list[tuple[str, WindowMetrics | None]] = []
    for split, row in result.splits.items():
        split_rows += [(split, row.strategy), (f"{split} b&h", row.benchmark)]
    _print(console, _metric_table("Splits (parameters chosen on train)", "split", split_rows))
    if result.walk_forward:
        wf = result.walk_forward
        fold_rows: list[tuple[str, WindowMetrics | None]] = [(f"fold {f.fold}", f.strategy) for f in wf.folds]
        fold_rows += [("stitched", wf.stitched), ("b&h", wf.benchmark)]
        _print(console, _metric_table(f"Walk-forward ({wf.mode}), out of sample", "fold", fold_rows))
        for fold in wf.folds:
            start, end = (fold.out_of_sample.start or "")[:10], (fold.out_of_sample.end or "")[:10]
            _print(console, f"  fold {fold.fold}: {start} to {end} with {params_text(fold.params)}")
    regime_rows: list[tuple[str, WindowMetrics | None]] = []
    for regime, regime_row in result.regimes.rows.items():
        name = "warm-up" if regime == WARMUP else regime
        regime_rows += [(f"{name} ({regime_row.bars})", regime_row.strategy), (f"{name} b&h", regime_row.benchmark)]
    evaluated_on = {"walk_forward": "walk-forward out-of-sample", "test": "test"}[result.regimes.evaluated_on]
    _print(console, _metric_table(f"Regimes, on the {evaluated_on} bars", "regime", regime_rows))
    cost_rows: list[tuple[str, WindowMetrics | None]] = []
    for cost in result.cost_sensitivity:
        cost_rows.append((f"{cost.multiplier:g}x test", cost.test))
        if cost.walk_forward is not None:
            cost_rows.append((f"{cost.multiplier:g}x wf", cost.walk_forward))
    _print(console, _metric_table("Cost sensitivity (test split, walk-forward)", "costs", cost_rows))
    if result.per_symbol:
        symbol_rows: list[tuple[str, WindowMetrics | None]] = list(result.per_symbol.items())
        window = EVALUATED_NAMES[result.evaluated_on]
        _print(console, _metric_table(f"Per symbol, on the {window} bars", "symbol", symbol_rows))
    if result.significance is not None:
        print_significance(result.significance, console)


EVALUATED_NAMES = {"walk_forward": "walk-forward out-of-sample", "test": "test"}


def _interval(significance: SignificanceResult, name: str, kind: str) -> str:
    interval = significance.bootstrap.get(name)
    if interval is None or interval.low is None or interval.high is None:
        return "–"
    return f"[{_format(interval.low, kind)}, {_format(interval.high, kind)}]"


def print_significance(significance: SignificanceResult, console: Console) -> None:
    """Whether the edge survives the search: the figures, then the verdict in plain words."""
    window = EVALUATED_NAMES[significance.evaluated_on]
    confidence = f"{significance.confidence:.0%}"
    table = Table(
        title=f"Significance, on the {window} returns ({significance.observations} bars)",
        title_justify="left",
        padding=(0, 1),
        pad_edge=False,
    )
    table.add_column("statistic", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("reading", no_wrap=True)
    deflation, overfitting, check = significance.deflation, significance.overfitting, significance.reality_check
    years = significance.min_track_record_years
    table.add_row(
        "Sharpe",
        _format(significance.sharpe, "num"),
        f"{confidence} bootstrap interval {_interval(significance, 'sharpe', 'num')}",
    )
    for name, label in (("cagr", "CAGR"), ("max_drawdown", "maxDD")):
        table.add_row(label, _interval(significance, name, "pct"), f"{confidence} stationary-bootstrap interval")
    table.add_row(
        "PSR",
        _format(significance.psr, "num"),
        f"P(true Sharpe > {significance.benchmark_sharpe:g}); skew {_format(significance.skewness, 'num')}, "
        f"kurtosis {_format(significance.kurtosis, 'num')}",
    )
    table.add_row(
        "MinTRL",
        "–" if years is None else f"{years:.1f}y",
        f"track record needed for {confidence} confidence (have {significance.observations:,} bars, "
        f"{significance.observations / significance.periods_per_year:.1f}y)",
    )
    table.add_row(
        "Deflated Sharpe",
        _format(deflation.value, "num"),
        f"{deflation.trials:,} trials in the ledger ({deflation.this_run:,} this run, {deflation.runs} run(s))",
    )
    table.add_row(
        "PBO",
        _format(overfitting.value, "num"),
        overfitting.reason or f"CSCV, {overfitting.partitions} partitions, {overfitting.splits:,} splits",
    )
    if check is not None:
        table.add_row(
            "SPA p-value",
            _format(check.spa_pvalue, "num"),
            f"any of {check.models:,} combinations beats buy-and-hold? (Reality Check p "
            f"{_format(check.reality_check_pvalue, 'num')})",
        )
    _print(console, table)
    _print(console, f"[bold]verdict:[/bold] {significance.verdict}")
