"""Retrying network calls: bounded attempts, exponential backoff with jitter, Retry-After honoured.

A host that cannot be reached at all (its name does not resolve, or nothing listens at its
address) is not retried: without a network that takes seconds of backoff to end in the same
answer. :func:`unreachable` recognises those failures in any client's exception chain.
"""

from __future__ import annotations

import errno
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from fintrade.errors import DataError

T = TypeVar("T")


class Retryable(Exception):
    """Raise (or wrap) this from a fetch to ask for another attempt: timeouts, HTTP 429 and 5xx.

    ``retry_after`` (seconds) is how long the server asked us to wait, when it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(DataError):
    """The host could not be reached at all (no DNS answer, connection refused): never retried."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(
            f"could not reach {host} ({reason}); check the network connection, "
            "or run with --offline to use only what is cached"
        )
        self.host = host
        self.reason = reason


DNS_FAILED = "DNS lookup failed"
REFUSED = "connection refused"
NO_ROUTE = "no route to host"
CONNECT_FAILED = "connection failed"

# libcurl's codes (curl_cffi, yfinance's transport): 6 = could not resolve host, 7 = could not connect.
_CURL_REASONS = {6: DNS_FAILED, 7: CONNECT_FAILED}
_OS_REASONS = {errno.ECONNREFUSED: REFUSED, errno.ENETUNREACH: NO_ROUTE, errno.EHOSTUNREACH: NO_ROUTE}


def _reason(error: BaseException) -> str | None:
    if isinstance(error, socket.gaierror) or type(error).__name__ in ("NameResolutionError", "DNSError"):
        return DNS_FAILED
    if isinstance(error, OSError) and error.errno in _OS_REASONS:
        return _OS_REASONS[error.errno]
    code = getattr(error, "code", None)
    if any(cls.__name__ == "CurlError" for cls in type(error).__mro__) and code in _CURL_REASONS:
        return _CURL_REASONS[code]
    return None


def unreachable(error: BaseException, url: str) -> Unreachable | None:
    """An :class:`Unreachable` naming ``url``'s host when ``error`` (or what caused it) means the
    host could not be reached at all, else None (a timeout or an HTTP error may pass: retry those).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = _reason(current)
        if reason is not None:
            return Unreachable(urlsplit(url).netloc or url, reason)
        current = current.__cause__ or current.__context__
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; the wait before try n+1 is ``base * 2**n`` plus up to 100% jitter, capped."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = self.base_delay * 2**attempt
        return min(backoff + rng.uniform(0, backoff), self.max_delay)


def with_retries(
    call: Callable[[], T],
    what: str,
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``call``, retrying on :class:`Retryable`; after the last attempt, one clear DataError."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    for attempt in range(policy.attempts):
        try:
            return call()
        except Retryable as exc:
            if attempt == policy.attempts - 1:
                raise DataError(f"{what}: gave up after {policy.attempts} attempts: {exc}") from exc
            sleep(policy.delay(attempt, exc.retry_after, rng))
    raise AssertionError("unreachable")
