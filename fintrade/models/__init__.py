"""The model service plugins share: base models, adapter artifacts and where a model runs.

Public API (listed in :data:`fintrade.api.PUBLIC_MODULES`): the training plugin writes
artifacts with it, and signal models (``llm-sentiment``, ``market-direction``) load base models
and artifacts with it, each without importing the other.

==================================  ===========================================================
module                              what it does
==================================  ===========================================================
:mod:`fintrade.models.sources`      where a base model comes from (offline aliases ``minilm``,
                                    ``smollm2``, ``mpnet``, local folders, hub ids) and loading
                                    its tokenizer and weights safely (no remote code, no pickles)
:mod:`fintrade.models.bases`        the base an adapter sits on per task (classification, sft,
                                    qa), full precision or 4-bit
:mod:`fintrade.models.quantization` 4-bit (bitsandbytes) loading and its CPU fixes
:mod:`fintrade.models.markers`      the response markers of causal-LM (``sft``) adapters
:mod:`fintrade.models.artifacts`    adapter artifacts: save, read the manifest, load, merge
:mod:`fintrade.models.devices`      ``auto``/``cpu``/``cuda[:N]`` checked once, batches moved
                                    next to the model
:mod:`fintrade.models.errors`       ``UnknownModelError``, ``QuantizationUnavailableError``
==================================  ===========================================================

Nothing here imports torch, transformers or peft at import time: they are imported inside
the functions that need them, so ``fintrade --help`` stays fast; the names above are
re-exported here lazily (``from fintrade.models import load_adapter`` imports
:mod:`~fintrade.models.artifacts` then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fintrade.deferred import lazy_exports

if TYPE_CHECKING:
    from fintrade.models.artifacts import MANIFEST, load_adapter, merge_artifact, read_manifest, save_artifact
    from fintrade.models.devices import check_device, resolve_device, to_model_device
    from fintrade.models.errors import QuantizationUnavailableError, UnknownModelError
    from fintrade.models.sources import ModelSource, load_tokenizer, resolve_model

_EXPORTS = {
    "MANIFEST": "fintrade.models.artifacts",
    "load_adapter": "fintrade.models.artifacts",
    "merge_artifact": "fintrade.models.artifacts",
    "read_manifest": "fintrade.models.artifacts",
    "save_artifact": "fintrade.models.artifacts",
    "check_device": "fintrade.models.devices",
    "resolve_device": "fintrade.models.devices",
    "to_model_device": "fintrade.models.devices",
    "QuantizationUnavailableError": "fintrade.models.errors",
    "UnknownModelError": "fintrade.models.errors",
    "ModelSource": "fintrade.models.sources",
    "load_tokenizer": "fintrade.models.sources",
    "resolve_model": "fintrade.models.sources",
}
# Plugins import this package at registration (every command does): submodules load on first use.
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "MANIFEST",
    "ModelSource",
    "QuantizationUnavailableError",
    "UnknownModelError",
    "check_device",
    "load_adapter",
    "load_tokenizer",
    "merge_artifact",
    "read_manifest",
    "resolve_device",
    "resolve_model",
    "save_artifact",
    "to_model_device",
]
