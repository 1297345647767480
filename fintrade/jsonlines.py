"""Reading JSON lines (one object per line) with errors that name the line, for any plugin."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from fintrade.errors import DataError


def json_objects(lines: Iterable[str], where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; anything but a JSON object is a DataError.

    Pass ``text.split("\\n")`` rather than ``text.splitlines()``: JSON strings may hold a raw
    U+2028, on which ``splitlines()`` would break a record in two. File iteration is safe.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, dict):
            raise DataError(f"{where}: line {number}: expected a JSON object, got {type(value).__name__}")
        yield number, value
