"""Built-in plugin: adapter methods (LoRA, QLoRA, prefix tuning, IA3, distillation) and the training commands.

Registers the ``lora``, ``qlora``, ``prefix``, ``ia3`` and ``distill`` adapter methods and the
``fintrade train``, ``fintrade evaluate``, ``fintrade ablate`` and ``fintrade compare``
commands. See ``docs/training.md``.

The CLI imports every built-in plugin to build its command list, so nothing here imports
torch, transformers or peft: the methods' ``train`` is deferred and the commands import their
machinery inside their bodies.

Base models, 4-bit loading, adapter artifacts (save, load, merge) and devices are not here:
they are the public model service :mod:`fintrade.models`, which signal models use too.

Module roles: :mod:`.methods` (peft configurations per method and architecture),
:mod:`.data` (datasets checked and split), :mod:`.tasks` (examples, batches, loss, metrics),
:mod:`.training` (the loop), :mod:`.runs` (what a run produces and records), :mod:`.runner`
(one run, end to end), :mod:`.evaluation`, :mod:`.ablation`, :mod:`.cli`; :mod:`.distillation` (the
``distill`` method: teacher, loss, task) with :mod:`.paraphrase` (its optional augmentation),
:mod:`.compare` (methods side by side) with :mod:`.memory` (peak memory of a run).

Tasks beyond classification: :mod:`.sft` (causal-LM fine-tuning, loss on responses only),
:mod:`.qa` and :mod:`.qa_metrics` (extractive QA, exact match and F1), :mod:`.task_runs`
(their runs and artifacts) and :mod:`.task_files` (the ``prompt-response`` and ``qa-spans``
datasets this plugin registers for them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import fintrade
from fintrade.deferred import deferred
from fintrade.types import AdapterMethod, Dataset
from fintrade_adapters.methods import adapter_methods

if TYPE_CHECKING:
    import typer


@fintrade.hookimpl
def fintrade_adapter_methods() -> list[AdapterMethod]:
    """``lora``, ``qlora``, ``prefix``, ``ia3`` and ``distill``."""
    return adapter_methods()


@fintrade.hookimpl
def fintrade_datasets() -> list[Dataset]:
    """``prompt-response`` (task ``sft``) and ``qa-spans`` (task ``qa``): your own rows from a CSV or JSON lines."""
    common = "path (required; .csv or .jsonl), date_column (-> published_at), encoding='utf-8'"
    return [
        Dataset(
            name="prompt-response",
            load=deferred("fintrade_adapters.task_files:load_prompt_response"),
            task="sft",
            description=f"Prompt/response pairs for causal-LM fine-tuning; options: {common}, "
            "prompt_column='prompt', response_column='response'",
            licence="your data's own",
        ),
        Dataset(
            name="qa-spans",
            load=deferred("fintrade_adapters.task_files:load_qa_spans"),
            task="qa",
            description=f"SQuAD-style extractive QA rows (one answer each); options: {common}, question_column, "
            "context_column, answer_text_column, answer_start_column (character offset of the answer)",
            licence="your data's own",
        ),
    ]


@fintrade.hookimpl
def fintrade_register_commands(app: typer.Typer) -> None:
    """``fintrade train``, ``fintrade evaluate``, ``fintrade ablate`` and ``fintrade compare``."""
    from fintrade_adapters.cli import register

    register(app)
