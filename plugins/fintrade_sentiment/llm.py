"""The ``llm-sentiment`` signal model: a fine-tuned classifier scores each document, then alignment.

Per document, with class probabilities p(negative), p(neutral), p(positive):

* score = ``p(positive) - p(negative)``, in [-1, 1];
* confidence = ``max(p)``, the probability of the predicted class, in [1/3, 1].

Each distinct text is scored once per model, ever: scores are looked up by (model key, text
hash) first in this process's memory, then in the persistent :class:`ScoreCache`, and only
the texts found in neither go through the model, whose outputs are written back. The model
key (:func:`model_key`) covers the base model's and adapter's contents, ``precision`` and
``max_length``; ``batch_size`` only changes float rounding (about 1e-7) and is not part of it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError
from fintrade_sentiment.classifier import (
    ClassifierSpec,
    LoadedClassifier,
    check_device,
    check_precision,
    load_classifier,
    resolve_classifier,
    resolve_device,
)
from fintrade_sentiment.inference import DEFAULT_BATCH_SIZE
from fintrade_sentiment.score_cache import Probabilities, ScoreCache, score_cache_path

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from fintrade.executors import Executor
    from fintrade.types import ScoredDocuments, Signal, SignalInput

MODEL = "llm-sentiment"
SCORER_VERSION = 1
"""Bumped when the way probabilities are computed changes, so old cached rows stop matching."""
WRITE_EVERY = 2048
"""Texts scored between writes to the persistent cache: an interrupted run keeps its progress."""
LOADED_MODELS = 2
"""Loaded models kept in memory between calls (a model sweep alternates between a few)."""


@dataclass
class ScoringStats:
    """What scoring did, cumulative over the process (tests and benchmarks read it)."""

    texts: int = 0
    distinct: int = 0
    memory_hits: int = 0
    disk_hits: int = 0
    scored: int = 0
    model_loads: int = 0


@dataclass(frozen=True)
class DocumentScores:
    """Per-text results of :func:`score_texts`, in the order of the texts given."""

    score: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray
    spec: ClassifierSpec
    model_key: str


STATS = ScoringStats()
_memory: dict[str, dict[bytes, Probabilities]] = {}
_loaded: OrderedDict[tuple[str, str, str], LoadedClassifier] = OrderedDict()
_caches: dict[Path, ScoreCache] = {}


def model_key(spec: ClassifierSpec, precision: str) -> str:
    """The score cache's key for a model: everything that changes its probabilities."""
    parts = {"identity": spec.identity, "precision": precision, "max_length": spec.max_length}
    return hashlib.sha256(json.dumps({**parts, "scorer": SCORER_VERSION}, sort_keys=True).encode()).hexdigest()[:32]


def text_hash(text: str) -> bytes:
    """SHA-256 of the text's UTF-8 bytes (lone surrogates kept, not refused)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def clear_memory() -> None:
    """Forget this process's in-memory scores and loaded models (the persistent cache stays)."""
    _memory.clear()
    _loaded.clear()


def default_cache() -> ScoreCache:
    """The persistent cache under the current cache dir, one connection per process."""
    path = score_cache_path()
    if path not in _caches:
        _caches[path] = ScoreCache(path)
    return _caches[path]


def score_texts(
    texts: Sequence[str],
    *,
    model: str | None = None,
    precision: str = "float32",
    device: str = "auto",
    max_length: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache: ScoreCache | bool | None = True,
    memory: bool = True,
    progress: bool | None = None,
    executor: Executor | str | None = None,
) -> DocumentScores:
    """Score and confidence of each text, reading and filling the caches.

    ``device``: ``"auto"`` (a CUDA GPU when torch sees one and ``precision`` is not int8, else
    the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. It changes speed and float rounding (about
    1e-6), not scores, so it is not part of the cache key.
    ``cache``: ``True`` for the persistent cache under the fintrade cache dir, a
    :class:`ScoreCache`, or ``False``/``None`` for none. ``memory=False`` also skips this
    process's in-memory scores (benchmarks of cold runs).
    ``executor``: where the texts no cache holds are scored; None is the run's executor
    (:func:`fintrade.executors.active`). On ``"ray"`` they are scored by a pool of Ray actors
    (:mod:`fintrade_sentiment.distributed`) with the same results; ``local`` and ``processes``
    score them in this process.
    """
    import numpy as np

    _check_scoring(precision, batch_size)
    check_device(device, precision)
    spec = resolve_classifier(model, max_length)
    key = model_key(spec, precision)
    store = default_cache() if cache is True else (cache or None)
    hashes = [text_hash(text) for text in texts]
    first_text = dict(zip(hashes, texts, strict=True))
    known: dict[bytes, Probabilities] = _memory.setdefault(key, {}) if memory else {}
    STATS.texts += len(texts)
    STATS.distinct += len(first_text)
    missing = [h for h in first_text if h not in known]
    STATS.memory_hits += len(first_text) - len(missing)
    if missing and store is not None:
        found = store.get(key, missing)
        STATS.disk_hits += len(found)
        known.update(found)
        missing = [h for h in missing if h not in found]
    if missing:
        texts_to_score = [first_text[h] for h in missing]
        runtime = (precision, device)
        _score_missing(spec, key, runtime, batch_size, texts_to_score, missing, known, store, progress, executor)
    probabilities = np.array([known[h] for h in hashes], dtype=np.float64).reshape(len(texts), 3)
    return DocumentScores(
        score=probabilities[:, 2] - probabilities[:, 0],
        confidence=probabilities.max(axis=1) if len(texts) else np.zeros(0),
        probabilities=probabilities,
        spec=spec,
        model_key=key,
    )


def _score_missing(
    spec: ClassifierSpec,
    key: str,
    runtime: tuple[str, str],
    batch_size: int,
    texts: list[str],
    hashes: list[bytes],
    known: dict[bytes, Probabilities],
    store: ScoreCache | None,
    progress: bool | None,
    executor: Executor | str | None = None,
) -> None:
    from fintrade.executors import active, executor_from
    from fintrade_sentiment.inference import PROGRESS_MIN_TEXTS, class_probabilities, progress_bar

    precision, device = runtime
    # A bare name that is the run's executor keeps the run's address and workers.
    where = active() if executor is None or executor == active().name else executor_from(executor)
    description = {**spec.describe(), "precision": precision, "max_length": spec.max_length}

    def keep(rows: dict[bytes, Probabilities]) -> None:
        known.update(rows)
        STATS.scored += len(rows)
        if store is not None:
            store.put(key, rows, description)

    # Ray places the model itself (a GPU per actor where it has them): the driver resolves no device.
    on_ray = where.name == "ray"
    if not on_ray:
        classifier = _classifier(spec, precision, resolve_device(device, precision))
    show = progress if progress is not None else (sys.stderr.isatty() and len(texts) >= PROGRESS_MIN_TEXTS)
    bar = progress_bar(len(texts), spec.name) if show else None
    try:
        if on_ray:
            from fintrade_sentiment.distributed import score_on_ray

            score_on_ray(
                where,
                spec,
                precision,
                device,
                batch_size,
                texts,
                hashes,
                keep,
                write_every=WRITE_EVERY,
                bar=bar,
            )
            return
        for start in range(0, len(texts), WRITE_EVERY):
            chunk = texts[start : start + WRITE_EVERY]
            values = class_probabilities(classifier, chunk, batch_size=batch_size, bar=bar)
            keep({h: (float(p[0]), float(p[1]), float(p[2])) for h, p in zip(hashes[start:], values, strict=False)})
    finally:
        if bar is not None:
            bar.close()


def loaded_classifier(
    model: str | None = None, *, precision: str = "float32", device: str = "auto", max_length: int | None = None
) -> LoadedClassifier:
    """The loaded model :func:`score_texts` uses for these settings (loaded once per process)."""
    _check_scoring(precision, DEFAULT_BATCH_SIZE)
    return _classifier(resolve_classifier(model, max_length), precision, resolve_device(device, precision))


def _classifier(spec: ClassifierSpec, precision: str, device: str) -> LoadedClassifier:
    slot = (spec.identity, precision, device)
    if slot in _loaded and _loaded[slot].spec == spec:
        _loaded.move_to_end(slot)
        return _loaded[slot]
    loaded = load_classifier(spec, precision=precision, device=device)
    STATS.model_loads += 1
    _loaded[slot] = loaded
    while len(_loaded) > LOADED_MODELS:
        _loaded.popitem(last=False)
    return loaded


def _check_scoring(precision: Any, batch_size: Any) -> None:
    check_precision(precision)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"signal model {MODEL!r}: batch_size must be a positive integer, got {batch_size!r}")


def _scoring_params(params: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        params.get("model"),
        params.get("precision", "float32"),
        params.get("device", "auto"),
        params.get("max_length"),
        params.get("batch_size", DEFAULT_BATCH_SIZE),
    )


def score_documents(documents: pd.DataFrame, params: Mapping[str, Any]) -> ScoredDocuments:
    """Each document's score and confidence with the model ``params`` name (texts scored once,
    cached), and the model's knowledge cutoff. The core aligns them."""
    from fintrade.types import ScoredDocuments

    model, precision, device, max_length, batch_size = _scoring_params(params)
    result = score_texts(
        documents["text"].tolist(),
        model=model,
        precision=precision,
        device=device,
        max_length=max_length,
        batch_size=batch_size,
    )
    scores = documents[["id", "symbol"]].assign(score=result.score, confidence=result.confidence)
    return ScoredDocuments(scores, knowledge_cutoff=_latest_cutoff([result]))


def compute_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """Every parameter set at once, aligned by the core as in a backtest (direct calls): texts
    are scored once per distinct model setting."""
    from fintrade_sentiment.documents import signal_grid

    return signal_grid(MODEL, score_documents, inputs, grid)


def compute(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """One parameter set, symbol columns (direct calls)."""
    from fintrade_sentiment.documents import single_signal

    return single_signal(MODEL, score_documents, inputs, params)


def _latest_cutoff(results: Sequence[DocumentScores]) -> pd.Timestamp | None:
    """With several models in one grid, the latest cutoff: bars before it are suspect for one of them."""
    cutoffs = [r.spec.knowledge_cutoff for r in results if r.spec.knowledge_cutoff is not None]
    return max(cutoffs) if cutoffs else None
