"""What one training run produces and records, shared by every task's run.

:class:`TrainedRun` (the model in memory and where its artifact went), :class:`PreparedTask`
(what a method such as distillation hands the run), and the run's manifest
(:func:`build_manifest`). :mod:`.runner` and :mod:`.task_runs` both build on this module and
neither imports the other's internals back, so the imports run one way.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade_adapters.config import TrainConfig
from fintrade_adapters.methods import get_method

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedTokenizerBase

    from fintrade.models.sources import ModelSource
    from fintrade_adapters.data import LabelledData
    from fintrade_adapters.tasks import SequenceClassificationTask
    from fintrade_adapters.training import TrainResult


@dataclass
class TrainedRun:
    """An in-memory result: the trained peft model, its task, and where the artifact went."""

    path: Path
    manifest: dict[str, Any]
    model: Any
    tokenizer: PreTrainedTokenizerBase
    task: SequenceClassificationTask
    result: TrainResult


@dataclass
class PreparedTask:
    """What a method that needs more than labelled text (distillation) hands the run.

    The task, the training rows it encodes (augmentation may add some), and entries added to
    the manifest.
    """

    task: SequenceClassificationTask
    train: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)


TaskPreparer = Callable[[TrainConfig, "PreTrainedTokenizerBase", "LabelledData", "list[float] | None"], PreparedTask]
"""Builds the task from the config, the student's tokenizer, the split data and the class weights."""


def placed(model: Any, method: Any, device: str) -> Any:
    """The adapted model, all of it on ``device``.

    The base was loaded there; what the method added (a prefix encoder, say) may not be. A 4-bit
    model is left alone: bitsandbytes quantised it on ``device`` and its LoRA layers follow their base.
    """
    return model if method.quantized or device == "cpu" else model.to(device)


NOT_HYPERPARAMETERS = ("output", "command", "progress", "device")
"""Options that say where a run goes or how it reports, not what it learns: not in the manifest's hyperparameters."""


def loop_options(config: TrainConfig) -> Any:
    """The optimisation part of a run's configuration: every LoopOptions field, read from the config."""
    from dataclasses import fields

    from fintrade_adapters.training import LoopOptions

    # The config calls it learning_rate (resolved per method); every other name is shared.
    values = {item.name: getattr(config, item.name) for item in fields(LoopOptions) if item.name != "lr"}
    return LoopOptions(lr=config.learning_rate, **values)


def build_manifest(
    config: TrainConfig,
    source: ModelSource,
    kind: str,
    labelled: Any,
    result: TrainResult,
    test_metrics: dict[str, Any] | None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Everything needed to know what an artifact is and to train it again."""
    from fintrade import __version__
    from fintrade.manifest import library_versions

    hyperparameters = {k: v for k, v in config.to_dict().items() if k not in NOT_HYPERPARAMETERS}
    hyperparameters["lr"] = config.learning_rate
    return {
        "fintrade_version": __version__,
        "kind": "fintrade-adapter",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": config.command or " ".join(["fintrade", *sys.argv[1:]]),
        "task": "sequence-classification",
        "labels": list(labelled.labels),
        "base_model": {"name": source.name, "path": source.path, "architecture": kind, "alias": source.alias},
        "method": config.method,
        "quantization": (
            {"bits": 4, "type": "nf4", "double_quant": config.double_quant, "compute_dtype": config.compute_dtype}
            if get_method(config.method).quantized
            else None
        ),
        "hyperparameters": hyperparameters,
        "seed": config.seed,
        "dataset": {
            "name": labelled.name,
            "options": dict(config.dataset_options),
            "hash": labelled.hash,
            "size": labelled.size,
            "split": config.split,
            "split_sizes": {
                "train": len(labelled.train),
                "validation": len(labelled.validation),
                "test": len(labelled.test),
            },
            "latest_date": labelled.latest_date,
        },
        "metrics": {
            "train_loss": result.train_loss,
            "steps": result.steps,
            "best_step": result.best_step,
            "stopped_early": result.stopped_early,
            "validation": result.best,
            "test": test_metrics,
            "history": result.history,
        },
        "parameters": {"trainable": result.trainable_parameters, "total": result.total_parameters},
        "training": {
            "seconds": round(result.seconds, 3),
            "tokens_per_second": round(result.tokens_per_second, 1),
            "device": device,
        },
        "libraries": library_versions(
            ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "numpy", "pandas")
        ),
    }
