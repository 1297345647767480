"""The installable example plugin (docs/example-plugin) and third-party plugin loading, end to end.

Distributions are built and installed with pip, offline, into a target folder per test module
rather than into the shared virtual environment: a fresh interpreter with that folder on
``PYTHONPATH`` discovers their entry points exactly as it would in site-packages, while other
test runs using the same environment never see a half-installed or deliberately broken
plugin, and teardown is deleting a folder.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from fintrade.registry import get_registry
from fintrade.types import Signal, SignalInput

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SOURCE = ROOT / "docs" / "example-plugin"
BROKEN_MESSAGE = "fintrade_broken needs the missing library nonexistent_lib"
BROKEN_WARNING = (
    "warning: fintrade plugin 'broken' from distribution fintrade-broken-plugin failed to load and was skipped: "
    f"ImportError: {BROKEN_MESSAGE}"
)


def pip_install(source: Path, site: Path) -> None:
    """Build ``source`` with the environment's setuptools and install it into ``site``, offline."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    completed = subprocess.run(
        [*command, "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert completed.returncode == 0, (
        f"pip could not build and install {source} offline (is `wheel` or setuptools>=70.1 installed?):\n"
        f"{completed.stderr}"
    )


def write_distribution(folder: Path, distribution: str, module: str, entry_point: str, code: str) -> Path:
    """A minimal setuptools distribution with one module and one ``fintrade`` entry point."""
    (folder / module).mkdir(parents=True)
    (folder / module / "__init__.py").write_text(textwrap.dedent(code), encoding="utf-8")
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{distribution}"
            version = "0.0.1"

            [project.entry-points.fintrade]
            {entry_point} = "{module}"

            [tool.setuptools]
            packages = ["{module}"]
            """
        ),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """docs/example-plugin, installed into its own site folder."""
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("example-source") / "example-plugin"
    shutil.copytree(EXAMPLE_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path_factory.mktemp("example-site")
    pip_install(source, site)
    yield site
    shutil.rmtree(site, ignore_errors=True)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A plugin distribution whose module raises ImportError when the entry point is loaded."""
    source = write_distribution(
        tmp_path_factory.mktemp("broken-source"),
        "fintrade-broken-plugin",
        "fintrade_broken",
        "broken",
        f'raise ImportError("{BROKEN_MESSAGE}")\n',
    )
    site = tmp_path_factory.mktemp("broken-site")
    pip_install(source, site)
    yield site
    shutil.rmtree(site, ignore_errors=True)


@pytest.fixture(scope="module")
def bad_command_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A plugin that imports fine but raises while adding its CLI command."""
    source = write_distribution(
        tmp_path_factory.mktemp("bad-command-source"),
        "fintrade-bad-command-plugin",
        "fintrade_bad_command",
        "bad-command",
        """
        import fintrade

        @fintrade.hookimpl
        def fintrade_register_commands(app):
            raise RuntimeError("cannot add my command")
        """,
    )
    site = tmp_path_factory.mktemp("bad-command-site")
    pip_install(source, site)
    yield site
    shutil.rmtree(site, ignore_errors=True)


def fintrade(*args: str, sites: list[Path], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``fintrade`` console script in a fresh interpreter that sees the plugins in ``sites``."""
    script = Path(sys.executable).with_name("fintrade")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from fintrade.cli.main import run; run()"]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FINTRADE_")}
    environment["PYTHONPATH"] = os.pathsep.join(str(site) for site in sites)
    environment.update(env or {})
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=environment)


def plugin_rows(completed: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    assert completed.returncode == 0, completed.stderr
    return {row["name"]: row for row in json.loads(completed.stdout)}


def test_example_plugin_is_listed_from_its_entry_point(example_site: Path) -> None:
    completed = fintrade("plugins", "--json", sites=[example_site])
    row = plugin_rows(completed)["example"]
    assert row == {
        "name": "example",
        "version": "0.1.0",
        "source": "entry point",
        "status": "ok",
        "distribution": "fintrade-example-plugin",
        "plugin_api": ">=1.0,<2",
        "hooks": ["fintrade_aggregators", "fintrade_register_commands", "fintrade_signal_models"],
        "provides": {"aggregators": ["example-max-abs"], "signal_models": ["example-rsi"]},
        "error": "",
    }
    assert completed.stderr == ""


def test_example_plugin_command_runs(example_site: Path) -> None:
    completed = fintrade("example-hello", sites=[example_site])
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        0,
        "hello from fintrade-example-plugin 0.1.0\n",
        "",
    )


def test_a_disabled_plugin_is_hidden_and_shown_with_all(example_site: Path) -> None:
    env = {"FINTRADE_DISABLE_PLUGINS": "example"}
    assert "example" not in plugin_rows(fintrade("plugins", "--json", sites=[example_site], env=env))
    row = plugin_rows(fintrade("plugins", "--json", "--all", sites=[example_site], env=env))["example"]
    assert (row["status"], row["source"], row["distribution"], row["hooks"]) == (
        "disabled",
        "entry point",
        "fintrade-example-plugin",
        [],
    )
    completed = fintrade("example-hello", sites=[example_site], env=env)
    assert completed.returncode == 2
    assert "No such command" in completed.stderr


def test_an_empty_allow_list_loads_no_entry_points(example_site: Path) -> None:
    rows = plugin_rows(fintrade("plugins", "--json", "--all", sites=[example_site], env={"FINTRADE_PLUGINS": ""}))
    assert rows["example"]["status"] == "disabled"
    assert rows["fintrade_technical"]["status"] == "ok"


def test_a_broken_plugin_is_reported_as_failed(example_site: Path, broken_site: Path) -> None:
    completed = fintrade("plugins", "--json", sites=[example_site, broken_site])
    rows = plugin_rows(completed)
    assert rows["broken"] == {
        "name": "broken",
        "version": "0.0.1",
        "source": "entry point",
        "status": "failed",
        "distribution": "fintrade-broken-plugin",
        "plugin_api": None,  # it fails on import, before anything it declares is read
        "hooks": [],
        "provides": {},
        "error": f"ImportError: {BROKEN_MESSAGE}",
    }
    assert rows["example"]["status"] == "ok"
    assert completed.stderr == BROKEN_WARNING + "\n"


def test_the_cli_still_works_beside_a_broken_plugin(example_site: Path, broken_site: Path) -> None:
    completed = fintrade("example-hello", sites=[example_site, broken_site])
    assert completed.returncode == 0
    assert completed.stdout == "hello from fintrade-example-plugin 0.1.0\n"
    assert completed.stderr == BROKEN_WARNING + "\n"
    table = fintrade("plugins", sites=[example_site, broken_site], env={"COLUMNS": "200"})
    assert table.returncode == 0
    assert "broken" in table.stdout and "failed" in table.stdout


def test_strict_mode_makes_a_broken_plugin_fatal(broken_site: Path) -> None:
    completed = fintrade("plugins", "--json", sites=[broken_site], env={"FINTRADE_STRICT_PLUGINS": "1"})
    assert completed.returncode != 0
    assert completed.stdout == ""
    assert BROKEN_MESSAGE in completed.stderr


def test_strict_mode_failure_is_one_line_naming_the_plugin(broken_site: Path) -> None:
    completed = fintrade("plugins", sites=[broken_site], env={"FINTRADE_STRICT_PLUGINS": "1"})
    assert completed.returncode == 1
    assert completed.stderr == (
        "error: fintrade plugin 'broken' from distribution fintrade-broken-plugin failed to load: "
        f"ImportError: {BROKEN_MESSAGE}\n"
    )


def test_a_plugin_failing_to_add_its_command_does_not_take_the_cli_down(bad_command_site: Path) -> None:
    completed = fintrade("plugins", "--json", sites=[bad_command_site])
    assert completed.returncode == 0, completed.stderr
    assert "bad-command" in plugin_rows(completed)
    warning_lines = completed.stderr.splitlines()
    assert len(warning_lines) == 1, completed.stderr
    assert warning_lines[0].startswith("warning: ")
    assert "'bad-command'" in warning_lines[0] and "RuntimeError: cannot add my command" in warning_lines[0]


def test_a_plugin_failing_to_add_its_command_is_reported_as_failed(bad_command_site: Path) -> None:
    completed = fintrade("plugins", "--json", sites=[bad_command_site])
    row = plugin_rows(completed)["bad-command"]
    assert row["status"] == "failed"
    assert row["error"] == "fintrade_register_commands(): RuntimeError: cannot add my command"
    assert "fintrade-bad-command-plugin" in completed.stderr


def test_strict_mode_makes_a_plugin_failing_to_add_its_command_fatal(bad_command_site: Path) -> None:
    completed = fintrade("plugins", sites=[bad_command_site], env={"FINTRADE_STRICT_PLUGINS": "1"})
    assert completed.returncode != 0
    assert "RuntimeError: cannot add my command" in completed.stderr


def test_trace_hooks_shows_the_hook_calls_of_a_command(example_site: Path) -> None:
    completed = fintrade("example-hello", sites=[example_site], env={"FINTRADE_TRACE_HOOKS": "1"})
    assert completed.returncode == 0
    assert "fintrade_register_commands" in completed.stderr


# In-process checks of what the example plugin computes, through the test kit.


@pytest.fixture
def example_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``fintrade_example`` imported from the docs folder (the sources, not an installed copy)."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SOURCE))
    module = importlib.import_module("fintrade_example")
    assert Path(module.__file__ or "").is_relative_to(EXAMPLE_SOURCE)
    yield module
    sys.modules.pop("fintrade_example", None)


def test_example_rsi_is_registered_with_its_defaults(register_plugin, example_module: ModuleType) -> None:
    register_plugin(example_module, name="example")
    registry = get_registry()
    model = registry.signal_models.get("example-rsi")
    assert dict(model.defaults) == {"window": 14}
    assert not model.needs_documents
    assert registry.aggregators.provider("example-max-abs") == "example"


def test_example_rsi_scores_mean_reversion_point_in_time(register_plugin, example_module, synthetic_bars) -> None:
    register_plugin(example_module, name="example")
    model = get_registry().signal_models.get("example-rsi")
    bars = synthetic_bars(["AAA", "BBB"], n_bars=300, seed=7)
    full = model.compute(SignalInput(bars=bars), model.defaults)
    score = full.score
    assert list(score.columns) == ["AAA", "BBB"]
    assert score.iloc[:14].isna().all().all()
    assert score.iloc[14:].notna().all().all()
    assert ((score.iloc[14:] >= -1) & (score.iloc[14:] <= 1)).all().all()
    assert (full.confidence.iloc[14:] == 1.0).all().all()
    # No lookahead: scores up to bar t do not change when later bars are removed.
    for cut in (20, 150, 299):
        head = {symbol: frame.iloc[:cut] for symbol, frame in bars.items()}
        truncated = model.compute(SignalInput(bars=head), model.defaults).score
        pd.testing.assert_frame_equal(truncated, score.iloc[:cut])
    # Mean reversion: a market that only falls is oversold (RSI 0, score +1); one that only rises, -1.
    index = pd.date_range("2022-01-01", periods=40, freq="D", tz="UTC")
    falling = pd.Series(np.linspace(100, 60, 40), index=index)
    trend = {
        name: pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0})
        for name, close in (("down", falling), ("up", falling[::-1].set_axis(index)))
    }
    last = model.compute(SignalInput(bars=trend), {"window": 5}).score.iloc[-1]
    assert (last["down"], last["up"]) == (1.0, -1.0)


def test_example_rsi_refuses_a_bad_window(register_plugin, example_module, synthetic_bars) -> None:
    from fintrade.errors import ConfigError

    register_plugin(example_module, name="example")
    model = get_registry().signal_models.get("example-rsi")
    with pytest.raises(ConfigError, match=r"^signal model 'example-rsi': parameter 'window' must be an integer >= 2"):
        model.compute(SignalInput(bars=synthetic_bars("AAA", n_bars=30)), {"window": 1.5})


def test_example_max_abs_keeps_the_strongest_signal(register_plugin, example_module) -> None:
    register_plugin(example_module, name="example")
    aggregator = get_registry().aggregators.get("example-max-abs")
    index = pd.date_range("2022-01-01", periods=3, freq="D", tz="UTC")

    def signal(scores: list[float], confidence: float) -> Signal:
        score = pd.DataFrame({"AAA": scores}, index=index)
        return Signal(score, pd.DataFrame(confidence, index=index, columns=["AAA"]).where(score.notna()))

    combined = aggregator.combine([signal([0.2, -0.9, np.nan], 0.5), signal([-0.4, 0.3, np.nan], 0.8)], {})
    assert combined.score["AAA"].tolist()[:2] == [-0.4, -0.9]
    assert combined.confidence["AAA"].tolist()[:2] == [0.8, 0.5]
    assert np.isnan(combined.score["AAA"].iloc[2]) and np.isnan(combined.confidence["AAA"].iloc[2])


def test_a_strategy_using_the_example_plugin_backtests(register_plugin, example_module, cli_runner, tmp_path) -> None:
    """The plugin's model and aggregator drive a full backtest, with bars from an inline plugin."""
    register_plugin(example_module, name="example")
    strategy = tmp_path / "rsi_strategy.py"
    strategy.write_text(
        textwrap.dedent(
            """
            import fintrade
            from fintrade.testing import make_synthetic_bars
            from fintrade.types import DataSource


            @fintrade.hookimpl
            def fintrade_data_sources():
                yield DataSource(
                    name="kit-bars",
                    load=lambda request: make_synthetic_bars(request.symbols, n_bars=600, seed=11),
                )


            class RsiReversion(fintrade.Strategy):
                symbols = ("AAA", "BBB")
                source = "kit-bars"
                signals = (fintrade.signal("example-rsi"), fintrade.signal("example-rsi", label="slow", window=28))
                aggregator = "example-max-abs"
                direction = "long_short"
                threshold = 0.1
                grid = {"example-rsi.window": [7, 14]}
            """
        ),
        encoding="utf-8",
    )
    result = cli_runner(["backtest", str(strategy), "--json", "--quiet"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["strategy"] == "RsiReversion"
    assert payload["symbols"] == ["AAA", "BBB"]
    assert payload["combinations"] == 2
    assert payload["chosen_params"]["example-rsi.window"] in (7, 14)
    assert set(payload["splits"]) == {"train", "validation", "test"}
    plugins = {p["name"]: p["source"] for p in payload["manifest"]["plugins"]}
    assert plugins["example"] == "test"
    assert plugins[str(strategy)] == "strategy file"
