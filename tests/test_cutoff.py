"""The language-model cutoff guard: a signal model's ``knowledge_cutoff`` survives aggregation, flags the
bars up to it, and the JSON, the console summary and the HTML report show the headline metrics with and
without them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from fintrade.cli.summary import print_summary
from fintrade.evaluation import BacktestResult, run_backtest
from fintrade.loading import load_strategy
from fintrade.metrics import bar_returns
from fintrade.plugin_manager import create_plugin_manager, register_module_plugin
from fintrade.registry import Registry
from fintrade.report import format_metric, render_report
from fintrade.splits import Splits
from fintrade.sweep import compute_signal
from fintrade.types import Signal, SignalInput, SignalModel
from tests.test_report import Page

STRATEGY_FILE = """
import numpy as np
import pandas as pd

import fintrade
from fintrade import Strategy, WalkForward, signal
from fintrade.types import Aggregator, Signal, SignalModel


def _dated(inputs, params):
    # Stands in for a fine-tuned model whose training data ended at `trained_until`.
    close = inputs.field("close")
    score = np.tanh((close / close.shift(params["lookback"]) - 1.0) / 0.05)
    confidence = score.notna().astype(float).where(score.notna())
    return Signal(score, confidence, knowledge_cutoff=pd.Timestamp(params["trained_until"]))


def _fresh_first(signals, params):
    # Builds a new Signal from the first input, dropping its cutoff as a careless aggregator would.
    return Signal(signals[0].score.copy(), signals[0].confidence.copy())


@fintrade.hookimpl
def fintrade_signal_models():
    yield SignalModel("dated", _dated, defaults={"lookback": 10, "trained_until": "2016-12-30"})


@fintrade.hookimpl
def fintrade_aggregators():
    yield Aggregator("fresh-first", _fresh_first)


class Dated(Strategy):
    symbols = ["AAA", "BBB"]
    source = "synthetic"
    source_options = {"bars": 500, "seed": 5}
    signals = [signal("dated", trained_until="2016-09-30")]
    direction = "long_short"
    walk_forward = WalkForward(folds=4)


class TwoModels(Dated):
    signals = [
        signal("dated", label="older", trained_until="2016-03-31"),
        signal("dated", label="newer", lookback=20, trained_until="2016-09-30"),
    ]
    aggregator = "confidence-vote"


class CarelessAggregator(Dated):
    aggregator = "fresh-first"


class TrainedLongAgo(Dated):
    signals = [signal("dated", trained_until="2015-02-27")]


class NoCutoff(Dated):
    signals = [signal("momentum", lookback=10)]
"""

CUTOFF = "2016-09-30T00:00:00+00:00"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BacktestResult]:
    path = tmp_path_factory.mktemp("cutoff") / "dated.py"
    path.write_text(STRATEGY_FILE, encoding="utf-8")
    out = {}
    for name in ("Dated", "TwoModels", "CarelessAggregator", "TrainedLongAgo", "NoCutoff"):
        loaded = load_strategy(f"{path}:{name}")
        pm = create_plugin_manager(load_entry_points=False)
        register_module_plugin(pm, loaded.module, str(path), "strategy file")
        out[name] = run_backtest(loaded.strategy, Registry(pm))
    return out


def _test_mask(result: BacktestResult) -> np.ndarray:
    index = pd.DatetimeIndex(result.curves.index)
    window = Splits().windows(len(index))["test"]
    mask = np.zeros(len(index), dtype=bool)
    mask[window.as_slice()] = True
    return mask


def test_cutoff_bars_are_flagged_and_metrics_given_without_them(results: dict[str, BacktestResult]) -> None:
    result = results["Dated"]
    data = json.loads(json.dumps(result.to_dict()))  # what --json prints
    cutoff = data["knowledge_cutoff"]
    assert cutoff["cutoff"] == CUTOFF
    index = pd.DatetimeIndex(result.curves.index)
    flagged = np.asarray(index <= pd.Timestamp(CUTOFF))  # midnight-UTC bars: the cutoff day is included
    assert cutoff["flagged_bars"] == int(flagged.sum()) > 0
    assert result.curves.pre_cutoff is not None and np.array_equal(result.curves.pre_cutoff, flagged)

    test = cutoff["windows"]["test"]
    mask = _test_mask(result)
    assert test["bars"] == int(mask.sum()) == data["splits"]["test"]["bars"]
    assert 0 < test["flagged_bars"] == int((mask & flagged).sum()) < test["bars"]
    # With every bar: exactly the test split's figures. Without the flagged ones: recomputed here
    # from the chosen strategy's equity curve on the remaining test bars.
    assert test["all_bars"] == data["splits"]["test"]["strategy"]
    returns = bar_returns(np.asarray(result.curves.strategy)[:, None])[:, 0]
    kept = mask & ~flagged
    assert test["after_cutoff"]["total_return"] == pytest.approx(np.prod(1 + returns[kept]) - 1, abs=1e-6)
    assert test["after_cutoff"]["total_return"] != test["all_bars"]["total_return"]
    assert test["after_cutoff"]["sharpe"] != test["all_bars"]["sharpe"]
    benchmark = bar_returns(np.asarray(result.curves.benchmark)[:, None])[:, 0]
    assert test["benchmark_after_cutoff"]["total_return"] == pytest.approx(np.prod(1 + benchmark[kept]) - 1, abs=1e-6)

    walk_forward = cutoff["windows"]["walk_forward"]
    assert walk_forward["all_bars"] == data["walk_forward"]["stitched"]
    assert 0 < walk_forward["flagged_bars"] < walk_forward["bars"]
    assert walk_forward["after_cutoff"] != walk_forward["all_bars"]


def test_a_cutoff_before_every_evaluated_bar_changes_nothing(results: dict[str, BacktestResult]) -> None:
    cutoff = results["TrainedLongAgo"].to_dict()["knowledge_cutoff"]
    assert cutoff is not None and cutoff["flagged_bars"] > 0  # early training bars only
    for window in cutoff["windows"].values():
        assert window["flagged_bars"] == 0
        assert window["after_cutoff"] == window["all_bars"]


def test_no_cutoff_means_no_flag(results: dict[str, BacktestResult]) -> None:
    result = results["NoCutoff"]
    assert result.to_dict()["knowledge_cutoff"] is None and result.curves.pre_cutoff is None
    page = Page(render_report(result))
    assert "cutoff" not in page.tables and not page.text("knowledge-cutoff")
    console = Console(record=True, width=160)
    print_summary(result, console)
    assert "cutoff" not in console.export_text()


def test_the_latest_cutoff_survives_aggregation(results: dict[str, BacktestResult]) -> None:
    two = results["TwoModels"].to_dict()["knowledge_cutoff"]
    assert two is not None and two["cutoff"] == CUTOFF  # the later of 2016-03-31 and 2016-09-30
    careless = results["CarelessAggregator"].to_dict()["knowledge_cutoff"]
    assert careless is not None and careless["cutoff"] == CUTOFF


def test_per_parameter_models_report_their_latest_cutoff() -> None:
    index = pd.date_range("2020-01-01", periods=3, freq="D", tz="UTC")
    bars = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=index)

    def compute(inputs: SignalInput, params: dict[str, str]) -> Signal:
        score = pd.DataFrame(0.0, index=inputs.index, columns=inputs.symbols)
        return Signal(score, score + 1.0, knowledge_cutoff=params["until"])  # type: ignore[arg-type]

    model = SignalModel("dated", compute, defaults={"until": ""})
    signal = compute_signal(model, SignalInput({"X": bars}), [{"until": "2019-05-01"}, {"until": "2019-06-01"}], "x")
    assert signal.knowledge_cutoff == pd.Timestamp("2019-06-01", tz="UTC")


def test_console_summary_shows_the_flag_and_both_figures(results: dict[str, BacktestResult]) -> None:
    result = results["Dated"]
    console = Console(record=True, width=160)
    print_summary(result, console)
    text = console.export_text()
    test = result.to_dict()["knowledge_cutoff"]["windows"]["test"]
    assert "knowledge cutoff: a signal model was trained on data up to 2016-09-30" in text
    assert f"{test['flagged_bars']} of {test['bars']} test bars" in text
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        rows.setdefault(cells[0], cells)
    assert f"{test['all_bars']['sharpe']:.2f}" in rows["test, all bars"]
    after = test["after_cutoff"]  # fewer bars than a quarter of a year: its Sharpe is shown as not meaningful
    assert (f"{after['sharpe']:.2f}" if after["annualised_meaningful"] else "n/m") in rows["test, after cutoff"]
    assert {"wf stitched, all bars", "wf stitched, after cutoff", "wf stitched b&h, after"} <= set(rows)


def test_html_report_flags_the_cutoff_and_shades_the_period_before_it(results: dict[str, BacktestResult]) -> None:
    result = results["Dated"]
    page = Page(render_report(result))
    assert page.errors == []
    cutoff = result.to_dict()["knowledge_cutoff"]
    assert cutoff is not None
    header = page.text("knowledge-cutoff")
    test, walk_forward = cutoff["windows"]["test"], cutoff["windows"]["walk_forward"]
    assert header.startswith("2016-09-30: a signal model was trained on data up to this date")
    assert f"{test['flagged_bars']} of {test['bars']} test bars" in header
    assert f"{walk_forward['flagged_bars']} of {walk_forward['bars']} walk-forward out-of-sample bars" in header

    rows = page.tables["cutoff"]
    keys = [(row["attrs"]["data-window"], row["attrs"]["data-bars"], row["attrs"]["data-series"]) for row in rows]
    assert keys == [
        ("test", "all", "strategy"),
        ("test", "after_cutoff", "strategy"),
        ("test", "after_cutoff", "benchmark"),
        ("walk_forward", "all", "strategy"),
        ("walk_forward", "after_cutoff", "strategy"),
        ("walk_forward", "after_cutoff", "benchmark"),
    ]
    first = rows[0]["cells"]
    assert first[:4] == ["test", str(test["bars"]), str(test["flagged_bars"]), "Strategy, all bars"]
    assert format_metric("total_return", test["all_bars"]["total_return"]) in first
    assert format_metric("total_return", test["after_cutoff"]["total_return"]) in rows[1]["cells"]

    # Both charts hatch the bars up to the cutoff and mark where it ends; the legend explains it.
    shaded = [attrs for tag, attrs in page.elements if tag == "rect" and attrs.get("class") == "pre-cutoff"]
    markers = [attrs for tag, attrs in page.elements if tag == "line" and attrs.get("class") == "cutoff-marker"]
    assert len(shaded) == len(markers) == 2
    index = pd.DatetimeIndex(result.curves.index)
    last = int(np.flatnonzero(result.curves.pre_cutoff)[-1])
    share = (index[last + 1] - index[0]) / (index[-1] - index[0])
    assert float(shaded[0]["width"]) / (1100 - 62 - 14) == pytest.approx(share, abs=2e-3)
    assert "at or before a signal model's knowledge cutoff" in page.text("charts")
