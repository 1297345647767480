"""The ccxt Bybit client as the ``bybit`` source uses it: settings, base URL, retries, errors.

One place decides how fintrade talks to Bybit:

- which markets ccxt loads (spot and linear only: no option chains, no currencies call);
- where the requests go (``FINTRADE_BYBIT_URL`` replaces every entry of ccxt's
  ``urls['api']``, for a proxy, a mirror or the test suite's loopback server);
- what is retried (timeouts, dropped connections, HTTP 429/403/5xx, Bybit's "system busy"
  codes, and malformed or truncated JSON) and for how long, honouring ``Retry-After``, and
  what is not: a host that does not resolve or refuses the connection fails at once;
- how failures read: one line naming the request, never a ccxt traceback.

ccxt is imported inside functions: it is an optional extra (``pip install 'fintrade[bybit]'``)
and slow to import.
"""

from __future__ import annotations

import difflib
import email.utils
import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fintrade.errors import ConfigError, DataError
from fintrade.retry import Retryable, RetryPolicy, unreachable, with_retries

T = TypeVar("T")

URL_VARIABLE = "FINTRADE_BYBIT_URL"
SYMBOL_HINT = "spot symbols look like 'BTC/USDT', USDT perpetuals like 'BTC/USDT:USDT'"
# Bybit answers HTTP 200 with these retCodes when it is overloaded; ccxt raises ExchangeError.
BUSY_CODES = ('"retCode":10016', '"retCode":10429', '"retCode":10006', '"retCode":10018')
MESSAGE_LENGTH = 240

SLEEP: Callable[[float], None] = time.sleep
"""How retries wait; tests replace it to record the waits instead of sleeping."""


@dataclass(frozen=True)
class ClientSettings:
    """How patient to be: ``timeout`` seconds per HTTP request, ``retry`` attempts and backoff.

    ``rate_limit`` keeps ccxt's client-side throttle to Bybit's published request limits
    (about 100 ms between kline requests); only a local test server may go without it.
    """

    timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limit: bool = True


def base_url() -> str | None:
    """The ``FINTRADE_BYBIT_URL`` override (``http://host:port``, no trailing slash), or None."""
    value = os.environ.get(URL_VARIABLE, "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{URL_VARIABLE} must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


@functools.cache
def _client_class() -> type:
    """``ccxt.bybit`` that classifies HTTP errors by status and refuses undecodable bodies.

    ccxt returns the raw text when a response is not valid JSON, and Bybit's methods then
    read ``result.list`` from that string as an empty list: a truncated page would silently
    look like "no more data". Raising ``BadResponse`` makes it a retryable error instead.
    """
    import ccxt

    class CheckedBybit(ccxt.bybit):  # type: ignore[misc, name-defined]
        def handle_errors(
            self,
            code: int,
            reason: str,
            url: str,
            method: str,
            headers: Any,
            body: str,
            response: Any,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            # Bybit's handler reads any JSON error body without a retCode (a proxy's 502, a 429
            # from a gateway) as a permanent ExchangeError; the status code says it is not.
            where = f"{self.id} {method} {url.split('?')[0]} {code} {reason}"
            if code in (403, 418, 429):
                raise ccxt.RateLimitExceeded(f"{where} {body[:120]}")
            if code == 408 or code >= 500:
                raise ccxt.ExchangeNotAvailable(f"{where} {body[:120]}")
            return super().handle_errors(
                code, reason, url, method, headers, body, response, request_headers, request_body
            )

        def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            response = super().fetch(url, method, headers, body)
            if not isinstance(response, dict):
                text = str(response)
                raise ccxt.BadResponse(
                    f"malformed or truncated JSON from {method} {url.split('?')[0]} "
                    f"({len(text)} characters, ending {text[-40:]!r})"
                )
            result = response.get("result")
            if ("/kline" in url or "/funding/history" in url) and not (
                isinstance(result, dict) and isinstance(result.get("list"), list)
            ):
                raise ccxt.BadResponse(f"response from {url.split('?')[0]} has no result.list: {str(response)[:120]}")
            return response

    return CheckedBybit


def make_exchange(settings: ClientSettings) -> Any:
    """A ccxt Bybit client for public market data, pointed at ``FINTRADE_BYBIT_URL`` when set."""
    try:
        _client_class()
    except ImportError as exc:
        raise ConfigError("the bybit source needs ccxt: pip install 'fintrade[bybit]'") from exc
    exchange = _client_class()(
        {
            "enableRateLimit": settings.rate_limit,
            "timeout": int(settings.timeout * 1000),
            # The currencies endpoint is private and of no use for market data.
            "has": {"fetchCurrencies": False},
            "options": {
                # Option chains and inverse contracts cost requests and are never read here.
                "fetchMarkets": {"types": ["spot", "linear"], "loadAllOptions": False, "loadExpiredOptions": False},
                "adjustForTimeDifference": False,
                # fintrade's RetryPolicy is the only retry loop, so attempts are counted once.
                "maxRetriesOnFailure": 0,
            },
        }
    )
    url = base_url()
    if url is not None:
        exchange.urls["api"] = {key: url for key in exchange.urls["api"]}
    return exchange


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= MESSAGE_LENGTH else text[: MESSAGE_LENGTH - 3] + "..."


def _retry_after(exchange: Any) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After`` (seconds or a date), else Bybit's reset time."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = headers.get("Retry-After")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(parsed.timestamp() - time.time(), 0.0)
    reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
    if reset:
        try:
            return max(int(reset) / 1000 - time.time(), 0.0)
        except ValueError:
            return None
    return None


def _request_url(exc: BaseException, exchange: Any) -> str:
    """The URL of the failed request: ccxt's message is ``"bybit GET <url>"``; else the API base."""
    match = re.search(r"https?://\S+", str(exc))
    if match:
        return match.group(0)
    return str(next(iter(exchange.urls["api"].values()), ""))


def call(exchange: Any, what: str, request: Callable[[], T], settings: ClientSettings) -> T:
    """Run one ccxt request under the retry policy; failures become one clear ``DataError``.

    Retried: timeouts, dropped connections, HTTP 429/403/5xx (ccxt's NetworkError family),
    Bybit's busy retCodes and malformed JSON. Not retried: a host that does not resolve or
    refuses the connection (offline), an unknown symbol or any other exchange error, which no
    amount of waiting fixes.
    """
    import ccxt

    def attempt() -> T:
        try:
            return request()
        except ccxt.BadSymbol as exc:
            raise DataError(f"{what}: Bybit does not know this symbol ({_one_line(exc)}); {SYMBOL_HINT}") from exc
        except ccxt.NetworkError as exc:
            # ccxt's message names only the request; the cause (DNS, refused) is in the chain.
            cut_off = unreachable(exc, _request_url(exc, exchange))
            if cut_off is not None:
                raise DataError(f"{what}: {cut_off}") from exc
            if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection | ccxt.ExchangeNotAvailable):
                raise Retryable(_one_line(exc), retry_after=_retry_after(exchange)) from exc
            raise Retryable(_one_line(exc)) from exc
        except ccxt.BadResponse as exc:
            raise Retryable(_one_line(exc)) from exc
        except ccxt.BaseError as exc:
            if any(code in str(exc) for code in BUSY_CODES):
                raise Retryable(_one_line(exc), retry_after=_retry_after(exchange)) from exc
            raise DataError(f"{what}: {type(exc).__name__}: {_one_line(exc)}") from exc

    return with_retries(attempt, what, settings.retry, sleep=lambda seconds: SLEEP(seconds))


def find_market(exchange: Any, symbol: str) -> dict[str, Any]:
    """The loaded market of ``symbol``; an unknown one is a DataError suggesting close symbols."""
    markets: dict[str, dict[str, Any]] = exchange.markets or {}
    if symbol in markets:
        return markets[symbol]
    usable = sorted(s for s, m in markets.items() if m.get("spot") or (m.get("swap") and m.get("linear")))
    # A Bybit id (BTCUSDT) names a spot pair and a perpetual at once: offer exactly those.
    by_id = [m["symbol"] for m in (exchange.markets_by_id or {}).get(symbol.upper(), []) if m["symbol"] in usable]
    suggestions = by_id or difflib.get_close_matches(symbol.upper(), usable, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(s) for s in suggestions)}? " if suggestions else ""
    raise DataError(f"Bybit has no market {symbol!r}; {hint}({SYMBOL_HINT})")
