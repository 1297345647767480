"""The documentation site builds offline in strict mode, with the generated references complete."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are not installed (the 'docs' extra)",
)


def _text(html: str) -> str:
    """The page's text: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or "mkdocs"
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--clean", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr[-4000:]
    return out


def test_every_page_in_the_nav_is_built(site: Path) -> None:
    for page in ("index", "getting-started", "strategies", "data", "training", "signals", "evaluation",
                 "cli", "scale", "plugins", "hooks", "benchmarks", "development", "cli-reference",
                 "hooks-reference", "plugin-directory"):  # fmt: skip
        assert (site / f"{page}.html").is_file(), page
    assert (site / "example-plugin" / "index.html").is_file()


def test_the_cli_reference_lists_every_command(site: Path) -> None:
    import typer

    from fintrade.cli import main

    main._register_plugin_commands()
    text = _text((site / "cli-reference.html").read_text(encoding="utf-8"))

    def walk(command: object, path: list[str]) -> None:
        name = " ".join(path)
        assert name in text, f"{name} missing from the CLI reference"
        if hasattr(command, "list_commands"):
            ctx = command.context_class(command, info_name=path[-1])  # type: ignore[attr-defined]
            for sub in command.list_commands(ctx):
                walk(command.get_command(ctx, sub), [*path, sub])  # type: ignore[attr-defined]

    walk(typer.main.get_command(main.app), ["fintrade"])
    for expected in ("fintrade backtest", "fintrade check", "fintrade trials list", "--offline"):
        assert expected in text


def test_the_hook_reference_documents_every_hookspec(site: Path) -> None:
    tree = ast.parse((ROOT / "fintrade" / "hookspecs.py").read_text(encoding="utf-8"))
    specs = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Name) and d.id == "hookspec" for d in node.decorator_list)
    ]
    assert specs
    text = _text((site / "hooks-reference.html").read_text(encoding="utf-8"))
    for spec in specs:
        assert spec.name in text, f"{spec.name} missing from the hook reference"
        # Compared word by word: markup splits "``evaluate``." into "evaluate ." in the text.
        first_line = (ast.get_docstring(spec) or "").splitlines()[0]
        assert _words(first_line) in _words(text), f"{spec.name}'s docstring missing from the hook reference"


def test_getting_started_is_the_readme(site: Path) -> None:
    html = (site / "getting-started.html").read_text(encoding="utf-8")
    assert "make demo" in html and "make test" in html and "make docs" in html
    assert 'href="evaluation.html"' in html


class _Tables(HTMLParser):
    """Every ``<table>`` of a page as rows of cell texts (header row included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


class _Links(HTMLParser):
    """Every link target (``href``) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.targets.append(dict(attrs).get("href") or "")


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.targets


def test_the_plugin_directory_lists_every_built_in_plugin_from_its_metadata(site: Path) -> None:
    import fintrade
    from fintrade.api import PLUGIN_API
    from fintrade.cli.plugins_cmd import KIND_OF_HOOK, describe_plugins

    html = (site / "plugin-directory.html").read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(html)
    [table] = parser.tables
    header, *rows = table
    assert header == ["plugin", "distribution", "version", "kinds", "description", "plugin API", "status"]
    listed = {row[0]: row for row in rows}
    built_ins = [row for row in describe_plugins() if row["source"] == "builtin"]
    assert {"fintrade_technical", "fintrade_datasets", "fintrade_adapters"} <= {row["name"] for row in built_ins}
    for plugin in built_ins:
        row = listed[plugin["name"]]
        kinds = ", ".join(KIND_OF_HOOK[hook] for hook in plugin["hooks"])
        assert row[1:4] == ["fintrade", fintrade.__version__, kinds], row
        assert row[4] and row[5:] == [PLUGIN_API, "ok"], row
    assert listed["fintrade_technical"][4].startswith("Technical signal models")
    # In the navigation, and it says how a published plugin gets listed.
    assert "plugin-directory.html" in _links((site / "index.html").read_text(encoding="utf-8"))
    assert "plugins.html#list-it-in-the-plugin-directory" in _links(html)
    assert "plugin-directory.html" in _links((site / "plugins.html").read_text(encoding="utf-8"))
