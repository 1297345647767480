"""``fintrade plugin new``: a package of every kind is generated, installed, tested, listed and used.

Each package is generated into a temporary folder and installed with pip, offline, into a
target folder on ``PYTHONPATH`` (as tests/test_example_plugin.py installs the example plugin),
never into the shared environment. Its own generated tests then run in a fresh interpreter,
``fintrade plugins`` lists it, and fintrade uses it: a backtest through the four strategy
kinds, ``fintrade train`` through the dataset and the adapter method, the command run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fintrade.errors import ConfigError
from fintrade.scaffold import KINDS, new_plugin
from fintrade.testing import make_synthetic_bars, make_synthetic_documents
from tests.test_example_plugin import pip_install

NAMES = {kind: f"t-{kind}" for kind in KINDS}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind generated and installed into one target folder."""
    generated = tmp_path_factory.mktemp("generated")
    site = tmp_path_factory.mktemp("site")
    for kind, name in NAMES.items():
        pip_install(new_plugin(name, kind, generated).folder, site)
    return site


def run(
    site: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200", **(env or {})}
    return subprocess.run([*args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def fintrade(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run(site, sys.executable, "-m", "fintrade.cli.main", *args, cwd=cwd)


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_generated_package_passes_its_own_tests(kind: str, site: Path, tmp_path: Path) -> None:
    made = new_plugin(NAMES[kind], kind, tmp_path)
    pyproject = (made.folder / "pyproject.toml").read_text()
    assert '"Framework :: fintrade"' in pyproject and "[project.entry-points.fintrade]" in pyproject
    assert f'{made.name} = "{made.module}"' in pyproject and '"fintrade>=' in pyproject
    assert (made.folder / ".github" / "workflows" / "ci.yml").is_file()
    assert 'fintrade_plugin_api = ">=1.0,<2"' in (made.folder / made.module / "__init__.py").read_text()
    generated_tests = (made.folder / "tests" / f"test_{made.module}.py").read_text()
    # Every kind with records runs the conformance kit; a command has no record to check.
    assert ("fintrade.testing.conformance" in generated_tests) == (kind != "command"), kind
    tests = run(site, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=made.folder)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and "failed" not in tests.stdout


def test_fintrade_plugins_lists_every_generated_package(site: Path) -> None:
    listed = fintrade(site, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    for kind, name in NAMES.items():
        assert rows[name]["status"] == "ok", rows[name]
        assert (rows[name]["source"], rows[name]["distribution"]) == ("entry point", f"fintrade-{name}")
        assert rows[name]["hooks"] == [KINDS[kind]]
    directory = fintrade(site, "plugins", "--markdown").stdout
    assert all(f"fintrade-{name}" in directory for name in NAMES.values())


STRATEGY = """
from fintrade import Strategy, signal


class UsesPlugins(Strategy):
    symbols = ["AAA", "BBB"]
    source = "t-data-source"
    source_options = {{"folder": {folder!r}}}
    start = "2021-01-01"
    text_source = "t-text-source"
    text_options = {{"path": {news!r}}}
    signals = [signal("t-signal-model", window=10), signal("lexicon")]
    aggregator = "t-aggregator"
    direction = "long_short"
    walk_forward = None
"""


def test_a_strategy_file_uses_the_generated_source_text_source_model_and_aggregator(site: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bars"
    folder.mkdir()
    for symbol, frame in make_synthetic_bars(["AAA", "BBB"], n_bars=300, start="2021-01-01").items():
        frame.rename_axis("time").to_csv(folder / f"{symbol}.csv")
    documents = make_synthetic_documents(["AAA", "BBB"], n_documents=200, start="2021-01-01", end="2022-01-01")
    news = tmp_path / "news.jsonl"
    news.write_text(
        "".join(
            json.dumps({"published_at": r.published_at.isoformat(), "symbol": r.symbol, "text": r.text, "id": r.id})
            + "\n"
            for r in documents.itertuples()
        )
    )
    strategy = tmp_path / "uses_plugins.py"
    strategy.write_text(textwrap.dedent(STRATEGY.format(folder=str(folder), news=str(news))))
    cache = {"FINTRADE_CACHE_DIR": str(tmp_path / "cache")}
    result = run(site, sys.executable, "-m", "fintrade.cli.main", "backtest", str(strategy), "--json", "-q", env=cache)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["bars"] == 300 and data["manifest"]["strategy"]["class"] == "UsesPlugins"
    names = {plugin["name"] for plugin in data["manifest"]["plugins"]}
    assert {"t-data-source", "t-text-source", "t-signal-model", "t-aggregator"} <= names


def test_fintrade_train_uses_the_generated_dataset_and_adapter_method(site: Path, tmp_path: Path) -> None:
    output = tmp_path / "artifact"
    trained = fintrade(site, "train", "--method", "t-adapter-method", "--dataset", "t-dataset", "--output", str(output))
    assert trained.returncode == 0, trained.stderr
    manifest = json.loads((output / "fintrade_manifest.json").read_text())
    assert manifest["method"] == "t-adapter-method" and manifest["dataset"] == "t-dataset" and manifest["rows"] == 12


def test_the_generated_command_runs(site: Path) -> None:
    result = fintrade(site, "t-command", "--who", "you")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello, you, from t-command\n"


def test_bad_names_kinds_and_folders_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--kind 'signal': choose one of data-source"):
        new_plugin("ok", "signal", tmp_path)
    with pytest.raises(ConfigError, match="plugin name 'My_Plugin'"):
        new_plugin("My_Plugin", "signal-model", tmp_path)
    new_plugin("twice", "command", tmp_path)
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        new_plugin("twice", "command", tmp_path)
