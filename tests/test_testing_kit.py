"""The test kit for plugin authors (fintrade.testing): the fixtures do what their docstrings say."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pandas as pd
import pytest

import fintrade
from fintrade.bars import validate_bars
from fintrade.errors import PluginError
from fintrade.plugin_manager import BUILTIN_PLUGINS
from fintrade.registry import get_plugin_manager, get_registry
from fintrade.types import DOCUMENT_COLUMNS, OHLCV_COLUMNS, DataSource

pytest_plugins = ["pytester"]


class KitSource:
    """A plugin class providing one data source."""

    @staticmethod
    @fintrade.hookimpl
    def fintrade_data_sources():
        yield DataSource(name="kit-source", load=lambda request: {})


class KitCommand:
    """A plugin class adding one CLI command that shows an environment variable."""

    @staticmethod
    @fintrade.hookimpl
    def fintrade_register_commands(app):
        @app.command("kit-hello")
        def kit_hello() -> None:
            print(f"kit hello {os.environ.get('KIT_VAR', '-')}")


def test_fintrade_pm_holds_the_builtins_and_is_the_process_manager(fintrade_pm) -> None:
    assert get_plugin_manager() is fintrade_pm
    assert list(fintrade_pm.infos) == list(BUILTIN_PLUGINS)
    assert {info.source for info in fintrade_pm.infos.values()} == {"builtin"}
    assert {info.status for info in fintrade_pm.infos.values()} == {"ok"}


def test_register_plugin_adds_a_data_source_to_the_registry(fintrade_pm, register_plugin) -> None:
    assert "kit-source" not in get_registry().data_sources
    name = register_plugin(KitSource, name="kit")
    assert name == "kit"
    registry = get_registry()
    assert "kit-source" in registry.data_sources
    assert registry.data_sources.provider("kit-source") == "kit"
    info = fintrade_pm.infos["kit"]
    assert (info.source, info.status, info.hooks) == ("test", "ok", ["fintrade_data_sources"])


def test_register_plugin_names_a_module_after_itself(fintrade_pm, register_plugin) -> None:
    module = types.ModuleType("kit_module")
    module.fintrade_data_sources = KitSource.fintrade_data_sources  # type: ignore[attr-defined]
    assert register_plugin(module) == "kit_module"
    assert fintrade_pm.has_plugin("kit_module")


def test_register_plugin_validates_like_any_plugin(fintrade_pm, register_plugin) -> None:
    @fintrade.hookimpl
    def fintrade_data_source():  # misspelled: no such hook
        return []

    module = types.ModuleType("typo")
    module.fintrade_data_source = fintrade_data_source  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match=r"^plugin 'typo': .*fintrade_data_source"):
        register_plugin(module, name="typo")
    assert not fintrade_pm.has_plugin("typo")


def test_fixtures_clean_up_after_the_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Teardown unregisters the plugin and puts the previous process-wide manager back.

    Run in a separate pytest so the checks happen after the fixtures' teardown; the plugin
    environment variables set here must not reach the isolated manager.
    """
    pytester.makepyfile(
        test_inner="""
        import fintrade
        from fintrade import registry
        from fintrade.plugin_manager import create_plugin_manager
        from fintrade.types import DataSource

        PREVIOUS = create_plugin_manager(load_entry_points=False)
        registry.set_plugin_manager(PREVIOUS)
        SEEN = {}

        class Plugin:
            @staticmethod
            @fintrade.hookimpl
            def fintrade_data_sources():
                yield DataSource(name="inner-source", load=lambda request: {})

        def test_register(fintrade_pm, register_plugin):
            SEEN["pm"] = fintrade_pm
            register_plugin(Plugin, name="inner")
            assert registry.get_plugin_manager() is fintrade_pm is not PREVIOUS
            assert fintrade_pm.infos["fintrade_technical"].status == "ok"
            assert "inner-source" in registry.get_registry().data_sources

        def test_after_teardown():
            pm = SEEN["pm"]
            assert not pm.has_plugin("inner")
            assert "inner" not in pm.infos
            assert "inner-source" not in registry.Registry(pm).data_sources
            assert registry.get_plugin_manager() is PREVIOUS
        """
    )
    monkeypatch.setenv("FINTRADE_DISABLE_PLUGINS", "fintrade_technical")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("interval", ["1d", "1h", "15m"])
def test_synthetic_bars_follow_the_bars_contract(synthetic_bars, interval: str) -> None:
    bars = synthetic_bars(["AAA", "BBB"], n_bars=300, interval=interval, seed=3)
    assert list(bars) == ["AAA", "BBB"]
    for symbol, frame in bars.items():
        validated = validate_bars(frame, f"synthetic {symbol}")
        pd.testing.assert_frame_equal(validated, frame, check_names=False, check_freq=False)
        assert list(frame.columns) == list(OHLCV_COLUMNS)
        assert len(frame) == 300
        assert str(frame.index.tz) == "UTC"
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
        assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
        assert (frame["volume"] > 0).all()
    step = {"1d": pd.Timedelta(days=1), "1h": pd.Timedelta(hours=1), "15m": pd.Timedelta(minutes=15)}[interval]
    assert (frame.index[1:] - frame.index[:-1] == step).all()


def test_synthetic_bars_are_seeded_per_symbol(synthetic_bars) -> None:
    first = synthetic_bars(["AAA", "BBB"], seed=1)
    pd.testing.assert_frame_equal(first["AAA"], synthetic_bars("AAA", seed=1)["AAA"])
    assert not first["AAA"]["close"].equals(first["BBB"]["close"])
    assert not first["AAA"]["close"].equals(synthetic_bars("AAA", seed=2)["AAA"]["close"])


def test_synthetic_documents_follow_the_documents_contract(synthetic_documents) -> None:
    documents = synthetic_documents(["AAA", "BBB"], n_documents=200, start="2021-01-01", end="2021-07-01", seed=5)
    assert tuple(documents.columns) == DOCUMENT_COLUMNS
    assert len(documents) == 200
    published = documents["published_at"]
    assert str(published.dt.tz) == "UTC"
    assert published.is_monotonic_increasing
    assert published.min() >= pd.Timestamp("2021-01-01", tz="UTC")
    assert published.max() < pd.Timestamp("2021-07-01", tz="UTC")
    assert set(documents["symbol"]) == {"AAA", "BBB"}
    assert documents["id"].is_unique
    assert (documents["source"] == "synthetic").all()
    pairs = zip(documents["symbol"], documents["text"], strict=True)
    assert all(text.startswith(symbol + " ") for symbol, text in pairs)
    pd.testing.assert_frame_equal(
        documents, synthetic_documents(["AAA", "BBB"], n_documents=200, start="2021-01-01", end="2021-07-01", seed=5)
    )


def test_cli_runner_reports_an_unknown_strategy_in_one_line(cli_runner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.py"
    result = cli_runner(["backtest", str(missing)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {missing}: strategy file not found\n"


def test_cli_runner_reports_exit_codes_of_usage_errors_and_version(cli_runner) -> None:
    assert cli_runner(["no-such-command"]).exit_code == 2
    version = cli_runner(["--version"])
    assert (version.exit_code, version.stdout) == (0, f"fintrade {fintrade.__version__}\n")


def test_cli_runner_sees_registered_plugins_and_their_commands(cli_runner, register_plugin) -> None:
    from fintrade.cli.main import app

    commands_before = list(app.registered_commands)
    register_plugin(KitCommand, name="kit-command")
    result = cli_runner(["kit-hello"], env={"KIT_VAR": "set"})
    assert (result.exit_code, result.stdout, result.stderr) == (0, "kit hello set\n", "")
    assert "KIT_VAR" not in os.environ
    # The command was added to the shared app for the call only.
    assert app.registered_commands == commands_before

    listed = cli_runner(["plugins", "--json", "--hook", "register_commands"])
    assert listed.exit_code == 0
    assert '"name": "kit-command"' in listed.stdout
    assert '"source": "test"' in listed.stdout
