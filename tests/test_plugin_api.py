"""The plugin API version (fintrade.PLUGIN_API) and the plugin directory (fintrade plugins --markdown).

Plugins here are installed the way pip installs them: a ``.dist-info`` folder (METADATA,
entry_points.txt) beside the module, in a folder that a fresh interpreter sees on
``PYTHONPATH``, so they are found through the ``fintrade`` entry-point group as in site-packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fintrade
from fintrade.plugin_manager import supports_plugin_api

ROOT = Path(__file__).resolve().parents[1]

FUTURE_WARNING = (
    "warning: fintrade plugin 'future' from distribution fintrade-future supports plugin API '>=2.0,<3', "
    "but this fintrade provides plugin API '1.0'; skipped (install a release of the plugin made for plugin API 1)"
)

FUTURE = """
import fintrade
from fintrade.types import SignalModel

fintrade_plugin_api = ">=2.0,<3"


@fintrade.hookimpl
def fintrade_signal_models():
    raise RuntimeError("a plugin for another plugin API must never be called")


@fintrade.hookimpl
def fintrade_register_commands(app):
    raise RuntimeError("a plugin for another plugin API must never be called")
"""

CURRENT = """
import fintrade
from fintrade.types import Aggregator

fintrade_plugin_api = ">=1.0,<2"


@fintrade.hookimpl
def fintrade_aggregators():
    yield Aggregator("current-first", lambda signals, params: signals[0])


@fintrade.hookimpl
def fintrade_register_commands(app):
    @app.command("current-hello")
    def current_hello() -> None:
        \"\"\"Say hello.\"\"\"
        print("hello from fintrade-current")
"""


def install(site: Path, distribution: str, version: str, entry_point: str, code: str, summary: str = "") -> None:
    """Install a one-module distribution into ``site`` as pip lays it out (dist-info + module)."""
    module = distribution.replace("-", "_")
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(textwrap.dedent(code), encoding="utf-8")
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {distribution}",
        f"Version: {version}",
        *([f"Summary: {summary}"] if summary else []),
        "Classifier: Framework :: fintrade",
    ]
    (info / "METADATA").write_text("\n".join(metadata) + "\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[fintrade]\n{entry_point} = {module}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    install(site, "fintrade-future", "3.1.0", "future", FUTURE, summary="Made for the next plugin API.")
    install(site, "fintrade-current", "0.2.0", "current", CURRENT, summary="A first-signal aggregator | and a hello.")
    return site


def fintrade_cli(*args: str, site: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FINTRADE_")}
    environment.update({"PYTHONPATH": str(site), "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "fintrade.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
    )


def rows(completed: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    assert completed.returncode == 0, completed.stderr
    return {row["name"]: row for row in json.loads(completed.stdout)}


# --- the rule ----------------------------------------------------------------------------------


def test_the_core_declares_its_plugin_api() -> None:
    assert fintrade.PLUGIN_API == "1.0"
    assert supports_plugin_api(">=1.0,<2")


@pytest.mark.parametrize(
    ("declared", "provided", "supported"),
    [
        (">=1.0,<2", "1.0", True),
        (">=1.0,<2", "1.7", True),
        (">=1.0,<2", "2.0", False),
        (">=2.0,<3", "1.0", False),
        (">=1,<3", "2.4", True),
        ("==1.0", "1.0", True),
        ("!=1.3", "1.3", False),
        ("<=1.2", "1.3", False),
        (">1.2", "1.3", True),
        # A bare version: that major, from that minor on (minors only add).
        ("1", "1.9", True),
        (1, "1.0", True),
        (1, "2.0", False),
        ("1.2", "1.1", False),
        ("1.2", "1.5", True),
        ("1.2", "2.0", False),
    ],
)
def test_supports_plugin_api(declared: object, provided: str, supported: bool) -> None:
    assert supports_plugin_api(declared, provided) is supported


@pytest.mark.parametrize("declared", ["", "one", ">=1.0;<2", "~=1.0", 1.5, True, [1]])
def test_a_malformed_declaration_is_refused(declared: object) -> None:
    with pytest.raises(ValueError, match=r"fintrade_plugin_api = .* is not a plugin API range; write one such as "):
        supports_plugin_api(declared)


# --- an installed plugin made for another plugin API -------------------------------------------


def test_an_incompatible_plugin_is_listed_with_both_versions(site: Path) -> None:
    completed = fintrade_cli("plugins", "--json", site=site)
    listed = rows(completed)
    assert listed["future"] == {
        "name": "future",
        "version": "3.1.0",
        "source": "entry point",
        "status": "incompatible",
        "distribution": "fintrade-future",
        "hooks": ["fintrade_register_commands", "fintrade_signal_models"],
        "provides": {},
        "error": "supports plugin API '>=2.0,<3'; this fintrade provides '1.0'",
        "plugin_api": ">=2.0,<3",
    }
    assert listed["current"]["status"] == "ok"
    assert listed["current"]["provides"] == {"aggregators": ["current-first"]}
    assert completed.stderr == FUTURE_WARNING + "\n"


def test_the_table_shows_the_status(site: Path) -> None:
    completed = fintrade_cli("plugins", site=site)
    assert completed.returncode == 0, completed.stderr
    line = next(line for line in completed.stdout.splitlines() if "future" in line)
    assert "incompatible" in line and "'>=2.0,<3'" in line and "'1.0'" in line


def test_the_cli_keeps_working_beside_an_incompatible_plugin(site: Path) -> None:
    completed = fintrade_cli("current-hello", site=site)
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        0,
        "hello from fintrade-current\n",
        FUTURE_WARNING + "\n",
    )


def test_strict_mode_makes_an_incompatible_plugin_fatal(site: Path) -> None:
    completed = fintrade_cli("plugins", site=site, env={"FINTRADE_STRICT_PLUGINS": "1"})
    assert completed.returncode == 1
    assert completed.stderr == (
        "error: fintrade plugin 'future' from distribution fintrade-future supports plugin API '>=2.0,<3', "
        "but this fintrade provides plugin API '1.0'\n"
    )


def test_a_malformed_declaration_fails_the_plugin(tmp_path: Path) -> None:
    install(tmp_path, "fintrade-odd", "0.1.0", "odd", 'fintrade_plugin_api = "soon"\n')
    completed = fintrade_cli("plugins", "--json", site=tmp_path)
    row = rows(completed)["odd"]
    assert (row["status"], row["error"]) == (
        "failed",
        "ValueError: fintrade_plugin_api = 'soon' is not a plugin API range; write one such as '>=1.0,<2'",
    )


def test_a_strategy_file_for_another_plugin_api_is_refused(tmp_path: Path, site: Path) -> None:
    path = tmp_path / "later.py"
    path.write_text(
        "import fintrade\nfrom fintrade import Strategy, signal\nfrom fintrade.types import Aggregator\n\n"
        "fintrade_plugin_api = '>=2'\n\n"
        "@fintrade.hookimpl\ndef fintrade_aggregators():\n"
        "    yield Aggregator('later-first', lambda signals, params: signals[0])\n\n"
        "class Later(Strategy):\n    symbols = ['AAPL']\n    signals = [signal('momentum')]\n",
        encoding="utf-8",
    )
    completed = fintrade_cli("backtest", str(path), "--quiet", site=tmp_path)
    assert (completed.returncode, completed.stderr) == (
        1,
        f"error: strategy file {path} supports plugin API '>=2', but this fintrade provides plugin API '1.0'\n",
    )


# --- the plugin directory ----------------------------------------------------------------------


def test_markdown_lists_installed_plugins_from_their_metadata(site: Path) -> None:
    completed = fintrade_cli("plugins", "--markdown", site=site)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[:2] == [
        "| plugin | distribution | version | kinds | description | plugin API | status |",
        "|---|---|---|---|---|---|---|",
    ]
    assert (
        "| `current` | fintrade-current | 0.2.0 | aggregator, command | A first-signal aggregator \\| and a hello. "
        "| >=1.0,<2 | ok |" in lines
    )
    assert (
        "| `future` | fintrade-future | 3.1.0 | command, signal-model | Made for the next plugin API. | >=2.0,<3 "
        "| incompatible |" in lines
    )
    technical = next(line for line in lines if line.startswith("| `fintrade_technical` |"))
    assert technical.startswith("| `fintrade_technical` | fintrade | 0.1.0 | signal-model | Technical signal models")
    assert technical.endswith(" | 1.0 | ok |")
    assert all(line.count(" | ") == 6 for line in lines[2:]), completed.stdout


def test_markdown_follows_the_hook_filter(site: Path) -> None:
    completed = fintrade_cli("plugins", "--markdown", "--hook", "aggregators", site=site)
    names = [line.split("|")[1].strip() for line in completed.stdout.splitlines()[2:]]
    assert names == ["`fintrade_aggregators`", "`current`"]


def test_json_and_markdown_together_are_refused(site: Path) -> None:
    completed = fintrade_cli("plugins", "--json", "--markdown", site=site)
    assert completed.returncode == 1
    assert completed.stderr.endswith("error: --json and --markdown cannot be combined; choose one\n")
