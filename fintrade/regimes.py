"""Bull / bear / sideways labels, computed point-in-time from trailing windows only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from fintrade.errors import ConfigError

REGIMES: tuple[str, ...] = ("bull", "bear", "sideways")
WARMUP = "warmup"


@dataclass(frozen=True)
class Regimes:
    """Label each bar by the trailing ``window``-bar return of the market.

    Above ``+threshold`` is bull, below ``-threshold`` bear, else sideways. The label at bar t
    uses closes up to t only; the first ``window`` bars are ``warmup``.
    """

    window: int = 63
    threshold: float = 0.05

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or self.window < 1:
            raise ConfigError(f"regimes.window must be a positive integer, got {self.window!r}")
        if self.threshold < 0:
            raise ConfigError(f"regimes.threshold must be non-negative, got {self.threshold!r}")

    def label(self, market_close: pd.Series) -> pd.Series:
        """The regime known at each bar's close."""
        import pandas as pd

        trailing = market_close / market_close.shift(self.window) - 1.0
        labels = np.select(
            [trailing > self.threshold, trailing < -self.threshold, trailing.notna()],
            ["bull", "bear", "sideways"],
            default=WARMUP,
        )
        return pd.Series(labels, index=market_close.index, name="regime")

    def label_returns(self, market_close: pd.Series) -> pd.Series:
        """The regime in force during each bar: the label known at the previous close.

        A bar's return is classified by what was known before it started, so a large move
        cannot put itself into the bull or bear bucket.
        """
        return self.label(market_close).shift(1).fillna(WARMUP).rename("regime")
