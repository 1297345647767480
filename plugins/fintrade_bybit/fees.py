"""Bybit's published trading fees as fintrade cost presets.

Base (non-VIP, "VIP 0") rates from the table in Bybit's help-centre article "Trading Fee
Structure", as published when checked on 2026-11-22: spot 0.1000% taker and maker;
perpetual and futures contracts 0.0550% taker, 0.0200% maker. Bybit notes that rates
vary by region and VIP level: check your own on its "My Fee Rate" page and pass
``Costs(fees=...)`` if yours differ.

Takers cross the spread, so taker presets add a 1 bp slippage allowance (a liquid pair's
typical half-spread plus impact for modest size); makers rest on the book and add none.
Funding on perpetuals is not a fee: it comes with the bars (``funding_rate``).
"""

from __future__ import annotations

from fintrade.costs import Costs
from fintrade.types import CostPreset

SCHEDULE = "Bybit VIP 0 fee schedule, checked 2026-11-22"
TAKER_SLIPPAGE = 0.0001

PRESETS: tuple[CostPreset, ...] = (
    CostPreset(
        "bybit-spot-taker",
        Costs(fees=0.001, slippage=TAKER_SLIPPAGE),
        f"Bybit spot, market orders: 0.10% taker fee + 1 bp slippage ({SCHEDULE})",
    ),
    CostPreset(
        "bybit-spot-maker",
        Costs(fees=0.001),
        f"Bybit spot, resting limit orders: 0.10% maker fee ({SCHEDULE})",
    ),
    CostPreset(
        "bybit-linear-taker",
        Costs(fees=0.00055, slippage=TAKER_SLIPPAGE),
        f"Bybit USDT perpetuals, market orders: 0.055% taker fee + 1 bp slippage; funding comes with the bars "
        f"({SCHEDULE})",
    ),
    CostPreset(
        "bybit-linear-maker",
        Costs(fees=0.0002),
        f"Bybit USDT perpetuals, resting limit orders: 0.02% maker fee; funding comes with the bars ({SCHEDULE})",
    ),
)
