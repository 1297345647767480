"""``fintrade plugin new NAME --kind KIND``: a ready-to-publish plugin package (fintrade.scaffold)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Write a new plugin package, ready to install, test and publish.", no_args_is_help=True)


@app.command("new")
def new(
    name: str = typer.Argument(..., help="The plugin's name, e.g. my-signal (package fintrade-my-signal)."),
    kind: str = typer.Option(
        ...,
        "--kind",
        help="data-source, text-source, signal-model, aggregator, adapter-method, dataset or command.",
    ),
    directory: Path = typer.Option(Path("."), "--directory", "-d", help="Where to write the package folder."),
) -> None:
    """Generate a plugin package: pyproject (entry point, classifier), implementation, tests, README, CI."""
    from fintrade.scaffold import new_plugin

    made = new_plugin(name, kind, directory)
    typer.echo(f"wrote {made.folder} ({len(made.files)} files): the {made.kind} plugin {made.name!r}")
    for file in made.files:
        typer.echo(f"  {file}")
    typer.echo(f"next: cd {made.folder} && pip install -e '.[test]' && pytest && fintrade plugins")
