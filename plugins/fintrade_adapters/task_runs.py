"""Training runs for the ``sft`` and ``qa`` tasks: their base models, adapters, tasks and artifacts.

:func:`fintrade_adapters.runner.run` trains sequence classifiers; for ``--task sft`` or
``--task qa`` it hands over to :func:`run_task`, which follows the same steps with the task's
own pieces:

========  ==============================  ==========================  ===============================
task      base model                      peft task type, head        task
========  ==============================  ==========================  ===============================
``sft``   ``AutoModelForCausalLM`` with   ``CAUSAL_LM``; no head;     :class:`~.sft.CausalLMTask`
          two response markers added      LoRA trains the marker
                                          rows (trainable tokens)
``qa``    ``AutoModelForQuestionAnswering``  ``QUESTION_ANS``;        :class:`~.qa.QuestionAnsweringTask`
                                          ``qa_outputs`` saved
========  ==============================  ==========================  ===============================

The task comes from ``--task``, else from the dataset's ``task`` field (``sentiment`` ->
classification, ``sft``, ``qa``); a sentiment dataset can feed every task (converted after the
split). The artifact is the same PEFT directory with a manifest; ``hyperparameters.task``
records the task so that ``fintrade evaluate`` and :func:`fintrade.models.artifacts.load_adapter`
rebuild the right model (the bases of every task live in :mod:`fintrade.models.bases`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError
from fintrade.models.bases import QA_HEAD
from fintrade_adapters.errors import UnsupportedMethodError
from fintrade_adapters.runs import TrainedRun, build_manifest, loop_options, placed

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedTokenizerBase

    from fintrade.models.sources import ModelSource
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.methods import Method

PEFT_TASK_TYPES = {"sft": "CAUSAL_LM", "qa": "QUESTION_ANS"}
TASK_METHODS = ("lora", "qlora", "prefix", "ia3")
# Encoders have no causal language-modelling head worth fine-tuning for generation.
ENCODERS = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"})


def resolve_task(task: str | None, dataset: str) -> str:
    """``task`` if given, else what the dataset's rows are for (``sentiment`` -> ``classification``)."""
    if task:
        return task
    from fintrade.registry import get_registry
    from fintrade_adapters.data import DATASET_TASKS

    return DATASET_TASKS.get(get_registry().datasets.get(dataset).task, "classification")


def stop_metrics(task: str, labelled: bool, max_new_tokens: int) -> tuple[str, ...]:
    """Metrics the task's evaluation reports and early stopping can watch."""
    if task == "sft":
        extra = ("accuracy", "macro_f1") if labelled else ("exact_match", "f1") if max_new_tokens else ()
        return ("loss", "token_accuracy", *extra)
    if task == "qa":
        return ("loss", "exact_match", "f1", *(("accuracy", "macro_f1") if labelled else ()))
    return ("loss", "accuracy", "macro_f1")


def make_task(
    task: str, tokenizer: PreTrainedTokenizerBase, labels: Sequence[str], hyperparameters: dict[str, Any]
) -> Any:
    """The task object for ``task`` with the run's settings (a manifest's hyperparameters work too)."""
    max_length = int(hyperparameters["max_length"])
    if task == "sft":
        from fintrade_adapters.sft import CausalLMTask

        return CausalLMTask(tokenizer, max_length, labels, int(hyperparameters.get("max_new_tokens", 32)))
    if task == "qa":
        from fintrade_adapters.qa import QuestionAnsweringTask

        return QuestionAnsweringTask(tokenizer, max_length, labels, int(hyperparameters.get("max_answer_length", 30)))
    from fintrade_adapters.tasks import SequenceClassificationTask

    return SequenceClassificationTask(tokenizer, labels, max_length)


def prepare_tokenizer(task: str, tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """The tokenizer a task trains with: SFT adds the two response markers as special tokens."""
    if task == "sft":
        from fintrade.models.markers import add_markers

        add_markers(tokenizer)
    return tokenizer


def load_task_base(
    task: str,
    source: ModelSource,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    *,
    quantized: bool,
    device: str = "cpu",
) -> Any:
    """The base model for ``task`` on ``device``: fp32, or 4-bit with the CPU fixes (ASSETS traps 1 and 3)."""
    from fintrade.models.bases import FourBit
    from fintrade.models.bases import load_task_base as load

    four_bit = FourBit(config.compute_dtype, config.double_quant) if quantized else None
    return load(
        task, source, tokenizer, four_bit=four_bit, gradient_checkpointing=config.gradient_checkpointing, device=device
    )


def adapt_for_task(task: str, base: Any, method: Method, config: TrainConfig, kind: str, tokenizer: Any) -> Any:
    """The peft model: LoRA on an SFT base also trains (and saves) the response-marker rows."""
    from fintrade_adapters.methods import adapt

    if task == "sft":
        from fintrade.models.markers import marker_ids

        tokens = marker_ids(tokenizer) if method.name in ("lora", "qlora") else None
        return adapt(base, method, config, kind, (), task_type=PEFT_TASK_TYPES[task], trainable_tokens=tokens)
    return adapt(base, method, config, kind, QA_HEAD, task_type=PEFT_TASK_TYPES[task])


def check_task_fits(task: str, method: Method, kind: str, model_name: str) -> None:
    """Refuse, before anything loads, what this task cannot train."""
    if method.name not in TASK_METHODS:
        raise UnsupportedMethodError(
            f"--task {task} trains with {', '.join(TASK_METHODS)}; method {method.name!r} is for classification"
        )
    if task == "sft" and kind in ENCODERS:
        raise UnsupportedMethodError(
            f"--task sft needs a causal (decoder) language model such as smollm2; model {model_name!r} is a "
            f"{kind!r} encoder (use --task classification or qa)"
        )


def sample_texts(task: str, frame: pd.DataFrame) -> list[str]:
    """Up to 8 inputs of ``task``'s shape as plain text, to compare merged and unmerged outputs on."""
    if task == "sft":
        return frame["prompt"].astype(str).tolist()[:8]
    if task == "qa":
        return [f"{q} {c}" for q, c in zip(frame["question"], frame["context"], strict=True)][:8]
    return frame["text"].astype(str).tolist()[:8]


def run_task(
    config: TrainConfig, task_name: str, source: ModelSource, kind: str, method: Method, device: str = "cpu"
) -> TrainedRun:
    """Train ``task_name`` (``sft`` or ``qa``) as configured; write the artifact; return the run."""
    from fintrade.models.artifacts import merge_artifact, save_artifact
    from fintrade.models.sources import load_tokenizer
    from fintrade_adapters import data as data_module
    from fintrade_adapters.training import fit, seed_everything

    config = dataclasses.replace(config, task=task_name)  # the manifest records the task it resolved
    check_task_fits(task_name, method, kind, config.model)
    labelled = data_module.split_for(config, task_name)
    allowed = stop_metrics(task_name, bool(labelled.labels), config.max_new_tokens)
    if config.stop_metric not in allowed:
        raise ConfigError(
            f"stop_metric {config.stop_metric!r} is not reported by --task {task_name} on this data; "
            f"choose one of {', '.join(allowed)}"
        )
    tokenizer = prepare_tokenizer(task_name, load_tokenizer(source))
    seed_everything(config.seed)  # the same QA head (and LoRA initialisation) every run
    base = load_task_base(task_name, source, config, tokenizer, quantized=method.quantized, device=device)
    model = placed(adapt_for_task(task_name, base, method, config, kind, tokenizer), method, device)
    task = make_task(task_name, tokenizer, labelled.labels, config.to_dict())
    train_examples = task.encode(labelled.train)
    validation = task.encode(labelled.validation)
    test = task.encode(labelled.test)
    result = fit(model, task, train_examples, validation, loop_options(config))
    test_metrics = task.evaluate(model, test, config.batch_size) if test else None
    manifest = build_manifest(config, source, kind, labelled, result, test_metrics, device)
    manifest["task"] = task.name
    if task_name == "sft":
        from fintrade.models.markers import MARKERS, marker_ids

        manifest["special_tokens"] = {
            "added": list(MARKERS),
            "ids": marker_ids(tokenizer),
            "vocabulary": len(tokenizer),
            # LoRA trains the marker rows (saved in the adapter); other methods keep their initial values.
            "trained": method.name in ("lora", "qlora"),
        }
    # The resized embedding matrix is the base's plus two rows that trainable tokens save (or
    # that init_marker_embeddings rebuilds): saving the whole matrix would add ~110 MB.
    path = save_artifact(model, tokenizer, Path(config.output), manifest, save_embedding_layers=False)
    if config.merge:
        manifest = merge_artifact(path, sentences=sample_texts(task_name, labelled.test))
    return TrainedRun(path=path, manifest=manifest, model=model, tokenizer=tokenizer, task=task, result=result)
