"""What differs between the tasks a run can train: classification, ``sft`` and ``qa``.

:func:`fintrade_adapters.runner.run` is the one pipeline for every task; :func:`task_run`
gives it the task's steps (:class:`ClassificationRun` or :class:`AdapterTaskRun`): which rows
it splits, how the tokenizer is prepared, which base is loaded and adapted, which task object
encodes, trains and evaluates, and what the artifact adds to its manifest:

==================  ==============================  ==========================  ===================================
task                base model                      peft task type, head        task
==================  ==============================  ==========================  ===================================
``classification``  ``AutoModelForSequence-``       ``SEQ_CLS``; the head       :class:`~.tasks.Sequence-`
                    ``Classification``              trained and saved           ``ClassificationTask``
                                                                                (or distillation's)
``sft``             ``AutoModelForCausalLM`` with   ``CAUSAL_LM``; no head;     :class:`~.sft.CausalLMTask`
                    two response markers added      LoRA trains the marker
                                                    rows (trainable tokens)
``qa``              ``AutoModelForQuestionAnswering``  ``QUESTION_ANS``;        :class:`~.qa.QuestionAnsweringTask`
                                                    ``qa_outputs`` saved
==================  ==============================  ==========================  ===================================

The task comes from ``--task``, else from the dataset's ``task`` field (``sentiment`` ->
classification, ``sft``, ``qa``); a sentiment dataset can feed every task (converted after the
split). The artifact is the same PEFT directory with a manifest; ``hyperparameters.task``
records the task so that ``fintrade evaluate`` and :func:`fintrade.models.artifacts.load_adapter`
rebuild the right model (the bases of every task live in :mod:`fintrade.models.bases`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError
from fintrade.models.bases import QA_HEAD
from fintrade_adapters.errors import UnsupportedMethodError
from fintrade_adapters.runs import PreparedTask

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedTokenizerBase

    from fintrade.models.sources import ModelSource
    from fintrade.registry import Registry
    from fintrade_adapters.config import TrainConfig
    from fintrade_adapters.data import LabelledData
    from fintrade_adapters.methods import Method
    from fintrade_adapters.runs import TaskPreparer

PEFT_TASK_TYPES = {"sft": "CAUSAL_LM", "qa": "QUESTION_ANS"}
TASK_METHODS = ("lora", "qlora", "prefix", "ia3")
# Encoders have no causal language-modelling head worth fine-tuning for generation.
ENCODERS = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"})


def resolve_task(task: str | None, dataset: str, registry: Registry | None = None) -> str:
    """``task`` if given, else what the dataset's rows are for (``sentiment`` -> ``classification``).

    ``dataset`` is looked up in ``registry`` (:func:`fintrade_adapters.data.datasets_in`).
    """
    if task:
        return task
    from fintrade_adapters.data import DATASET_TASKS, datasets_in

    return DATASET_TASKS.get(datasets_in(registry).get(dataset).task, "classification")


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
    from fintrade_adapters.methods import get_method

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


class ClassificationRun:
    """The ``classification`` steps: a sequence classifier over the dataset's labels, its head trained.

    ``prepare_task`` replaces the plain sentiment task (distillation passes one); the dataset is
    looked up in ``registry``.
    """

    name = "classification"
    save_options: dict[str, Any] = {}

    def __init__(self, prepare_task: TaskPreparer | None = None, registry: Registry | None = None) -> None:
        self.prepare_task = prepare_task
        self.registry = registry

    def configure(self, config: TrainConfig, method: Method, kind: str) -> TrainConfig:
        return config

    def split(self, config: TrainConfig) -> LabelledData:
        from fintrade_adapters import data as data_module

        return data_module.split_for(config, registry=self.registry)

    def tokenizer(self, tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
        return tokenizer

    def load_base(
        self,
        source: ModelSource,
        kind: str,
        config: TrainConfig,
        tokenizer: PreTrainedTokenizerBase,
        labelled: LabelledData,
        method: Method,
        device: str,
    ) -> Any:
        return load_base(source, kind, labelled.labels, config, int(tokenizer.pad_token_id or 0), device)

    def adapt(self, base: Any, method: Method, config: TrainConfig, kind: str, tokenizer: Any) -> Any:
        from fintrade.models.sources import head_modules
        from fintrade_adapters.methods import adapt

        return adapt(base, method, config, kind, head_modules(kind, base))

    def prepare(
        self, config: TrainConfig, tokenizer: PreTrainedTokenizerBase, labelled: LabelledData, method: Method
    ) -> PreparedTask:
        from fintrade_adapters.tasks import SequenceClassificationTask, balanced_class_weights

        weights = (
            balanced_class_weights(labelled.labels, labelled.train["label"].tolist()) if config.class_weights else None
        )
        if self.prepare_task is not None:
            return self.prepare_task(config, tokenizer, labelled, weights)
        task = SequenceClassificationTask(tokenizer, labelled.labels, config.max_length, weights)
        return PreparedTask(task, labelled.train)

    def sample_texts(self, frame: pd.DataFrame) -> list[str]:
        return sample_texts(self.name, frame)


class AdapterTaskRun:
    """The ``sft`` and ``qa`` steps: their bases, adapters, tasks and what their artifacts add.

    The dataset is looked up in ``registry``.
    """

    # The resized embedding matrix is the base's plus two rows that trainable tokens save (or
    # that init_marker_embeddings rebuilds): saving the whole matrix would add ~110 MB.
    save_options: dict[str, Any] = {"save_embedding_layers": False}

    def __init__(self, name: str, registry: Registry | None = None) -> None:
        self.name = name
        self.registry = registry

    def configure(self, config: TrainConfig, method: Method, kind: str) -> TrainConfig:
        config = dataclasses.replace(config, task=self.name)  # the manifest records the task it resolved
        check_task_fits(self.name, method, kind, config.model)
        return config

    def split(self, config: TrainConfig) -> LabelledData:
        from fintrade_adapters import data as data_module

        labelled = data_module.split_for(config, self.name, self.registry)
        allowed = stop_metrics(self.name, bool(labelled.labels), config.max_new_tokens)
        if config.stop_metric not in allowed:
            raise ConfigError(
                f"stop_metric {config.stop_metric!r} is not reported by --task {self.name} on this data; "
                f"choose one of {', '.join(allowed)}"
            )
        return labelled

    def tokenizer(self, tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
        return prepare_tokenizer(self.name, tokenizer)

    def load_base(
        self,
        source: ModelSource,
        kind: str,
        config: TrainConfig,
        tokenizer: PreTrainedTokenizerBase,
        labelled: LabelledData,
        method: Method,
        device: str,
    ) -> Any:
        return load_task_base(self.name, source, config, tokenizer, quantized=method.quantized, device=device)

    def adapt(self, base: Any, method: Method, config: TrainConfig, kind: str, tokenizer: Any) -> Any:
        return adapt_for_task(self.name, base, method, config, kind, tokenizer)

    def prepare(
        self, config: TrainConfig, tokenizer: PreTrainedTokenizerBase, labelled: LabelledData, method: Method
    ) -> PreparedTask:
        task = make_task(self.name, tokenizer, labelled.labels, config.to_dict())
        extra: dict[str, Any] = {"task": task.name}
        if self.name == "sft":
            from fintrade.models.markers import MARKERS, marker_ids

            extra["special_tokens"] = {
                "added": list(MARKERS),
                "ids": marker_ids(tokenizer),
                "vocabulary": len(tokenizer),
                # LoRA trains the marker rows (saved in the adapter); other methods keep their initial values.
                "trained": method.name in ("lora", "qlora"),
            }
        return PreparedTask(task, labelled.train, extra)

    def sample_texts(self, frame: pd.DataFrame) -> list[str]:
        return sample_texts(self.name, frame)


def task_run(
    task: str, prepare_task: TaskPreparer | None = None, registry: Registry | None = None
) -> ClassificationRun | AdapterTaskRun:
    """The steps that train ``task`` (``classification``, ``sft`` or ``qa``), reading data from ``registry``."""
    if task == "classification":
        return ClassificationRun(prepare_task, registry)
    return AdapterTaskRun(task, registry)
