"""Every ``fintrade ...`` command in README.md and docs/*.md runs as written.

Each command line in a code block (fenced, or indented by four spaces) is parsed by the real
CLI, the built-in plugins' commands included (registered as ``fintrade.cli.main.run`` does),
without running it: the command and subcommand must exist, every option must be one of theirs,
the arguments must fit, and files it names in the repository (``strategies/*.py``) must exist.
Synopsis lines (``fintrade plugins [--json] [--hook HOOK]``) are checked for their options.
The cheap commands (``fintrade plugins``, ``fintrade check strategies/...``, ``fintrade data
list``) are then run for real. A new docs/*.md file is picked up without changing this test.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

try:  # typer >= 0.24 parses with its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer parses with click itself
    from click.exceptions import UsageError  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROMPT = re.compile(r"^(?:\$\s+)?(?:\.venv/bin/)?(fintrade\b.*)$")
REPOSITORY_DIRS = ("strategies/", "docs/", "plugins/", "tests/")
"""A path argument under one of these names a file of the repository, which must exist (a path
elsewhere, such as ``out/report.html`` or ``my_strategy.py``, is the reader's own)."""
CHEAP = {("plugins",), ("data", "list"), ("data", "clear"), ("example-hello",)}
"""Commands run for real: a second each, no network."""
CHEAP_WITH_A_STRATEGY = {("check",), ("backtest",)}
"""Commands run for real when the strategy they name is in the repository (seconds, offline)."""


@dataclass(frozen=True)
class DocCommand:
    """One ``fintrade`` command line as the docs show it."""

    file: str
    line: int
    text: str

    @property
    def words(self) -> list[str]:
        # A shell line: drop the comment, stop at a pipe or a redirection.
        words = shlex.split(self.text, comments=True)
        for index, word in enumerate(words):
            if word in ("|", "||", "&&", ";") or word.startswith((">", "<", "2>")):
                return words[1:index]
        return words[1:]

    @property
    def is_synopsis(self) -> bool:
        """``fintrade data fetch SOURCE SYMBOLS... [--interval 1d]``: a form, not a command to run."""
        return any("[" in word or word.endswith(("...", "]")) for word in self.words)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def _code_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of each line inside a fenced or indented code block, continuations joined."""
    fenced = False
    previous_blank = True
    indented = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            previous_blank = False
            continue
        if not fenced:
            # An indented block starts after a blank line; list continuations (2 spaces) are prose.
            indented = line.startswith("    ") and (indented or previous_blank)
        previous_blank = not stripped
        if not (fenced or indented):
            pending = None
            continue
        if pending is not None:
            start, joined = pending
            line_text = joined + " " + stripped
        else:
            start, line_text = number, stripped
        if line_text.endswith("\\"):
            pending = (start, line_text[:-1].rstrip())
            continue
        pending = None
        yield start, line_text


def doc_commands() -> list[DocCommand]:
    found = []
    for path in DOCS:
        for number, line in _code_lines(path.read_text(encoding="utf-8")):
            match = PROMPT.match(line)
            if match:
                found.append(DocCommand(str(path.relative_to(ROOT)), number, match.group(1)))
    return found


COMMANDS = doc_commands()


def inline_commands() -> list[DocCommand]:
    """The ``fintrade ...`` mentions in prose (inline code): often just a command's name."""
    found = []
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(r"`(?:\.venv/bin/)?(fintrade(?: [^`]*)?)`", line):
                found.append(DocCommand(str(path.relative_to(ROOT)), number, match.group(1)))
    return found


INLINE = inline_commands()


@pytest.fixture
def cli(fintrade_pm: Any, register_plugin: Any) -> Iterator[Any]:
    """The ``fintrade`` click group with every plugin command, as ``run()`` registers them.

    The docs' example plugin (``pip install -e docs/example-plugin``, docs/plugins.md) is
    registered too, since its command appears in the docs right after that install.
    """
    from fintrade.cli import main

    sys.path.insert(0, str(ROOT / "docs" / "example-plugin"))
    try:
        import fintrade_example

        register_plugin(fintrade_example, name="example")
        commands, groups = list(main.app.registered_commands), list(main.app.registered_groups)
        main._register_plugin_commands()
        try:
            yield typer.main.get_command(main.app)
        finally:
            main.app.registered_commands[:] = commands
            main.app.registered_groups[:] = groups
    finally:
        sys.path.remove(str(ROOT / "docs" / "example-plugin"))
        sys.modules.pop("fintrade_example", None)


def _is_group(command: Any) -> bool:
    return hasattr(command, "resolve_command")


def _remaining(ctx: Any) -> list[str]:
    # click 8.2 keeps a group's unparsed command words in _protected_args (protected_args warns).
    protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
    return [*protected, *ctx.args]


def parse(group: Any, words: list[str]) -> tuple[list[str], Any]:
    """Parse ``fintrade <words>`` down to the command it names, without invoking anything.

    Returns the command path and the command's context (its ``params``); raises
    ``UsageError`` for an unknown command or option, a missing or extra argument.
    """
    if not words:
        raise UsageError("`fintrade` needs a command")
    ctx = group.make_context("fintrade", list(words))
    command = group
    path: list[str] = []
    while _is_group(command):
        name, sub, rest = command.resolve_command(ctx, _remaining(ctx))
        assert sub is not None and name is not None
        path.append(name)
        if _is_group(sub) and not rest:
            # A group without its command would print its help (no_args_is_help): not a command.
            raise UsageError(f"`fintrade {' '.join(path)}` needs a command", ctx)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return path, ctx


def _repository_files(words: list[str]) -> list[str]:
    """The words that name a path in the repository (``strategies/x.py:Class`` -> ``strategies/x.py``)."""
    paths = []
    for word in words:
        value = word.partition("=")[2] if word.startswith("-") else word
        if value.startswith(REPOSITORY_DIRS):
            paths.append(re.sub(r"\.py:\w+$", ".py", value))
    return paths


def test_the_docs_have_commands_to_check() -> None:
    files = {command.file for command in COMMANDS}
    assert {"README.md", "docs/cli.md", "docs/training.md"} <= files
    assert len([c for c in COMMANDS if not c.is_synopsis]) >= 30


def command_problem(cli: Any, words: list[str]) -> str | None:
    """What is wrong with ``fintrade <words>`` as a command to run, or None."""
    try:
        parse(cli, words)
    except UsageError as exc:
        return f"does not parse: {exc.format_message()}"
    missing = [p for p in _repository_files(words) if not (ROOT / p).exists()]
    if missing:
        return f"names {', '.join(missing)}, which the repository does not have"
    return None


def _options_of(command: Any) -> set[str]:
    return {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]} | {"--help"}


def synopsis_problem(cli: Any, words: list[str]) -> str | None:
    """What is wrong with a synopsis (``fintrade data list [--json]``): an unknown command or option."""
    chain: list[Any] = [cli]
    for word in words:
        current = chain[-1]
        if word.startswith(("-", "[-")):
            continue
        if not (_is_group(current) and word.islower()):
            break
        sub = current.get_command(current.context_class(current), word)
        if sub is None:
            return f"has no command {word!r}"
        chain.append(sub)
    known = set().union(*(_options_of(c) for c in chain))
    options = re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", " ".join(words))
    unknown = [option for option in options if option not in known]
    if unknown:
        return f"names option(s) {', '.join(unknown)} that `{' '.join(c.name or '' for c in chain)}` lacks"
    return None


@pytest.mark.parametrize("command", [c for c in COMMANDS if not c.is_synopsis], ids=str)
def test_a_documented_command_parses_against_the_real_cli(command: DocCommand, cli: Any) -> None:
    problem = command_problem(cli, command.words)
    assert problem is None, f"{command}\n    {problem}"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.is_synopsis], ids=str)
def test_a_documented_synopsis_names_real_options(command: DocCommand, cli: Any) -> None:
    problem = synopsis_problem(cli, command.words)
    assert problem is None, f"{command}\n    {problem}"


@pytest.mark.parametrize("command", INLINE, ids=str)
def test_a_command_mentioned_in_prose_names_real_commands_options_and_files(command: DocCommand, cli: Any) -> None:
    """Prose mentions are often partial (`fintrade train`, `fintrade train ... --device cuda`):
    they are held to what a synopsis is, plus the repository files they name."""
    problem = synopsis_problem(cli, command.words)
    assert problem is None, f"{command}\n    {problem}"
    missing = [p for p in _repository_files(command.words) if not (ROOT / p).exists()]
    assert not missing, f"{command}\n    names {', '.join(missing)}, which the repository does not have"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("fintrade backtest", "does not parse: Missing argument 'strategy'"),
        ("fintrade backtest a.py b.py", "does not parse: Got unexpected extra argument"),
        ("fintrade backtest a.py --html out.html", "does not parse: No such option: --html"),
        ("fintrade backtets a.py", "does not parse: No such command 'backtets'"),
        ("fintrade data", "does not parse: `fintrade data` needs a command"),
        ("fintrade data fetch yahoo", "does not parse: Missing argument 'symbols'"),
        (
            "fintrade --offline backtest strategies/nope.py",
            "names strategies/nope.py, which the repository does not have",
        ),
        ("fintrade check strategies/sma_crossover.py:Sma --cuts 3", None),
        ("fintrade train --model minilm --dataset twitter-fin --epochs 1 --output out/x", None),
    ],
)
def test_the_command_check_catches_what_is_wrong(cli: Any, line: str, problem: str | None) -> None:
    found = command_problem(cli, DocCommand("test", 1, line).words)
    # click's own wording goes on (a "did you mean"), and changes between versions: its start is ours.
    assert found == problem if problem is None else found is not None and found.startswith(problem)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("fintrade plugins [--json] [--every]", "names option(s) --every that `fintrade plugins` lacks"),
        ("fintrade data fetsh SOURCE [--interval 1d]", "has no command 'fetsh'"),
        ("fintrade --offline data list [--json]", None),
    ],
)
def test_the_synopsis_check_catches_what_is_wrong(cli: Any, line: str, problem: str | None) -> None:
    command = DocCommand("test", 1, line)
    assert command.is_synopsis
    assert synopsis_problem(cli, command.words) == problem


def test_code_blocks_are_found_and_continuations_joined() -> None:
    text = (
        "Prose that mentions fintrade backtest x.py is not a command.\n\n"
        "    fintrade train --model minilm \\\n"
        "        --dataset twitter-fin   # a comment\n\n"
        "- a list item\n"
        "  fintrade plugins is prose too\n\n"
        "```bash\n$ fintrade plugins --json | jq .\n.venv/bin/fintrade data list\n```\n"
    )
    assert list(_code_lines(text)) == [
        (3, "fintrade train --model minilm --dataset twitter-fin   # a comment"),
        (10, "$ fintrade plugins --json | jq ."),
        (11, ".venv/bin/fintrade data list"),
    ]
    command = DocCommand("test", 10, PROMPT.match("$ fintrade plugins --json | jq .").group(1))  # type: ignore[union-attr]
    assert command.words == ["plugins", "--json"]


def _command_path(words: list[str]) -> tuple[str, ...]:
    """``["--offline", "data", "list", "--json"]`` -> ``("data", "list")``: the words naming the command."""
    names = [word for word in words if not word.startswith("-")]
    return tuple(names[:2]) if names[:1] == ["data"] else tuple(names[:1])


def is_cheap(command: DocCommand) -> bool:
    if command.is_synopsis or "--offline" in command.words:
        return False  # --offline is shown for the error it gives when data is not cached
    if "--ray-address" in command.words:
        return False  # joins a Ray cluster, which a test machine does not have (parsed only)
    path = _command_path(command.words)
    if path in CHEAP_WITH_A_STRATEGY:
        return bool(_repository_files(command.words))
    return path in CHEAP


@pytest.mark.parametrize("command", [c for c in COMMANDS if is_cheap(c)], ids=str)
def test_a_cheap_documented_command_runs(
    command: DocCommand,
    cli: Any,
    cli_runner: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = parse(cli, command.words)
    assert tuple(path) == _command_path(command.words)
    # Outputs (out/report.html) land in tmp_path; the repository's files are reached by links.
    for name in REPOSITORY_DIRS:
        (tmp_path / name.rstrip("/")).symlink_to(ROOT / name.rstrip("/"))
    monkeypatch.chdir(tmp_path)
    # The reader's cache is not ours to fill or clear: an empty one of this test's own.
    env = {"FINTRADE_CACHE_DIR": str(tmp_path / "cache"), "FINTRADE_OFFLINE": "1"}
    result = cli_runner(command.words, env=env)
    assert result.exit_code == 0, f"{command}\n    exited {result.exit_code}: {result.stderr[-2000:]}"


def test_what_a_backtest_writes_beside_a_strategy_is_ignored_by_git(
    cli_runner: Callable[..., Any], tmp_path: Path
) -> None:
    """``--save run.json`` and ``--report`` write results and manifests beside the strategy; git
    must not offer them for a commit. The files are written for real, then git is asked."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = tmp_path / "out"
    result = cli_runner(
        [
            "backtest",
            "strategies/sma_crossover.py",
            "--quiet",
            "--save",
            str(out / "run.json"),
            "--report",
            str(out / "sma.html"),
        ]
    )
    assert result.exit_code == 0, result.stderr
    written = sorted(path.name for path in out.iterdir())
    assert written == ["run.json", "run.manifest.json", "sma.html", "sma.manifest.json"]
    # The same names beside a strategy in the checkout (nothing is created there).
    names = [f"strategies/{name}" for name in written]
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert sorted(checked.stdout.split()) == sorted(names), checked.stderr
