"""Synthetic news about a :class:`~fintrade_synthetic.market.SyntheticMarket`, with a known edge.

A document published during bar t (in ``[open_t, open_t + min(bar length, 1 day) - 1 hour)``,
so always before bar t's close, which is bar t+1's open) speaks about the *next* bar's return
``r_{t+1} = log(close_{t+1} / close_t)``. With probability ``information`` its polarity is
``sign(r_{t+1})``; otherwise it is a fair coin. A signal that reads the documents at bar t's
close and trades at bar t+1's open therefore has a hit rate of ``(1 + information) / 2``,
and none at all with ``information=0``.

Texts are templated headlines made of plainly positive or negative finance words, so a
lexicon model can read them; the ``sentiment`` column (+1/-1) holds the truth for tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fintrade.errors import ConfigError
from fintrade.types import DOCUMENT_COLUMNS
from fintrade_synthetic.market import SyntheticMarket, stream, symbol_key

POSITIVE_HEADLINES: tuple[str, ...] = (
    "Shares of {symbol} surge on strong earnings beat",
    "{symbol} rallies as analysts upgrade the stock to buy",
    "{symbol} posts record profit and raises guidance",
    "Bullish investors lift {symbol} on robust demand and growth",
    "{symbol} soars after upbeat revenue gains",
)
NEGATIVE_HEADLINES: tuple[str, ...] = (
    "{symbol} plunges after guidance cut",
    "Shares of {symbol} slump on weak earnings miss",
    "{symbol} falls as analysts downgrade the stock to sell",
    "{symbol} reports loss and warns of falling demand",
    "Bearish investors dump {symbol} amid lawsuit fears",
)
PUBLISH_MARGIN = pd.Timedelta(hours=1)
"""The last hour of a bar stays quiet, so an availability lag still lands before the close."""
ARRIVALS: tuple[str, ...] = ("fixed", "poisson")
SOURCE_LABEL = "synthetic"

# Stream identifiers for the news of one symbol (beneath the market's own streams).
_NEWS = 2
_COUNTS, _INFORMED, _COIN, _HEADLINE, _TIMING = range(5)


def empty_documents() -> pd.DataFrame:
    """No documents, with the columns and dtypes of :func:`make_documents`."""
    frame = pd.DataFrame({column: pd.Series(dtype=str) for column in DOCUMENT_COLUMNS})
    frame["published_at"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["sentiment"] = pd.Series(dtype="int64")
    return frame


def check_news_options(information: object, docs_per_bar: object, arrivals: object, where: str) -> tuple[float, float]:
    """Validated ``(information, docs_per_bar)``; a fixed count must be a whole number."""
    if isinstance(information, bool) or not isinstance(information, int | float) or not 0.0 <= information <= 1.0:
        raise ConfigError(f"{where}: information must be a number in [0, 1], got {information!r}")
    if isinstance(docs_per_bar, bool) or not isinstance(docs_per_bar, int | float) or not docs_per_bar >= 0:
        raise ConfigError(f"{where}: docs_per_bar must be a non-negative number, got {docs_per_bar!r}")
    if arrivals not in ARRIVALS:
        raise ConfigError(f"{where}: arrivals must be one of {', '.join(ARRIVALS)}, got {arrivals!r}")
    if arrivals == "fixed" and float(docs_per_bar) != int(docs_per_bar):
        raise ConfigError(
            f"{where}: docs_per_bar={docs_per_bar!r} is not a whole number; use arrivals='poisson' for a rate"
        )
    return float(information), float(docs_per_bar)


def _symbol_documents(
    market: SyntheticMarket, symbol: str, information: float, docs_per_bar: float, arrivals: str
) -> pd.DataFrame:
    index = market.index
    bars = len(index) - 1  # the last bar has no next return to talk about
    if bars < 1:
        return empty_documents()
    key = symbol_key(symbol)

    def draws(component: int) -> np.random.Generator:
        return stream(market.seed, _NEWS, key, component)

    fixed = np.full(bars, int(docs_per_bar))
    counts = draws(_COUNTS).poisson(docs_per_bar, bars) if arrivals == "poisson" else fixed
    total = int(counts.sum())
    if total == 0:
        return empty_documents()
    bar = np.repeat(np.arange(bars), counts)
    # Each quantity has its own stream, drawn once per document in time order, so the
    # documents of a shorter market are exactly the first ones of a longer market.
    informed = draws(_INFORMED).random(total) < information
    coin = np.where(draws(_COIN).random(total) < 0.5, 1, -1)
    next_return = market.log_returns[symbol].to_numpy()[1:]
    truth = np.where(next_return[bar] >= 0.0, 1, -1)
    polarity = np.where(informed, truth, coin)
    headline = draws(_HEADLINE).integers(0, len(POSITIVE_HEADLINES), total)
    opens = index.asi8
    length = np.minimum(np.diff(opens), pd.Timedelta(days=1).value) - PUBLISH_MARGIN.value
    offset = np.floor(draws(_TIMING).random(total) * length[bar] / 1e9) * 1e9  # whole seconds
    published = pd.DatetimeIndex(opens[bar] + offset.astype(np.int64), tz="UTC")
    texts = [
        (POSITIVE_HEADLINES if sign > 0 else NEGATIVE_HEADLINES)[choice].format(symbol=symbol)
        for sign, choice in zip(polarity, headline, strict=True)
    ]
    # Position within its bar, in draw order: ids stay stable when the market is extended.
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    stamps = index[bar].strftime("%Y%m%dT%H%M")
    ids = [f"synthetic-{market.seed}-{symbol}-{stamp}-{k}" for stamp, k in zip(stamps, within, strict=True)]
    return pd.DataFrame(
        {
            "published_at": published.as_unit("ns"),
            "symbol": symbol,
            "text": texts,
            "source": SOURCE_LABEL,
            "id": ids,
            "sentiment": polarity.astype(np.int64),
        }
    )


def make_documents(
    market: SyntheticMarket,
    *,
    information: float = 0.0,
    docs_per_bar: float = 1,
    arrivals: str = "fixed",
) -> pd.DataFrame:
    """Documents about every symbol of ``market``, sorted by ``published_at``.

    ``information`` in [0, 1] is the share of documents that know the next bar's direction.
    ``docs_per_bar`` is a fixed count per bar and symbol, or with ``arrivals="poisson"`` a
    Poisson rate. Columns: ``published_at symbol text source id sentiment``.
    """
    information, docs_per_bar = check_news_options(information, docs_per_bar, arrivals, "synthetic news")
    frames = [_symbol_documents(market, symbol, information, docs_per_bar, arrivals) for symbol in market.symbols]
    documents = pd.concat(frames, ignore_index=True) if frames else empty_documents()
    return documents.sort_values(["published_at", "symbol"], kind="stable", ignore_index=True)
