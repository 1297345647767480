"""Transaction cost assumptions, and the one place they are turned into fill prices and fees."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from fintrade.errors import ConfigError


@dataclass(frozen=True)
class Costs:
    """What each fill costs.

    fees: fraction of traded value per fill (0.001 = 10 bps).
    fixed_fees: currency per fill, whatever its size.
    slippage: fraction of the price lost per fill (buys fill higher, sells lower).
    spread: the full quoted bid-ask spread as a fraction of the mid price; each fill crosses
        half of it, so it adds ``spread / 2`` to the slippage.
    """

    fees: float = 0.0
    fixed_fees: float = 0.0
    slippage: float = 0.0
    spread: float = 0.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int | float) or math.isnan(value) or value < 0:
                raise ConfigError(f"costs.{item.name} must be a non-negative number, got {value!r}")

    @property
    def price_impact(self) -> float:
        """Fraction by which a fill price is worse than the quoted open: slippage plus half-spread."""
        return self.slippage + self.spread / 2

    def scaled(self, factor: float) -> Costs:
        """These costs multiplied by ``factor`` (0 = frictionless, 2 = twice as expensive)."""
        return replace(
            self,
            fees=self.fees * factor,
            fixed_fees=self.fixed_fees * factor,
            slippage=self.slippage * factor,
            spread=self.spread * factor,
        )

    def as_dict(self) -> dict[str, float]:
        return {item.name: float(getattr(self, item.name)) for item in fields(self)}
