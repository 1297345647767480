"""The ``yahoo-news`` text source: the latest headlines Yahoo shows for each symbol.

Through ``yfinance.Ticker(symbol).get_news(count, tab)``, which posts to Yahoo's
``/xhr/ncp?queryRef=latestNews`` endpoint and returns ``data.tickerStream.stream``: items of
the form ``{"id": uuid, "content": {"title", "summary", "pubDate": "2024-06-03T19:00:00Z",
"provider": {"displayName"}, "canonicalUrl": {"url"}, ...}}`` (adverts, which carry an ``ad``
key, are dropped by yfinance). The older flat format (``uuid``, ``title``,
``providerPublishTime`` in epoch seconds), which ``yf.Search`` still returns, is read too.

Yahoo serves only the most recent headlines, not an archive, so this source suits live
signals and recent windows; documents are not cached, and ``--offline`` is an error here.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import pandas as pd

from fintrade.cache import DataWarning, offline_mode
from fintrade.errors import DataError
from fintrade.types import DOCUMENT_COLUMNS, DocumentsRequest
from fintrade_yahoo.client import NEWS_PATH, call_yahoo
from fintrade_yahoo.options import NEWS_DEFAULTS, parse_options

TEXT_SOURCE = "yahoo-news"


def load_yahoo_news(request: DocumentsRequest) -> pd.DataFrame:
    """Headlines about the requested symbols published in ``[start, end)``, oldest first."""
    where = f"text source {TEXT_SOURCE!r}"
    options = parse_options(request.options, NEWS_DEFAULTS, where)
    if offline_mode():
        raise DataError(
            f"{where}: offline, and Yahoo news is fetched live (Yahoo keeps no archive to cache); run without --offline"
        )
    rows: list[dict[str, Any]] = []
    for symbol in request.symbols:
        yahoo_symbol = symbol.strip().upper()

        def call(session: Any, yahoo_symbol: str = yahoo_symbol) -> list[Any]:
            import yfinance

            return list(yfinance.Ticker(yahoo_symbol, session=session).get_news(count=options.count, tab=options.tab))

        outcome = call_yahoo(f"{where}, symbol {symbol!r}", call, NEWS_PATH, accept=bool, policy=options.retry_policy())
        if outcome.failure is not None:
            raise DataError(f"{where}, symbol {symbol!r}: {outcome.failure}")
        skipped = 0
        for item in outcome.value:
            row = parse_article(item, symbol)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
        if skipped:
            warnings.warn(
                f"{where}, symbol {symbol!r}: skipped {skipped} item(s) without a title or publish time",
                DataWarning,
                stacklevel=2,
            )
    documents = pd.DataFrame(rows, columns=list(DOCUMENT_COLUMNS))
    documents["published_at"] = pd.to_datetime(documents["published_at"], utc=True)
    if request.start is not None:
        documents = documents.loc[documents["published_at"] >= request.start]
    if request.end is not None:
        documents = documents.loc[documents["published_at"] < request.end]
    documents = documents.drop_duplicates(subset=["id", "symbol"])
    return documents.sort_values(["published_at", "symbol", "id"], kind="stable").reset_index(drop=True)


def parse_article(item: Mapping[str, Any], symbol: str) -> dict[str, Any] | None:
    """One stream item as a document row, or None when it lacks a title or a publish time."""
    content = item.get("content") if isinstance(item.get("content"), Mapping) else item
    assert isinstance(content, Mapping)
    title = str(content.get("title") or "").strip()
    summary = str(content.get("summary") or "").strip()
    published = _published_at(content, item)
    if not title or published is None:
        return None
    text = title if not summary or summary == title else f"{title}\n\n{summary}"
    article_id = item.get("id") or content.get("id") or item.get("uuid") or ""
    return {"published_at": published, "symbol": symbol, "text": text, "source": "yahoo", "id": str(article_id)}


def _published_at(content: Mapping[str, Any], item: Mapping[str, Any]) -> pd.Timestamp | None:
    value = content.get("pubDate") or content.get("displayTime")
    try:
        if value:
            stamp = pd.Timestamp(value)
            return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
        epoch = item.get("providerPublishTime")
        if isinstance(epoch, int | float) and not isinstance(epoch, bool):
            return pd.Timestamp(int(epoch), unit="s", tz="UTC")
    except (TypeError, ValueError):
        return None
    return None
