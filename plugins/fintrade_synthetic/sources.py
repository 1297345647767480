"""The ``synthetic`` data source and ``synthetic-news`` text source: requests to generated data.

Both build the market the same way from the same options, so the news of a seed is always
about the bars of that seed:

- ``seed`` (default 0), ``regimes`` (default True), ``start`` (default 2015-01-01) and
  ``bars`` (default 1000): the market begins at ``start`` (or at the request's start, when
  that is earlier) and every later request reads the same prices for the same dates.
- The request's ``[start, end)`` selects bars by open time. Without an end, ``bars`` bars
  are served from the request's start (or the market's start).

Pass the same ``seed``/``regimes``/``start``/``bars`` in ``source_options`` and
``text_options``, or the news will describe another market.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fintrade.bars import to_utc_timestamp
from fintrade.errors import ConfigError, DataError, did_you_mean
from fintrade.types import BarsRequest, DocumentsRequest
from fintrade_synthetic.market import SyntheticMarket, business_days, check_seed, make_market
from fintrade_synthetic.news import check_news_options, empty_documents, make_documents

SOURCE = "source 'synthetic'"
TEXT_SOURCE = "text source 'synthetic-news'"
MARKET_DEFAULTS: dict[str, Any] = {"seed": 0, "regimes": True, "start": "2015-01-01", "bars": 1000}
NEWS_DEFAULTS: dict[str, Any] = {"information": 0.0, "docs_per_bar": 1, "arrivals": "fixed"}


@dataclass(frozen=True)
class MarketWindow:
    """A generated market and the positions of the requested bars in it.

    The market runs one bar past the window, so the window's last bar has a next return.
    """

    market: SyntheticMarket
    positions: np.ndarray

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.market.index[self.positions]


def _options(options: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> dict[str, Any]:
    for name in options:
        if name not in defaults:
            allowed = sorted(defaults)
            raise ConfigError(
                f"{where}: unknown option {name!r}{did_you_mean(str(name), allowed)}; options are {', '.join(allowed)}"
            )
    return {**defaults, **options}


def _market_settings(options: Mapping[str, Any], where: str) -> tuple[int, bool, pd.Timestamp, int]:
    seed = check_seed(options["seed"], where)
    regimes = options["regimes"]
    if not isinstance(regimes, bool):
        raise ConfigError(f"{where}: option 'regimes' must be True or False, got {regimes!r}")
    bars = options["bars"]
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
        raise ConfigError(f"{where}: option 'bars' must be a positive integer, got {bars!r}")
    try:
        start = to_utc_timestamp(options["start"])
    except (ValueError, TypeError):
        start = None
    if start is None:
        raise ConfigError(f"{where}: option 'start' must be a date, got {options['start']!r}")
    return seed, regimes, start.normalize(), bars


def _count_before(anchor: pd.Timestamp, stop: pd.Timestamp) -> int:
    """How many market bars open in ``[anchor, stop)``."""
    if stop <= anchor:
        return 0
    return len(pd.bdate_range(anchor, stop, inclusive="left"))


def market_window(
    symbols: Iterable[str],
    options: Mapping[str, Any],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    where: str,
) -> MarketWindow:
    """Generate the market for a request and locate the requested bars in it."""
    seed, regimes, anchor, bars = _market_settings(options, where)
    start, end = to_utc_timestamp(start), to_utc_timestamp(end)
    if start is not None and start < anchor:
        anchor = start.normalize()
    if end is not None:
        periods = _count_before(anchor, end)
    else:
        periods = (_count_before(anchor, start) if start is not None else 0) + bars
    market = make_market(symbols, seed, start=anchor, bars=periods + 1, regimes=regimes)
    opens = market.index[:-1]
    selected = np.ones(len(opens), dtype=bool)
    if start is not None:
        selected &= opens >= start
    if end is not None:
        selected &= opens < end
    positions = np.flatnonzero(selected)
    if len(positions) == 0:
        raise DataError(
            f"{where}: no bars in [{start}, {end}); the synthetic market has business days at 00:00 UTC "
            f"from {business_days(anchor, 1)[0].date()}"
        )
    return MarketWindow(market, positions)


def load_synthetic_bars(request: BarsRequest) -> dict[str, pd.DataFrame]:
    """The ``synthetic`` source's ``load``: ``{symbol: bars}``, one frame per requested symbol."""
    options = _options(request.options, MARKET_DEFAULTS, SOURCE)
    if request.interval != "1d":
        raise ConfigError(
            f"{SOURCE}: the synthetic market has daily bars only; interval {request.interval!r} is not available"
        )
    if not request.symbols:
        raise ConfigError(f"{SOURCE}: no symbols requested (any names work, e.g. symbols = ('AAA', 'BBB'))")
    window = market_window(request.symbols, options, request.start, request.end, SOURCE)
    return {symbol: frame.iloc[window.positions].copy() for symbol, frame in window.market.bars.items()}


def load_synthetic_news(request: DocumentsRequest) -> pd.DataFrame:
    """The ``synthetic-news`` source's ``load``: documents published during the requested bars."""
    options = _options(request.options, {**MARKET_DEFAULTS, **NEWS_DEFAULTS}, TEXT_SOURCE)
    check_news_options(options["information"], options["docs_per_bar"], options["arrivals"], TEXT_SOURCE)
    if not request.symbols:
        return empty_documents()
    window = market_window(request.symbols, options, request.start, request.end, TEXT_SOURCE)
    documents = make_documents(
        window.market,
        information=options["information"],
        docs_per_bar=options["docs_per_bar"],
        arrivals=options["arrivals"],
    )
    index = window.market.index
    # From the first requested bar's open to the last one's close (the next bar's open).
    first, stop = index[window.positions[0]], index[window.positions[-1] + 1]
    keep = (documents["published_at"] >= first) & (documents["published_at"] < stop)
    start, end = to_utc_timestamp(request.start), to_utc_timestamp(request.end)
    if start is not None:
        keep &= documents["published_at"] >= start
    if end is not None:
        keep &= documents["published_at"] < end
    return documents.loc[keep.to_numpy()].reset_index(drop=True)
