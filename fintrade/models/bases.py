"""The base model an adapter sits on, per task, in full precision or 4-bit: for training and for reloading.

========================  ===================================================  ============================
task                      model                                                kept in full precision (4-bit)
========================  ===================================================  ============================
``classification``        ``AutoModelForSequenceClassification`` over labels   the head, BERT's pooler
``sft``                   ``AutoModelForCausalLM`` with the two response       ``lm_head``
                          markers added (:mod:`fintrade.models.markers`)
``qa``                    ``AutoModelForQuestionAnswering``                    ``qa_outputs``
========================  ===================================================  ============================

Training (the adapters plugin) and loading an artifact (:func:`fintrade.models.artifacts.load_adapter`)
build the base through these functions, so an artifact reloads onto exactly the base it was
trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fintrade.models import quantization
from fintrade.models.sources import HEAD_MODULES, ModelSource, load_classifier, load_pretrained

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

QA_HEAD: tuple[str, ...] = ("qa_outputs",)


@dataclass(frozen=True)
class FourBit:
    """4-bit (NF4) loading settings: the compute dtype and whether to quantise the quantisation constants."""

    compute_dtype: str = "float32"
    double_quant: bool = True

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> FourBit | None:
        """The settings an artifact was trained with; None when it was trained in full precision."""
        settings = manifest.get("quantization")
        if not settings:
            return None
        return cls(compute_dtype=settings["compute_dtype"], double_quant=settings["double_quant"])


def load_classifier_base(
    source: ModelSource,
    kind: str,
    labels: tuple[str, ...],
    pad_token_id: int,
    *,
    four_bit: FourBit | None = None,
    gradient_checkpointing: bool = False,
    device: str = "cpu",
) -> Any:
    """The base classifier on ``device``: fp32, or 4-bit with the CPU fixes when ``four_bit`` is given."""
    if four_bit is None:
        return load_classifier(source, labels, pad_token_id=pad_token_id, device=device)
    head = HEAD_MODULES.get(kind, ("classifier", "score"))
    bnb = quantization.bnb_config(
        quantization.skip_modules_for(head, kind), four_bit.compute_dtype, four_bit.double_quant
    )
    model = load_classifier(source, labels, quantization_config=bnb, pad_token_id=pad_token_id, device=device)
    # Before anything runs a forward pass: after an eval-mode pass it would be too late (ASSETS trap 1).
    quantization.disable_inference_repack(model)
    return quantization.prepare_for_training(model, gradient_checkpointing)


def load_task_base(
    task: str,
    source: ModelSource,
    tokenizer: PreTrainedTokenizerBase,
    *,
    four_bit: FourBit | None = None,
    gradient_checkpointing: bool = False,
    device: str = "cpu",
) -> Any:
    """The base model for ``sft`` or ``qa`` on ``device``: fp32, or 4-bit with the CPU fixes (ASSETS traps 1 and 3)."""
    from transformers import AutoModelForCausalLM, AutoModelForQuestionAnswering

    auto_class = AutoModelForCausalLM if task == "sft" else AutoModelForQuestionAnswering
    bnb = None
    if four_bit is not None:
        # The output layers stay in full precision: lm_head (tied to the embeddings, which grow) and qa_outputs.
        skip: Sequence[str] = ["lm_head"] if task == "sft" else list(QA_HEAD)
        bnb = quantization.bnb_config(skip, four_bit.compute_dtype, four_bit.double_quant)
    model: Any = load_pretrained(source, auto_class, quantization_config=bnb, device=device)
    if four_bit is not None:
        quantization.disable_inference_repack(model)  # before any forward pass
    if task == "sft":
        from fintrade.models.markers import resize_for_markers

        resize_for_markers(model, tokenizer)
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if four_bit is not None:
        model = quantization.prepare_for_training(model, gradient_checkpointing)
    return model
