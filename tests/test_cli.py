"""The command line, run as users run it: a fresh interpreter per call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from tests.loopback.bybit import bybit_env
from tests.loopback.yahoo import yahoo_env

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = sorted((ROOT / "strategies").glob("*.py"))

# Strategies whose data source is a network service run against a loopback server speaking
# that service's API (the same files run unchanged against the real service): file name ->
# a context manager, given a fresh cache dir, that serves and yields the environment to use.
LOOPBACK: dict[str, Callable[[Path], AbstractContextManager[dict[str, str]]]] = {
    "bybit_perp_funding.py": bybit_env,
    "yahoo_equities.py": yahoo_env,
}


@contextmanager
def _no_loopback(cache_dir: Path) -> Iterator[dict[str, str]]:
    yield {}


def fintrade(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fintrade.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        timeout=300,
    )


def _commands() -> list[list[str]]:
    from fintrade.cli.main import app

    commands = [[info.name or info.callback.__name__] for info in app.registered_commands]  # type: ignore[union-attr]
    for group in app.registered_groups:
        commands.append([group.name])
        commands += [[group.name, c.name or c.callback.__name__] for c in group.typer_instance.registered_commands]  # type: ignore[union-attr]
    return commands


COMMANDS = [
    ["plugins"],
    ["backtest"],
    ["check"],
    ["data"],
    ["data", "fetch"],
    ["data", "list"],
    ["data", "clear"],
    ["trials"],
    ["trials", "list"],
    ["trials", "clear"],
    ["plugin"],
    ["plugin", "new"],
]


@pytest.mark.parametrize("command", [[], *COMMANDS], ids=lambda c: " ".join(c) or "fintrade")
def test_every_command_has_help(command: list[str]) -> None:
    result = fintrade(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: fintrade" in result.stdout


def test_every_registered_command_is_covered_by_the_help_test() -> None:
    assert all(command in COMMANDS for command in _commands())


def test_version() -> None:
    from fintrade import __version__

    assert fintrade("--version").stdout.strip() == f"fintrade {__version__}"


@pytest.mark.parametrize("args", [["--help"], ["plugins", "--json"]], ids=["help", "plugins"])
def test_startup_imports_no_heavy_library(args: list[str]) -> None:
    # Every built-in plugin is imported to build the command list; each must defer its heavy parts.
    code = (
        f"import sys\nfrom fintrade.cli.main import run\ntry:\n    run({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'vectorbt', 'pandas', 'pyarrow', 'transformers', 'yfinance', 'ccxt',\n"
        "         'sklearn', 'scipy', 'peft')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr


def test_plugins_json_lists_the_builtins_ok() -> None:
    result = fintrade("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for name in (
        "fintrade_local",
        "fintrade_sample",
        "fintrade_synthetic",
        "fintrade_technical",
        "fintrade_aggregators",
    ):
        assert rows[name]["status"] == "ok" and rows[name]["source"] == "builtin"
    assert "sma-cross" in rows["fintrade_technical"]["provides"]["signal_models"]


def test_plugins_filter_by_hook() -> None:
    rows = json.loads(fintrade("plugins", "--json", "--hook", "aggregators").stdout)
    assert [row["name"] for row in rows if row["source"] == "builtin"] == ["fintrade_aggregators"]
    bad = fintrade("plugins", "--hook", "agregators")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: unknown hook 'agregators' (did you mean 'fintrade_aggregators'?)")


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("from fintrade import Strategy\n\nclass A(Strategy)\n    pass\n")
    result = fintrade("backtest", str(path))
    assert result.returncode == 1
    assert result.stderr == f"error: {path}:3: syntax error: expected ':'\n"
    with_traceback = fintrade("--traceback", "backtest", str(path))
    assert "Traceback (most recent call last)" in with_traceback.stderr


def test_unknown_plugin_name_suggests_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "typo.py"
    path.write_text(
        "from fintrade import Strategy, signal\n\nclass T(Strategy):\n    symbols = ['AAPL']\n"
        "    signals = [signal('sma-cross')]\n    source = 'sampel'\n"
    )
    result = fintrade("backtest", str(path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: unknown data source 'sampel' (did you mean 'sample'?); known: ")
    assert result.stderr.count("\n") == 1


def test_backtest_json_report_and_manifest(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    result = fintrade("backtest", "strategies/sma_crossover.py", "--json", "--quiet", "--report", str(report))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"splits", "walk_forward", "regimes", "cost_sensitivity", "chosen_params", "manifest"} <= set(data)
    assert set(data["splits"]) == {"train", "validation", "test"}
    assert len(data["walk_forward"]["folds"]) == 5
    assert [row["multiplier"] for row in data["cost_sensitivity"]] == [0.0, 1.0, 2.0]
    assert report.read_text().lstrip().lower().startswith("<!doctype html")
    manifest = json.loads((tmp_path / "r.manifest.json").read_text())
    assert manifest["fintrade_version"] and manifest["seed"] == 0
    assert set(manifest["data"]) == {"AAPL", "AMZN", "GOOG", "MSFT", "JPM"}
    assert manifest["parameters"]["chosen"] == data["chosen_params"]
    assert any(p["name"] == "fintrade_technical" for p in manifest["plugins"])


def test_inline_strategy_plugin_is_used_and_listed(tmp_path: Path) -> None:
    path = tmp_path / "inline.py"
    path.write_text(
        "import fintrade\nfrom fintrade import Strategy, signal\nfrom fintrade.types import Aggregator\n\n"
        "@fintrade.hookimpl\ndef fintrade_aggregators():\n"
        "    yield Aggregator('first-only', lambda signals, params: signals[0])\n\n"
        "class T(Strategy):\n    symbols = ['AAPL']\n    aggregator = 'first-only'\n"
        "    signals = [signal('sma-cross', fast=10, slow=50)]\n"
    )
    save = tmp_path / "out.json"
    result = fintrade("backtest", str(path), "--quiet", "--save", str(save))
    assert result.returncode == 0, result.stderr
    manifest = json.loads(save.with_name("out.manifest.json").read_text())
    assert {"name": str(path), "version": "", "source": "strategy file", "distribution": ""} in manifest["plugins"]


# The flagship demo scores ~8,400 tweets cold (about 2 minutes): the full file runs with
# `-m slow`; test_tweet_sentiment_demo_on_a_short_window runs the same class on one quarter.
SLOW_STRATEGIES = {"tweet_sentiment.py"}


@pytest.mark.parametrize(
    "strategy",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_STRATEGIES else p for p in STRATEGIES],
    ids=[p.name for p in STRATEGIES],
)
def test_every_strategy_file_backtests_offline(strategy: Path, tmp_path: Path) -> None:
    with LOOPBACK.get(strategy.name, _no_loopback)(tmp_path) as env:
        result = fintrade("backtest", str(strategy), "--json", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["bars"] > 100 and data["splits"]["test"]["strategy"]["sharpe"] is not None


def test_tweet_sentiment_demo_on_a_short_window(tmp_path: Path) -> None:
    short = tmp_path / "short_demo.py"
    short.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'strategies')!r})\n"
        "from fintrade import WalkForward\n"
        "from tweet_sentiment import TweetSentiment\n"
        "class ShortDemo(TweetSentiment):\n"
        "    end = '2015-06-01'\n"
        "    walk_forward = WalkForward(folds=2, mode='anchored')\n"
    )
    report = tmp_path / "demo.html"
    result = fintrade("backtest", f"{short}:ShortDemo", "--json", "--quiet", "--report", str(report))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    names = [row["name"] for row in data["comparison"]["rows"]]
    assert names == ["ShortDemo", "lexicon", "momentum", "buy-and-hold"]
    assert data["top_combinations"] and data["bars"] > 90
    # The language model's scores move positions: the strategy trades on the tweets.
    assert data["splits"]["train"]["strategy"]["exposure"] > 0
    assert "Side by side" in report.read_text()


def test_data_list_and_clear(tmp_path: Path) -> None:
    import pandas as pd

    from fintrade.cache import BarCache, cached_bars

    def fetch(start, end):
        index = pd.date_range(start, end, freq="D", inclusive="left", tz="UTC")
        return pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=index)

    for symbol in ("AAA", "BBB"):
        cached_bars(
            source="test",
            symbol=symbol,
            interval="1d",
            start=pd.Timestamp("2021-01-01", tz="UTC"),
            end=pd.Timestamp("2021-01-11", tz="UTC"),
            fetch=fetch,
            cache=BarCache(tmp_path),
        )
    env = {"FINTRADE_CACHE_DIR": str(tmp_path)}
    rows = json.loads(fintrade("data", "list", "--json", env=env).stdout)
    assert [(r["source"], r["symbol"], r["rows"]) for r in rows] == [("test", "AAA", 10), ("test", "BBB", 10)]
    assert rows[0]["start"] == "2021-01-01T00:00:00+00:00" and rows[0]["end"] == "2021-01-11T00:00:00+00:00"
    assert "AAA" in fintrade("data", "list", env=env).stdout
    assert fintrade("data", "clear", "--symbol", "AAA", env=env).stdout == "removed 1 cached series\n"
    assert [r["symbol"] for r in json.loads(fintrade("data", "list", "--json", env=env).stdout)] == ["BBB"]


def test_data_fetch_loads_each_symbol_and_names_unknown_sources(tmp_path: Path) -> None:
    env = {"FINTRADE_CACHE_DIR": str(tmp_path)}
    result = fintrade("--offline", "data", "fetch", "nosuch", "AAA", env=env)
    assert result.returncode == 1 and result.stderr.startswith("error: unknown data source 'nosuch'")
    fetched = fintrade("data", "fetch", "sample", "AAPL", "--start", "2013-01-01", "--end", "2014-01-01", env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert "AAPL: 252 bars" in fetched.stderr
