"""``fintrade backtest STRATEGY.py[:Class]``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer


def strategy_parameters(strategy: Any) -> dict[str, Any]:
    """The declarative settings of a strategy, JSON-ready, for manifests."""
    from dataclasses import asdict, is_dataclass

    def plain(value: Any) -> Any:
        if is_dataclass(value) and not isinstance(value, type):
            return asdict(value)
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in dict(value).items()}
        if isinstance(value, list | tuple | range):
            return [plain(v) for v in value]
        return value

    from fintrade.strategy import SETTINGS

    # The result reports min_annualised_years at its top level, beside the figures it flags.
    names = [name for name in SETTINGS if name != "min_annualised_years"]
    return {name: plain(getattr(strategy, name)) for name in names}


def backtest(
    strategy: str = typer.Argument(..., help="Strategy file, optionally with a class: path.py[:ClassName]."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON (stable keys) instead of tables."),
    report: Path | None = typer.Option(None, "--report", help="Write a self-contained HTML report here."),
    save: Path | None = typer.Option(None, "--save", help="Write the JSON results to this file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    max_memory: str | None = typer.Option(
        None,
        "--max-memory",
        help="Memory budget the sweep's blocks are sized to (8G, 512M); default FINTRADE_MAX_MEMORY, else half RAM.",
    ),
    executor: str | None = typer.Option(
        None,
        "--executor",
        help="Where the sweep runs: local, processes (this machine's cores) or ray; default the strategy's "
        "executor, else FINTRADE_EXECUTOR, else local.",
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="The Ray cluster to join (auto, host:port); implies --executor ray."
    ),
) -> None:
    """Backtest a strategy: splits, walk-forward, regimes and cost sensitivity, after costs."""
    import dataclasses
    import os

    from rich.console import Console

    from fintrade.cli.plugins_cmd import describe_plugins
    from fintrade.comparison import run_with_baselines
    from fintrade.evaluation import run_backtest
    from fintrade.executors import executor_from
    from fintrade.loading import load_strategy
    from fintrade.manifest import build_manifest, manifest_path, write_json_atomic
    from fintrade.plugin_manager import register_module_plugin
    from fintrade.registry import Registry, get_plugin_manager

    if max_memory is not None:
        from fintrade.sweep import parse_memory

        parse_memory(max_memory, "--max-memory")
        # The sweep reads the budget where it checks it, however the backtest was started.
        os.environ["FINTRADE_MAX_MEMORY"] = max_memory
    console = Console(stderr=True, quiet=quiet)
    loaded = load_strategy(strategy)
    pm = get_plugin_manager()
    if loaded.has_inline_plugin:
        register_module_plugin(pm, loaded.module, str(loaded.path), "strategy file")
    registry = Registry(pm)
    # The command line wins over the strategy's setting: --ray-address alone means ray.
    chosen = executor if executor is not None or ray_address is not None else loaded.strategy.executor
    runner = executor_from(chosen, ray_address)
    with console.status("backtesting") as status:
        result, _ = run_with_baselines(
            loaded.strategy,
            registry,
            lambda strategy: run_backtest(
                strategy, registry, progress=lambda stage: status.update(stage), executor=runner
            ),
        )
    manifest = build_manifest(
        strategy_path=loaded.path,
        strategy_name=result.strategy,
        plugins=describe_plugins(),
        data_hashes=result.data_hashes,
        parameters={**strategy_parameters(loaded.strategy), "executor": runner.describe(), "chosen": result.chosen},
        seed=loaded.strategy.seed,
    )
    result = dataclasses.replace(result, manifest=manifest)
    payload = {**result.to_dict(), "manifest": manifest.to_dict()}
    if save is not None:
        write_json_atomic(save, payload)
        write_json_atomic(manifest_path(save), manifest.to_dict())
    if report is not None:
        from fintrade.report import write_report

        write_report(result, report)
        write_json_atomic(manifest_path(report), manifest.to_dict())
        console.print(f"report written to {report}")
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        from fintrade.cli.summary import print_summary

        print_summary(result, Console())
