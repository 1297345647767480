"""An example fintrade plugin: one signal model, one aggregator and one CLI command.

Installed, it is found through the ``fintrade`` entry-point group (see ``pyproject.toml``)
under the plugin name ``example``. Everything it provides is declared with
:data:`fintrade.hookimpl`; pandas and numpy are imported inside the functions that use them,
so that ``fintrade --help`` and ``fintrade plugins`` stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import fintrade
from fintrade.errors import ConfigError
from fintrade.types import Aggregator, Signal, SignalInput, SignalModel

if TYPE_CHECKING:
    import pandas as pd
    import typer

__version__ = "0.1.0"

fintrade_plugin_api = ">=1.0,<2"
"""The fintrade plugin API versions this plugin supports (docs/plugins.md, "The plugin API version")."""


def rsi(close: pd.DataFrame, window: int) -> pd.DataFrame:
    """Wilder's relative strength index (0-100) of each column, NaN until ``window`` changes exist.

    Wilder's smoothing is an exponential average with ``alpha = 1 / window`` that runs forward
    only, so the value at bar t depends on closes up to t and never on later ones.
    """
    import numpy as np

    change = close.diff()
    gain = change.clip(lower=0.0)
    loss = -change.clip(upper=0.0)
    average_gain = gain.ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()
    average_loss = loss.ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()
    total = average_gain + average_loss
    # A flat stretch (no gains, no losses) is neither overbought nor oversold: RSI 50.
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 100.0 * average_gain / total
    return value.where(total > 0, 50.0).where(average_gain.notna())


def rsi_signal(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """Mean reversion: ``(50 - RSI) / 50``, so oversold (RSI 20) scores +0.6 and overbought (RSI 80) -0.6."""
    window = params.get("window", 14)
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ConfigError(f"signal model 'example-rsi': parameter 'window' must be an integer >= 2, got {window!r}")
    score = ((50.0 - rsi(inputs.field("close"), window)) / 50.0).clip(-1.0, 1.0)
    return Signal.certain(score)


def max_abs(signals: Sequence[Signal], params: Mapping[str, Any]) -> Signal:
    """At each bar and column, the signal with the largest absolute score wins, with its confidence."""
    import numpy as np
    import pandas as pd

    scores = np.stack([s.score.to_numpy(dtype=float) for s in signals])
    confidences = np.stack([s.confidence.to_numpy(dtype=float) for s in signals])
    missing = np.isnan(scores).all(axis=0)
    strength = np.where(np.isnan(scores), -np.inf, np.abs(scores))
    winner = np.argmax(strength, axis=0)[None]
    score = np.where(missing, np.nan, np.take_along_axis(scores, winner, axis=0)[0])
    confidence = np.where(missing, np.nan, np.take_along_axis(confidences, winner, axis=0)[0])
    template = signals[0].score
    return Signal(
        pd.DataFrame(score, index=template.index, columns=template.columns),
        pd.DataFrame(confidence, index=template.index, columns=template.columns),
    )


@fintrade.hookimpl
def fintrade_signal_models() -> list[SignalModel]:
    return [
        SignalModel(
            name="example-rsi",
            compute=rsi_signal,
            defaults={"window": 14},
            description="RSI mean reversion: (50 - RSI) / 50, long when oversold, short when overbought.",
        )
    ]


@fintrade.hookimpl
def fintrade_aggregators() -> list[Aggregator]:
    return [Aggregator(name="example-max-abs", combine=max_abs, description="The strongest signal wins.")]


@fintrade.hookimpl
def fintrade_register_commands(app: typer.Typer) -> None:
    @app.command("example-hello")
    def example_hello() -> None:
        """Say hello from the example plugin (proof that plugin commands load)."""
        print(f"hello from fintrade-example-plugin {__version__}")
