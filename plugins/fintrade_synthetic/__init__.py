"""Built-in plugin: a seeded synthetic market and news with a known amount of information.

Use it to test that a pipeline finds an edge when there is one (``information=1.0``) and
finds none when there is none (``information=0.0``).

Data source ``synthetic`` (options ``seed``, ``regimes``, ``start``, ``bars``) and text source
``synthetic-news`` (the same options plus ``information``, ``docs_per_bar``, ``arrivals``).
In Python, :func:`make_market` and :func:`make_documents` give the same data directly::

    market = make_market(["AAA", "BBB"], seed=1, bars=500)
    news = make_documents(market, information=1.0)

The CLI imports every built-in plugin to build its command list, so this module imports no
pandas: the generator lives in submodules, imported when a source is first loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import fintrade
from fintrade.deferred import deferred, lazy_exports
from fintrade.types import DataSource, TextSource

if TYPE_CHECKING:
    from fintrade_synthetic.market import REGIME_NAMES, STEADY, SyntheticMarket, make_market, symbol_key
    from fintrade_synthetic.news import NEGATIVE_HEADLINES, POSITIVE_HEADLINES, make_documents

_PUBLIC: dict[str, str] = {
    "REGIME_NAMES": "fintrade_synthetic.market",
    "STEADY": "fintrade_synthetic.market",
    "SyntheticMarket": "fintrade_synthetic.market",
    "make_market": "fintrade_synthetic.market",
    "symbol_key": "fintrade_synthetic.market",
    "NEGATIVE_HEADLINES": "fintrade_synthetic.news",
    "POSITIVE_HEADLINES": "fintrade_synthetic.news",
    "make_documents": "fintrade_synthetic.news",
}


__getattr__ = lazy_exports(__name__, _PUBLIC)


@fintrade.hookimpl
def fintrade_data_sources() -> Iterator[DataSource]:
    """The ``synthetic`` data source."""
    yield DataSource(
        name="synthetic",
        load=deferred("fintrade_synthetic.sources:load_synthetic_bars"),
        description="Seeded synthetic daily bars with bull/bear/sideways regimes (options seed, regimes, start, bars)",
        intervals=("1d",),
    )


@fintrade.hookimpl
def fintrade_text_sources() -> Iterator[TextSource]:
    """The ``synthetic-news`` text source."""
    yield TextSource(
        name="synthetic-news",
        load=deferred("fintrade_synthetic.sources:load_synthetic_news"),
        description="Synthetic headlines about the next bar's return (options information, docs_per_bar, seed, ...)",
    )


__all__ = [
    "NEGATIVE_HEADLINES",
    "POSITIVE_HEADLINES",
    "REGIME_NAMES",
    "STEADY",
    "SyntheticMarket",
    "fintrade_data_sources",
    "fintrade_text_sources",
    "make_documents",
    "make_market",
    "symbol_key",
]
