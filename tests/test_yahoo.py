"""The ``yahoo`` and ``yahoo-news`` sources: the real yfinance client against a loopback Yahoo.

No mocks of yfinance: every test starts :mod:`tests.loopback.yahoo`, points the plugin at it
with ``FINTRADE_YAHOO_URL`` and reads the server's request log. yfinance itself retries any
HTTP error once (after switching its cookie strategy), so a fault has to hit two requests in
a row before the plugin's own retries see it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fintrade.cache import DataWarning
from fintrade.errors import ConfigError, DataError
from fintrade.types import DOCUMENT_COLUMNS, BarsRequest, DocumentsRequest
from tests.loopback.server import UNRESOLVABLE_URL, Fault, LoopbackServer, Query, refusing_url
from tests.loopback.yahoo import CHART, EXCHANGE_TZ, NEWS, daily_series, news_items, start_yahoo_server

pytest.importorskip("yfinance")  # the `yahoo` extra

from fintrade_yahoo.client import retry_after_seconds
from fintrade_yahoo.news import load_yahoo_news
from fintrade_yahoo.prices import load_yahoo_bars, request_range

ROOT = Path(__file__).resolve().parents[1]
FAST = {"attempts": 3, "backoff": 0.01, "timeout": 2.0}
"""Retry settings that keep fault tests quick: 3 attempts, 10 ms first backoff."""


@pytest.fixture
def yahoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback Yahoo the plugin talks to, and an empty cache of this test's own."""
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FINTRADE_OFFLINE", raising=False)
    with start_yahoo_server() as server:
        monkeypatch.setenv("FINTRADE_YAHOO_URL", server.url)
        yield server


def utc(value: str) -> pd.Timestamp:
    return pd.Timestamp(value, tz="UTC")


def load(
    symbols: tuple[str, ...],
    start: str | pd.Timestamp,
    end: str | pd.Timestamp | None,
    interval: str = "1d",
    **options: Any,
) -> dict[str, pd.DataFrame]:
    begin = utc(start) if isinstance(start, str) else start
    finish = utc(end) if isinstance(end, str) else end
    return load_yahoo_bars(BarsRequest(symbols, interval, begin, finish, {**FAST, **options}))


def history(server: LoopbackServer, symbol: str | None = None) -> list[Query]:
    """The chart requests for a date range (yfinance's timezone lookups ask for ``range=1d``)."""
    return [q for p, q in server.requests if p.startswith(CHART + (symbol or "")) and "period1" in q]


def local_midnight(day: str) -> int:
    """A daily range bound as the plugin sends it: the date's midnight at the exchange."""
    return int(pd.Timestamp(day, tz=EXCHANGE_TZ).timestamp())


def expected_daily(symbol: str, start: str, end: str, adjusted: bool = False) -> pd.DataFrame:
    """What the loopback server holds for ``symbol``, labelled as the plugin labels daily bars."""
    series = daily_series(symbol, str(pd.Timestamp.now(tz=EXCHANGE_TZ).date()))
    index = series.dates.tz_localize("UTC").as_unit("ns")
    factor = series.adjclose / series.close if adjusted else np.ones(len(index))
    frame = pd.DataFrame(
        {
            "open": series.open * factor,
            "high": series.high * factor,
            "low": series.low * factor,
            "close": series.close * factor,
            "volume": series.volume.astype(float),
        },
        index=index,
    )
    return frame.loc[(frame.index >= utc(start)) & (frame.index < utc(end))]


def cache_file(tmp_path: Path, symbol: str, adjustment: str = "raw", interval: str = "1d") -> Path:
    return tmp_path / "cache" / "bars" / "yahoo" / interval / adjustment / f"{symbol}.parquet"


def chart_fault(kind: str, times: int | None = 1, **settings: Any) -> Fault:
    """A fault on the chart requests for a date range only (never on timezone lookups)."""
    return Fault(kind, path=CHART, times=times, when=lambda query: "period1" in query, **settings)


# -- bars ------------------------------------------------------------------------------------


def test_daily_bars_for_two_symbols_are_labelled_with_their_utc_dates(yahoo: LoopbackServer) -> None:
    bars = load(("AAPL", "msft"), "2019-01-01", "2019-03-01")
    assert list(bars) == ["AAPL", "msft"]
    for symbol, frame in bars.items():
        expected = expected_daily(symbol.upper(), "2019-01-01", "2019-03-01")
        assert str(frame.index.tz) == "UTC" and (frame.index == frame.index.normalize()).all()
        pd.testing.assert_frame_equal(frame[list(expected.columns)], expected, check_freq=False)
        assert list(frame.columns) == ["open", "high", "low", "close", "volume", "dividends", "stock_splits"]
    # MSFT goes ex-dividend on the first weekday of February; the cash amount lands on that bar.
    series = daily_series("MSFT", str(pd.Timestamp.now(tz=EXCHANGE_TZ).date()))
    amount = series.dividends[int(pd.Timestamp("2019-02-01 09:30", tz=EXCHANGE_TZ).timestamp())]
    dividends = bars["msft"]["dividends"]
    assert dividends[dividends != 0].to_dict() == {utc("2019-02-01"): amount}
    assert [(q["period1"], q["period2"]) for q in history(yahoo)] == [
        (str(local_midnight("2019-01-01")), str(local_midnight("2019-03-01")))
    ] * 2


def test_stock_splits_are_reported_on_their_day(yahoo: LoopbackServer) -> None:
    splits = load(("AAPL",), "2020-08-01", "2020-09-15")["AAPL"]["stock_splits"]
    assert splits[splits != 0].to_dict() == {utc("2020-08-31"): 4.0}


def test_hourly_bars_for_two_symbols_are_utc_open_times(yahoo: LoopbackServer) -> None:
    now = pd.Timestamp.now(tz="UTC")
    bars = load(("MSFT", "JPM"), now.floor("D") - pd.Timedelta(days=8), None, interval="1h")
    for frame in bars.values():
        assert str(frame.index.tz) == "UTC" and frame.index.is_monotonic_increasing
        local = frame.index.tz_convert(EXCHANGE_TZ)
        # US sessions open at 09:30 New York: hourly bars open at half past, 14:30 UTC in winter.
        assert set(local.strftime("%H:%M")) == {"09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30"}
        days = pd.Series(local.date).value_counts()
        assert (days[days.index != days.index.max()] == 7).all()
        assert frame.index[-1] + pd.Timedelta(hours=1) <= now  # only bars that have closed
    assert len(history(yahoo)) == 2


def test_adjusted_and_raw_prices_differ_and_are_cached_apart(yahoo: LoopbackServer, tmp_path: Path) -> None:
    raw = load(("MSFT",), "2018-01-01", "2019-01-01")["MSFT"]
    adjusted = load(("MSFT",), "2018-01-01", "2019-01-01", adjusted=True)["MSFT"]
    expected_raw = expected_daily("MSFT", "2018-01-01", "2019-01-01")
    pd.testing.assert_frame_equal(raw[["close"]], expected_raw[["close"]], check_freq=False)
    expected = expected_daily("MSFT", "2018-01-01", "2019-01-01", adjusted=True)
    np.testing.assert_allclose(adjusted["close"], expected["close"], rtol=1e-6)
    # Later dividends scale earlier adjusted prices down: adjusted is below raw throughout.
    assert (adjusted["close"] < raw["close"]).all()
    assert cache_file(tmp_path, "MSFT", "raw").exists() and cache_file(tmp_path, "MSFT", "adjusted").exists()
    yahoo.requests.clear()
    again = load(("MSFT",), "2018-01-01", "2019-01-01", adjusted=True)["MSFT"]
    pd.testing.assert_frame_equal(again, adjusted)
    assert yahoo.requests == []


def test_extending_two_years_to_three_fetches_only_the_missing_year(yahoo: LoopbackServer) -> None:
    """Acceptance: 2 years, then 3 years: one request for the missing year; then none at all."""
    load(("MSFT",), "2015-01-01", "2017-01-01")
    yahoo.requests.clear()
    three_years = load(("MSFT",), "2015-01-01", "2018-01-01")["MSFT"]
    charts = [q for p, q in yahoo.requests if p == CHART + "MSFT"]
    assert [(q["period1"], q["period2"]) for q in charts if "period1" in q] == [
        (str(local_midnight("2017-01-01")), str(local_midnight("2018-01-01")))
    ]
    assert all(q.get("range") == "1d" for q in charts if "period1" not in q)  # timezone lookups only
    yahoo.requests.clear()
    third = load(("MSFT",), "2015-01-01", "2018-01-01")["MSFT"]
    assert yahoo.requests == []
    pd.testing.assert_frame_equal(third, three_years)
    expected = expected_daily("MSFT", "2015-01-01", "2018-01-01")
    pd.testing.assert_frame_equal(third[list(expected.columns)], expected, check_freq=False)


def test_offline_with_missing_data_is_a_clear_error_without_requests(
    yahoo: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINTRADE_OFFLINE", "1")
    with pytest.raises(DataError, match=r"^source 'yahoo', symbol 'MSFT', interval 1d: offline and .* is not cached"):
        load(("MSFT",), "2018-01-01", "2019-01-01")
    assert yahoo.requests == []


def test_http_500_twice_is_retried_and_the_bars_cached(yahoo: LoopbackServer, tmp_path: Path) -> None:
    yahoo.faults.append(chart_fault("status", times=2, status=500))
    bars = load(("MSFT",), "2019-01-01", "2019-03-01")["MSFT"]
    assert len(bars) == len(expected_daily("MSFT", "2019-01-01", "2019-03-01"))
    assert len(history(yahoo)) == 3  # 500, yfinance's own retry 500, our retry 200
    assert cache_file(tmp_path, "MSFT").exists()
    yahoo.requests.clear()
    load(("MSFT",), "2019-01-01", "2019-03-01")
    assert yahoo.requests == []


def test_http_429_waits_for_retry_after_then_succeeds(yahoo: LoopbackServer) -> None:
    yahoo.faults.append(chart_fault("status", times=2, status=429, retry_after=0.4))
    began = time.monotonic()
    bars = load(("JPM",), "2019-01-01", "2019-03-01", backoff=0.001)["JPM"]
    waited = time.monotonic() - began
    assert not bars.empty and len(history(yahoo)) == 3
    # The backoff alone would wait at most 2 ms: the wait is Yahoo's Retry-After.
    assert 0.4 <= waited < 3.0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("0.25") == 0.25
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    in_a_minute = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=60)
    seconds = retry_after_seconds(in_a_minute.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None and 55 < seconds <= 60


def test_permanent_http_500_gives_one_clear_error_after_bounded_attempts(yahoo: LoopbackServer, tmp_path: Path) -> None:
    yahoo.faults.append(chart_fault("status", times=None, status=500))
    with pytest.raises(DataError) as error:
        load(("JPM",), "2019-01-01", "2019-03-01")
    assert str(error.value) == (
        "source 'yahoo', symbol 'JPM', interval 1d: 2019-01-01 to 2019-03-01: gave up after 3 attempts: "
        "HTTP 500 from Yahoo"
    )
    assert len(history(yahoo)) == 6  # 3 attempts, each retried once by yfinance
    assert not cache_file(tmp_path, "JPM").exists()


def test_slow_response_beyond_the_timeout_is_retried(yahoo: LoopbackServer) -> None:
    yahoo.faults.append(chart_fault("slow", delay=1.5))
    began = time.monotonic()
    bars = load(("XOM",), "2019-01-01", "2019-03-01", timeout=0.3)["XOM"]
    assert not bars.empty and len(history(yahoo)) == 2
    assert time.monotonic() - began < 1.4  # did not wait for the slow answer


def test_malformed_json_is_a_clear_error_and_nothing_is_cached(yahoo: LoopbackServer, tmp_path: Path) -> None:
    yahoo.faults.append(chart_fault("truncate", keep=0.6))
    with pytest.raises(DataError, match=r"^source 'yahoo', symbol 'XOM', interval 1d: malformed JSON from Yahoo \("):
        load(("XOM",), "2019-01-01", "2019-03-01")
    assert len(history(yahoo)) == 1  # a complete but broken document is not worth retrying
    assert not cache_file(tmp_path, "XOM").exists()
    assert not load(("XOM",), "2019-01-01", "2019-03-01")["XOM"].empty


def test_body_cut_short_is_retried_then_a_clear_error(yahoo: LoopbackServer, tmp_path: Path) -> None:
    yahoo.faults.append(chart_fault("disconnect", times=None, keep=0.5))
    with pytest.raises(DataError, match=r"gave up after 2 attempts: the response was cut off before its end"):
        load(("JNJ",), "2019-01-01", "2019-03-01", attempts=2)
    assert len(history(yahoo)) == 2
    assert not cache_file(tmp_path, "JNJ").exists()


def count_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The attempts the plugin's retry loop makes, one entry (its ``what``) per attempt."""
    from fintrade_yahoo import client

    attempts: list[str] = []
    real = client.with_retries

    def counting(call: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        def counted() -> Any:
            attempts.append(what)
            return call()

        return real(counted, what, *args, **kwargs)

    monkeypatch.setattr(client, "with_retries", counting)
    return attempts


@pytest.mark.parametrize(
    ("unreachable", "reason"),
    [("refused", "connection failed"), ("unresolvable", "DNS lookup failed")],
)
def test_an_unreachable_host_fails_at_once_suggesting_offline(
    unreachable: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FINTRADE_OFFLINE", raising=False)
    attempts = count_attempts(monkeypatch)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(refusing_url()) if unreachable == "refused" else UNRESOLVABLE_URL
        monkeypatch.setenv("FINTRADE_YAHOO_URL", url)
        with pytest.raises(DataError) as error:
            load(("MSFT",), "2019-01-01", "2019-03-01", attempts=5)
    host = url.removeprefix("http://")
    assert str(error.value) == (
        f"source 'yahoo', symbol 'MSFT', interval 1d: could not reach {host} ({reason}); "
        "check the network connection, or run with --offline to use only what is cached"
    )
    assert len(attempts) == 1  # of 5 allowed: no retry
    assert not cache_file(tmp_path, "MSFT").exists()


def test_unknown_symbol_is_a_clear_error(yahoo: LoopbackServer) -> None:
    with pytest.raises(DataError) as error:
        load(("NOSUCH",), "2019-01-01", "2019-03-01")
    assert str(error.value) == (
        "source 'yahoo', symbol 'NOSUCH', interval 1d: unknown symbol (Yahoo: No data found, symbol may be delisted)"
    )
    assert history(yahoo) == []  # known to be unknown from the timezone lookup


def _first_half(path: str, query: Query, body: bytes) -> bytes:
    """A chart answer that stops half way through the range, as Yahoo's do now and then."""
    payload = json.loads(body)
    result = payload["chart"]["result"][0]
    keep = len(result["timestamp"]) // 2
    result["timestamp"] = result["timestamp"][:keep]
    quote = result["indicators"]["quote"][0]
    for column in quote:
        quote[column] = quote[column][:keep]
    for adjclose in result["indicators"].get("adjclose", []):
        adjclose["adjclose"] = adjclose["adjclose"][:keep]
    last = result["timestamp"][-1]
    for kind, events in result.get("events", {}).items():
        result["events"][kind] = {key: event for key, event in events.items() if event["date"] <= last}
    return json.dumps(payload).encode()


def test_partial_range_is_cached_in_part_and_completed_next_time(yahoo: LoopbackServer) -> None:
    expected = expected_daily("JNJ", "2019-01-01", "2020-01-01")
    last = expected.index[len(expected) // 2 - 1]
    yahoo.faults.append(chart_fault("transform", transform=_first_half))
    with pytest.raises(DataError) as error:
        load(("JNJ",), "2019-01-01", "2020-01-01")
    assert str(error.value) == (
        f"source 'yahoo', symbol 'JNJ', interval 1d: Yahoo returned bars only up to {last:%Y-%m-%d} of 2019-01-01 "
        "to 2020-01-01; the part received is cached, the rest will be fetched next time"
    )
    yahoo.requests.clear()
    bars = load(("JNJ",), "2019-01-01", "2020-01-01")["JNJ"]
    resume = f"{last + pd.Timedelta(days=1):%Y-%m-%d}"
    assert [(q["period1"], q["period2"]) for q in history(yahoo)] == [
        (str(local_midnight(resume)), str(local_midnight("2020-01-01")))
    ]
    pd.testing.assert_frame_equal(bars[list(expected.columns)], expected, check_freq=False)


def test_corrupt_cache_file_is_detected_warned_about_and_refetched(yahoo: LoopbackServer, tmp_path: Path) -> None:
    first = load(("AAPL",), "2019-01-01", "2019-03-01")["AAPL"]
    path = cache_file(tmp_path, "AAPL")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    yahoo.requests.clear()
    with pytest.warns(DataWarning, match=r"cache file .*AAPL\.parquet is corrupt"):
        again = load(("AAPL",), "2019-01-01", "2019-03-01")["AAPL"]
    assert len(history(yahoo)) == 1
    pd.testing.assert_frame_equal(again, first)


def test_one_minute_bars_are_downloaded_in_pieces_of_a_week(yahoo: LoopbackServer) -> None:
    now = pd.Timestamp.now(tz="UTC")
    bars = load(("AAPL",), now.floor("D") - pd.Timedelta(days=12), None, interval="1m")["AAPL"]
    spans = [(int(q["period1"]), int(q["period2"])) for q in history(yahoo)]
    assert len(spans) == 2 and all(end - start <= 7 * 86400 for start, end in spans)
    assert spans[0][1] == spans[1][0]
    assert bars.index.is_unique and (bars.index.to_series().diff().dropna() >= pd.Timedelta(minutes=1)).all()


def test_only_bars_that_have_closed_are_requested() -> None:
    now = utc("2024-03-05 15:10:30")  # a Tuesday, New York session in progress
    # US hourly bars open at half past: at 15:10 the 14:30 bar is still forming, 13:30 is final.
    assert request_range("1h", None, None, now) == (utc("2022-03-07"), utc("2024-03-05 14:10"))  # 729 days
    assert request_range("1m", utc("2024-03-01"), utc("2024-04-01"), now)[1] == utc("2024-03-05 15:09")
    # Daily bars are labelled with their date: today's is never final, yesterday's always is.
    assert request_range("1d", None, None, now) == (utc("2014-01-01"), utc("2024-03-05"))
    assert request_range("1d", utc("2020-01-01 12:00"), utc("2021-01-01 12:00"), now) == (
        utc("2020-01-01"),
        utc("2021-01-01"),
    )


def test_requests_without_a_range_default_to_ten_years_of_daily_bars(yahoo: LoopbackServer) -> None:
    bars = load_yahoo_bars(BarsRequest(("JPM",), "1d", None, None, FAST))["JPM"]
    now = pd.Timestamp.now(tz="UTC")
    first_day = f"{now.year - 10}-01-01"
    assert [q["period1"] for q in history(yahoo)] == [str(local_midnight(first_day))]
    assert bars.index[0] >= utc(first_day) and bars.index[0] - utc(first_day) < pd.Timedelta(days=4)
    assert bars.index[-1] < now.floor("D")  # today's bar is still forming: not served, not cached


def test_intraday_beyond_yahoos_reach_is_a_clear_error_without_requests(yahoo: LoopbackServer) -> None:
    with pytest.raises(
        DataError,
        match=r"^source 'yahoo', symbol 'AAPL', interval 1h: Yahoo keeps 1h bars for the "
        r"last 730 days only, so 2020-01-01 is out of reach",
    ):
        load(("AAPL",), "2020-01-01", None, interval="1h")
    assert history(yahoo) == []


def test_options_and_the_mirror_url_are_checked(yahoo: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'adjust' \(did you mean 'adjusted'\?\)"):
        load(("AAPL",), "2019-01-01", "2019-03-01", adjust=True)
    with pytest.raises(ConfigError, match=r"interval '4h' is not available"):
        load(("AAPL",), "2019-01-01", "2019-03-01", interval="4h")
    monkeypatch.setenv("FINTRADE_YAHOO_URL", "localhost:8080")
    with pytest.raises(ConfigError, match=r"FINTRADE_YAHOO_URL must be a base URL"):
        load(("AAPL",), "2019-01-01", "2019-03-01")


# -- news ------------------------------------------------------------------------------------


def test_news_has_utc_publish_times_symbols_texts_and_ids(yahoo: LoopbackServer) -> None:
    documents = load_yahoo_news(DocumentsRequest(("AAPL", "MSFT"), options={"count": 4, **{"attempts": 2}}))
    assert list(documents.columns) == list(DOCUMENT_COLUMNS)
    assert str(documents["published_at"].dt.tz) == "UTC" and documents["published_at"].is_monotonic_increasing
    expected = set()
    for symbol in ("AAPL", "MSFT"):
        for item in news_items(symbol)[:4]:
            content = item["content"]
            text = content["title"] + (f"\n\n{content['summary']}" if content["summary"] else "")
            expected.add((pd.Timestamp(content["pubDate"]), symbol, text, "yahoo", item["id"]))
    assert set(documents.itertuples(index=False, name=None)) == expected  # the advert is gone
    assert [path for path, _ in yahoo.requests if path == NEWS] == [NEWS, NEWS]


def test_news_is_filtered_to_the_requested_window(yahoo: LoopbackServer) -> None:
    start, end = utc("2024-06-03 00:00"), utc("2024-06-03 12:00")
    documents = load_yahoo_news(DocumentsRequest(("AAPL",), start, end))
    assert not documents.empty
    assert ((documents["published_at"] >= start) & (documents["published_at"] < end)).all()


def test_news_offline_is_a_clear_error(yahoo: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINTRADE_OFFLINE", "1")
    with pytest.raises(DataError, match=r"^text source 'yahoo-news': offline, and Yahoo news is fetched live"):
        load_yahoo_news(DocumentsRequest(("AAPL",)))
    assert yahoo.requests == []


# -- end to end ------------------------------------------------------------------------------


def fintrade(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fintrade.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120", **env},
        timeout=300,
    )


def test_the_yahoo_strategy_backtests_through_the_cli_then_offline_from_the_cache(tmp_path: Path) -> None:
    strategy = "strategies/yahoo_equities.py"
    with start_yahoo_server() as server:
        env = {"FINTRADE_YAHOO_URL": server.url, "FINTRADE_CACHE_DIR": str(tmp_path)}
        offline = fintrade("--offline", "backtest", strategy, "--json", "--quiet", env=env)
        assert offline.returncode == 1 and server.requests == []
        assert offline.stderr.startswith(
            "error: source 'yahoo', symbol 'AAPL', interval 1d: "
            "offline and 2015-01-01 00:00:00+00:00 to 2020-01-01 00:00:00+00:00 is not "
            "cached; run without --offline"
        )
        assert offline.stderr.count("\n") == 1
        online = fintrade("backtest", strategy, "--json", "--quiet", env=env)
        assert online.returncode == 0, online.stderr
        assert sorted(p for p, q in server.requests if p.startswith(CHART) and "period1" in q) == [
            CHART + symbol for symbol in ("AAPL", "JPM", "MSFT", "XOM")
        ]
        server.requests.clear()
        cached = fintrade("--offline", "backtest", strategy, "--json", "--quiet", env=env)
        assert cached.returncode == 0, cached.stderr
        assert server.requests == []
    first, second = json.loads(online.stdout), json.loads(cached.stdout)
    assert first["bars"] > 1000 and first["splits"]["test"]["strategy"]["sharpe"] is not None
    assert second["splits"] == first["splits"] and second["chosen_params"] == first["chosen_params"]
