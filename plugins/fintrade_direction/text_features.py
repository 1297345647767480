"""Documents to per-bar text features: the mean embedding of each symbol's new documents.

The documents are those the core prepared and handed over
(:func:`fintrade.alignment.handed_documents`). A document counts for the first bar whose close
is at or after ``published_at + lag`` (:func:`fintrade.alignment.available_bar`), so bar t's
text is what became known between the previous close and t's close. Documents with an empty
symbol concern the whole market and count for every symbol. A bar without news has no vector
(the classifier gives it zeros and a "has news" flag of 0); nothing is carried over from
earlier bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fintrade.alignment import available_bar
from fintrade_direction.embeddings import embed_texts

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class BarText:
    """Mean document vectors of the (bar, symbol) rows that had news.

    Rows are numbered bar-major, ``bar * n_symbols + symbol``; ``rows`` is sorted and
    ``vectors[i]`` belongs to ``rows[i]``.
    """

    rows: np.ndarray
    vectors: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def has_news(self, n_rows: int) -> np.ndarray:
        flags = np.zeros(n_rows, dtype=bool)
        flags[self.rows] = True
        return flags


def bar_text(
    documents: pd.DataFrame | None,
    symbols: Sequence[str],
    closes: pd.DatetimeIndex,
    lag: str,
    model: str,
) -> BarText:
    """Embed the prepared documents (cached per text) and average them per symbol per bar."""
    empty = BarText(rows=np.empty(0, dtype=np.int64), vectors=np.empty((0, 0)))
    if documents is None or documents.empty:
        return empty
    prepared = documents
    bar = available_bar(prepared["published_at"], closes, lag)
    known = bar >= 0
    prepared, bar = prepared.loc[known], bar[known]
    if prepared.empty:
        return empty
    vectors = embed_texts(prepared["text"].tolist(), model).astype(np.float64)
    symbol = prepared["symbol"].to_numpy(dtype=object)
    n_symbols = len(symbols)
    rows, picks = [], []
    for j, name in enumerate(symbols):
        mask = (symbol == name) | (symbol == "")
        rows.append(bar[mask] * n_symbols + j)
        picks.append(np.flatnonzero(mask))
    row, pick = np.concatenate(rows).astype(np.int64), np.concatenate(picks)
    distinct, slot = np.unique(row, return_inverse=True)
    sums = np.zeros((len(distinct), vectors.shape[1]))
    np.add.at(sums, slot, vectors[pick])
    counts = np.bincount(slot, minlength=len(distinct)).astype(float)
    return BarText(rows=distinct, vectors=sums / counts[:, None])
