"""The root Typer app: global options, error handling, and plugin-contributed commands.

Startup stays light: commands import their heavy modules (pandas, vectorbt) inside the
command function, so ``fintrade --help`` imports neither.
"""

from __future__ import annotations

import os
import sys
import warnings

import typer

from fintrade import __version__
from fintrade.cli import backtest_cmd, check_cmd, data_cmd, plugin_cmd, plugins_cmd, trials_cmd
from fintrade.errors import FintradeError

app = typer.Typer(
    name="fintrade",
    help="Plugin-based trading research: backtest strategy files, fine-tune models, manage plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fintrade {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the fintrade version and exit."
    ),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full traceback when a command fails."),
    offline: bool = typer.Option(
        False, "--offline", help="Never touch the network: fail clearly when data is not cached."
    ),
) -> None:
    """Plugin-based trading research: backtest strategy files, fine-tune models, manage plugins."""
    if offline:
        # Read by fintrade.cache.offline_mode(), wherever a source fetches.
        os.environ["FINTRADE_OFFLINE"] = "1"


app.command("plugins")(plugins_cmd.plugins)
app.command("backtest")(backtest_cmd.backtest)
app.command("check")(check_cmd.check)
app.add_typer(data_cmd.app, name="data")
app.add_typer(trials_cmd.app, name="trials")
app.add_typer(plugin_cmd.app, name="plugin")


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    print(f"warning: {message}", file=sys.stderr)


def _register_plugin_commands() -> None:
    """Let each plugin add its commands; one that fails is reported and skipped (strict: raised)."""
    from fintrade.registry import get_plugin_manager

    for _ in get_plugin_manager().call_each("fintrade_register_commands", app=app):
        pass


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: one clear line and exit 1 on a FintradeError."""
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args
    warnings.showwarning = _show_plugin_warning
    try:
        _register_plugin_commands()
        app(args=args, prog_name="fintrade", standalone_mode=True)
    except FintradeError as exc:
        if show_traceback:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
