"""Build the frame every dataset of this plugin returns, and the stable ids of its rows.

Columns, in order: ``text`` (str), ``label`` (one of the task's labels, str),
``published_at`` (UTC timestamps, only when the data has dates) and ``id`` (str).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd

from fintrade.cache import DataWarning
from fintrade.rowfiles import is_missing, text_ids
from fintrade_datasets.labels import plural


def labelled_frame(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    published_at: pd.DatetimeIndex | None = None,
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The dataset contract as a frame, with a fresh 0..n-1 index."""
    columns: dict[str, object] = {
        "text": pd.Series(list(texts), dtype=object),
        "label": pd.Series(list(labels), dtype=object),
    }
    if published_at is not None:
        columns["published_at"] = pd.Series(published_at.tz_convert("UTC").as_unit("ns"), copy=False)
    columns["id"] = pd.Series(list(ids) if ids is not None else text_ids(texts), dtype=object)
    return pd.DataFrame(columns).reset_index(drop=True)


def keep_texts(texts: Sequence[object], rows: Sequence[int], *, where: str, column: str, row_word: str) -> list[int]:
    """Positions of the rows that have text; the others are dropped with one warning.

    An empty text cannot teach a classifier anything, and blank rows are common at the end
    of hand-edited files, so they are not an error; the warning says how many went and where
    the first one was, so a column that is mostly empty (a wrong ``text_column``) is noticed.
    """
    keep = [position for position, text in enumerate(texts) if not is_missing(text)]
    dropped = len(texts) - len(keep)
    if dropped:
        first = next(row for text, row in zip(texts, rows, strict=True) if is_missing(text))
        warnings.warn(
            f"{where}: dropped {plural(dropped, row_word)} with empty text in column {column!r} "
            f"(first: {row_word} {first})",
            DataWarning,
            stacklevel=3,
        )
    return keep
