"""Bad input never slips through: each case is one line naming the file, row or value, a
non-zero exit from the CLI, and a bar cache left byte for byte as it was.

Bars (infinite prices, high below low, open/close outside the bar, negative volume, spacing
far below the interval, 1970 epochs, mixed clocks), documents (naive or date-only times,
duplicates, documents past the data), strategy attributes (start/end, symbols), the memory
budget of a parameter grid, and funding carried through local files.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fintrade.sweep
from fintrade.alignment import AlignmentWarning, prepare_documents
from fintrade.bars import BarsWarning, bar_checks, to_utc_timestamp, validate_bars
from fintrade.cache import DataWarning, cached_bars
from fintrade.data import load_signal_inputs
from fintrade.errors import ConfigError, DataError
from fintrade.evaluation import run_backtest
from fintrade.loading import load_strategy
from fintrade.plugin_manager import create_plugin_manager
from fintrade.registry import Registry
from fintrade.strategy import Costs, Strategy, WalkForward, signal
from fintrade.sweep import check_grid_memory, format_memory, parse_memory
from fintrade.types import BarsRequest, DocumentsRequest

N_BARS = 40
DAY0 = pd.Timestamp("2020-01-01", tz="UTC")


def day(i: int) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=i)


def price_table(n: int = N_BARS) -> pd.DataFrame:
    """Consistent daily bars (every day: a 24-hour market), as a file would hold them."""
    close = 100.0 + np.sin(np.arange(n) / 3.0) * 5
    return pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": 1000.0,
        }
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache holding one good series of source 'feed', so "unchanged" compares real bytes."""
    root = tmp_path / "cache"
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(root))
    good = price_table().assign(date=lambda t: pd.to_datetime(t["date"], utc=True)).set_index("date")
    cached_bars(
        source="feed",
        symbol="AAA",
        interval="1d",
        start=day(0),
        end=day(20),
        fetch=lambda start, end: good.loc[(good.index >= start) & (good.index < end)],
        offline=False,
    )
    assert snapshot(root)
    return root


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(create_plugin_manager(load_entry_points=False))


def write_strategy(tmp_path: Path, body: str, name: str = "bad.py") -> Path:
    path = tmp_path / name
    path.write_text(
        "from fintrade import Strategy, signal\n\n\n"
        "class Bad(Strategy):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
        "    signals = [signal('sma-cross', fast=2, slow=5)]\n"
    )
    return path


def local_strategy(tmp_path: Path, table: pd.DataFrame, extra: str = "") -> tuple[Path, Path]:
    """A strategy backtesting ``table`` written as ``AAA.csv`` through the ``local`` source."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    csv = data / "AAA.csv"
    table.to_csv(csv, index=False)
    body = f"symbols = ['AAA']\nsource = 'local'\nsource_options = {{'path': {str(data)!r}}}\n{extra}"
    return write_strategy(tmp_path, body), csv


def backtest_fails(cli_runner: Callable, strategy: Path, cache_root: Path, *options: str) -> str:
    """Run ``fintrade backtest`` on ``strategy``: it must fail in one line and leave the cache alone."""
    before = snapshot(cache_root)
    result = cli_runner(["backtest", str(strategy), "--quiet", *options])
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert snapshot(cache_root) == before
    return lines[0].removeprefix("error: ")


# --- bars from a local file ----------------------------------------------------------------------


def _inf_close(t: pd.DataFrame) -> pd.DataFrame:
    return t.astype({"close": object}).assign(close=lambda f: f["close"].where(f.index != 2, "inf"))


def _high_below_low(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(high=lambda f: f["high"].where(f.index != 3, 90.0))


def _open_above_high(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(open=lambda f: f["open"].where(f.index != 4, 150.0))


def _negative_volume(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(volume=lambda f: f["volume"].where(~f.index.isin([5, 6]), -3.0))


def _epoch_seconds_one_apart(t: pd.DataFrame) -> pd.DataFrame:
    # An export's integer stamps that were meant as days: read as seconds they are 1 s apart.
    return t.assign(date=1_577_836_800 + np.arange(len(t)))


def _yyyymmdd_integers(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(date=pd.to_datetime(t["date"]).dt.strftime("%Y%m%d").astype(int))


def _mixed_offsets(t: pd.DataFrame) -> pd.DataFrame:
    stamps = [f"{d}T00:00:00+00:00" for d in t["date"]]
    stamps[7] = stamps[7].replace("+00:00", "-05:00")
    return t.assign(date=stamps)


def _naive_beside_aware(t: pd.DataFrame) -> pd.DataFrame:
    stamps = [f"{d}T00:00:00Z" for d in t["date"]]
    stamps[8] = stamps[8].removesuffix("Z")
    return t.assign(date=stamps)


BAD_BARS = [
    (_inf_close, "infinite close at 2020-01-03 00:00:00+00:00 (1 bars with infinite values)"),
    (
        _high_below_low,
        "high 90 is below low 103.207 at 2020-01-04 00:00:00+00:00 (1 bars with high below low or "
        "open/close outside [low, high]; a strategy's price_tolerance repairs small ones)",
    ),
    (
        _open_above_high,
        "open 150 is above high 105.86 at 2020-01-05 00:00:00+00:00 (1 bars with high below low or "
        "open/close outside [low, high]; a strategy's price_tolerance repairs small ones)",
    ),
    (_negative_volume, "negative volume -3 at 2020-01-06 00:00:00+00:00 (2 bars with negative volume)"),
    (
        _epoch_seconds_one_apart,
        "bars are 1s apart (median) but the interval is 1d (first bars at 2020-01-01 00:00:00+00:00 and "
        "2020-01-01 00:00:01+00:00); check the interval, or the timestamps' unit",
    ),
    (
        _yyyymmdd_integers,
        "row 1: date 20200101 read as epoch seconds is 1970-08-22 19:08:21+00:00, in 1970; write dates as "
        "text ('2020-01-02') or epochs in seconds or milliseconds since 1970",
    ),
    (
        _mixed_offsets,
        "date mixes UTC offsets +00:00, -05:00 (row 1 '2020-01-01T00:00:00+00:00', row 8 "
        "'2020-01-08T00:00:00-05:00'); write one file per clock, or all in UTC",
    ),
    (
        _naive_beside_aware,
        "date mixes timestamps with and without a UTC offset (row 9 '2020-01-09T00:00:00', row 1 "
        "'2020-01-01T00:00:00Z'); write every one with its offset",
    ),
]
BAD_BAR_IDS = [
    "infinite",
    "high-below-low",
    "open-above-high",
    "negative-volume",
    "spacing",
    "1970",
    "offsets",
    "naive",
]


@pytest.mark.parametrize(("spoil", "message"), BAD_BARS, ids=BAD_BAR_IDS)
def test_bad_local_bars_fail_the_backtest_in_one_line(
    cli_runner, cache_root: Path, tmp_path: Path, spoil, message: str
) -> None:
    strategy, csv = local_strategy(tmp_path, spoil(price_table()))
    error = backtest_fails(cli_runner, strategy, cache_root)
    assert error == f"source 'local', symbol 'AAA' ({csv}): {message}"


def test_a_row_with_more_fields_than_the_header_is_refused_not_shifted(
    cli_runner, cache_root: Path, tmp_path: Path
) -> None:
    # pandas would make the first column (the dates) the index and shift every value one column left.
    strategy, csv = local_strategy(tmp_path, price_table())
    lines = csv.read_text().splitlines()
    lines[1] += ",7"  # the first data row: later ones already fail in the tokenizer
    csv.write_text("\n".join(lines) + "\n")
    error = backtest_fails(cli_runner, strategy, cache_root)
    assert error == f"source 'local', symbol 'AAA' ({csv}): cannot read as CSV: a row has more fields than the header"


def test_epoch_integers_with_a_declared_interval_below_the_data_are_refused_through_the_source(
    registry: Registry, tmp_path: Path
) -> None:
    csv = tmp_path / "AAA.csv"
    _epoch_seconds_one_apart(price_table()).to_csv(csv, index=False)
    source = registry.data_sources.get("local")
    # The same file read as 1-second bars is what it says it is; only the declared interval judges it.
    with pytest.raises(DataError, match="bars are 1s apart"):
        source.load(BarsRequest(("AAA",), "1d", options={"path": str(csv)}))
    with pytest.raises(DataError, match="bars are 1s apart"):
        source.load(BarsRequest(("AAA",), "1m", options={"path": str(csv)}))


def test_small_inconsistencies_are_repaired_and_counted_with_a_price_tolerance(
    cli_runner, cache_root: Path, tmp_path: Path
) -> None:
    table = price_table()
    table.loc[[3, 9], "open"] = table.loc[[3, 9], "high"] * 1.0005  # 0.05% above the high
    strategy, csv = local_strategy(tmp_path, table, "price_tolerance = 0.001")
    before = snapshot(cache_root)
    result = cli_runner(["backtest", str(strategy), "--quiet", "--json"])
    assert result.exit_code == 0, result.stderr
    expected = (
        f"source 'local', symbol 'AAA' ({csv}): 2 bars with open/close outside [low, high] by at most "
        "price_tolerance 0.001; high and low widened to cover them"
    )
    assert expected in json.loads(result.stdout)["warnings"]
    assert snapshot(cache_root) == before
    # Beyond the tolerance it is still an error, saying so.
    strategy, csv = local_strategy(tmp_path, table, "price_tolerance = 0.0001")
    error = backtest_fails(cli_runner, strategy, cache_root)
    assert error == (
        f"source 'local', symbol 'AAA' ({csv}): open 105.26 is above high 105.207 at "
        "2020-01-04 00:00:00+00:00, beyond price_tolerance 0.0001 (2 bars beyond it)"
    )


def test_the_repair_widens_high_and_low_and_nothing_else() -> None:
    table = price_table(12)
    frame = table.assign(date=pd.to_datetime(table["date"], utc=True)).set_index("date")
    frame.loc[frame.index[2], "close"] = frame["low"].iloc[2] * 0.9995
    with pytest.warns(BarsWarning, match="1 bars with open/close outside"):
        bars = validate_bars(frame, "x", price_tolerance=0.001)
    assert bars["low"].iloc[2] == frame["close"].iloc[2]
    pd.testing.assert_frame_equal(bars.drop(index=bars.index[2]), frame.drop(index=frame.index[2]), check_names=False)
    with pytest.raises(ConfigError, match=r"price_tolerance 5: expected a fraction of the price in \[0, 1\)"):
        validate_bars(frame, "x", price_tolerance=5)


def test_rounding_of_adjusted_prices_is_not_an_inconsistency() -> None:
    table = price_table(12)
    frame = table.assign(date=pd.to_datetime(table["date"], utc=True)).set_index("date")
    frame["open"] = frame["high"] * (1 + 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bars = validate_bars(frame, "x")
    assert (bars["high"] >= bars["open"]).all()


def test_a_mixed_file_in_daylight_saving_offsets_is_one_clock(registry: Registry, tmp_path: Path) -> None:
    table = price_table(12)
    stamps = [f"{d}T00:00:00-05:00" for d in table["date"]]
    stamps[6:] = [s.replace("-05:00", "-04:00") for s in stamps[6:]]
    table.assign(date=stamps).to_csv(tmp_path / "AAA.csv", index=False)
    bars = registry.data_sources.get("local").load(BarsRequest(("AAA",), "1d", options={"path": str(tmp_path)}))
    assert bars["AAA"].index[6] == pd.Timestamp("2020-01-07 04:00", tz="UTC")


# --- bad bars from a network source never reach the cache ----------------------------------------


INLINE_FEED = """
import numpy as np
import pandas as pd

import fintrade
from fintrade import Strategy, signal
from fintrade.cache import cached_bars
from fintrade.types import DataSource


def _fetch(start, end):
    index = pd.date_range(start, end, freq="D", inclusive="left")
    close = np.full(len(index), 100.0)
    close[-1] = np.inf
    return pd.DataFrame({{"open": close, "high": close, "low": close, "close": close, "volume": 1.0}}, index=index)


def _load(request):
    return {{s: cached_bars(source="feed", symbol=s, interval=request.interval, start=request.start,
                           end=request.end, fetch=_fetch) for s in request.symbols}}


@fintrade.hookimpl
def fintrade_data_sources():
    yield DataSource(name="feed", load=_load)


class FromFeed(Strategy):
    symbols = ["AAA"]
    source = "feed"
    start = "2020-01-01"
    end = "{end}"
    signals = [signal("sma-cross", fast=2, slow=5)]
"""


def test_a_bad_download_fails_before_anything_is_written_to_the_cache(
    cli_runner, cache_root: Path, tmp_path: Path
) -> None:
    path = tmp_path / "feed.py"
    path.write_text(INLINE_FEED.format(end="2020-03-01"))
    error = backtest_fails(cli_runner, path, cache_root)
    assert error == (
        "source 'feed', symbol 'AAA', interval 1d: infinite open at "
        "2020-02-29 00:00:00+00:00 (1 bars with infinite values)"
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "low",
            120.0,
            "high 101 is below low 120 at 2020-01-25 00:00:00+00:00 (1 bars with high below low or open/close "
            "outside [low, high]; a strategy's price_tolerance repairs small ones)",
        ),
        ("volume", -1.0, "negative volume -1 at 2020-01-25 00:00:00+00:00 (1 bars with negative volume)"),
    ],
)
def test_cached_bars_validate_each_download_before_writing(cache_root: Path, column: str, value: float, message):
    before = snapshot(cache_root)

    def fetch(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        index = pd.date_range(start, end, freq="D", inclusive="left")
        frame = pd.DataFrame({"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 5.0}, index=index)
        frame.loc[day(24), column] = value
        return frame

    with pytest.raises(DataError) as error:
        cached_bars(source="feed", symbol="AAA", interval="1d", start=day(0), end=day(30), fetch=fetch, offline=False)
    assert str(error.value) == f"source 'feed', symbol 'AAA', interval 1d: {message}"
    assert snapshot(cache_root) == before


def test_a_download_spaced_below_the_interval_is_refused_before_the_cache(cache_root: Path) -> None:
    before = snapshot(cache_root)

    def fetch(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        index = pd.date_range(start, periods=50, freq="s")
        return pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=index)

    with bar_checks(interval="1d"), pytest.raises(DataError) as error:
        cached_bars(source="feed", symbol="AAA", interval="1d", start=day(0), end=day(30), fetch=fetch, offline=False)
    assert str(error.value) == (
        "source 'feed', symbol 'AAA', interval 1d: bars are 1s apart (median) but the interval is 1d (first bars "
        "at 2020-01-21 00:00:00+00:00 and 2020-01-21 00:00:01+00:00); check the interval, or the timestamps' unit"
    )
    assert snapshot(cache_root) == before


# --- documents -------------------------------------------------------------------------------------


def write_documents(tmp_path: Path, published: list[str], ids: list[str] | None = None) -> Path:
    path = tmp_path / "news.csv"
    frame = pd.DataFrame(
        {"published_at": published, "symbol": "AAA", "text": [f"AAA news {i}" for i in range(len(published))]}
    )
    if ids is not None:
        frame["id"] = ids
    frame.to_csv(path, index=False)
    return path


def load_local_documents(registry: Registry, path: Path, **options: object) -> pd.DataFrame:
    source = registry.text_sources.get("local-documents")
    return source.load(DocumentsRequest(("AAA",), options={"path": str(path), **options}))


def test_naive_document_times_need_a_declared_timezone(registry: Registry, tmp_path: Path) -> None:
    path = write_documents(tmp_path, ["2020-01-02T10:00:00Z", "2020-01-02 15:30"])
    with pytest.raises(DataError) as error:
        load_local_documents(registry, path)
    assert str(error.value) == (
        f"text source 'local-documents', file {path}: row 2: published_at '2020-01-02 15:30' has no timezone; "
        "write it with an offset ('…Z', '…+01:00') or set the source's option timezone (e.g. 'America/New_York')"
    )
    documents = load_local_documents(registry, path, timezone="America/New_York")
    assert list(documents["published_at"]) == [
        pd.Timestamp("2020-01-02 10:00", tz="UTC"),
        pd.Timestamp("2020-01-02 20:30", tz="UTC"),
    ]
    with pytest.raises(ConfigError, match="unknown timezone 'Mars/Olympus'"):
        load_local_documents(registry, path, timezone="Mars/Olympus")


def test_dated_documents_must_be_declared_and_count_from_the_end_of_their_day(
    registry: Registry, tmp_path: Path
) -> None:
    path = write_documents(tmp_path, ["2020-01-02T10:00:00Z", "2020-01-03"])
    with pytest.raises(DataError) as error:
        load_local_documents(registry, path)
    assert str(error.value) == (
        f"text source 'local-documents', file {path}: row 2: published_at '2020-01-03' is a date without a time; "
        "set the source's option dates=True to count it from the end of that day"
    )
    with pytest.raises(ConfigError) as config:
        load_local_documents(registry, path, dates=True)
    assert str(config.value) == (
        "text source 'local-documents': option dates=True needs option timezone (the zone the dates are in, "
        "e.g. 'America/New_York'): a date counts from the end of that day there"
    )
    documents = load_local_documents(registry, path, dates=True, timezone="America/New_York")
    # Known at midnight ending 3 January in New York: 05:00 UTC on the 4th, never the 3rd's start.
    assert documents["published_at"].iloc[1] == pd.Timestamp("2020-01-04 05:00", tz="UTC")


def test_core_refuses_naive_published_at_from_any_text_source() -> None:
    last = pd.Timestamp("2020-02-01", tz="UTC")
    naive = pd.DataFrame({"published_at": ["2020-01-02 10:00"], "symbol": ["AAA"], "text": ["t"]})
    with pytest.raises(DataError) as error:
        prepare_documents(naive, ["AAA"], last, "text source 'feed'")
    assert str(error.value) == (
        "text source 'feed': published_at '2020-01-02 10:00' (row 1) is a time without a timezone; "
        "text sources must return timezone-aware times (UTC)"
    )
    dated = naive.assign(published_at=["2020-01-02"])
    with pytest.raises(DataError, match=r"published_at '2020-01-02' \(row 1\) is a date without a time;"):
        prepare_documents(dated, ["AAA"], last, "text source 'feed'")
    column = naive.assign(published_at=pd.to_datetime(naive["published_at"]))
    with pytest.raises(DataError) as error:
        prepare_documents(column, ["AAA"], last, "text source 'feed'")
    assert str(error.value) == (
        "text source 'feed': published_at has no timezone (first 2020-01-02 10:00:00); "
        "text sources must return timezone-aware times (UTC)"
    )


def test_duplicate_ids_and_documents_past_the_data_reach_the_backtest_warnings(
    registry: Registry, tmp_path: Path, cache_root: Path
) -> None:
    table = price_table()
    data = tmp_path / "data"
    data.mkdir()
    table.to_csv(data / "AAA.csv", index=False)
    published = [
        "2020-01-03T10:00:00Z",
        "2020-01-03T10:00:00Z",
        "2020-01-05T10:00:00Z",
        "2020-03-01T00:00:00Z",
        "2020-04-01T00:00:00Z",
    ]
    news = write_documents(tmp_path, published, ids=["a", "a", "b", "c", "d"])

    class WithNews(Strategy):
        symbols = ["AAA"]
        source = "local"
        source_options = {"path": str(data)}
        text_source = "local-documents"
        text_options = {"path": str(news)}

    before = snapshot(cache_root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        inputs, notes = load_signal_inputs(WithNews(), registry)
    assert notes == [
        "text source 'local-documents': left out 2 documents published at or after the requested end "
        "2020-02-10 00:00:00+00:00",
        "text source 'local-documents': dropped 1 with a duplicate id (the first kept)",
    ]
    assert list(inputs.documents["id"]) == ["a", "b"]
    assert snapshot(cache_root) == before


def test_the_same_story_about_two_symbols_is_not_a_duplicate() -> None:
    documents = pd.DataFrame(
        {
            "published_at": pd.to_datetime(["2020-01-02T10:00Z"] * 2, utc=True),
            "symbol": ["AAA", "BBB"],
            "text": ["merger", "merger"],
            "id": ["x", "x"],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", AlignmentWarning)
        assert len(prepare_documents(documents, ["AAA", "BBB"], pd.Timestamp("2020-02-01", tz="UTC"))) == 2


# --- strategy attributes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("start = '2015-13-45'", "start = '2015-13-45' is not a date"),
        ("start = 2015", "start = 2015 is not a date"),
        ("end = ['2016-01-01']", "end = ['2016-01-01'] is not a date"),
    ],
)
def test_start_and_end_must_be_dates(cli_runner, cache_root: Path, tmp_path: Path, line: str, message: str) -> None:
    path = write_strategy(tmp_path, f"symbols = ['AAPL']\n{line}")
    error = backtest_fails(cli_runner, path, cache_root)
    assert error == f"{path}:6: {message}; use a string such as '2015-01-01', a datetime.date or a pandas Timestamp"


def test_dates_may_be_strings_dates_or_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "ok.py"
    path.write_text(
        "import datetime\nimport pandas as pd\nfrom fintrade import Strategy\n\n\n"
        "class Ok(Strategy):\n    symbols = ['AAPL']\n    start = datetime.date(2015, 1, 1)\n"
        "    end = pd.Timestamp('2016-01-01', tz='America/New_York')\n"
    )
    strategy = load_strategy(str(path)).strategy
    assert to_utc_timestamp(strategy.start) == pd.Timestamp("2015-01-01", tz="UTC")
    assert to_utc_timestamp(strategy.end) == pd.Timestamp("2016-01-01 05:00", tz="UTC")
    assert to_utc_timestamp(datetime.datetime(2015, 1, 1, 9, 30)) == pd.Timestamp("2015-01-01 09:30", tz="UTC")


def test_a_strategy_built_in_code_gets_the_same_date_check(registry: Registry) -> None:
    class InCode(Strategy):
        symbols = ["AAPL"]
        start = 2015  # type: ignore[assignment]
        signals = [signal("sma-cross")]

    with pytest.raises(ConfigError) as error:
        run_backtest(InCode(), registry)
    assert str(error.value) == (
        "start 2015 is not a date; use a string such as '2015-01-01', a datetime.date or a pandas Timestamp"
    )


def test_symbols_must_be_a_list(cli_runner, cache_root: Path, tmp_path: Path) -> None:
    path = write_strategy(tmp_path, "symbols = 'AAPL'")
    error = backtest_fails(cli_runner, path, cache_root)
    assert error == f"{path}:5: symbols = 'AAPL' is a string; write a list: symbols = ['AAPL']"
    path = write_strategy(tmp_path, "symbols = ['AAPL', 5]")
    with pytest.raises(ConfigError) as config:
        load_strategy(str(path))
    assert str(config.value) == (
        f"{path}:5: symbols = ['AAPL', 5]: expected a list of symbol strings, e.g. ['AAPL', 'MSFT']"
    )


def test_bad_input_through_the_console_script_has_no_traceback(tmp_path: Path) -> None:
    path = write_strategy(tmp_path, "symbols = ['AAPL']\nstart = 'not a date'")
    result = subprocess.run(
        [sys.executable, "-c", "from fintrade.cli.main import run; run()", "backtest", str(path), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"error: {path}:6: start = 'not a date' is not a date; use a string such as '2015-01-01', "
        "a datetime.date or a pandas Timestamp"
    )


# --- the memory budget of a grid -------------------------------------------------------------------


GRID = """\
symbols = ['AAPL', 'MSFT']
start = '2014-01-01'
end = '2016-01-01'
grid = {'sma-cross.fast': [2, 3, 4, 5], 'sma-cross.slow': [10, 20, 30]}
"""


def test_parse_and_format_memory_sizes() -> None:
    assert parse_memory("8G") == 8 * 1024**3
    assert parse_memory("512M") == 512 * 1024**2
    assert parse_memory("1.5GB") == int(1.5 * 1024**3)
    assert parse_memory("1000000") == 1_000_000
    assert format_memory(6 * 1024**3) == "6.0 GiB"
    with pytest.raises(ConfigError) as error:
        parse_memory("lots")
    assert str(error.value) == (
        "FINTRADE_MAX_MEMORY 'lots' is not a memory size: use bytes or a number with K, M, G or T (8G, 512M)"
    )


def test_a_grid_over_the_budget_is_refused_before_any_signal_is_computed(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Huge(Strategy):
        symbols = ["AAPL", "MSFT"]
        start = "2014-01-01"
        end = "2016-01-01"
        signals = [signal("sma-cross")]
        grid = {"sma-cross.fast": list(range(2, 302)), "sma-cross.slow": list(range(400, 700))}
        walk_forward = WalkForward(folds=2)

    def never(*args: object) -> None:
        raise AssertionError("a signal was computed")

    monkeypatch.setattr(fintrade.sweep, "compute_signal", never)
    # The grid is swept in blocks, so only its returns (16 bytes per combination-bar) must fit.
    monkeypatch.setattr(fintrade.sweep, "total_memory", lambda: 1024**3)
    monkeypatch.delenv("FINTRADE_MAX_MEMORY", raising=False)
    with pytest.raises(ConfigError) as error:
        run_backtest(Huge(), registry)
    assert str(error.value) == (
        "the grid of 90,000 combinations x 2 symbols x 504 bars needs about 1.1 GiB of memory, over the budget "
        "of 512.0 MiB (half of this machine's 1.0 GiB; FINTRADE_MAX_MEMORY sets it); use fewer combinations or "
        "symbols or a shorter range, or raise the budget (FINTRADE_MAX_MEMORY=2G or fintrade backtest "
        "--max-memory 2G)"
    )


def test_the_grid_estimate_is_the_measured_line() -> None:
    # 0.36 GiB of fixed cost, 16 bytes per combination-bar of returns, and 112 bytes per column-bar
    # of the block computed at once (see fintrade.sweep.BYTES_PER_COLUMN_BAR).
    assert fintrade.sweep.grid_memory(400, 5, 1258) == 385 * 2**20 + 16 * 400 * 1258 + 112 * 5 * 1258
    assert fintrade.sweep.grid_memory(400, 5, 1258, block=400) == 385 * 2**20 + 16 * 400 * 1258 + 112 * 400 * 5 * 1258
    check_grid_memory(1, 1, 10)  # nothing to refuse


def test_the_memory_budget_from_the_environment_and_the_cli(
    cli_runner, cache_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINTRADE_MAX_MEMORY", "100M")  # restored after the test, whatever the CLI sets
    path = write_strategy(tmp_path, GRID)
    expected = (
        "the grid of 12 combinations x 2 symbols x 504 bars needs about 385.2 MiB of memory, over the budget of "
        "{budget} ({origin}); use fewer combinations or symbols or a shorter range, or raise the budget "
        "(FINTRADE_MAX_MEMORY=1G or fintrade backtest --max-memory 1G)"
    )
    error = backtest_fails(cli_runner, path, cache_root)
    assert error == expected.format(budget="100.0 MiB", origin="FINTRADE_MAX_MEMORY=100M")
    error = backtest_fails(cli_runner, path, cache_root, "--max-memory", "300M")
    assert error == expected.format(budget="300.0 MiB", origin="FINTRADE_MAX_MEMORY=300M")
    error = backtest_fails(cli_runner, path, cache_root, "--max-memory", "lots")
    assert error == "--max-memory 'lots' is not a memory size: use bytes or a number with K, M, G or T (8G, 512M)"


# --- funding through local files -------------------------------------------------------------------


def test_a_local_perpetual_backtests_with_its_funding(registry: Registry, tmp_path: Path) -> None:
    n = 60
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    rate = rng.normal(0.0003, 0.0002, n)
    table = pd.DataFrame(
        {
            "timestamp": pd.date_range("2023-01-01", periods=n, freq="D").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": 10.0,
            "funding_rate": rate,
        }
    )
    with_funding, without = tmp_path / "with", tmp_path / "without"
    with_funding.mkdir()
    without.mkdir()
    table.to_csv(with_funding / "BTC.csv", index=False)
    table.drop(columns="funding_rate").to_csv(without / "BTC.csv", index=False)

    def run(folder: Path) -> np.ndarray:
        class Perp(Strategy):
            symbols = ["BTC"]
            source = "local"
            source_options = {"path": str(folder)}
            signals = [signal("sma-cross", fast=2, slow=5)]
            costs = Costs()
            initial_cash = 10_000.0

        result = run_backtest(Perp(), registry)
        return result.curves.benchmark * Perp.initial_cash  # buy and hold: in at bar 1's open, held to the end

    paid, free = run(with_funding), run(without)
    # Independently: the units bought at bar 1's open are carried into bars 2.. and pay units * open * rate there.
    units = 10_000.0 / open_[1]
    funding = np.concatenate([[0.0, 0.0], np.cumsum(units * open_[2:] * rate[2:])])
    np.testing.assert_allclose(free - paid, funding, rtol=1e-9, atol=1e-7)
    assert funding[-1] > 0
