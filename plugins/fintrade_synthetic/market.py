"""A seeded synthetic stock market: regimes, returns and OHLCV bars.

The generator is built so that tests can rely on it:

- **Deterministic.** Every random quantity comes from its own numpy stream, seeded by
  ``(seed, component)`` for the market and ``(seed, crc32(symbol), component)`` for a symbol.
  A symbol's bars do not depend on which other symbols were requested, and ``crc32`` (unlike
  ``hash()``) is the same in every process.
- **Prefix-stable.** Streams are consumed one draw per bar, so a longer market starts with
  exactly the bars of a shorter one from the same start: loading a sub-range never changes
  the prices.
- **Returns happen inside bars.** ``open_t = close_{t-1} * (1 + 1e-4 noise)``, so nearly all
  of bar t's close-to-close return ``r_t = log(close_t / close_{t-1})`` is earned between
  its open and its close: a position entered at bar t's open captures ``r_t``.
- **Regimes.** A sticky Markov chain, shared by all symbols, switches between bull, bear and
  sideways drift and volatility; symbols share a market factor (correlation about 0.36).

Bars are business days at 00:00 UTC, labelled by open time; a bar closes when the next opens.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fintrade.errors import ConfigError

REGIME_NAMES: tuple[str, ...] = ("bull", "bear", "sideways")
STEADY = "steady"
"""The one regime of a market made with ``regimes=False``."""

# Daily log-return drift and volatility per regime. A bull run's 63-bar drift (+6%) and a
# bear's (-7.6%) clear the default +-5% threshold of fintrade's trailing regime labeller.
REGIME_DRIFT: dict[str, float] = {"bull": 0.0010, "bear": -0.0012, "sideways": 0.0, STEADY: 0.0}
REGIME_VOLATILITY: dict[str, float] = {"bull": 0.010, "bear": 0.020, "sideways": 0.008, STEADY: 0.012}
# Rows: from bull, bear, sideways. Sticky: regimes last about 40-70 bars on average.
TRANSITIONS = np.array(
    [
        [0.985, 0.005, 0.010],
        [0.010, 0.975, 0.015],
        [0.010, 0.005, 0.985],
    ]
)
MARKET_LOADING = 0.6
"""Each symbol's exposure to the common shock; pairwise correlation is its square."""
GAP_VOLATILITY = 1e-4
"""Standard deviation of the relative gap between a close and the next open."""
WICK_SCALE = 0.5
"""High/low reach beyond open and close by |N(0, 1)| * this * the regime's volatility."""

# Stream identifiers: one per random quantity, so none shifts another's draws.
_MARKET, _SYMBOL = 0, 1
_REGIME, _SHOCK = 0, 1
_RETURNS, _GAPS, _HIGH, _LOW, _VOLUME, _LEVEL = range(6)


@dataclass(frozen=True)
class SyntheticMarket:
    """A generated market.

    ``bars`` maps symbol to OHLCV bars; ``log_returns`` holds ``r_t = log(close_t /
    close_{t-1})`` per symbol (the first bar's relative to the starting price); ``regimes``
    labels each bar with the regime that generated its return.
    """

    bars: dict[str, pd.DataFrame]
    log_returns: pd.DataFrame
    regimes: pd.Series
    seed: int

    @property
    def index(self) -> pd.DatetimeIndex:
        """The bar open times, shared by every symbol."""
        return pd.DatetimeIndex(self.log_returns.index)

    @property
    def symbols(self) -> list[str]:
        return list(self.bars)


def symbol_key(symbol: str) -> int:
    """A symbol's stable seed component: the same in every process and Python version."""
    return zlib.crc32(symbol.encode("utf-8"))


def stream(seed: int, *key: int) -> np.random.Generator:
    """The random stream of one component, e.g. ``stream(seed, 1, symbol_key("AAA"), 0)``."""
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def check_seed(seed: object, where: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"{where}: seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def business_days(start: pd.Timestamp, periods: int) -> pd.DatetimeIndex:
    """``periods`` business days from ``start`` (midnight UTC), the synthetic market's clock."""
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tz is None else first.tz_convert("UTC")
    return pd.bdate_range(start=first.normalize(), periods=periods).as_unit("ns").rename(None)


def regime_path(seed: int, periods: int, regimes: bool = True) -> np.ndarray:
    """Regime names per bar: a sticky Markov chain, or all ``"steady"`` when ``regimes`` is off."""
    if not regimes:
        return np.full(periods, STEADY, dtype=object)
    uniforms = stream(seed, _MARKET, _REGIME).random(periods)
    cumulative = TRANSITIONS.cumsum(axis=1)
    states = np.empty(periods, dtype=np.int64)
    state = int(uniforms[0] * len(REGIME_NAMES)) if periods else 0
    for t in range(periods):
        if t:
            state = min(int(np.searchsorted(cumulative[state], uniforms[t], side="right")), len(REGIME_NAMES) - 1)
        states[t] = state
    return np.asarray(REGIME_NAMES, dtype=object)[states]


def _symbol_bars(
    seed: int, symbol: str, index: pd.DatetimeIndex, regimes: np.ndarray, shock: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    periods = len(index)
    key = symbol_key(symbol)

    def draw(component: int) -> np.ndarray:
        return stream(seed, _SYMBOL, key, component).standard_normal(periods)

    drift = np.array([REGIME_DRIFT[name] for name in regimes], dtype=float)
    volatility = np.array([REGIME_VOLATILITY[name] for name in regimes], dtype=float)
    noise = MARKET_LOADING * shock + np.sqrt(1.0 - MARKET_LOADING**2) * draw(_RETURNS)
    log_returns = drift + volatility * noise
    level = float(np.exp(stream(seed, _SYMBOL, key, _LEVEL).uniform(np.log(20.0), np.log(200.0))))
    close = level * np.exp(np.cumsum(log_returns))
    previous_close = np.concatenate([[level], close[:-1]])
    open_ = previous_close * (1.0 + GAP_VOLATILITY * draw(_GAPS))
    high = np.maximum(open_, close) * np.exp(np.abs(draw(_HIGH)) * WICK_SCALE * volatility)
    low = np.minimum(open_, close) * np.exp(-np.abs(draw(_LOW)) * WICK_SCALE * volatility)
    # Busier on big moves, as real volume is; always positive.
    volume = np.round(1e6 * np.exp(0.25 * draw(_VOLUME) + 20.0 * np.abs(log_returns)))
    bars = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume.astype(float)}, index=index
    )
    return bars, log_returns


def make_market(
    symbols: Iterable[str],
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2015-01-01",
    bars: int = 1000,
    regimes: bool = True,
) -> SyntheticMarket:
    """Generate ``bars`` business days of a synthetic market for ``symbols``.

    >>> market = make_market(["AAA", "BBB"], seed=7, bars=250)
    >>> market.bars["AAA"].columns.tolist()
    ['open', 'high', 'low', 'close', 'volume']
    """
    where = "synthetic market"
    seed = check_seed(seed, where)
    names = list(symbols)
    if isinstance(symbols, str) or not names or not all(isinstance(name, str) and name for name in names):
        raise ConfigError(f"{where}: symbols must be a non-empty list of names, got {symbols!r}")
    if isinstance(bars, bool) or not isinstance(bars, int | np.integer) or bars < 1:
        raise ConfigError(f"{where}: bars must be a positive integer, got {bars!r}")
    try:
        first = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: start must be a date, got {start!r}") from None
    index = business_days(first, int(bars))
    path = regime_path(seed, len(index), regimes)
    shock = stream(seed, _MARKET, _SHOCK).standard_normal(len(index))
    frames: dict[str, pd.DataFrame] = {}
    returns: dict[str, np.ndarray] = {}
    for symbol in dict.fromkeys(names):
        frames[symbol], returns[symbol] = _symbol_bars(seed, symbol, index, path, shock)
    return SyntheticMarket(
        bars=frames,
        log_returns=pd.DataFrame(returns, index=index),
        regimes=pd.Series(path, index=index, name="regime", dtype=str),
        seed=seed,
    )
