"""A loopback Bybit: the v5 public market API on 127.0.0.1, with deterministic synthetic data.

The real ccxt client talks to it through ``FINTRADE_BYBIT_URL`` (see ``docs/data.md``). It
speaks the wire format of https://bybit-exchange.github.io/docs/v5/market/ for the endpoints
the ``bybit`` data source uses:

- ``GET /v5/market/time``
- ``GET /v5/market/instruments-info?category=spot|linear|inverse|option[&status=][&limit=][&cursor=]``
  (linear pages with ``nextPageCursor``, as Bybit does; the page size is capped by
  ``BybitMarket.instrument_page_size`` so that ccxt's cursor loop is exercised)
- ``GET /v5/market/kline?category=&symbol=&interval=&start=&end=&limit=``: rows
  ``[startTime, open, high, low, close, volume, turnover]`` as strings, newest first, at most
  ``limit`` (default 200, at most 1000). With both ``start`` and ``end``, the newest ``limit``
  bars of ``[start, end]`` (both inclusive, as in Bybit's documented example); with ``start``
  only, the ``limit`` bars from the one containing ``start``; otherwise the newest up to
  ``end`` (or now). The bar still forming is included, as Bybit does.
- ``GET /v5/market/funding/history?category=linear&symbol=&startTime=&endTime=&limit=``:
  newest first, at most 200; ``startTime`` without ``endTime`` is an error (documented);
  ``endTime`` alone gives the 200 up to it; neither gives the 200 up to now.

Every answer is the usual envelope ``{"retCode": 0, "retMsg": "OK", "result": {...},
"retExtInfo": {}, "time": ...}``; an unknown symbol is ``retCode`` 10001 "Not supported
symbols" with HTTP 200 (the message ccxt maps to ``BadSymbol``). Wordings of errors that
Bybit does not document are marked "(loopback)".

Prices are a deterministic function of time (a seeded daily random walk, interpolated within
the day, plus two slow waves and a little noise), so any window, page or interval of the same
symbol agrees with any other; funding is settled every 8 hours (00:00, 08:00, 16:00 UTC) at
a seeded rate around +0.01%.

Run it alone with ``python -m tests.loopback.bybit`` (prints the URL, serves until Ctrl-C).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.loopback.server import Fault, LoopbackServer, Query, Response

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
INTERVAL_MS: dict[str, int] = {
    "1": MINUTE_MS,
    "3": 3 * MINUTE_MS,
    "5": 5 * MINUTE_MS,
    "15": 15 * MINUTE_MS,
    "30": 30 * MINUTE_MS,
    "60": HOUR_MS,
    "120": 2 * HOUR_MS,
    "240": 4 * HOUR_MS,
    "360": 6 * HOUR_MS,
    "720": 12 * HOUR_MS,
    "D": DAY_MS,
    "W": 7 * DAY_MS,
}
# Bybit's weekly bars open on Mondays; 1970-01-05 was one.
WEEK_ANCHOR_MS = 4 * DAY_MS
MAX_KLINES = 1000
MAX_FUNDING = 200
LAUNCH_MS = 1_577_836_800_000  # 2020-01-01 00:00 UTC


@dataclass(frozen=True)
class Instrument:
    """One market the loopback lists."""

    symbol: str
    category: str  # "spot" or "linear"
    base: str
    quote: str
    price: float
    launch_ms: int = LAUNCH_MS
    funding_interval_minutes: int = 480


DEFAULT_INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("BTCUSDT", "spot", "BTC", "USDT", 30_000.0),
    Instrument("ETHUSDT", "spot", "ETH", "USDT", 2_000.0),
    Instrument("ETHBTC", "spot", "ETH", "BTC", 0.06),
    Instrument("BTCUSDT", "linear", "BTC", "USDT", 30_000.0),
    Instrument("ETHUSDT", "linear", "ETH", "USDT", 2_000.0),
    Instrument("SOLUSDT", "linear", "SOL", "USDT", 60.0),
    Instrument("XRPUSDT", "linear", "XRP", "USDT", 0.5),
)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64: a fast, well-spread hash of uint64 values (wrapping arithmetic is intended)."""
    x = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniform(seed: int, key: str, times_ms: np.ndarray) -> np.ndarray:
    """Deterministic numbers in [0, 1), one per timestamp, for ``seed`` and ``key``."""
    salt = np.uint64(zlib.crc32(f"{seed}:{key}".encode()) * 0x100000001B3 % 2**64)
    with np.errstate(over="ignore"):
        mixed = _mix(_mix(times_ms.astype(np.int64).view(np.uint64)) ^ salt)
    return (mixed >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass
class BybitMarket:
    """The loopback's data: instruments, candles and funding, plus knobs that break it on purpose.

    ``gaps``: per symbol, ``(start_ms, end_ms)`` windows where no candles exist (an outage).
    ``stop_at_ms``: per symbol, the time from which the exchange returns no candles (a
    history that ends early). ``now_ms``: the exchange clock (default: the real one).
    ``kline_anchor``: which end of ``[start, end]`` a kline page holding more bars than
    ``limit`` keeps; Bybit does not document it, so clients are tested against both.
    ``funding_page_size``: the most funding events a page holds (Bybit documents 200; a
    smaller cap checks that a client does not take a short page for the end of the history).
    """

    seed: int = 7
    instruments: Sequence[Instrument] = DEFAULT_INSTRUMENTS
    now_ms: int | None = None
    instrument_page_size: int = 3
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    stop_at_ms: dict[str, int] = field(default_factory=dict)
    kline_anchor: str = "end"
    funding_page_size: int = MAX_FUNDING
    _walks: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False)

    def now(self) -> int:
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)

    def instrument(self, category: str, symbol: str) -> Instrument | None:
        for item in self.instruments:
            if item.category == category and item.symbol == symbol:
                return item
        return None

    # -- candles -----------------------------------------------------------------------------

    def _walk(self, item: Instrument) -> np.ndarray:
        """A seeded daily random walk of log prices from 2020-01-01 to now (3% daily volatility)."""
        days = (self.now() - LAUNCH_MS) // DAY_MS + 3
        key = (item.base, days)
        if key not in self._walks:
            steps = np.random.default_rng([self.seed, zlib.crc32(item.base.encode())]).normal(0.0, 0.03, days)
            self._walks[key] = np.concatenate([[0.0], np.cumsum(steps)])
        return self._walks[key]

    def _log_price(self, item: Instrument, times_ms: np.ndarray) -> np.ndarray:
        """Log price at each time: the walk (interpolated within a day), two slow waves, a little noise."""
        days = (times_ms.astype(np.int64) - LAUNCH_MS) / DAY_MS
        walk = self._walk(item)
        whole = np.clip(np.floor(days).astype(np.int64), 0, len(walk) - 2)
        fraction = np.clip(days - whole, 0.0, 1.0)
        level = walk[whole] + fraction * (walk[whole + 1] - walk[whole])
        phase = zlib.crc32(item.base.encode()) % 360 / 57.2958
        waves = 0.2 * np.sin(2 * np.pi * days / 150 + phase) + 0.3 * np.sin(2 * np.pi * days / 610 + 2 * phase)
        noise = 0.004 * (_uniform(self.seed, item.base + ":price", times_ms) - 0.5)
        return np.log(item.price) + level + waves + noise

    def bar_opens(self, item: Instrument, step_ms: int, first_ms: int, last_ms: int) -> np.ndarray:
        """Open times of the bars that exist in ``[first_ms, last_ms]``."""
        anchor = WEEK_ANCHOR_MS if step_ms == INTERVAL_MS["W"] else 0
        launch = item.launch_ms + (-(item.launch_ms - anchor)) % step_ms
        now_open = (self.now() - anchor) // step_ms * step_ms + anchor
        low = max(first_ms + (-(first_ms - anchor)) % step_ms, launch)
        high = min(last_ms, now_open, self.stop_at_ms.get(item.symbol, 2**62) - 1)
        if high < low:
            return np.empty(0, dtype=np.int64)
        opens = np.arange(low, high + 1, step_ms, dtype=np.int64)
        for gap_start, gap_end in self.gaps.get(item.symbol, []):
            opens = opens[(opens < gap_start) | (opens >= gap_end)]
        return opens

    def candles(self, item: Instrument, step_ms: int, opens: np.ndarray) -> list[list[str]]:
        """Rows ``[startTime, open, high, low, close, volume, turnover]`` (strings), oldest first."""
        if len(opens) == 0:
            return []
        open_ = np.exp(self._log_price(item, opens))
        close = np.exp(self._log_price(item, opens + step_ms))
        scale = 0.01 * np.sqrt(step_ms / DAY_MS)
        high = np.maximum(open_, close) * (1 + scale * _uniform(self.seed, item.base + ":high", opens))
        low = np.minimum(open_, close) * (1 - scale * _uniform(self.seed, item.base + ":low", opens))
        volume = 1_000 * (step_ms / DAY_MS) * (0.5 + _uniform(self.seed, item.base + ":volume", opens))
        turnover = volume * (open_ + close) / 2
        return [
            [str(int(t)), f"{o:.6g}", f"{h:.6g}", f"{lo:.6g}", f"{c:.6g}", f"{v:.4f}", f"{q:.4f}"]
            for t, o, h, lo, c, v, q in zip(opens, open_, high, low, close, volume, turnover, strict=True)
        ]

    # -- funding -----------------------------------------------------------------------------

    def funding_times(self, item: Instrument, first_ms: int, last_ms: int) -> np.ndarray:
        """Funding settlement times in ``[first_ms, last_ms]``."""
        step = item.funding_interval_minutes * MINUTE_MS
        low = max(first_ms + (-first_ms) % step, item.launch_ms + (-item.launch_ms) % step)
        high = min(last_ms, self.now())
        if high < low:
            return np.empty(0, dtype=np.int64)
        return np.arange(low, high + 1, step, dtype=np.int64)

    def funding_rates(self, item: Instrument, times_ms: np.ndarray) -> list[str]:
        """The rate settled at each time, as Bybit writes it (a decimal string)."""
        rates = 0.0001 + 0.0004 * (_uniform(self.seed, item.base + ":funding", times_ms) - 0.4)
        return [f"{rate:.8f}" for rate in rates]

    def funding_events(self, symbol: str, first_ms: int, last_ms: int) -> dict[int, float]:
        """Every funding event of a linear ``symbol`` in ``[first_ms, last_ms]``: time -> rate."""
        item = self.instrument("linear", symbol)
        assert item is not None, symbol
        times = self.funding_times(item, first_ms, last_ms)
        return {int(t): float(r) for t, r in zip(times, self.funding_rates(item, times), strict=True)}

    # -- HTTP ---------------------------------------------------------------------------------

    def handle(self, path: str, query: Query) -> Response:
        """Answer one request as Bybit's v5 market API would."""
        routes = {
            "/v5/market/time": self._time,
            "/v5/market/instruments-info": self._instruments,
            "/v5/market/kline": self._kline,
            "/v5/market/funding/history": self._funding,
        }
        route = routes.get(path)
        if route is None:
            return Response.json({"retCode": 10404, "retMsg": "Not Found (loopback)"}, status=404)
        return route(query)

    def _ok(self, result: Mapping[str, object]) -> Response:
        return Response.json({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self.now()})

    def _error(self, code: int, message: str) -> Response:
        return Response.json({"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": self.now()})

    def _time(self, query: Query) -> Response:
        now = self.now()
        return self._ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    def _instruments(self, query: Query) -> Response:
        category = query.get("category", "")
        if category not in ("spot", "linear", "inverse", "option"):
            return self._error(10001, "params error: category is invalid (loopback)")
        listed = [item for item in self.instruments if item.category == category]
        if query.get("symbol"):
            listed = [item for item in listed if item.symbol == query["symbol"]]
        if query.get("status", "Trading") != "Trading":
            listed = []  # nothing pre-launching or delisting here
        if category == "spot":
            # Bybit does not page spot instruments.
            return self._ok({"category": "spot", "list": [self._spot_info(item) for item in listed]})
        offset = int(query["cursor"].removeprefix("next-")) if query.get("cursor") else 0
        size = min(int(query.get("limit", 500)), self.instrument_page_size)
        page = listed[offset : offset + size]
        cursor = f"next-{offset + size}" if offset + size < len(listed) else ""
        return self._ok(
            {"category": category, "list": [self._linear_info(item) for item in page], "nextPageCursor": cursor}
        )

    def _spot_info(self, item: Instrument) -> dict[str, object]:
        return {
            "symbol": item.symbol,
            "baseCoin": item.base,
            "quoteCoin": item.quote,
            "innovation": "0",
            "status": "Trading",
            "marginTrading": "both",
            "lotSizeFilter": {
                "basePrecision": "0.000001",
                "quotePrecision": "0.00000001",
                "minOrderQty": "0.000048",
                "maxOrderQty": "71.73956243",
                "minOrderAmt": "1",
                "maxOrderAmt": "2000000",
            },
            "priceFilter": {"tickSize": "0.01"},
        }

    def _linear_info(self, item: Instrument) -> dict[str, object]:
        return {
            "symbol": item.symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": item.base,
            "quoteCoin": item.quote,
            "launchTime": str(item.launch_ms),
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": "2",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
            "lotSizeFilter": {
                "maxOrderQty": "1190.000",
                "minOrderQty": "0.001",
                "qtyStep": "0.001",
                "postOnlyMaxOrderQty": "1190.000",
                "maxMktOrderQty": "500.000",
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": item.funding_interval_minutes,
            "settleCoin": item.quote,
            "copyTrading": "both",
            "upperFundingRate": "0.00375",
            "lowerFundingRate": "-0.00375",
        }

    def _kline(self, query: Query) -> Response:
        category = query.get("category", "linear")
        item = self.instrument(category, query.get("symbol", ""))
        if item is None:
            return self._error(10001, "Not supported symbols")
        step = INTERVAL_MS.get(query.get("interval", ""))
        if step is None:
            return self._error(10001, "Invalid period! (loopback)")
        limit = max(1, min(int(query.get("limit", 200)), MAX_KLINES))
        start = int(query["start"]) if query.get("start") else None
        end = int(query["end"]) if query.get("end") else None
        if start is not None and end is not None:
            opens = self.bar_opens(item, step, start - step + 1, end)
            opens = opens[-limit:] if self.kline_anchor == "end" else opens[:limit]
        elif start is not None:
            opens = self.bar_opens(item, step, start - step + 1, 2**62)[:limit]
        else:
            opens = self.bar_opens(item, step, 0, end if end is not None else self.now())[-limit:]
        rows = self.candles(item, step, opens)[::-1]
        return self._ok({"symbol": item.symbol, "category": category, "list": rows})

    def _funding(self, query: Query) -> Response:
        category = query.get("category", "")
        if category not in ("linear", "inverse"):
            return self._error(10001, "params error: category only support linear or inverse (loopback)")
        item = self.instrument(category, query.get("symbol", ""))
        if item is None:
            return self._error(10001, "Not supported symbols")
        limit = max(1, min(int(query.get("limit", MAX_FUNDING)), self.funding_page_size))
        start = int(query["startTime"]) if query.get("startTime") else None
        end = int(query["endTime"]) if query.get("endTime") else None
        if start is not None and end is None:
            return self._error(10001, "params error: endTime is required with startTime (loopback)")
        times = self.funding_times(item, start or 0, end if end is not None else self.now())[-limit:]
        rates = self.funding_rates(item, times)
        rows = [
            {"symbol": item.symbol, "fundingRate": rate, "fundingRateTimestamp": str(int(t))}
            for t, rate in zip(times, rates, strict=True)
        ][::-1]
        return self._ok({"category": category, "list": rows})


def start_bybit(market: BybitMarket | None = None) -> LoopbackServer:
    """A running loopback Bybit (close it when done); ``server.market`` is its data."""
    market = market or BybitMarket()
    server = LoopbackServer(market.handle)
    server.market = market  # type: ignore[attr-defined]
    return server


@contextmanager
def bybit_env(cache_dir: Path) -> Iterator[dict[str, str]]:
    """Environment for a subprocess that should use a fresh loopback Bybit and cache."""
    with start_bybit() as server:
        yield {"FINTRADE_BYBIT_URL": server.url, "FINTRADE_CACHE_DIR": str(cache_dir)}


def boundary_fault(market: BybitMarket, times: int | None = 1) -> Fault:
    """A fault that makes the next ``times`` kline pages repeat a bar at their boundary.

    Each faulted page lists its oldest bar twice and also carries the bar just before
    ``start`` (the previous page's newest), as an exchange that pads pages for overlap would.
    """

    def transform(path: str, query: Query, body: bytes) -> bytes:
        payload = json.loads(body)
        rows = payload["result"]["list"]
        item = market.instrument(query.get("category", "linear"), query.get("symbol", ""))
        step = INTERVAL_MS.get(query.get("interval", ""))
        if rows and item is not None and step is not None:
            previous = market.candles(item, step, np.array([int(rows[-1][0]) - step], dtype=np.int64))
            payload["result"]["list"] = [*rows, list(rows[-1]), *previous]
        return json.dumps(payload, separators=(",", ":")).encode()

    return Fault("transform", path="/v5/market/kline", times=times, transform=transform)


if __name__ == "__main__":
    with start_bybit() as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
