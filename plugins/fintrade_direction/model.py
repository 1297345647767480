"""The ``market-direction`` signal model: numeric and text features to P(up) - P(down).

Glue only: features (:mod:`.features`, :mod:`.text_features`), labels (:mod:`.labels`) and the
walk-forward classifier (:mod:`.classifier`) do the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fintrade.alignment import handed_documents
from fintrade.errors import ConfigError
from fintrade.types import Signal, SignalInput
from fintrade_direction.classifier import CLASSES, Schedule, walk_forward
from fintrade_direction.features import VOLATILITY, numeric_features
from fintrade_direction.labels import DOWN, UP, next_bar_labels
from fintrade_direction.params import MODEL, check_params
from fintrade_direction.text_features import bar_text


def compute(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """Score every bar from ``min_train`` on with ``P(up) - P(down)``; confidence is the
    largest of the three probabilities. NaN before ``min_train`` and during feature warm-up."""
    import pandas as pd

    settings = check_params(params)
    if settings.text and inputs.documents is None:
        raise ConfigError(
            f"signal model {MODEL!r}: text=True needs documents (set the strategy's text_source), "
            "or pass text=False for numeric features only"
        )
    symbols = inputs.symbols
    fields = {name: inputs.field(name).to_numpy(dtype=float) for name in ("high", "low", "close", "volume")}
    numeric = numeric_features(fields)
    labels = next_bar_labels(fields["close"], numeric[..., VOLATILITY], settings.flat)
    text = None
    if settings.text:
        documents = handed_documents(inputs, MODEL)
        text = bar_text(documents, symbols, inputs.closes_at, settings.lag, settings.model)
    schedule = Schedule(settings.min_train, settings.refit_every, settings.train_window)
    probabilities = walk_forward(numeric, labels, schedule, text=text, components=settings.pca, C=settings.C)
    score = probabilities[..., CLASSES.index(UP)] - probabilities[..., CLASSES.index(DOWN)]
    confidence = probabilities.max(axis=-1)
    columns = pd.Index(symbols, name="symbol")
    return Signal(
        score=pd.DataFrame(np.clip(score, -1.0, 1.0), index=inputs.index, columns=columns),
        confidence=pd.DataFrame(confidence, index=inputs.index, columns=columns),
    )
