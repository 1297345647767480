"""One training run from a configuration to an artifact: the pipeline every method shares.

resolve the model -> check the method fits the architecture -> load, check and split the
dataset -> load the base (fp32 or 4-bit) and wrap it in the method's adapter -> train with
:func:`fintrade_adapters.training.fit` -> evaluate on validation and test -> write the artifact
and its manifest -> optionally merge and verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade_adapters.config import TrainConfig
from fintrade_adapters.methods import adapt, check_supported, get_method
from fintrade_adapters.runs import (
    NOT_HYPERPARAMETERS,
    PreparedTask,
    TaskPreparer,
    TrainedRun,
    build_manifest,
    loop_options,
    placed,
)

if TYPE_CHECKING:
    from fintrade.models.sources import ModelSource

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


def load_base(
    source: ModelSource,
    kind: str,
    labels: tuple[str, ...],
    config: TrainConfig,
    pad_token_id: int,
    device: str = "cpu",
) -> Any:
    """The base classifier on ``device``: fp32, or 4-bit with the CPU fixes for a quantised method."""
    from fintrade.models.bases import FourBit, load_classifier_base

    four_bit = FourBit(config.compute_dtype, config.double_quant) if get_method(config.method).quantized else None
    return load_classifier_base(
        source,
        kind,
        labels,
        pad_token_id,
        four_bit=four_bit,
        gradient_checkpointing=config.gradient_checkpointing,
        device=device,
    )


def run(values: Mapping[str, Any], prepare_task: TaskPreparer | None = None) -> TrainedRun:
    """Train as configured; returns the model in memory too (tests and ``ablate`` use it).

    ``prepare_task`` replaces the plain sentiment task (distillation passes one).
    """
    from fintrade.models.artifacts import save_artifact
    from fintrade.models.devices import resolve_device
    from fintrade.models.quantization import require_bitsandbytes
    from fintrade.models.sources import head_modules, load_tokenizer, model_type, resolve_model
    from fintrade_adapters import data as data_module
    from fintrade_adapters.task_runs import resolve_task, run_task
    from fintrade_adapters.tasks import SequenceClassificationTask, balanced_class_weights
    from fintrade_adapters.training import fit, seed_everything

    config = TrainConfig.from_mapping(values)
    method = get_method(config.method)
    source = resolve_model(config.model)
    kind = model_type(source)
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
        from fintrade.models.artifacts import merge_artifact

        manifest = merge_artifact(path, sentences=labelled.test["text"].astype(str).tolist()[:8])
    return TrainedRun(path=path, manifest=manifest, model=model, tokenizer=tokenizer, task=task, result=result)
