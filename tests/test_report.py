"""The HTML report: built from a real backtest, parsed back, and checked for content, safety and atomic writes."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fintrade
from fintrade import report
from fintrade.evaluation import BacktestResult, Curves, run_backtest
from fintrade.loading import load_strategy
from fintrade.manifest import PluginRecord, RunManifest, StrategyFile
from fintrade.plugin_manager import create_plugin_manager, register_module_plugin
from fintrade.registry import Registry, set_plugin_manager
from fintrade.report import format_metric, render_report, write_report

PRICES = Path(__file__).resolve().parents[2] / "shared" / "data" / "stocknet" / "price_raw"
CHROMIUM = Path("/usr/bin/chromium")

# A one-off inline data source reading real daily bars, as a researcher's strategy file would.
STRATEGY_FILE = """
import pandas as pd

import fintrade
from fintrade import Costs, Strategy, WalkForward, signal
from fintrade.types import DataSource

PRICES = {prices!r}


def _load(request):
    bars = {{}}
    for symbol in request.symbols:
        frame = pd.read_csv(f"{{PRICES}}/{{symbol}}.csv", parse_dates=["Date"], index_col="Date")
        frame.index = frame.index.tz_localize("UTC")
        bars[symbol] = frame.rename(columns=str.lower)
    return bars


@fintrade.hookimpl
def fintrade_data_sources():
    yield DataSource(name="report-csv", load=_load)


class ReportSma(Strategy):
    symbols = ["AAPL", "MSFT"]
    source = "report-csv"
    signals = [signal("sma-cross", fast=20, slow=100)]
    costs = Costs(fees=0.001, slippage=0.0005)
    walk_forward = WalkForward(folds=3)
    grid = {{"sma-cross.fast": [5, 20], "sma-cross.slow": [50, 100]}}


class ReportSmaNoWalkForward(ReportSma):
    walk_forward = None
"""

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Parses a report, checking that every element is closed in order, and indexes what tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.texts: dict[str, list[str]] = {}  # id of the innermost element with an id -> its text
        self._ids: list[tuple[int, str]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def _gap(self) -> None:
        # Element boundaries separate words, as they would on screen.
        self.handle_data(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._gap()
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None and "tbody" in self.stack:
            self.tables[self._table].append({"attrs": attributes, "cells": []})
        elif tag == "td" and self._table is not None:
            self._cell = []
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)
            if "id" in attributes:
                self._ids.append((len(self.stack), attributes["id"]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        self._gap()
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        if tag == "td" and self._cell is not None:
            self.tables[self._table or ""][-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None
        if self._ids and self._ids[-1][0] == len(self.stack):
            self._ids.pop()
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, element_id in self._ids:
            self.texts.setdefault(element_id, []).append(data)

    def text(self, element_id: str) -> str:
        return " ".join("".join(self.texts.get(element_id, [])).split())

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and all(attrs.get(k.replace("_", "-")) == v for k, v in wanted.items())
        ]


def _backtest(path: Path, class_name: str) -> BacktestResult:
    loaded = load_strategy(f"{path}:{class_name}")
    pm = create_plugin_manager(load_entry_points=False)
    register_module_plugin(pm, loaded.module, "report_strategy.py", "strategy file")
    set_plugin_manager(pm)
    try:
        return run_backtest(loaded.strategy, Registry(pm))
    finally:
        set_plugin_manager(None)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BacktestResult]:
    if not PRICES.is_dir():
        pytest.skip(f"price data not found at {PRICES}")
    path = tmp_path_factory.mktemp("strategy") / "report_strategy.py"
    path.write_text(STRATEGY_FILE.format(prices=str(PRICES)), encoding="utf-8")
    return {
        "walk_forward": _backtest(path, "ReportSma"),
        "plain": _backtest(path, "ReportSmaNoWalkForward"),
    }


@pytest.fixture
def result(results: dict[str, BacktestResult]) -> BacktestResult:
    return results["walk_forward"]


@pytest.fixture
def page(result: BacktestResult, tmp_path: Path) -> Page:
    path = tmp_path / "report.html"
    write_report(result, path)
    return Page(path.read_text(encoding="utf-8"))


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{name} = {value}" for name, value in params.items())


def _rows(page: Page, table: str) -> list[dict[str, Any]]:
    assert table in page.tables, f"no table with id {table!r}: {sorted(page.tables)}"
    return page.tables[table]


def test_report_parses_and_has_the_header(page: Page, result: BacktestResult) -> None:
    assert page.errors == []
    assert page.stack == []
    header = page.text("summary")
    assert [attrs for attrs in page.find("meta") if attrs.get("charset") == "utf-8"]
    assert result.strategy in header
    assert "AAPL, MSFT" in header
    assert "1,258" in header  # bars
    assert "Combinations swept 4" in header
    assert "sharpe" in header
    assert _params_text(result.chosen) in header
    assert "rolling, 3 folds" in header


def test_split_table_has_strategy_and_benchmark_per_split(page: Page, result: BacktestResult) -> None:
    rows = _rows(page, "splits")
    assert [(r["attrs"]["data-split"], r["attrs"]["data-series"]) for r in rows] == [
        (split, series) for split in result.splits for series in ("strategy", "benchmark")
    ]
    test_strategy = next(r for r in rows if r["attrs"]["data-split"] == "test" and r["attrs"]["class"] == "strategy")
    metrics = result.splits["test"].strategy
    # Leading cells: split, start, end, bars, series; then the metrics in METRICS order.
    test = result.splits["test"]
    assert test.span.start is not None and test.span.end is not None
    assert test_strategy["cells"][:5] == ["test", test.span.start[:10], test.span.end[:10], str(test.bars), "Strategy"]
    assert test_strategy["cells"][5] == f"{metrics.total_return * 100:.2f}%"
    assert test_strategy["cells"][7] == f"{metrics.sharpe:.2f}"
    benchmark = next(r for r in rows if r["attrs"]["data-split"] == "test" and r["attrs"]["class"] == "benchmark")
    assert result.splits["test"].benchmark.win_rate is None  # buy-and-hold never closes a trade
    assert benchmark["cells"][-1] == "–"


def test_fold_tables_show_each_folds_dates_params_and_objective(page: Page, result: BacktestResult) -> None:
    assert result.walk_forward is not None
    folds = result.walk_forward.folds
    rows = _rows(page, "folds")
    assert len(rows) == 2 * len(folds) == 6
    for fold, row in zip(folds, rows[::2], strict=True):
        cells = row["cells"]
        ins, oos = fold.in_sample.to_dict(), fold.out_of_sample.to_dict()
        assert cells[0] == str(fold.fold)
        assert cells[1] == f"{ins['start'][:10]} – {ins['end'][:10]}"
        assert cells[2] == f"{oos['start'][:10]} – {oos['end'][:10]}"
        assert cells[3] == _params_text(fold.params)
        assert cells[4] == f"{fold.in_sample_objective:.2f}"
        assert cells[6] == f"{fold.strategy.total_return * 100:.2f}%"
    stitched = _rows(page, "walk-forward")
    assert [r["attrs"]["data-series"] for r in stitched] == ["walk_forward", "benchmark"]
    assert stitched[0]["cells"][1] == f"{result.walk_forward.stitched.total_return * 100:.2f}%"


def test_regime_cost_and_top_tables(page: Page, result: BacktestResult) -> None:
    regimes = _rows(page, "regimes")
    assert [(r["attrs"]["data-regime"], r["attrs"]["data-series"]) for r in regimes] == [
        (label, series) for label in ("bull", "bear", "sideways") for series in ("strategy", "benchmark")
    ]
    for row in regimes[::2]:
        assert row["cells"][1] == str(result.regimes.rows[row["attrs"]["data-regime"]].bars)

    costs = _rows(page, "costs")
    assert [(r["attrs"]["data-multiplier"], r["attrs"]["data-window"]) for r in costs] == [
        (str(m), window) for m in (0.0, 1.0, 2.0) for window in ("test", "walk_forward")
    ]
    assert costs[0]["cells"][:2] == ["0×", "none"]
    assert costs[2]["cells"][:2] == ["1×", "fees 0.1% slippage 0.05%"]
    walk_forward = result.cost_sensitivity[0].walk_forward
    assert walk_forward is not None
    assert costs[1]["cells"][1] == f"{walk_forward.total_return * 100:.2f}%"

    top = _rows(page, "top")
    assert len(top) == len(result.top_combinations) == 4
    chosen = [r for r in top if r["attrs"]["data-chosen"] == "true"]
    assert len(chosen) == 1
    assert chosen[0]["cells"][1] == _params_text(result.chosen)


def test_charts_draw_curves_regime_bands_and_split_markers(page: Page, result: BacktestResult) -> None:
    assert len([svg for svg in page.find("svg") if svg.get("class") == "chart"]) == 2
    assert page.find("svg", id="equity-chart") and page.find("svg", id="drawdown-chart")
    lines = page.find("polyline")
    # Both charts: strategy, walk-forward and buy-and-hold.
    assert sorted(line["data-series"] for line in lines) == sorted(["strategy", "walk_forward", "benchmark"] * 2)
    for line in lines:
        points = [tuple(map(float, point.split(","))) for point in line["points"].split()]
        assert 2 <= len(points) <= report.MAX_POINTS
        assert all(0 <= x <= report.CHART_WIDTH for x, _ in points)
        assert [x for x, _ in points] == sorted(x for x, _ in points)

    # The stitched out-of-sample line starts where the first fold trades, not at the first bar.
    first_x = {line["data-series"]: float(line["points"].split()[0].split(",")[0]) for line in lines}
    assert first_x["walk_forward"] > first_x["strategy"] + 100

    regimes_seen = set(np.asarray(result.curves.regime)) & {"bull", "bear", "sideways"}
    assert regimes_seen == {"bull", "bear", "sideways"}
    bands = [attrs for attrs in page.find("rect") if "data-regime" in attrs]
    assert {band["data-regime"] for band in bands} == regimes_seen
    assert all(band["fill"] == report.REGIME_COLOURS[band["data-regime"]] for band in bands)

    markers = page.find("line", **{"class": "split-marker"})
    assert [m["data-split"] for m in markers] == list(result.splits) * 2
    assert len({m["x1"] for m in markers}) == len(result.splits)  # train, validation and test at distinct places

    legend = page.text("charts")
    for label in ("bull regime", "bear regime", "sideways regime", "Buy & hold", "Walk-forward"):
        assert label in legend


def test_log_scale_changes_the_equity_axis(result: BacktestResult) -> None:
    linear = Page(render_report(result, log_scale=False))
    log = Page(render_report(result, log_scale=True))
    assert "linear scale" in linear.text("charts") and "log scale" in log.text("charts")

    def strategy_points(page: Page) -> str:
        return next(line["points"] for line in page.find("polyline") if line["data-series"] == "strategy")

    assert strategy_points(linear) != strategy_points(log)


def test_report_without_walk_forward(results: dict[str, BacktestResult], tmp_path: Path) -> None:
    plain = results["plain"]
    assert plain.walk_forward is None
    path = tmp_path / "plain.html"
    write_report(plain, path)
    page = Page(path.read_text(encoding="utf-8"))
    assert page.errors == []
    assert "folds" not in page.tables and "walk-forward" not in page.tables
    assert [r["attrs"]["data-window"] for r in _rows(page, "costs")] == ["test"] * 3
    assert {line["data-series"] for line in page.find("polyline")} == {"strategy", "benchmark"}


def test_report_fetches_nothing(page: Page, result: BacktestResult) -> None:
    raw = render_report(result)
    assert not page.find("script") and not page.find("link") and not page.find("img") and not page.find("iframe")
    for tag, attrs in page.elements:
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:")), (tag, name, value)
    assert "url(" not in raw and "@import" not in raw
    policies = [a["content"] for a in page.find("meta") if a.get("http-equiv", "").lower() == "content-security-policy"]
    assert policies and "default-src 'none'" in policies[0]


def run_manifest(**fields: Any) -> RunManifest:
    """A manifest as the CLI builds one, with ``fields`` replaced."""
    manifest = RunManifest(
        fintrade_version=fintrade.__version__,
        created_at="2026-01-01T00:00:00+00:00",
        command="fintrade backtest s.py",
        python="3.11.7",
        libraries={"pandas": "3.1.1"},
        strategy=StrategyFile("s.py", "S", "0" * 64),
        plugins=(PluginRecord("fintrade_technical", "0.1.0", "builtin", "fintrade"),),
        data={},
        parameters={"symbols": ["AAPL"]},
        seed=0,
    )
    return dataclasses.replace(manifest, **fields)


def test_plugin_and_strategy_text_is_escaped(result: BacktestResult) -> None:
    planted = "<script>alert('warning')</script>"
    hostile = dataclasses.replace(
        result,
        strategy="<b>Evil</b>",
        symbols=["<i>AAPL</i>"],
        warnings=[planted, 'a "quoted" & <odd> warning'],
        chosen={"x<y": "<img src=x onerror=alert(1)>"},
        manifest=run_manifest(command="</pre><script>alert('manifest')</script>"),
    )
    page = Page(render_report(hostile))
    assert page.errors == []
    assert not page.find("script") and not page.find("img") and not page.find("b") and not page.find("i")
    assert page.text("warnings") == f'{planted} a "quoted" & <odd> warning'
    assert page.text("summary").startswith("<b>Evil</b> Symbols <i>AAPL</i>")
    assert "x<y = <img src=x onerror=alert(1)>" in page.text("summary")
    assert json.loads("".join(page.texts["manifest"]).split("Run manifest", 1)[1]) == hostile.manifest.to_dict()


def test_footer_has_manifest_and_version(result: BacktestResult) -> None:
    manifest = run_manifest(data={"AAPL": "abc123"})
    page = Page(render_report(dataclasses.replace(result, manifest=manifest)))
    assert page.find("details", id="manifest")
    shown = json.loads("".join(page.texts["manifest"]).split("Run manifest", 1)[1])
    assert shown == manifest.to_dict() and shown["data"] == {"AAPL": "abc123"}
    assert shown["fintrade_version"] == fintrade.__version__
    assert f"Generated by fintrade {fintrade.__version__}." in page.text("footer")
    assert "No run manifest" in Page(render_report(dataclasses.replace(result, manifest=None))).text("footer")


def test_failed_render_leaves_the_old_report_intact(
    result: BacktestResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.html"
    path.write_text("the previous report", encoding="utf-8")

    def broken(_: BacktestResult) -> str:
        raise RuntimeError("table renderer failed")

    # The header and charts have been streamed out by the time the tables fail.
    monkeypatch.setattr(report, "_tables", broken)
    with pytest.raises(RuntimeError, match="table renderer failed"):
        write_report(result, path)
    assert path.read_text(encoding="utf-8") == "the previous report"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_report_is_renamed_into_place_from_the_same_directory(
    result: BacktestResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out" / "report.html"
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def recording_replace(source: Any, target: Any) -> None:
        renames.append((Path(source), Path(target)))
        assert Path(source).read_text(encoding="utf-8").rstrip().endswith("</html>")  # complete before the rename
        real_replace(source, target)

    monkeypatch.setattr(report.os, "replace", recording_replace)
    write_report(result, path)
    assert len(renames) == 1
    source, target = renames[0]
    assert target == path and source.parent == path.parent and source != path
    assert list(path.parent.iterdir()) == [path]


def test_failed_rename_leaves_no_temporary_file(
    result: BacktestResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.html"
    path.write_text("the previous report", encoding="utf-8")

    def failing_replace(source: Any, target: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(result, path)
    assert path.read_text(encoding="utf-8") == "the previous report"
    assert list(tmp_path.iterdir()) == [path]


def test_downsampling_keeps_each_lines_extremes() -> None:
    rng = np.random.default_rng(0)
    walk = np.cumprod(1 + rng.normal(0, 0.01, 100_000))
    late = np.full(100_000, np.nan)
    late[40_000:] = walk[40_000:] * 1.1
    positions = report._sample_positions([walk, late])
    assert len(positions) <= report.MAX_POINTS
    assert np.all(np.diff(positions) > 0)
    for required in (0, 99_999, int(np.argmin(walk)), int(np.argmax(walk)), 40_000, int(np.nanargmin(late))):
        assert required in positions
    assert np.array_equal(report._sample_positions([walk[:900]]), np.arange(900))


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("total_return", 0.123456, "12.35%"),
        ("max_drawdown", -0.0771, "-7.71%"),
        ("exposure", 1.0, "100.00%"),
        ("win_rate", None, "–"),
        ("sharpe", 2.261015, "2.26"),
        ("turnover", float("nan"), "–"),
        ("sortino", float("inf"), "–"),
        ("trades", 22.0, "22"),
    ],
)
def test_format_metric(name: str, value: Any, text: str) -> None:
    assert format_metric(name, value) == text


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.fixture
def chromium() -> Iterator[Path]:
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium not installed at /usr/bin/chromium")
    yield CHROMIUM


def test_report_renders_in_headless_chromium(chromium: Path, result: BacktestResult, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_report(result, path)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    screenshot = tmp_path / "report.png"
    run = subprocess.run(
        [str(chromium), *flags, f"--screenshot={screenshot}", "--window-size=1200,2000", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert _png_size(screenshot) == (1200, 2000)
    # A blank page compresses to a few kilobytes; charts and tables do not.
    assert screenshot.stat().st_size > 50_000

    dom = subprocess.run(
        [str(chromium), *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = Page(dom.stdout)
    assert rendered.find("svg", id="equity-chart") and rendered.find("svg", id="drawdown-chart")
    assert len(rendered.find("polyline")) == 6
    assert len(_rows(rendered, "splits")) == 6
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_long_curves_are_downsampled_without_losing_the_peak(result: BacktestResult) -> None:
    curves = result.curves
    assert curves.walk_forward is not None
    n = 20_000
    fine = pd.date_range(curves.index[0], curves.index[-1], periods=n)
    coarse = (curves.index - curves.index[0]).total_seconds()
    at = (fine - fine[0]).total_seconds()
    strategy = np.interp(at, coarse, curves.strategy)
    peak = 12_345
    strategy[peak] *= 3.0  # one bar far above everything else: the top of the chart
    long = dataclasses.replace(
        result,
        curves=Curves(
            index=fine,
            strategy=strategy,
            walk_forward=np.interp(at, coarse, curves.walk_forward),
            benchmark=np.interp(at, coarse, curves.benchmark),
            regime=np.asarray(curves.regime)[np.searchsorted(coarse, at, side="right") - 1],
        ),
    )
    page = Page(render_report(long, log_scale=False))
    assert page.errors == []
    lines = page.find("polyline")
    assert sorted(line["data-series"] for line in lines) == sorted(["strategy", "walk_forward", "benchmark"] * 2)
    counts = [len(line["points"].split()) for line in lines]
    assert all(300 < count <= report.MAX_POINTS for count in counts), counts
    equity = next(line for line in lines if line["data-series"] == "strategy")
    top = min(float(point.split(",")[1]) for point in equity["points"].split())
    # The data range is padded by 5% of its span at each end, so the peak sits 0.05/1.1 of the way down.
    plot_height = 360 - report.MARGIN_TOP - report.MARGIN_BOTTOM
    assert top == pytest.approx(report.MARGIN_TOP + plot_height * 0.05 / 1.1, abs=0.1)


def test_report_shows_significance_with_its_verdict(page: Page, result: BacktestResult) -> None:
    found = result.significance
    assert found is not None
    assert page.text("verdict").startswith(found.verdict)
    rows = {row["attrs"]["data-statistic"]: row["cells"] for row in _rows(page, "significance")}
    assert set(rows) >= {"sharpe", "psr", "min_track_record", "dsr", "pbo", "spa"}
    assert rows["psr"][1] == format_metric("psr", found.psr)
    assert rows["dsr"][1] == format_metric("dsr", found.deflation.value)
    assert f"{found.deflation.trials:,} trials in the ledger" in rows["dsr"][2]
    assert rows["pbo"][1] == format_metric("pbo", found.overfitting.value)
    interval = found.bootstrap["sharpe"]
    assert f"{format_metric('sharpe', interval.low)} to {format_metric('sharpe', interval.high)}" in rows["sharpe"][2]
    assert found.reality_check is not None
    assert rows["spa"][1] == format_metric("spa", found.reality_check.spa_pvalue)
    assert found.verdict in page.text("tables")
    # The rank-logit histogram: one bar per bin, holding every split CSCV made.
    bars = page.find("rect")
    logits = [attrs for attrs in bars if "logit" in attrs.get("class", "")]
    assert len(logits) == len(found.overfitting.logit_counts)
    assert sum(found.overfitting.logit_counts) == found.overfitting.splits


def test_report_lists_per_symbol_metrics_and_every_trade(page: Page, result: BacktestResult) -> None:
    symbols = _rows(page, "per-symbol")
    assert [row["attrs"]["data-symbol"] for row in symbols] == list(result.symbols)
    assert symbols[0]["cells"][0] == result.symbols[0]
    trades = _rows(page, "trades")
    assert len(trades) == len(result.trades) > 0
    first = result.trades[0]
    assert trades[0]["cells"][:2] == [first.symbol, first.side]
    assert trades[0]["attrs"]["data-status"] == first.status
