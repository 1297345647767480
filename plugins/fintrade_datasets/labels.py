"""Turn raw label cells into the sentiment task's labels, or say exactly which ones do not fit.

Works on plain Python lists (a few thousand to a few hundred thousand cells), so the plugin's
registration module can import :data:`SENTIMENT_LABELS` from here without importing pandas.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from fintrade.errors import ConfigError, DataError
from fintrade.rowfiles import is_missing

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
"""The labels of the ``sentiment`` task, in the order models number them (0, 1, 2)."""

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_MAX_LISTED = 10


def plural(count: int, word: str) -> str:
    """``"1 row"``, ``"3 rows"``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def label_key(value: object) -> str:
    """How a raw label is compared with ``label_map`` keys: as text, so ``0`` and ``"0"`` agree.

    CSV cells arrive as strings and JSON labels as numbers, while a ``label_map`` written in
    Python has int keys and one read from JSON has string keys; comparing text makes all four
    combinations work. Whole floats (``1.0``) read as ints, since JSON writers produce them.
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_NUMBER.match(value.strip()))


def _listing(counts: Counter[str], word: str) -> str:
    """``'bullish' (30 rows), 'bearish' (12 rows)``, sorted, at most ten named."""
    names = sorted(counts)
    shown = ", ".join(f"{name!r} ({plural(counts[name], word)})" for name in names[:_MAX_LISTED])
    hidden = len(names) - _MAX_LISTED
    return shown + (f" and {hidden} more" if hidden > 0 else "")


def check_label_map(label_map: object, where: str) -> dict[str, str] | None:
    """Option ``label_map`` with keys as :func:`label_key` text; every target must be a task label."""
    if label_map is None:
        return None
    if not isinstance(label_map, Mapping) or not label_map:
        raise ConfigError(
            f"{where}: option 'label_map' must be a non-empty mapping from raw labels to "
            f"{', '.join(SENTIMENT_LABELS)}, got {label_map!r}"
        )
    checked: dict[str, str] = {}
    for raw, target in label_map.items():
        if target not in SENTIMENT_LABELS:
            raise ConfigError(
                f"{where}: option 'label_map' maps {raw!r} to {target!r}; "
                f"targets must be one of {', '.join(SENTIMENT_LABELS)}"
            )
        key = label_key(raw)
        if key in checked and checked[key] != target:
            raise ConfigError(f"{where}: option 'label_map' maps {key!r} twice, to {checked[key]!r} and {target!r}")
        checked[key] = str(target)
    return checked


def sentiment_labels(
    values: Sequence[object],
    rows: Sequence[int],
    *,
    label_map: Mapping[str, str] | None,
    where: str,
    column: str,
    row_word: str = "row",
) -> list[str]:
    """Each raw label as ``negative``, ``neutral`` or ``positive``.

    ``rows`` holds the row (or line) number of each value, for messages. Without a map,
    labels match case-insensitively and ignoring surrounding spaces (``"Positive "`` is
    ``positive``); numbers are refused, because which number means what is a guess. With a
    map (from :func:`check_label_map`), every distinct raw label must be one of its keys.
    """
    missing = [row for value, row in zip(values, rows, strict=True) if is_missing(value)]
    if missing:
        raise DataError(
            f"{where}: {plural(len(missing), row_word)} {'has' if len(missing) == 1 else 'have'} "
            f"no label in column {column!r} (first: {row_word} {missing[0]})"
        )
    if label_map is not None:
        keys = [label_key(value) for value in values]
        unmapped = Counter(key for key in keys if key not in label_map)
        if unmapped:
            raise DataError(
                f"{where}: label(s) {_listing(unmapped, row_word)} in column {column!r} are not keys of "
                f"option 'label_map' (its keys: {', '.join(map(repr, sorted(label_map)))})"
            )
        return [label_map[key] for key in keys]
    if all(_is_number(value) for value in values):
        distinct = sorted({label_key(value) for value in values}, key=lambda text: float(text))
        shown = ", ".join(distinct[:_MAX_LISTED]) + (" ..." if len(distinct) > _MAX_LISTED else "")
        example = ", ".join(f"{key!r}: {label!r}" for key, label in zip(distinct, SENTIMENT_LABELS, strict=False))
        raise ConfigError(
            f"{where}: column {column!r} holds numeric labels ({shown}); pass option label_map to say "
            f"which is which, e.g. {{{example}}} (check the data's documentation: orders differ)"
        )
    labels = [str(value).strip().lower() for value in values]
    unexpected = Counter(
        label_key(value) for value, label in zip(values, labels, strict=True) if label not in SENTIMENT_LABELS
    )
    if unexpected:
        raise DataError(
            f"{where}: unexpected label(s) {_listing(unexpected, row_word)} in column {column!r}; the sentiment "
            f"task takes {', '.join(SENTIMENT_LABELS)} (option label_map maps other labels onto them)"
        )
    return labels
