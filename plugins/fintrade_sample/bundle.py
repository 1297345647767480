"""Where the bundled StockNet files are, and which symbols they hold.

Files are reached through :mod:`importlib.resources`, so the plugin works from a source
checkout, an installed wheel or a zip alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable

from fintrade.errors import ConfigError, did_you_mean

PRICE_FOLDER = "price_raw"
TWEETS_FILE = "tweets_raw_text.csv.gz"


def data_file(*parts: str) -> Traversable:
    """A file under the package's ``data/`` folder."""
    return resources.files("fintrade_sample").joinpath("data", *parts)


@lru_cache(maxsize=1)
def available_symbols() -> tuple[str, ...]:
    """The tickers with bundled prices, sorted: ``("AAPL", "AMZN", "GOOG", "JPM", "MSFT")``."""
    names = (entry.name for entry in data_file(PRICE_FOLDER).iterdir())
    return tuple(sorted(name[: -len(".csv")] for name in names if name.endswith(".csv")))


def check_symbols(symbols: Iterable[str], where: str) -> tuple[str, ...]:
    """The requested symbols, or all of them when none are requested; unknown ones are an error."""
    known = available_symbols()
    wanted = tuple(symbols) or known
    for symbol in wanted:
        if symbol not in known:
            raise ConfigError(
                f"{where}: unknown symbol {symbol!r}{did_you_mean(str(symbol), known)}; available: {', '.join(known)}"
            )
    return wanted
