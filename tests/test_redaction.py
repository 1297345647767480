"""Secrets in strategy options never reach a manifest, the JSON results or the HTML report."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from fintrade.manifest import REDACTED, build_manifest, is_secret_name, redact, redact_command

SECRETS = ("sk-live-0123456789", "s3cr3t-value", "tok-abcdef", "hunter2")


@pytest.mark.parametrize(
    "name",
    ["key", "api_key", "apiSecret", "auth_token", "password", "APIKey", "apikey", "clientSecret", "db-password"],
)
def test_names_that_look_like_secrets(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["max_tokens", "keyword", "tokenizer", "interval", "limit", "adjusted", ""])
def test_names_that_do_not(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_walks_mappings_and_lists_and_leaves_the_input_alone() -> None:
    options = {
        "source_options": {"api_key": "sk-live-0123456789", "limit": 5, "nested": {"auth_token": "tok-abcdef"}},
        "signals": [{"name": "llm", "params": {"apiSecret": "s3cr3t-value", "max_tokens": 64}}],
        "password": None,
    }
    assert redact(options) == {
        "source_options": {"api_key": REDACTED, "limit": 5, "nested": {"auth_token": REDACTED}},
        "signals": [{"name": "llm", "params": {"apiSecret": REDACTED, "max_tokens": 64}}],
        "password": None,  # an unset secret reveals nothing, and says it is unset
    }
    assert options["source_options"]["api_key"] == "sk-live-0123456789"


def test_redact_command_hides_name_value_pairs_and_option_values() -> None:
    argv = ["data", "fetch", "yahoo", "AAPL", "-o", "api_key=abc", "--api-token", "xyz", "--interval", "1d"]
    assert redact_command(argv) == [
        "data",
        "fetch",
        "yahoo",
        "AAPL",
        "-o",
        f"api_key={REDACTED}",
        "--api-token",
        REDACTED,
        "--interval",
        "1d",
    ]


def test_build_manifest_redacts_parameters_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    strategy = tmp_path / "s.py"
    strategy.write_text("# a strategy\n")
    monkeypatch.setattr(sys, "argv", ["fintrade", "backtest", "s.py", "--password=hunter2"])
    manifest = build_manifest(
        strategy_path=strategy,
        strategy_name="S",
        plugins=[],
        data_hashes={},
        parameters={"source_options": {"api_key": "sk-live-0123456789", "limit": 5}},
        seed=0,
    )
    assert manifest.parameters == {"source_options": {"api_key": REDACTED, "limit": 5}}
    assert manifest.command == f"fintrade backtest s.py --password={REDACTED}"
    assert manifest.to_dict()["parameters"] == manifest.parameters


SECRET_STRATEGY = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd

    import fintrade
    from fintrade import Strategy, signal
    from fintrade.types import DataSource


    def _load(request):
        assert request.options["api_key"] == "sk-live-0123456789"  # the source still gets the real value
        index = pd.date_range("2021-01-01", "2023-01-01", freq="D", inclusive="left", tz="UTC")
        price = 100.0 + 10.0 * np.sin(np.arange(len(index)) / 15.0)
        bars = pd.DataFrame(
            {"open": price, "high": price + 1, "low": price - 1, "close": price, "volume": 1.0}, index=index
        )
        return {symbol: bars for symbol in request.symbols}


    @fintrade.hookimpl
    def fintrade_data_sources():
        yield DataSource(name="keyed", load=_load)


    class Keyed(Strategy):
        symbols = ["XYZ"]
        source = "keyed"
        source_options = {
            "api_key": "sk-live-0123456789",
            "apiSecret": "s3cr3t-value",
            "auth": {"auth_token": "tok-abcdef"},
            "password": "hunter2",
            "limit": 5,
        }
        start = "2021-01-01"
        end = "2023-01-01"
        signals = [signal("sma-cross", fast=5, slow=20)]
    """
)


def test_a_backtest_writes_no_secret_to_its_json_manifests_or_report(tmp_path: Path, cli_runner) -> None:
    strategy = tmp_path / "keyed.py"
    strategy.write_text(SECRET_STRATEGY)
    save, report = tmp_path / "out" / "run.json", tmp_path / "out" / "report.html"
    result = cli_runner(["backtest", str(strategy), "--json", "--quiet", "--save", str(save), "--report", str(report)])
    assert result.exit_code == 0, result.stderr
    written = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        **{path.name: path.read_text() for path in sorted((tmp_path / "out").iterdir())},
    }
    assert sorted(written) == [
        "report.html",
        "report.manifest.json",
        "run.json",
        "run.manifest.json",
        "stderr",
        "stdout",
    ]
    for name, text in written.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into {name}"
    options = json.loads(result.stdout)["manifest"]["parameters"]["source_options"]
    assert options == {
        "api_key": REDACTED,
        "apiSecret": REDACTED,
        "auth": {"auth_token": REDACTED},
        "password": REDACTED,
        "limit": 5,
    }
    assert json.loads(written["run.manifest.json"])["parameters"]["source_options"] == options
    assert "&lt;redacted&gt;" in written["report.html"]
