"""4-bit (QLoRA) loading with bitsandbytes, including the CPU fixes from ``ASSETS.md``.

The traps, each verified on the machines that test fintrade:

1. On CPUs with AVX512-BF16, ``bnb.nn.Linear4bit`` repacks its weight into an inference-only
   layout the first time it runs without grad; afterwards its matmul has no autograd, so
   training after any evaluation pass gets wrong gradients (Llama) or crashes (BERT). We turn
   the repacking off on every 4-bit layer right after loading (:func:`disable_inference_repack`).
2. Merging into a 4-bit base corrupts weights: :mod:`fintrade.models.artifacts` merges into
   a freshly loaded full-precision base instead.
3. A sequence classifier's new head (and BERT's ``pooler.dense``; ``"pooler"`` alone does not
   match) must stay in full precision: :func:`bnb_config` skips them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fintrade.models.errors import QuantizationUnavailableError

if TYPE_CHECKING:
    import torch

COMPUTE_DTYPES = ("float32", "bfloat16", "float16")


def require_bitsandbytes() -> Any:
    """The bitsandbytes module, or a one-line error saying why 4-bit cannot run here."""
    try:
        import bitsandbytes
    except Exception as exc:  # an ImportError, or a broken native library raising anything
        raise QuantizationUnavailableError(
            f"4-bit training (qlora) needs bitsandbytes, which cannot run here ({type(exc).__name__}: {exc}); "
            "pip install 'bitsandbytes>=0.45' or use --method lora"
        ) from None
    return bitsandbytes


def bnb_config(skip_modules: Sequence[str], compute_dtype: str = "float32", double_quant: bool = True) -> Any:
    """NF4 4-bit weights, double quantisation, and full precision for ``skip_modules``."""
    import torch
    from transformers import BitsAndBytesConfig

    require_bitsandbytes()
    if compute_dtype not in COMPUTE_DTYPES:
        raise QuantizationUnavailableError(
            f"unknown compute dtype {compute_dtype!r}; choose one of {', '.join(COMPUTE_DTYPES)}"
        )
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=double_quant,
        bnb_4bit_compute_dtype=getattr(torch, compute_dtype),
        llm_int8_skip_modules=list(skip_modules),
    )


def skip_modules_for(head: Sequence[str], kind: str) -> list[str]:
    """The modules a 4-bit sequence classifier keeps in full precision."""
    # "pooler" alone does not match the pooler's Linear; "pooler.dense" does (ASSETS trap 3).
    skipped = [name for name in head if name != "pooler"]
    if kind in ("bert", "roberta", "xlm-roberta", "mpnet"):
        skipped.append("pooler.dense")
    return skipped


def disable_inference_repack(model: torch.nn.Module) -> int:
    """Keep every 4-bit layer trainable after eval passes (ASSETS trap 1); returns how many were fixed."""
    import bitsandbytes as bnb

    fixed = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            fixed += 1
    return fixed


def prepare_for_training(model: torch.nn.Module, gradient_checkpointing: bool) -> torch.nn.Module:
    """peft's k-bit preparation (norms in fp32, input grads), checkpointing only where it exists."""
    from peft import prepare_model_for_kbit_training

    # MPNet and some others have no gradient checkpointing (ASSETS trap 4).
    supported = bool(getattr(model, "supports_gradient_checkpointing", False))
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing and supported)
