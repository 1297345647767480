"""``fintrade plugins``: which plugins are loaded, from where, and what they provide."""

from __future__ import annotations

import json
from typing import Any

import typer

from fintrade.errors import ConfigError, did_you_mean


def describe_plugins(all_plugins: bool = False, hook: str | None = None) -> list[dict[str, Any]]:
    """One dict per plugin: name, version, source, status, distribution, plugin_api, hooks, provides, error.

    ``plugin_api`` is the plugin API range the plugin declares (``fintrade_plugin_api``), or
    ``None`` when it declares none (the built-ins go with fintrade's own).
    """
    from fintrade import hookspecs
    from fintrade.registry import HOOKS, get_plugin_manager

    pm = get_plugin_manager()
    hook_names = [name for name in vars(hookspecs) if name.startswith("fintrade_")]
    if hook is not None:
        wanted = hook if hook.startswith("fintrade_") else f"fintrade_{hook.replace('-', '_')}"
        if wanted not in hook_names:
            raise ConfigError(
                f"unknown hook {hook!r}{did_you_mean(wanted, hook_names)}; hooks: {', '.join(hook_names)}"
            )
        hook = wanted
    record_hooks = {hook_name: attr for attr, (hook_name, _) in HOOKS.items()}
    rows = []
    for name, info in pm.infos.items():
        if info.status == "disabled" and not all_plugins:
            continue
        if hook is not None and hook not in info.hooks:
            continue
        provides: dict[str, list[str]] = {}
        plugin = pm.get_plugin(name)
        if plugin is not None and info.status == "ok":
            for hook_name in info.hooks:
                if hook_name not in record_hooks:
                    continue
                try:
                    records = list(getattr(plugin, hook_name)() or ())
                    provides[record_hooks[hook_name]] = sorted(str(getattr(r, "name", r)) for r in records)
                except Exception as exc:  # reported, not raised: this command is for debugging
                    provides[record_hooks[hook_name]] = [f"<failed: {type(exc).__name__}: {exc}>"]
        rows.append(
            {
                "name": name,
                "version": info.version,
                "source": info.source,
                "status": info.status,
                "distribution": info.distribution,
                "plugin_api": info.plugin_api or None,
                "hooks": info.hooks,
                "provides": provides,
                "error": info.error,
            }
        )
    return rows


KIND_OF_HOOK = {
    "fintrade_data_sources": "data-source",
    "fintrade_text_sources": "text-source",
    "fintrade_datasets": "dataset",
    "fintrade_adapter_methods": "adapter-method",
    "fintrade_signal_models": "signal-model",
    "fintrade_aggregators": "aggregator",
    "fintrade_cost_presets": "cost-preset",
    "fintrade_register_commands": "command",
}
"""The kind a plugin is listed as for each hook it implements (the kinds of ``fintrade plugin new``)."""


def _first_line(text: str | None) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def _summary(name: str, distribution: str, source: str) -> str:
    """A plugin's one-line description: its distribution's ``Summary``, else its module docstring."""
    import importlib.metadata as metadata

    from fintrade.registry import get_plugin_manager

    if source == "entry point" and distribution:
        try:
            summary = str(metadata.distribution(distribution).metadata.json.get("summary") or "")
        except metadata.PackageNotFoundError:
            summary = ""
        if summary.strip() and summary.strip() != "UNKNOWN":
            return summary.strip()
    return _first_line(getattr(get_plugin_manager().get_plugin(name), "__doc__", None))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "-"


def plugin_directory(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``rows``: plugin, distribution, version, kinds, description, plugin API.

    Descriptions come from package metadata (the ``Summary`` of the distribution), the plugin
    API from the plugin's ``fintrade_plugin_api`` (built-ins go with fintrade's own). Both
    ``fintrade plugins --markdown`` and the documentation site's plugin directory page print it.
    """
    from fintrade.api import PLUGIN_API

    lines = [
        "| plugin | distribution | version | kinds | description | plugin API | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        api = PLUGIN_API if row["source"] == "builtin" else row["plugin_api"] or "not declared"
        kinds = ", ".join(KIND_OF_HOOK.get(hook, hook.removeprefix("fintrade_")) for hook in row["hooks"])
        cells = [
            f"`{row['name']}`",
            row["distribution"],
            row["version"],
            kinds,
            _summary(row["name"], row["distribution"], row["source"]),
            api,
            row["status"],
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    markdown: bool = typer.Option(
        False, "--markdown", help="Print a Markdown table for a plugin directory: kinds, description, plugin API."
    ),
    all_plugins: bool = typer.Option(False, "--all", help="Include disabled plugins."),
    hook: str | None = typer.Option(None, "--hook", help="Only plugins implementing this hook (e.g. data_sources)."),
) -> None:
    """List plugins: name, version, source (builtin, entry point, strategy file), status and hooks."""
    if as_json and markdown:
        raise ConfigError("--json and --markdown cannot be combined; choose one")
    rows = describe_plugins(all_plugins, hook)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if markdown:
        typer.echo(plugin_directory(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="fintrade plugins")
    for column in ("name", "version", "source", "status", "hooks: what they provide"):
        table.add_column(column)
    for row in rows:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in row["provides"].items())
        if row["error"]:
            provides = f"[red]{row['error']}[/red]"
        elif "fintrade_register_commands" in row["hooks"]:
            provides = "; ".join(filter(None, [provides, "register_commands"]))
        status = {
            "ok": "[green]ok[/green]",
            "failed": "[red]failed[/red]",
            "incompatible": "[yellow]incompatible[/yellow]",
        }.get(row["status"], row["status"])
        table.add_row(row["name"], row["version"], row["source"], status, provides)
    Console().print(table)
