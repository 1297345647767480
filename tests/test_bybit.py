"""The ``bybit`` source: the real ccxt client against a loopback Bybit (tests/loopback/bybit.py).

Nothing here mocks ccxt: requests go over HTTP to 127.0.0.1 in Bybit's v5 wire format, and
the server's request log is the ground truth for what was downloaded.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fintrade.cache import BarCache, CacheKey, DataWarning
from fintrade.costs import Costs
from fintrade.errors import ConfigError, DataError
from fintrade.types import BarsRequest
from tests.loopback.bybit import HOUR_MS, BybitMarket, boundary_fault, start_bybit
from tests.loopback.server import UNRESOLVABLE_URL, Fault, LoopbackServer, Response, refusing_url

pytest.importorskip("ccxt")

from fintrade_bybit import client as bybit_client
from fintrade_bybit.history import kline_windows, merge_pages
from fintrade_bybit.source import load_bybit_bars

# A short retry policy, and no client-side throttle: the loopback server has no rate limit.
FAST = {"retries": 3, "retry_delay": 0.0, "timeout": 2.0, "rate_limit": False}
KLINE, FUNDING, INSTRUMENTS = "/v5/market/kline", "/v5/market/funding/history", "/v5/market/instruments-info"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def ms(text: str) -> int:
    return int(utc(text).value // 1_000_000)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FINTRADE_OFFLINE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the retry loop asked for, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(bybit_client, "SLEEP", waits.append)
    return waits


def serve(monkeypatch: pytest.MonkeyPatch, market: BybitMarket | None = None) -> LoopbackServer:
    server = start_bybit(market)
    monkeypatch.setenv("FINTRADE_BYBIT_URL", server.url)
    return server


@pytest.fixture
def bybit(monkeypatch: pytest.MonkeyPatch, cache_dir: Path, sleeps: list[float]) -> Iterator[LoopbackServer]:
    server = serve(monkeypatch)
    yield server
    server.close()


def load(
    symbols: str | tuple[str, ...], interval: str, start: str, end: str, **options: Any
) -> dict[str, pd.DataFrame]:
    symbols = (symbols,) if isinstance(symbols, str) else symbols
    return load_bybit_bars(BarsRequest(symbols, interval, utc(start), utc(end), {**FAST, **options}))


def kline_queries(server: LoopbackServer, category: str | None = None) -> list[dict[str, str]]:
    return [q for p, q in server.requests if p == KLINE and (category is None or q.get("category") == category)]


def funding_queries(server: LoopbackServer) -> list[dict[str, str]]:
    return [q for p, q in server.requests if p == FUNDING]


def expected_closes(server: LoopbackServer, category: str, symbol: str, step_ms: int, index: pd.DatetimeIndex) -> list:
    market: BybitMarket = server.market  # type: ignore[attr-defined]
    item = market.instrument(category, symbol)
    assert item is not None
    opens = index.as_unit("ms").asi8
    return [float(row[4]) for row in market.candles(item, step_ms, opens)]


# -- candles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("anchor", ["end", "start"])
def test_spot_and_perp_bars_over_three_kline_pages_have_no_gap_and_no_duplicate(
    anchor: str, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, sleeps: list[float]
) -> None:
    # Bybit does not document which end a full page keeps; the client must not depend on it.
    with serve(monkeypatch, BybitMarket(kline_anchor=anchor)) as server, warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        bars = load(("BTC/USDT", "BTC/USDT:USDT"), "1h", "2022-01-01", "2022-05-01")
        hours = pd.date_range("2022-01-01", "2022-05-01", freq="h", inclusive="left", tz="UTC")
        for symbol, category in (("BTC/USDT", "spot"), ("BTC/USDT:USDT", "linear")):
            frame = bars[symbol]
            assert frame.index.equals(hours) and frame.index.is_unique  # 2,880 bars, none missing or repeated
            assert frame["close"].tolist() == expected_closes(server, category, "BTCUSDT", HOUR_MS, hours)
            pages = kline_queries(server, category)
            assert len(pages) == 3
            # Each page asks for exactly its own 1000 (or fewer) slots, end to end.
            starts, ends = [int(q["start"]) for q in pages], [int(q["end"]) for q in pages]
            assert starts[0] == ms("2022-01-01") and ends[-1] == ms("2022-05-01") - HOUR_MS
            assert all(s == e + HOUR_MS for s, e in zip(starts[1:], ends[:-1], strict=True))
            assert all(int(q["limit"]) == 1000 and (int(q["end"]) - int(q["start"])) < 1000 * HOUR_MS for q in pages)
        assert "funding_rate" in bars["BTC/USDT:USDT"] and "funding_rate" not in bars["BTC/USDT"]


def test_a_bar_repeated_at_page_boundaries_is_kept_once(bybit: LoopbackServer) -> None:
    clean = load("ETH/USDT:USDT", "1h", "2022-01-01", "2022-05-01")["ETH/USDT:USDT"]
    BarCache().clear()
    bybit.requests.clear()
    # Every page now lists its oldest bar twice and carries the previous page's newest bar.
    bybit.faults.append(boundary_fault(bybit.market, times=None))  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # identical copies are merged without a fuss
        repeated = load("ETH/USDT:USDT", "1h", "2022-01-01", "2022-05-01")["ETH/USDT:USDT"]
    # ccxt keeps the oldest 1000 rows of a padded full page, dropping the window's newest bar:
    # the two full windows each need a second request for it.
    assert len(kline_queries(bybit)) == 3 + 2 and len(bybit.faults) == 1
    assert repeated.index.is_unique and repeated.equals(clean)


def test_merging_pages_keeps_each_bar_once_and_reports_copies_that_disagree() -> None:
    page1 = [[0, 1, 2, 0.5, 1.5, 10], [60_000, 1.5, 2, 1, 1.8, 11]]
    page2 = [[60_000, 1.5, 2, 1, 1.8, 11], [120_000, 1.8, 2, 1.7, 1.9, 12], [120_000, 1.8, 2, 1.7, 1.9, 12]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        merged = merge_pages([page2, page1], "bybit X 1m")
    assert [row[0] for row in merged] == [0, 60_000, 120_000]
    with pytest.warns(DataWarning, match=r"bybit X 1m: 1 bar\(s\) came twice with different values, kept the later"):
        merged = merge_pages([page1, [[60_000, 1.5, 2, 1, 1.7, 11]]], "bybit X 1m")
    assert merged[1][4] == 1.7


def test_kline_windows_cover_the_range_exactly_in_pages_of_1000() -> None:
    assert kline_windows(0, 2500 * 60_000, 60_000) == [
        (0, 999 * 60_000),
        (1000 * 60_000, 1999 * 60_000),
        (2000 * 60_000, 2499 * 60_000),
    ]
    # A start inside a bar begins with the next bar; an end inside a bar keeps the bar it cuts.
    assert kline_windows(30_000, 150_000, 60_000) == [(60_000, 120_000)]
    assert kline_windows(60_000, 60_000, 60_000) == []


def test_a_gap_in_a_market_that_never_closes_is_reported(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    outage = (ms("2022-02-10 04:00"), ms("2022-02-10 09:00"))
    warning = (
        r"5 missing bar\(s\) in 1 gap\(s\) in a market that trades around the clock; "
        r"first gap 2022-02-10 04:00:00\+00:00 to 2022-02-10 09:00:00\+00:00 \(5 bars\)"
    )
    with serve(monkeypatch, BybitMarket(gaps={"BTCUSDT": [outage]})), pytest.warns(DataWarning, match=warning):
        bars = load("BTC/USDT", "1h", "2022-02-01", "2022-03-01")["BTC/USDT"]
    assert len(bars) == 28 * 24 - 5


def test_a_range_that_comes_back_short_is_partial_and_never_cached_as_complete(
    monkeypatch: pytest.MonkeyPatch, cache_dir: Path, sleeps: list[float]
) -> None:
    market = BybitMarket(stop_at_ms={"BTCUSDT": ms("2022-03-01")})
    with serve(monkeypatch, market) as server:
        with pytest.raises(DataError, match=r"Bybit stopped returning BTC/USDT 1d bars at 2022-03-01 00:00:00\+00:00"):
            load("BTC/USDT", "1d", "2022-01-01", "2022-06-01")
        cached = BarCache(cache_dir).read(CacheKey("bybit", "BTC/USDT", "1d"))
        assert cached is not None and cached[1:] == (utc("2022-01-01"), utc("2022-03-01"))
        # The exchange recovers: the next run asks only for what was missing.
        market.stop_at_ms.clear()
        server.requests.clear()
        bars = load("BTC/USDT", "1d", "2022-01-01", "2022-06-01")["BTC/USDT"]
        assert [(q["start"], q["end"]) for q in kline_queries(server)] == [
            (str(ms("2022-03-01")), str(ms("2022-05-31")))
        ]
        assert len(bars) == 151


# -- funding ------------------------------------------------------------------------------------


def test_funding_history_over_four_pages_has_every_event_exactly_once(bybit: LoopbackServer) -> None:
    start, end = "2021-01-01", "2021-08-01"  # 212 days: 636 events at 00:00, 08:00 and 16:00
    daily = load("BTC/USDT:USDT", "1d", start, end)["BTC/USDT:USDT"]
    events = bybit.market.funding_events("BTCUSDT", ms(start), ms(end) - 1)  # type: ignore[attr-defined]
    assert len(events) == 636
    pages = funding_queries(bybit)
    assert [int(q["limit"]) for q in pages] == [200] * 4
    assert all(int(q["startTime"]) == ms(start) for q in pages)
    # Each page ends 1 ms before the oldest event of the page before it (newest first): no overlap, no hole.
    newest_first = sorted(events, reverse=True)
    assert [int(q["endTime"]) for q in pages] == [ms(end) - 1] + [newest_first[200 * k - 1] - 1 for k in (1, 2, 3)]
    by_day: dict[pd.Timestamp, float] = {}
    for stamp, rate in events.items():
        day = pd.Timestamp(stamp, unit="ms", tz="UTC").floor("D")
        by_day[day] = by_day.get(day, 0.0) + rate
    assert daily.index.equals(pd.DatetimeIndex(sorted(by_day)).as_unit("ns"))
    np.testing.assert_allclose(daily["funding_rate"].to_numpy(), [by_day[d] for d in daily.index], rtol=1e-12)
    assert daily["funding_rate"].sum() == pytest.approx(sum(events.values()), rel=1e-12)


def test_funding_pages_smaller_than_documented_lose_nothing(
    monkeypatch: pytest.MonkeyPatch, cache_dir: Path, sleeps: list[float]
) -> None:
    with serve(monkeypatch, BybitMarket(funding_page_size=120)) as server:
        bars = load("BTC/USDT:USDT", "1d", "2021-01-01", "2021-03-01")["BTC/USDT:USDT"]
        events = server.market.funding_events("BTCUSDT", ms("2021-01-01"), ms("2021-03-01") - 1)  # type: ignore[attr-defined]
        assert len(events) == 177 and len(funding_queries(server)) == 2
        assert bars["funding_rate"].sum() == pytest.approx(sum(events.values()), rel=1e-12)


# Bybit has no 8h candles; 4h and 1h bars get one settlement or none, 12h bars one or two.
@pytest.mark.parametrize(("interval", "hours", "charged"), [("4h", 4, 9), ("12h", 12, 6), ("1h", 1, 9)])
def test_funding_lands_in_the_bar_whose_interval_holds_its_timestamp(
    bybit: LoopbackServer, interval: str, hours: int, charged: int
) -> None:
    bars = load("ETH/USDT:USDT", interval, "2022-03-01", "2022-03-04")["ETH/USDT:USDT"]
    events = bybit.market.funding_events("ETHUSDT", ms("2022-03-01"), ms("2022-03-04") - 1)  # type: ignore[attr-defined]
    expected = pd.Series(0.0, index=bars.index)
    for stamp, rate in events.items():
        expected[pd.Timestamp(stamp, unit="ms", tz="UTC").floor(f"{hours}h")] += rate
    np.testing.assert_allclose(bars["funding_rate"].to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert (bars["funding_rate"] != 0).sum() == charged  # 3 days x 3 settlements, each in exactly one bar


def _ccxt_client(server: LoopbackServer) -> Any:
    import ccxt

    exchange = ccxt.bybit(
        {
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["spot", "linear"]}},
            "has": {"fetchCurrencies": False},
        }
    )
    exchange.urls["api"] = {key: server.url for key in exchange.urls["api"]}
    exchange.load_markets()
    return exchange


def test_why_funding_is_paged_by_hand_ccxt_defaults_lose_events(bybit: LoopbackServer) -> None:
    """ccxt 4.5 on Bybit's documented semantics; if this starts failing, ccxt changed: re-check history.py."""
    exchange = _ccxt_client(bybit)
    since = ms("2022-01-01")
    # `since` alone: ccxt asks for [since, since + 200 x 8h], 201 events; Bybit keeps the newest 200.
    default = exchange.fetch_funding_rate_history("BTC/USDT:USDT", since=since)
    assert len(default) == 200 and default[0]["timestamp"] == since + 8 * HOUR_MS
    # paginate=True stops after 10 pages without a word: 3 years give 2,000 of 3,288 events.
    paged = exchange.fetch_funding_rate_history(
        "BTC/USDT:USDT", since=ms("2020-01-01"), params={"paginate": True, "until": ms("2023-01-01")}
    )
    assert len({item["timestamp"] for item in paged}) == 2000


# -- the cache ----------------------------------------------------------------------------------


def test_two_then_three_years_fetches_only_the_missing_year_and_a_third_run_nothing(bybit: LoopbackServer) -> None:
    two = load("BTC/USDT:USDT", "1d", "2021-01-01", "2023-01-01")["BTC/USDT:USDT"]
    first = list(bybit.requests)
    assert len(two) == 730 and len(kline_queries(bybit)) == 1 and len(funding_queries(bybit)) == 11
    bybit.requests.clear()
    three = load("BTC/USDT:USDT", "1d", "2020-01-01", "2023-01-01")["BTC/USDT:USDT"]
    assert len(three) == 1096 and three.loc["2021-01-01":].equals(two)
    klines, funding = kline_queries(bybit), funding_queries(bybit)
    assert [(int(q["start"]), int(q["end"])) for q in klines] == [(ms("2020-01-01"), ms("2020-12-31"))]
    assert all(ms("2020-01-01") <= int(q["startTime"]) and int(q["endTime"]) < ms("2021-01-01") for q in funding)
    assert len(funding) == 6  # 1,098 events of 2020 in pages of 200
    bybit.requests.clear()
    again = load("BTC/USDT:USDT", "1d", "2020-01-01", "2023-01-01")["BTC/USDT:USDT"]
    assert bybit.requests == [] and again.equals(three)
    assert len(first) == 4 + 1 + 11  # markets (spot, linear, pre-launch, 2nd linear page), klines, funding


def test_offline_without_the_data_is_a_clear_error_and_touches_no_network(
    bybit: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINTRADE_OFFLINE", "1")
    with pytest.raises(
        DataError,
        match=r"source 'bybit', symbol 'BTC/USDT', interval 1d: offline and 2022-01-01 00:00:00\+00:00 to "
        r"2022-02-01 00:00:00\+00:00 is not cached; run without --offline",
    ):
        load("BTC/USDT", "1d", "2022-01-01", "2022-02-01")
    assert bybit.requests == []


# -- failures -----------------------------------------------------------------------------------


def test_429_with_retry_after_500s_timeouts_and_broken_transfers_are_retried(
    bybit: LoopbackServer, sleeps: list[float]
) -> None:
    clean = load("SOL/USDT:USDT", "1d", "2021-01-01", "2023-01-01")["SOL/USDT:USDT"]
    BarCache().clear()
    bybit.requests.clear()
    bybit.faults += [
        Fault("status", path=KLINE, status=429, retry_after=7),
        Fault("status", path=FUNDING, status=500, times=2),
        Fault("slow", path=FUNDING, delay=1.0),
        Fault("disconnect", path=FUNDING),
    ]
    # The first funding page fails four times (500, 500, timeout, broken transfer) before it succeeds.
    bars = load("SOL/USDT:USDT", "1d", "2021-01-01", "2023-01-01", timeout=0.4, retries=5)["SOL/USDT:USDT"]
    assert bars.equals(clean) and bybit.faults == []
    assert len(kline_queries(bybit)) == 2 and len(funding_queries(bybit)) == 11 + 4
    assert sleeps == [7.0, 0.0, 0.0, 0.0, 0.0]  # Retry-After honoured; the test policy backs off by 0 s


def test_a_permanent_500_gives_one_clear_error_after_bounded_attempts(bybit: LoopbackServer, cache_dir: Path) -> None:
    bybit.faults.append(Fault("status", path=KLINE, status=500, times=None))
    with pytest.raises(DataError) as failure:
        load("BTC/USDT", "1d", "2022-01-01", "2022-02-01")
    message = str(failure.value)
    assert message.startswith(
        "bybit BTC/USDT 1d candles from 2022-01-01 00:00:00+00:00: gave up after 3 attempts: bybit GET "
    )
    assert "500" in message and "\n" not in message
    assert len(kline_queries(bybit)) == 3
    assert BarCache(cache_dir).entries() == []


@pytest.mark.parametrize(
    ("unreachable", "reason"),
    [("refused", "connection refused"), ("unresolvable", "DNS lookup failed")],
)
def test_an_unreachable_host_fails_at_once_naming_the_cause_and_suggesting_offline(
    unreachable: str, reason: str, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, sleeps: list[float]
) -> None:
    attempts: list[str] = []
    real = bybit_client.with_retries

    def counting(call: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        def counted() -> Any:
            attempts.append(what)
            return call()

        return real(counted, what, *args, **kwargs)

    monkeypatch.setattr(bybit_client, "with_retries", counting)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(refusing_url()) if unreachable == "refused" else UNRESOLVABLE_URL
        monkeypatch.setenv("FINTRADE_BYBIT_URL", url)
        with pytest.raises(DataError) as failure:
            load("BTC/USDT", "1d", "2022-01-01", "2022-02-01", retries=5)
    host = url.removeprefix("http://")
    assert str(failure.value) == (
        f"bybit markets: could not reach {host} ({reason}); "
        "check the network connection, or run with --offline to use only what is cached"
    )
    assert attempts == ["bybit markets"] and sleeps == []  # of 5 allowed: no retry, no wait
    assert BarCache(cache_dir).entries() == []


def test_truncated_json_is_retried_then_a_clear_error_and_nothing_is_cached(
    bybit: LoopbackServer, cache_dir: Path
) -> None:
    bybit.faults.append(Fault("truncate", path=KLINE, keep=0.6))
    healed = load("BTC/USDT", "1d", "2022-01-01", "2022-02-01")["BTC/USDT"]
    assert len(healed) == 31 and len(kline_queries(bybit)) == 2
    BarCache().clear()
    bybit.faults.append(Fault("truncate", path=FUNDING, keep=0.6, times=None))
    with pytest.raises(DataError, match=r"gave up after 3 attempts: malformed or truncated JSON from GET http://"):
        load("BTC/USDT:USDT", "1d", "2022-01-01", "2022-02-01")
    assert BarCache(cache_dir).entries() == []


def test_an_envelope_without_a_list_is_an_error_not_an_empty_page(bybit: LoopbackServer, cache_dir: Path) -> None:
    body = b'{"retCode":0,"retMsg":"OK","result":{},"retExtInfo":{},"time":1}'
    bybit.faults.append(Fault("status", path=KLINE, status=200, body=body, times=None))
    with pytest.raises(DataError, match=r"has no result.list"):
        load("BTC/USDT", "1d", "2022-01-01", "2022-02-01", retries=1)
    assert BarCache(cache_dir).entries() == []


def test_an_unknown_symbol_is_one_line_with_close_symbols(bybit: LoopbackServer) -> None:
    with pytest.raises(DataError) as failure:
        load("BTCUSDT", "1d", "2022-01-01", "2022-02-01")
    assert str(failure.value) == (
        "Bybit has no market 'BTCUSDT'; did you mean 'BTC/USDT' or 'BTC/USDT:USDT'? "
        "(spot symbols look like 'BTC/USDT', USDT perpetuals like 'BTC/USDT:USDT')"
    )
    with pytest.raises(DataError, match=r"^Bybit has no market 'ETH/USDT:USDC'; did you mean 'ETH/USDT:USDT'"):
        load("ETH/USDT:USDC", "1d", "2022-01-01", "2022-02-01")
    assert kline_queries(bybit) == []


def test_a_symbol_the_exchange_rejects_is_not_retried(bybit: LoopbackServer) -> None:
    rejected = Response.json({"retCode": 10001, "retMsg": "Not supported symbols", "result": {}, "retExtInfo": {}})
    bybit.faults.append(Fault("status", path=KLINE, status=200, body=rejected.body))
    with pytest.raises(DataError, match=r"Bybit does not know this symbol .*Not supported symbols"):
        load("XRP/USDT:USDT", "1d", "2022-01-01", "2022-02-01")
    assert len(kline_queries(bybit)) == 1


def test_options_intervals_and_the_base_url_are_checked(bybit: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'retry' \(did you mean 'retries'\?\)"):
        load("BTC/USDT", "1d", "2022-01-01", "2022-02-01", retry=2)
    with pytest.raises(ConfigError, match=r"interval '8h' is not available; intervals are 1m, 3m, 5m"):
        load("BTC/USDT", "8h", "2022-01-01", "2022-02-01")
    monkeypatch.setenv("FINTRADE_BYBIT_URL", "127.0.0.1:9")
    with pytest.raises(ConfigError, match=r"FINTRADE_BYBIT_URL must be an http:// or https:// URL"):
        load("BTC/USDT", "1d", "2022-01-01", "2022-02-01")
    assert bybit.requests == []


# -- cost presets and strategies ----------------------------------------------------------------


def test_fee_presets_are_registered_and_a_strategy_can_name_one(bybit: LoopbackServer, core_registry: Any) -> None:
    from fintrade import Splits, Strategy, signal
    from fintrade.evaluation import run_backtest

    presets = {name: core_registry.cost_presets.get(name) for name in core_registry.cost_presets.names()}
    assert presets["bybit-spot-taker"].costs == Costs(fees=0.001, slippage=0.0001)
    assert presets["bybit-spot-maker"].costs == Costs(fees=0.001)
    assert presets["bybit-linear-taker"].costs == Costs(fees=0.00055, slippage=0.0001)
    assert presets["bybit-linear-maker"].costs == Costs(fees=0.0002)
    assert all("2026-11-22" in presets[n].description for n in presets if n.startswith("bybit-"))

    class Perp(Strategy):
        symbols = ["BTC/USDT:USDT"]
        source = "bybit"
        source_options = FAST
        start, end = "2021-01-01", "2022-01-01"
        signals = [signal("momentum", lookback=10)]
        direction = "long_short"
        costs = "bybit-linear-taker"
        splits = Splits(train=0.6, validation=0.2, test=0.2)
        walk_forward = None

    result = run_backtest(Perp(), core_registry)
    assert result.bars == 365
    assert [row.costs for row in result.cost_sensitivity if row.multiplier == 1.0] == [
        Costs(fees=0.00055, slippage=0.0001).as_dict()
    ]
