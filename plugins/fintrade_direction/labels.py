"""What market-direction learns: the direction of the next bar's return, with a flat band.

The label of bar s is +1 (up), -1 (down) or 0 (flat) for ``r = log(close_(s+1) / close_s)``
against a band of ``flat`` times the volatility known at s: up when ``r > band``, down when
``r < -band``. It is known only at bar s+1's close, which is what the walk-forward training
(:mod:`.classifier`) respects.
"""

from __future__ import annotations

import numpy as np

DOWN, FLAT, UP = -1, 0, 1


def next_bar_labels(close: np.ndarray, volatility: np.ndarray, flat: float) -> np.ndarray:
    """(bars, symbols) labels as floats, NaN where unknown (the last bar, volatility warm-up)."""
    labels = np.full(close.shape, np.nan)
    following = np.log(close[1:] / close[:-1])
    band = flat * volatility[:-1]
    known = ~np.isnan(following) & ~np.isnan(band)
    direction = np.where(following > band, UP, np.where(following < -band, DOWN, FLAT))
    labels[:-1] = np.where(known, direction, np.nan)
    return labels
