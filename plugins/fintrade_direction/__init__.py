"""Built-in plugin: the ``market-direction`` signal model.

A classifier of the next bar's direction (down, flat or up) from numeric features of the bars
(returns over 1, 5 and 20 bars, volume ratio, volatility, RSI, MACD, Bollinger position, ATR
ratio) fused with sentence embeddings of the documents known by each bar's close (MiniLM by
default, cached per text), trained walk-forward so that a score at bar t uses nothing after
t's close. Score ``P(up) - P(down)``, confidence the largest probability. See
``docs/signals.md``.

The CLI imports every built-in plugin to build its command list, so nothing here imports
pandas, scikit-learn or torch: the model lives in submodules, imported on first use.

Module roles: :mod:`.params` (parameters and their checks), :mod:`.features` (numeric
features), :mod:`.embeddings` and :mod:`.embedding_cache` (text vectors, cached on disk),
:mod:`.text_features` (documents to per-bar vectors), :mod:`.labels` (what is predicted),
:mod:`.classifier` (walk-forward PCA, standardisation, logistic regression), :mod:`.model` (glue).
"""

from __future__ import annotations

from collections.abc import Iterator

import fintrade
from fintrade.deferred import deferred
from fintrade.types import SignalModel
from fintrade_direction.params import DEFAULTS, MODEL


@fintrade.hookimpl
def fintrade_signal_models() -> Iterator[SignalModel]:
    """``market-direction``."""
    yield SignalModel(
        name=MODEL,
        compute=deferred("fintrade_direction.model:compute"),
        defaults=dict(DEFAULTS),
        needs_documents=True,
        description="Down/flat/up classifier on price features and MiniLM news embeddings: P(up) - P(down)",
    )
