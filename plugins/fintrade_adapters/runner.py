"""One training run from a configuration to an artifact: the pipeline every method shares.

resolve the model -> check the method fits the architecture -> load, check and split the
dataset -> load the base (fp32 or 4-bit) and wrap it in the method's adapter -> train with
:func:`fintrade_adapters.training.fit` -> evaluate on validation and test -> write the artifact
and its manifest -> optionally merge and verify.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade_adapters.config import TrainConfig
from fintrade_adapters.methods import adapt, check_supported, get_method

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedTokenizerBase

    from fintrade_adapters.data import LabelledData
    from fintrade_adapters.models import ModelSource
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


def train(config: Mapping[str, Any]) -> Path:
    """Train as configured and return the artifact directory."""
    return run(config).path


def train_lora(config: Mapping[str, Any]) -> Path:
    return train({**config, "method": "lora"})


def train_qlora(config: Mapping[str, Any]) -> Path:
    return train({**config, "method": "qlora"})


def train_prefix(config: Mapping[str, Any]) -> Path:
    return train({**config, "method": "prefix"})


def train_ia3(config: Mapping[str, Any]) -> Path:
    return train({**config, "method": "ia3"})


def load_base(
    source: ModelSource,
    kind: str,
    labels: tuple[str, ...],
    config: TrainConfig,
    pad_token_id: int,
    device: str = "cpu",
) -> Any:
    """The base classifier on ``device``: fp32, or 4-bit with the CPU fixes for a quantised method."""
    from fintrade_adapters import quantization
    from fintrade_adapters.models import HEAD_MODULES, load_classifier

    if not get_method(config.method).quantized:
        return load_classifier(source, labels, pad_token_id=pad_token_id, device=device)
    head = HEAD_MODULES.get(kind, ("classifier", "score"))
    bnb = quantization.bnb_config(quantization.skip_modules_for(head, kind), config.compute_dtype, config.double_quant)
    model = load_classifier(source, labels, quantization_config=bnb, pad_token_id=pad_token_id, device=device)
    # Before anything runs a forward pass: after an eval-mode pass it would be too late (ASSETS trap 1).
    quantization.disable_inference_repack(model)
    return quantization.prepare_for_training(model, config.gradient_checkpointing)


def run(values: Mapping[str, Any], prepare_task: TaskPreparer | None = None) -> TrainedRun:
    """Train as configured; returns the model in memory too (tests and ``ablate`` use it).

    ``prepare_task`` replaces the plain sentiment task (distillation passes one).
    """
    from fintrade_adapters import data as data_module
    from fintrade_adapters.artifacts import save_artifact
    from fintrade_adapters.devices import resolve_device
    from fintrade_adapters.models import head_modules, load_tokenizer, model_type, resolve_model
    from fintrade_adapters.quantization import require_bitsandbytes
    from fintrade_adapters.tasks import SequenceClassificationTask, balanced_class_weights
    from fintrade_adapters.training import fit, seed_everything

    config = TrainConfig.from_mapping(values)
    method = get_method(config.method)
    source = resolve_model(config.model)
    kind = model_type(source)
    from fintrade_adapters.task_runs import resolve_task, run_task

    task_name = resolve_task(config.task, config.dataset)
    check_supported(method, kind, config.model, task_name)
    device = resolve_device(config.device, "training")
    if method.quantized:
        require_bitsandbytes()
    if task_name != "classification":  # causal-LM fine-tuning or extractive QA
        return run_task(config, task_name, source, kind, method, device)
    labelled = data_module.split_for(config)
    tokenizer = load_tokenizer(source)
    # Seeded right before loading so that the new head starts from the same weights every run.
    seed_everything(config.seed)
    base = load_base(source, kind, labelled.labels, config, int(tokenizer.pad_token_id or 0), device)
    head = head_modules(kind, base)
    model = placed(adapt(base, method, config, kind, head), method, device)
    weights = (
        balanced_class_weights(labelled.labels, labelled.train["label"].tolist()) if config.class_weights else None
    )
    if prepare_task is None:
        task = SequenceClassificationTask(tokenizer, labelled.labels, config.max_length, weights)
        prepared = PreparedTask(task, labelled.train)
    else:
        prepared = prepare_task(config, tokenizer, labelled, weights)
        task = prepared.task
    train_examples = task.encode(prepared.train)
    validation = task.encode(labelled.validation)
    test = task.encode(labelled.test)
    result = fit(model, task, train_examples, validation, loop_options(config))
    test_metrics = task.evaluate(model, test, config.batch_size) if test else None
    manifest = build_manifest(config, source, kind, labelled, result, test_metrics, device) | prepared.manifest
    path = save_artifact(model, tokenizer, Path(config.output), manifest)
    if config.merge:
        from fintrade_adapters.artifacts import merge_artifact

        manifest = merge_artifact(path, sentences=labelled.test["text"].astype(str).tolist()[:8])
    return TrainedRun(path=path, manifest=manifest, model=model, tokenizer=tokenizer, task=task, result=result)


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
