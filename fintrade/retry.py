"""Retrying network calls: bounded attempts, exponential backoff with jitter, Retry-After honoured."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fintrade.errors import DataError

T = TypeVar("T")


class Retryable(Exception):
    """Raise (or wrap) this from a fetch to ask for another attempt: timeouts, HTTP 429 and 5xx.

    ``retry_after`` (seconds) is how long the server asked us to wait, when it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
