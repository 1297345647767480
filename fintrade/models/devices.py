"""Where a model runs: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, checked once, and batches moved there.

Training (``fintrade train --device``) and ``llm-sentiment`` scoring share these rules: "auto"
takes a CUDA GPU when torch sees one, a GPU that is not there is a one-line error, and tasks
build batches on the CPU that :func:`to_model_device` moves next to the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError

if TYPE_CHECKING:
    import torch

_CUDA_INDEX = re.compile(r"cuda:\d+")


def check_device(device: Any, owner: str) -> None:
    """A one-line error, naming ``owner``, for anything but ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Reads no hardware: a run that needs no model (everything cached) needs no device either.
    """
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or _CUDA_INDEX.fullmatch(device)):
        raise ConfigError(f"{owner}: device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def resolve_device(device: str, owner: str, *, gpu_allowed: bool = True) -> str:
    """``"cpu"`` or a CUDA device for ``device``; a GPU that torch does not see is a one-line error.

    ``gpu_allowed=False`` makes ``"auto"`` the CPU (what runs on the CPU only, such as int8).
    """
    check_device(device, owner)
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if gpu_allowed and torch.cuda.is_available() else "cpu"
    index = int(device.partition(":")[2] or 0)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= gpus:
        raise ConfigError(
            f"{owner}: device={device!r}, but torch sees {gpus or 'no'} CUDA GPU(s); use device='cpu' or 'auto'"
        )
    return device


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (fintrade places a model whole, never split)."""
    return next(model.parameters()).device


def to_model_device(batch: Mapping[str, Any], model: torch.nn.Module) -> dict[str, Any]:
    """``batch`` with every tensor moved next to ``model``; other values as they are."""
    device = model_device(model)
    return {key: value.to(device) if hasattr(value, "to") else value for key, value in batch.items()}
