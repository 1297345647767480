"""Meta-tests that keep the docs' promises: every hook and record documented, every command too."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import fintrade.types
from fintrade import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_hook_is_documented_and_typed() -> None:
    text = (DOCS / "hooks.md").read_text()
    hooks = [name for name in vars(hookspecs) if name.startswith("fintrade_")]
    assert len(hooks) >= 8
    for name in hooks:
        function = getattr(hookspecs, name)
        assert f"### `{name}(" in text, f"{name} missing from docs/hooks.md"
        assert function.__doc__ and "Example::" in function.__doc__, f"{name} needs a docstring with an example"
        assert "return" in function.__annotations__, f"{name} needs a return type"


def test_every_record_is_documented() -> None:
    text = (DOCS / "hooks.md").read_text()
    records = [
        obj.__name__
        for obj in vars(fintrade.types).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == "fintrade.types"
    ]
    for name in records:
        assert f"### `{name}`" in text, f"{name} missing from docs/hooks.md"


def test_every_command_is_documented() -> None:
    from fintrade.cli.main import app

    text = (DOCS / "cli.md").read_text()
    names = [command.name or command.callback.__name__ for command in app.registered_commands]  # type: ignore[union-attr]
    for group in app.registered_groups:
        names += [f"{group.name} {c.name or c.callback.__name__}" for c in group.typer_instance.registered_commands]  # type: ignore[union-attr]
    for name in names:
        assert f"fintrade {name}" in text, f"`fintrade {name}` missing from docs/cli.md"
