"""Bar intervals (``"15m"``, ``"1h"``, ``"1d"``, ``"1w"``) and how long a bar of each lasts.

A leaf module: the bar checks (:mod:`fintrade.bars`) and the bar cache (:mod:`fintrade.cache`)
both read intervals here, so neither has to import the other to know one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

INTERVAL_PATTERN = re.compile(r"^(\d+)(m|h|d|w)$")


def interval_length(interval: str) -> pd.Timedelta:
    """``"15m"`` -> 15 minutes; intervals without a fixed length (``1mo``) count as one day."""
    import pandas as pd

    match = INTERVAL_PATTERN.match(interval)
    if not match:
        return pd.Timedelta(days=1)
    count, unit = int(match.group(1)), match.group(2)
    return pd.Timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: count})
