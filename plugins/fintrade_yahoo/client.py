"""Where fintrade talks to Yahoo: yfinance calls, the mirror, retries and failure diagnosis.

yfinance is built for interactive use: it logs most failures and returns an empty frame
instead of raising, and an HTTP status never reaches the caller. A data source needs to know
*why* a download came back empty (a timeout or HTTP 5xx is worth another try, an unknown symbol
is not, a truncated body must never be cached), so every call goes through a session of our
own that yfinance accepts (``yf.Ticker(symbol, session=...)``, the one hook it documents).
The session records each request and what came back, and :func:`call_yahoo` diagnoses the
last exchange with Yahoo's endpoint after the call:

- a host name that does not resolve, or a refused connection -> :class:`~fintrade.retry.Unreachable`
  at once (a ``DataError`` suggesting ``--offline``): no network is not worth five attempts;
- a timeout, a dropped connection or a body cut short -> :class:`~fintrade.retry.Retryable`;
- HTTP 429 -> ``Retryable`` honouring ``Retry-After``; HTTP 5xx -> ``Retryable``;
- Yahoo's error document (404 ``Not Found`` for an unknown symbol, 422 for a range Yahoo
  will not serve) -> a one-line :class:`~fintrade.errors.DataError`;
- a 200 whose body is not JSON -> ``DataError`` ("malformed JSON"), never retried.

The same session rewrites every ``*.yahoo.com`` URL to ``$FINTRADE_YAHOO_URL`` when that is
set (a mirror, or the loopback server in the tests). Pointing yfinance's URL constants at the
mirror is not enough: ``yfinance.const._BASE_URL_`` is copied into each module when imported,
and the cookie and crumb URLs (``fc.yahoo.com``, ``/v1/test/getcrumb``, ``guce.yahoo.com``) are
literals in ``yfinance/data.py``.

yfinance holds one process-wide client (a singleton) with an in-memory response memo; calls
are therefore serialised by a lock here, and the memo is cleared before each attempt, because
it would otherwise replay a failed response to the retry.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from fintrade.cache import cache_root
from fintrade.errors import ConfigError, DataError
from fintrade.retry import Retryable, RetryPolicy, unreachable, with_retries

T = TypeVar("T")

MIRROR_ENV = "FINTRADE_YAHOO_URL"
CHART_PATH = "/v8/finance/chart/"
NEWS_PATH = "/xhr/ncp"
INSTALL_HINT = "the yahoo source needs yfinance: pip install 'fintrade[yahoo]'"

_LOCK = threading.RLock()
_SESSIONS: dict[str | None, Any] = {}
_yfinance_cache_moved = False


def mirror_url() -> str | None:
    """The base URL every Yahoo request goes to instead, from ``$FINTRADE_YAHOO_URL``, or None."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{MIRROR_ENV} must be a base URL such as http://127.0.0.1:8080, got {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True)
class Exchange:
    """One request the session sent, and the response or the exception it got."""

    method: str
    url: str
    response: Any = None
    error: BaseException | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


def _rewrite(url: str, mirror: str | None) -> str:
    if mirror is None:
        return url
    parts = urlsplit(url)
    if not (parts.hostname or "").endswith("yahoo.com"):
        return url
    base = urlsplit(mirror)
    return urlunsplit((base.scheme, base.netloc, base.path + (parts.path or "/"), parts.query, ""))


@functools.cache
def _session_class(base: type) -> type:
    """``base`` (curl_cffi's or requests' Session) that rewrites to the mirror and records exchanges."""

    class YahooSession(base):  # type: ignore[misc, valid-type]
        def __init__(self, mirror: str | None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.mirror = mirror
            self.exchanges: list[Exchange] = []

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            url = _rewrite(str(url), self.mirror)
            try:
                response = super().request(method, url, *args, **kwargs)
            except Exception as exc:
                self.exchanges.append(Exchange(method, url, error=exc))
                raise
            self.exchanges.append(Exchange(method, url, response=response))
            return response

    return YahooSession


def _new_session(mirror: str | None) -> Any:
    # The same backend yfinance would pick: curl_cffi impersonating Chrome (Yahoo throttles
    # clients that do not look like a browser), else requests.
    if os.environ.get("YF_DISABLE_CURL_CFFI", "").lower() not in ("1", "true", "yes"):
        try:
            from curl_cffi import requests as curl_requests
        except ImportError:
            pass
        else:
            return _session_class(curl_requests.Session)(mirror, impersonate="chrome")
    import requests

    session = _session_class(requests.Session)(mirror)
    session.headers["User-Agent"] = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    return session


def yahoo_session() -> Any:
    """The recording session for the current mirror (one per process and mirror: it keeps the cookie)."""
    global _yfinance_cache_moved
    mirror = mirror_url()
    with _LOCK:
        if mirror is not None and not _yfinance_cache_moved:
            # yfinance remembers each symbol's timezone and Yahoo's cookie in its own small
            # databases; what a mirror says must not end up in the user's real ones.
            import yfinance

            yfinance.set_tz_cache_location(str(cache_root() / "yfinance"))
            _yfinance_cache_moved = True
        if mirror not in _SESSIONS:
            _SESSIONS[mirror] = _new_session(mirror)
        return _SESSIONS[mirror]


def _clear_yfinance_memo() -> None:
    from yfinance.data import YfData

    clear = getattr(YfData.cache_get, "cache_clear", None)
    if clear is not None:
        clear()


class _Capture(logging.Handler):
    """Collects what yfinance logs during a call (and keeps it off the user's terminal)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


@contextmanager
def _quiet_yfinance() -> Iterator[_Capture]:
    logger = logging.getLogger("yfinance")
    capture = _Capture()
    logger.addHandler(capture)
    try:
        with warnings.catch_warnings():
            # yfinance 1.7 uses pandas APIs that pandas 3 deprecates; not the user's concern.
            warnings.filterwarnings("ignore", module=r"yfinance(\..*)?$")
            yield capture
    finally:
        logger.removeHandler(capture)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds (decimals accepted) or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _yahoo_error(payload: Any) -> tuple[str, str] | None:
    """``(code, description)`` from Yahoo's error documents (``chart``, ``quoteSummary``, ``finance``)."""
    if not isinstance(payload, dict):
        return None
    for section in payload.values():
        if isinstance(section, dict) and isinstance(section.get("error"), dict):
            error = section["error"]
            return str(error.get("code", "")), str(error.get("description", ""))
    return None


def _short(message: str) -> str:
    """The first line of a transport error, without curl's boilerplate around it."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = first.removeprefix("Failed to perform, ")
    return re.sub(r"\.?\s*See https?://\S+.*$", "", first).strip()


def diagnose(exchange: Exchange) -> Exception | None:
    """What went wrong in one exchange: a ``Retryable``, a ``DataError``, or None when it went fine."""
    if exchange.error is not None:
        error = exchange.error
        cut_off = unreachable(error, exchange.url)
        if cut_off is not None:
            return cut_off
        names = {cls.__name__ for cls in type(error).__mro__}
        detail = _short(str(error)) or type(error).__name__
        if names & {"Timeout", "ReadTimeout", "ConnectTimeout", "TimeoutError"}:
            return Retryable(f"timed out ({detail})")
        if "transfer closed" in detail or "(18)" in detail or names & {"ChunkedEncodingError", "IncompleteRead"}:
            return Retryable(f"the response was cut off before its end ({detail})")
        return Retryable(f"network error: {type(error).__name__}: {detail}")
    response = exchange.response
    status = int(response.status_code)
    if status == 429:
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        return Retryable("HTTP 429 Too Many Requests (rate limited)", retry_after=seconds)
    if status >= 500:
        return Retryable(f"HTTP {status} from Yahoo")
    content = bytes(response.content or b"")
    try:
        payload = json.loads(content)
    except ValueError as exc:
        if status >= 400:
            return DataError(f"HTTP {status} from Yahoo")
        return DataError(f"malformed JSON from Yahoo ({len(content)} bytes, {exc}); nothing was cached")
    yahoo_error = _yahoo_error(payload)
    if yahoo_error is not None:
        code, description = yahoo_error
        if code == "Not Found":
            return DataError(f"unknown symbol (Yahoo: {description})")
        return DataError(f"Yahoo refused the request: {description or code}")
    if status >= 400:
        return DataError(f"HTTP {status} from Yahoo")
    return None


@dataclass(frozen=True)
class Outcome:
    """What one yfinance call returned, what went wrong on the wire (if anything), and its log."""

    value: Any
    failure: Exception | None
    log: tuple[str, ...]


def attempt(call: Callable[[Any], T], endpoint: str) -> Outcome:
    """Run ``call(session)`` once and diagnose the last exchange with ``endpoint`` (a path prefix).

    The last exchange decides because yfinance goes on after a failure (it retries any HTTP
    error once itself, with a fresh cookie): an earlier 500 followed by a 200 is a success.
    """
    try:
        import yfinance  # noqa: F401  (fail early, with the install hint)
    except ImportError as exc:
        raise DataError(INSTALL_HINT) from exc
    from yfinance.exceptions import YFRateLimitError

    with _LOCK:
        session = yahoo_session()
        _clear_yfinance_memo()
        session.exchanges.clear()
        value: Any = None
        raised: Exception | None = None
        with _quiet_yfinance() as capture:
            try:
                value = call(session)
            except YFRateLimitError as exc:
                raised = exc
            except Exception as exc:
                # yfinance raises for a few failures it does not swallow; diagnose them below.
                raised = exc
        exchanges = [e for e in session.exchanges if e.path.startswith(endpoint)]
        failure = diagnose(exchanges[-1]) if exchanges else None
        if raised is not None and failure is None:
            if isinstance(raised, YFRateLimitError):
                failure = Retryable("HTTP 429 Too Many Requests (rate limited)")
            else:
                failure = DataError(f"yfinance failed: {type(raised).__name__}: {raised}")
        return Outcome(value, failure, tuple(capture.messages))


def call_yahoo(
    what: str,
    call: Callable[[Any], T],
    endpoint: str,
    accept: Callable[[T], bool],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Call yfinance with retries; ``accept(value)`` says whether a value stands despite wire trouble.

    Returns the first acceptable outcome, or an outcome whose ``failure`` is a permanent
    ``DataError``; raises one ``DataError`` naming ``what`` when the retries run out.
    """

    def once() -> Outcome:
        outcome = attempt(call, endpoint)
        if outcome.failure is not None and not (outcome.value is not None and accept(outcome.value)):
            if isinstance(outcome.failure, Retryable):
                raise outcome.failure
            return outcome
        return Outcome(outcome.value, None, outcome.log)

    return with_retries(once, what, policy, sleep=sleep)
