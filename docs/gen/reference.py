"""mkdocs hooks (``hooks:`` in mkdocs.yml): the pages generated from the code at build time.

None of these pages exists in docs/, so none can drift from what it describes:

- the CLI reference walks the click command tree of ``fintrade.cli.main.app`` (plugin commands
  included, as ``fintrade`` itself registers them);
- the hook reference reads every hookspec in ``fintrade/hookspecs.py``: signature and docstring;
- getting started is the README, its ``docs/`` links made relative to the site;
- strategies lists every file in ``strategies/`` with its docstring and source;
- the plugin directory is ``fintrade plugins --markdown`` for the plugins installed where the
  site is built: one row each from its package metadata (name, kinds, description, plugin API
  versions supported, version).

Pages in docs/ link to source files outside it (``../fintrade/alignment.py``), which work on
GitHub but not in the site: those links become the file's path in code font.
"""

from __future__ import annotations

import ast
import inspect
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

CLI_PAGE = "cli-reference.md"
HOOKS_PAGE = "hooks-reference.md"
README_PAGE = "getting-started.md"
STRATEGIES_PAGE = "strategies.md"
DIRECTORY_PAGE = "plugin-directory.md"
ROOT = Path(__file__).resolve().parents[2]

# A Markdown inline link: [text](target), target without spaces or a closing parenthesis.
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def _command_section(command: Any, path: list[str], out: list[str]) -> None:
    name = " ".join(path)
    # Typer vendors its own click: the tree is walked by duck typing, not isinstance.
    ctx = command.context_class(command, info_name=path[-1])
    level = "#" * min(len(path) + 1, 6)
    out.append(f"{level} `{name}`\n")
    help_text = inspect.cleandoc(command.help or command.short_help or "")
    if help_text:
        out.append(help_text.replace("\b\n", "") + "\n")
    usage = " ".join(command.collect_usage_pieces(ctx))
    out.append(f"```text\n{name} {usage}\n```\n")
    rows = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            names = f"`{(param.metavar or param.name or '').upper()}`"
            kind = "argument"
            helptext = getattr(param, "help", None) or ""
        else:
            record = param.get_help_record(ctx)
            if record is None:
                continue
            names = ", ".join(f"`{n}`" for n in param.opts + param.secondary_opts)
            kind = "option"
            helptext = record[1]
        helptext = " ".join(str(helptext).split()).replace("|", "\\|")
        rows.append(f"| {names} | {kind} | {helptext} |")
    if rows:
        out.append("| name | kind | help |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    if hasattr(command, "list_commands"):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                _command_section(sub, [*path, sub_name], out)


def cli_reference() -> str:
    """The CLI reference page, from the command tree ``fintrade`` runs."""
    import typer

    from fintrade.cli import main

    main._register_plugin_commands()
    root = typer.main.get_command(main.app)
    out = [
        "# CLI reference\n",
        "Generated at build time from the command tree of `fintrade` itself (the installed "
        "plugins' commands included), so it cannot drift from `fintrade --help`. The guides: "
        "[the CLI](cli.md), [evaluation and the check](evaluation.md).\n",
    ]
    _command_section(root, ["fintrade"], out)
    return "\n".join(out)


def hooks_reference() -> str:
    """The hook reference page, from the hookspecs' signatures and docstrings."""
    from fintrade import hookspecs

    out = [
        "# Hook reference\n",
        "Generated at build time from the docstrings in `fintrade/hookspecs.py`. "
        "[Hooks](hooks.md) explains how they are called; [plugins](plugins.md) is the tutorial.\n",
    ]
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if not hasattr(func, f"{hookspecs.PROJECT_NAME}_spec"):
            continue
        signature = str(inspect.signature(func)).replace("'", "")
        doc = inspect.getdoc(func) or ""
        # reST literal blocks ("Example::") become fenced Python blocks.
        lines, in_code = [], False
        for line in doc.splitlines():
            if in_code and line and not line.startswith(" "):
                lines.append("```")
                in_code = False
            if line.rstrip().endswith("::") and not in_code:
                lines.append(line.rstrip()[:-1] + "\n\n```python")
                in_code = True
                continue
            if in_code and not line and lines[-1].endswith("```python"):
                continue
            lines.append(line[4:] if in_code else line.replace(":class:", ""))
        if in_code:
            lines.append("```")
        out.append(f"## `{name}`\n\n```python\ndef {name}{signature}\n```\n\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


def readme_page() -> str:
    """The README as the getting-started page: links into docs/ made relative to the site."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")

    def relink(match: re.Match[str]) -> str:
        label, target = match.groups()
        if target.startswith("docs/"):
            target = target.removeprefix("docs/")
            if not target.endswith(".md") and "#" not in target:
                target += "/README.md"  # a folder: its README is the folder's page
            return f"[{label}]({target})"
        return match.group(0)

    return _LINK.sub(relink, text)


def strategies_page() -> str:
    """Every strategy file in strategies/: its docstring, then its source."""
    out = [
        "# Strategies\n",
        "The strategy files in `strategies/`, each runnable offline with `fintrade backtest`; "
        "generated at build time from the files themselves. How to write one: "
        "[the user guide](index.md#writing-a-strategy-file).\n",
    ]
    for path in sorted((ROOT / "strategies").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(source)) or ""
        out.append(f"## `strategies/{path.name}`\n\n{doc}\n")
        out.append(f'??? example "Source of {path.name}"\n\n    ```python\n')
        out.append("\n".join(f"    {line}" if line else "" for line in source.splitlines()))
        out.append("    ```\n")
    return "\n".join(out)


def plugin_directory_page() -> str:
    """The plugin directory: the table of ``fintrade plugins --markdown``, for the installed plugins."""
    from fintrade.cli.plugins_cmd import describe_plugins, plugin_directory

    return "\n".join(
        [
            "# Plugin directory\n",
            "The fintrade plugins installed where this site was built, one row each, generated at build "
            "time from their package metadata by the code behind `fintrade plugins --markdown`: the "
            "distribution and its version, the kinds it provides (the hooks it implements), its "
            "description (the distribution's summary; a built-in's module docstring), the "
            "[plugin API versions](plugins.md#the-plugin-api-version) it supports and its status. "
            "How a published plugin gets listed: "
            "[list it in the plugin directory](plugins.md#list-it-in-the-plugin-directory).\n",
            plugin_directory(describe_plugins()) + "\n",
        ]
    )


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages to the site."""
    pages = (
        (CLI_PAGE, cli_reference),
        (HOOKS_PAGE, hooks_reference),
        (README_PAGE, readme_page),
        (STRATEGIES_PAGE, strategies_page),
        (DIRECTORY_PAGE, plugin_directory_page),
    )
    for page, generate in pages:
        files.append(File.generated(config, page, content=generate()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Links from a docs page to a file outside docs/ become that file's path in code font."""
    docs_dir = Path(config["docs_dir"]).resolve()
    page_dir = posixpath.dirname(page.file.src_uri)

    def unlink(match: re.Match[str]) -> str:
        label, target = match.groups()
        if "://" in target or target.startswith(("#", "mailto:")):
            return match.group(0)
        resolved = (docs_dir / page_dir / target.split("#")[0]).resolve()
        if resolved.is_relative_to(docs_dir):
            return match.group(0)
        relative = resolved.relative_to(ROOT).as_posix()
        return label if label.strip("`") == relative else f"{label} (`{relative}`)"

    return _LINK.sub(unlink, markdown)
