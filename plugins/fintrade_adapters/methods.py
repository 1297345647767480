"""The adapter methods: LoRA, QLoRA, prefix tuning, IA3 and distillation, as peft configurations on a base model.

Each method is an :class:`~fintrade.types.AdapterMethod` whose ``train(config)`` runs
:func:`fintrade_adapters.runner.train` with the method set (distillation: a LoRA student trained
by :func:`fintrade_adapters.distillation.train` against a teacher's logits). This module
decides, per method and architecture, which modules are adapted, what stays trainable (the
classification head, through ``modules_to_save``), and which combinations cannot work (one
clear error each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fintrade.deferred import deferred
from fintrade.types import AdapterMethod
from fintrade_adapters.errors import UnsupportedMethodError

if TYPE_CHECKING:
    import torch

    from fintrade_adapters.config import TrainConfig

# Attention (and for decoders, MLP) projections per architecture: the usual LoRA targets.
LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
    "xlm-roberta": ("query", "value"),
    "electra": ("query", "value"),
    "distilbert": ("q_lin", "v_lin"),
    "mpnet": ("q", "v"),
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "mistral": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "qwen2": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
}
# Prefix tuning feeds past key/values into every attention layer; these models take none.
NO_PREFIX = frozenset({"mpnet", "distilbert"})


@dataclass(frozen=True)
class Method:
    """What the runner needs to know about a method beyond its peft configuration."""

    name: str
    description: str
    quantized: bool = False
    mergeable: bool = True
    trainer: str = ""
    """``module:function`` that trains it; empty means the runner's ``train_<name>``."""


METHODS: dict[str, Method] = {
    "lora": Method("lora", "LoRA: low-rank updates of the attention (and MLP) projections; head trained"),
    "qlora": Method("qlora", "QLoRA: LoRA on a 4-bit NF4 base (bitsandbytes), double quantisation", quantized=True),
    "prefix": Method("prefix", "Prefix tuning: trained virtual key/value tokens in every layer", mergeable=False),
    "ia3": Method("ia3", "IA3: learned rescaling of keys, values and feed-forward activations"),
    "distill": Method(
        "distill",
        "Knowledge distillation: a LoRA student learns a teacher's softened logits and the labels",
        trainer="fintrade_adapters.distillation:train",
    ),
}
# Methods whose adapter is LoRA (distillation trains a LoRA student).
LORA_LIKE = frozenset({"lora", "qlora", "distill"})


def adapter_methods() -> list[AdapterMethod]:
    """The records the plugin registers; ``train`` imports the heavy code on its first call."""
    return [
        AdapterMethod(
            name=m.name,
            train=deferred(m.trainer or f"fintrade_adapters.runner:train_{m.name}"),
            description=m.description,
        )
        for m in METHODS.values()
    ]


def get_method(name: str) -> Method:
    from fintrade.errors import ConfigError, did_you_mean

    if name not in METHODS:
        raise ConfigError(f"unknown adapter method {name!r}{did_you_mean(name, METHODS)}; known: {', '.join(METHODS)}")
    return METHODS[name]


def check_supported(method: Method, kind: str, model_name: str, task: str = "classification") -> None:
    """Refuse, before the model loads, a method the architecture (or the installed libraries) cannot take."""
    if method.name != "prefix":
        return
    if kind in NO_PREFIX:
        raise UnsupportedMethodError(
            f"method 'prefix' cannot adapt model {model_name!r}: architecture {kind!r} takes no past key/values "
            "(prefix tuning needs them); use --method lora"
        )
    # peft hands a causal LM its prefix as a keyword argument; for every other task it first
    # looks for `past_key_values` in the backbone's forward signature, which transformers 5.24
    # renamed to `cache`: on such a pair of releases peft refuses deep inside the first step.
    if task != "sft":
        check_prefix_signature(kind, model_name, task)


def check_prefix_signature(kind: str, model_name: str, task: str) -> None:
    """The check peft's prefix tuning makes on a non-causal model, made before anything trains."""
    import inspect

    import peft
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    class_name = MODEL_MAPPING_NAMES.get(kind)
    backbone = getattr(transformers, class_name, None) if isinstance(class_name, str) else None
    if backbone is None or "past_key_values" in inspect.signature(backbone.forward).parameters:
        return
    raise UnsupportedMethodError(
        f"method 'prefix' cannot train model {model_name!r} ({task}) with transformers "
        f"{transformers.__version__} and peft {peft.__version__}: {backbone.__name__}.forward no longer takes "
        "past_key_values (renamed to cache in transformers 5.24), which peft's prefix tuning needs; "
        "install 'transformers<5.24' (fintrade's supported range) or use --method lora"
    )


def lora_targets(kind: str, override: tuple[str, ...] | None, model_name: str) -> list[str]:
    """The modules LoRA adapts: the user's list, else the architecture's default."""
    if override:
        return list(override)
    if kind in LORA_TARGETS:
        return list(LORA_TARGETS[kind])
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

    if kind in PEFT_DEFAULTS:
        return list(PEFT_DEFAULTS[kind])
    raise UnsupportedMethodError(
        f"no default LoRA target modules for model {model_name!r} (architecture {kind!r}); "
        "name them with --option target_modules=a,b"
    )


def peft_config(
    method: Method,
    config: TrainConfig,
    kind: str,
    head: tuple[str, ...],
    *,
    task_type: str = "SEQ_CLS",
    trainable_tokens: Sequence[int] | None = None,
) -> Any:
    """The peft configuration of ``method`` for a model of architecture ``kind``.

    ``task_type`` is peft's (``SEQ_CLS``, ``CAUSAL_LM``, ``QUESTION_ANS``); ``head`` may be empty
    (a causal LM's output layer is the base's own). ``trainable_tokens`` are embedding rows LoRA
    trains and saves (new special tokens), tied to the output layer where the model ties them.
    """
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, TaskType

    kind_of_task = TaskType[task_type]
    if method.name in LORA_LIKE:
        return LoraConfig(
            task_type=kind_of_task,
            r=config.rank,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=lora_targets(kind, config.target_modules, config.model),
            # The new head is trained in full and saved with the adapter, so that
            # PeftModel.from_pretrained restores it unchanged.
            modules_to_save=list(head) or None,
            trainable_token_indices=list(trainable_tokens) if trainable_tokens else None,
        )
    if method.name == "prefix":
        return PrefixTuningConfig(
            task_type=kind_of_task, num_virtual_tokens=config.virtual_tokens, modules_to_save=list(head) or None
        )
    if method.name == "ia3":
        targets = list(config.target_modules) if config.target_modules else None
        return IA3Config(task_type=kind_of_task, target_modules=targets, modules_to_save=list(head) or None)
    raise UnsupportedMethodError(f"adapter method {method.name!r} has no peft configuration")


def adapt(
    model: torch.nn.Module,
    method: Method,
    config: TrainConfig,
    kind: str,
    head: tuple[str, ...],
    **task_options: Any,
) -> Any:
    """Wrap ``model`` in a peft model of ``method``: only adapter and head parameters train.

    ``task_options`` go to :func:`peft_config` (``task_type``, ``trainable_tokens``).
    """
    import warnings

    from peft import get_peft_model

    try:
        with warnings.catch_warnings():
            # peft calls a transformers method that transformers deprecates; nothing for users to do.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, peft_config(method, config, kind, head, **task_options))  # type: ignore[arg-type]
    except ValueError as exc:
        # peft raises ValueError for target modules that do not exist in the model.
        first = str(exc).strip().splitlines()[0]
        raise UnsupportedMethodError(f"method {method.name!r} cannot adapt model {config.model!r}: {first}") from None
