"""The training configuration: every option, its default, and how strings become values.

``train(config)`` of every adapter method receives a plain mapping (from the CLI, a JSON or
TOML file, or Python); :meth:`TrainConfig.from_mapping` checks it once, so a misspelled option
is an error naming the closest one instead of a silently ignored setting.

The mapping may also hold :data:`REGISTRY_KEY`, the :class:`fintrade.registry.Registry` that
datasets are looked up in (the CLI passes the one it built). It says where the data comes
from, not what is trained, so it is not an option: :func:`training_options` takes it out
before the options are checked, and the run hands it down to every step that reads a dataset.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError, did_you_mean
from fintrade.models.devices import check_device

if TYPE_CHECKING:
    from fintrade.registry import Registry

REGISTRY_KEY = "registry"

# Measured on MiniLM (2,000 tweets, one epoch): LoRA 1e-3 -> 0.72 accuracy, 2e-3 -> 0.73,
# 5e-3 -> 0.77. Prefix tuning and IA3 train far fewer parameters and want a larger step.
# Decoders (smollm2) usually want less: pass --lr.
DEFAULT_LR = {"lora": 5e-3, "qlora": 5e-3, "prefix": 1e-2, "ia3": 1e-2, "distill": 5e-3}
SPLITS = ("stratified", "time")
SCHEDULES = ("linear", "cosine", "constant")
TASKS = ("classification", "sft", "qa")
AUGMENTATIONS = ("none", "paraphrase")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs. Fields are the option names users write."""

    model: str
    dataset: str
    output: str
    method: str = "lora"
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    # Task: classification, sft (causal-LM fine-tuning) or qa (extractive); None: from the dataset's task
    task: str | None = None
    max_new_tokens: int = 32
    max_answer_length: int = 30
    # Data
    split: str = "stratified"
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    limit: int | None = None
    max_length: int = 128
    class_weights: bool = False
    # Optimisation
    epochs: float = 1.0
    max_steps: int | None = None
    lr: float | None = None
    batch_size: int = 16
    grad_accum: int = 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    schedule: str = "linear"
    warmup_ratio: float = 0.06
    eval_every: int | None = None
    patience: int | None = 2
    stop_metric: str = "loss"
    bucket: bool = True
    seed: int = 0
    progress: bool = True
    # auto: a CUDA GPU when torch sees one; cpu, cuda or cuda:N. Where, not what: not a hyperparameter.
    device: str = "auto"
    # Adapter
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] | None = None
    virtual_tokens: int = 20
    compute_dtype: str = "float32"
    double_quant: bool = True
    gradient_checkpointing: bool = False
    # Distillation (method distill). distill_alpha, not alpha: alpha is LoRA's scaling, which the
    # LoRA student keeps.
    teacher: str | None = None
    temperature: float = 2.0
    distill_alpha: float = 0.5
    augment: str = "none"
    paraphraser: str = "smollm2"
    augment_limit: int | None = None
    # Artifact
    merge: bool = False
    command: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Check and coerce ``values`` (strings from the CLI are fine) into a config."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = [key for key in values if key not in fields]
        if unknown:
            key = unknown[0]
            raise ConfigError(f"unknown training option {key!r}{did_you_mean(key, fields)}; known: {', '.join(fields)}")
        for required in ("model", "dataset", "output"):
            if values.get(required) in (None, ""):
                raise ConfigError(f"training needs {required!r} (--{required})")
        coerced = {key: _coerce(key, value, fields[key].type) for key, value in values.items() if value is not None}
        config = cls(**coerced)
        config.check()
        return config

    def check(self) -> None:
        """Settings that cannot work together, or values out of range."""
        if self.split not in SPLITS:
            raise ConfigError(f"split must be one of {', '.join(SPLITS)}, not {self.split!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.task is not None and self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}{did_you_mean(self.task, TASKS)}; known: {', '.join(TASKS)}")
        check_device(self.device, "training")
        if self.max_new_tokens < 0:
            raise ConfigError(f"max_new_tokens must be 0 or more, got {self.max_new_tokens}")
        if self.max_answer_length <= 0:
            raise ConfigError(f"max_answer_length must be positive, got {self.max_answer_length}")
        positive: dict[str, float] = {
            "batch_size": self.batch_size,
            "grad_accum": self.grad_accum,
            "max_length": self.max_length,
        }
        positive |= {"rank": self.rank, "epochs": self.epochs, "virtual_tokens": self.virtual_tokens}
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be positive, got {self.temperature}")
        if not 0 <= self.distill_alpha <= 1:
            raise ConfigError(f"distill_alpha must be between 0 and 1, got {self.distill_alpha}")
        if self.augment not in AUGMENTATIONS:
            raise ConfigError(f"augment must be one of {', '.join(AUGMENTATIONS)}, not {self.augment!r}")
        if self.augment_limit is not None and self.augment_limit <= 0:
            raise ConfigError(f"augment_limit must be positive, got {self.augment_limit}")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ConfigError(f"max_steps must be positive, got {self.max_steps}")
        if self.limit is not None and self.limit < 3:
            raise ConfigError(f"limit must be at least 3 (one row per split), got {self.limit}")
        if len(self.fractions) != 3 or abs(sum(self.fractions) - 1) > 1e-6 or min(self.fractions) < 0:
            raise ConfigError(f"fractions must be three non-negative numbers summing to 1, got {self.fractions}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR.get(self.method, 5e-4)

    def to_dict(self) -> dict[str, Any]:
        return {key: (list(value) if isinstance(value, tuple) else value) for key, value in vars(self).items()}


def training_options(values: Mapping[str, Any]) -> tuple[dict[str, Any], Registry | None]:
    """The training options in ``values``, and the registry passed with them under :data:`REGISTRY_KEY`.

    ``None`` when no registry was passed (a Python caller); the dataset lookups then read the
    process registry (:func:`fintrade_adapters.data.datasets_in`).
    """
    from fintrade.registry import Registry

    options = {key: value for key, value in values.items() if key != REGISTRY_KEY}
    registry = values.get(REGISTRY_KEY)
    if registry is not None and not isinstance(registry, Registry):
        raise ConfigError(
            f"training {REGISTRY_KEY!r} must be a fintrade.registry.Registry, got {type(registry).__name__}"
        )
    return options, registry


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """``"8"`` -> 8 for an int option, ``"q,v"`` -> ("q", "v") for a tuple, and so on."""
    kind = str(annotation)
    try:
        if kind.startswith("tuple[float"):
            parts = value.split(",") if isinstance(value, str) else value
            return tuple(float(part) for part in parts)
        if kind.startswith("tuple[str"):
            parts = value.split(",") if isinstance(value, str) else value
            return tuple(str(part).strip() for part in parts if str(part).strip())
        if kind.startswith("Mapping"):
            if not isinstance(value, Mapping):
                raise TypeError("a mapping")
            return dict(value)
        if kind.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes")
            return bool(value)
        if kind.startswith("int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind.startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"training option {key!r} must be {kind.replace(' | None', '')}, got {value!r}") from None


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["rank=8", "dataset.subset=allagree"]`` -> options, ``dataset.*`` keys nested."""
    options: dict[str, Any] = {}
    dataset_options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option needs key=value, got {pair!r}")
        key = key.strip().replace("-", "_")
        if key.startswith("dataset."):
            dataset_options[key.removeprefix("dataset.")] = value
        else:
            options[key] = value
    if dataset_options:
        options["dataset_options"] = dataset_options
    return options


def read_config_file(path: Path) -> dict[str, Any]:
    """A JSON or TOML file of training options (a ``[train]`` table in TOML is also accepted)."""
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(path.read_text())
            data = data.get("train", data)
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            raise ConfigError(f"config file {str(path)!r} must end in .json or .toml")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a table of options")
    return {key.replace("-", "_"): value for key, value in data.items()}
