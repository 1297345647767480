"""One training run from a configuration to an artifact: the pipeline every method and task shares.

resolve the model -> check the method fits the architecture and the task -> load, check and
split the dataset -> load the base (fp32 or 4-bit) and wrap it in the method's adapter -> train
with :func:`fintrade_adapters.training.fit` -> evaluate on validation and test -> write the
artifact and its manifest (:mod:`fintrade.models.artifacts`) -> optionally merge and verify.
What differs per task (classification, ``sft``, ``qa``) comes from
:func:`fintrade_adapters.task_runs.task_run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fintrade_adapters.config import TrainConfig, training_options
from fintrade_adapters.methods import check_supported, get_method
from fintrade_adapters.runs import (
    NOT_HYPERPARAMETERS,
    PreparedTask,
    TaskPreparer,
    TrainedRun,
    build_manifest,
    loop_options,
    placed,
)
from fintrade_adapters.task_runs import load_base, resolve_task, task_run

__all__ = [
    "NOT_HYPERPARAMETERS",
    "PreparedTask",
    "TaskPreparer",
    "TrainedRun",
    "build_manifest",
    "load_base",
    "loop_options",
    "placed",
    "run",
    "train",
]


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


def run(values: Mapping[str, Any], prepare_task: TaskPreparer | None = None) -> TrainedRun:
    """Train as configured; returns the model in memory too (tests and ``ablate`` use it).

    One pipeline for every task; the task's steps (:func:`fintrade_adapters.task_runs.task_run`)
    say how its data, tokenizer, base, adapter and task object are made. ``prepare_task``
    replaces the plain sentiment task of a classification run (distillation passes one).
    ``values["registry"]``, when given, is the registry every step looks the dataset up in.
    """
    from fintrade.models.artifacts import merge_artifact, save_artifact
    from fintrade.models.devices import resolve_device
    from fintrade.models.quantization import require_bitsandbytes
    from fintrade.models.sources import load_tokenizer, model_type, resolve_model
    from fintrade_adapters.training import fit, seed_everything

    options, registry = training_options(values)
    config = TrainConfig.from_mapping(options)
    method = get_method(config.method)
    source = resolve_model(config.model)
    kind = model_type(source)
    task_name = resolve_task(config.task, config.dataset, registry)
    check_supported(method, kind, config.model, task_name)
    device = resolve_device(config.device, "training")
    if method.quantized:
        require_bitsandbytes()
    steps = task_run(task_name, prepare_task, registry)
    config = steps.configure(config, method, kind)
    labelled = steps.split(config)
    tokenizer = steps.tokenizer(load_tokenizer(source))
    # Seeded right before loading so that a new head (and the adapter) starts from the same weights every run.
    seed_everything(config.seed)
    base = steps.load_base(source, kind, config, tokenizer, labelled, method, device)
    model = placed(steps.adapt(base, method, config, kind, tokenizer), method, device)
    prepared = steps.prepare(config, tokenizer, labelled, method)
    task = prepared.task
    train_examples = task.encode(prepared.train)
    validation = task.encode(labelled.validation)
    test = task.encode(labelled.test)
    result = fit(model, task, train_examples, validation, loop_options(config))
    test_metrics = task.evaluate(model, test, config.batch_size) if test else None
    manifest = build_manifest(config, source, kind, labelled, result, test_metrics, device) | prepared.manifest
    path = save_artifact(model, tokenizer, Path(config.output), manifest, **steps.save_options)
    if config.merge:
        manifest = merge_artifact(path, sentences=steps.sample_texts(labelled.test))
    return TrainedRun(path=path, manifest=manifest, model=model, tokenizer=tokenizer, task=task, result=result)
