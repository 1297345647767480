"""The ``sample-tweets`` text source: bundled StockNet tweets about the five sample stocks.

Tweets are from 2013-12-31T23:10Z to 2016-03-31T21:34Z. A tweet that names several of the tickers
appears once per ticker, with the same ``id``; the 62 rows that the source repeats exactly
(same tweet, same ticker) are dropped when loading.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from fintrade.bars import to_utc_timestamp
from fintrade.options import check_option_names
from fintrade.types import DOCUMENT_COLUMNS, DocumentsRequest
from fintrade_sample.bundle import TWEETS_FILE, check_symbols, data_file

TEXT_SOURCE = "text source 'sample-tweets'"


@lru_cache(maxsize=1)
def _all_tweets() -> pd.DataFrame:
    with data_file(TWEETS_FILE).open("rb") as handle:
        # As text: tweet ids exceed float precision, and a tweet reading "NA" is a tweet.
        raw = pd.read_csv(handle, compression="gzip", dtype=str, keep_default_na=False)
    raw = raw.drop_duplicates(ignore_index=True)
    tweets = pd.DataFrame(
        {
            "published_at": pd.to_datetime(raw["created_at_utc"], utc=True, format="ISO8601").dt.as_unit("ns"),
            "symbol": raw["ticker"],
            "text": raw["text"],
            "source": "stocknet",
            "id": raw["tweet_id"],
        },
        columns=list(DOCUMENT_COLUMNS),
    )
    return tweets.sort_values("published_at", kind="stable", ignore_index=True)


def load_tweets(symbols: tuple[str, ...] = (), *, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Sample tweets about ``symbols`` (all five when empty) published in ``[start, end)``.

    Columns ``published_at`` (UTC), ``symbol``, ``text``, ``source`` ("stocknet") and ``id``
    (the tweet id), sorted by time. Returns a fresh copy.
    """
    tweets = _all_tweets()
    keep = tweets["symbol"].isin(list(check_symbols(symbols, TEXT_SOURCE)))
    first, last = to_utc_timestamp(start), to_utc_timestamp(end)
    if first is not None:
        keep &= tweets["published_at"] >= first
    if last is not None:
        keep &= tweets["published_at"] < last
    return tweets.loc[keep.to_numpy()].reset_index(drop=True)


def load_sample_tweets(request: DocumentsRequest) -> pd.DataFrame:
    """The ``sample-tweets`` source's ``load`` (no options)."""
    check_option_names(request.options, (), TEXT_SOURCE)
    return load_tweets(tuple(request.symbols), start=request.start, end=request.end)
