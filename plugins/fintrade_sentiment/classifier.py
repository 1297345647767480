"""Which sentiment classifier ``model`` names, what it is (its identity), and loading it.

``model`` is, in this order:

* ``None``: the bundled tweet adapter, :data:`DEFAULT_ADAPTER` under ``adapters/``;
* the name of a bundled adapter (a folder under ``adapters/``);
* a fintrade adapter artifact directory written by ``fintrade train`` (it holds
  ``fintrade_manifest.json``); it is loaded through the adapters plugin, as
  ``fintrade evaluate`` loads it;
* a model alias, local folder or hub id (``owner/name``) of a 3-class sequence classifier
  whose labels name negative, neutral and positive.

Resolving (:func:`resolve_classifier`) reads files only: it checks the model is a 3-class
sentiment classifier and computes its identity, a content hash of the base model and the
adapter, without importing torch; a fully cached run never loads the model at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError, did_you_mean
from fintrade.models import devices
from fintrade_sentiment.errors import SentimentModelError

if TYPE_CHECKING:
    import pandas as pd

ADAPTERS_DIR = Path(__file__).resolve().parent / "adapters"
DEFAULT_ADAPTER = "tweets-minilm-lora"
DEFAULT_MAX_LENGTH = 128
"""Token limit for a plain classifier; an artifact uses the max length it was trained with."""
MANIFEST = "fintrade_manifest.json"
CLASSIFIER_TASK = "sequence-classification"
SENTIMENT = ("negative", "neutral", "positive")
PRECISIONS = ("float32", "bfloat16", "int8")
OWNER = "signal model 'llm-sentiment'"
"""Inference precisions. ``bfloat16`` scores about 3x faster than ``float32`` on CPUs with
AVX512-BF16 or AMX and moves scores by about 0.002; ``int8`` (dynamic quantisation of the
``Linear`` layers) is a little faster still but moves them by about 0.09 on the bundled
adapter and costs held-out accuracy (docs/benchmarks.md)."""
LABEL_NAMES = {
    "negative": "negative",
    "neg": "negative",
    "bearish": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
    "bullish": "positive",
}
# The files that decide a model's outputs: configuration, weights, tokenizer. Hashing only these
# keeps a README edit from invalidating cached scores.
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".txt", ".model")
UNHASHED = {MANIFEST, "README.md"}


@dataclass(frozen=True)
class ClassifierSpec:
    """A resolved ``model``: where it is, how its labels map to sentiment, and its identity."""

    name: str
    path: str
    artifact: bool
    #: Logit index of negative, neutral and positive.
    order: tuple[int, int, int]
    #: Content hash of the base model plus the adapter: equal identities give equal scores.
    identity: str
    max_length: int
    #: Latest ``published_at`` of the training data (artifact manifest), when known.
    knowledge_cutoff: pd.Timestamp | None = None
    manifest: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def describe(self) -> dict[str, Any]:
        """What the score cache records about this model."""
        return {"name": self.name, "path": self.path, "artifact": self.artifact, "identity": self.identity}


def bundled_adapters() -> list[str]:
    """Names of the adapters shipped in ``adapters/``."""
    if not ADAPTERS_DIR.is_dir():
        return []
    return sorted(p.name for p in ADAPTERS_DIR.iterdir() if (p / MANIFEST).is_file())


def resolve_classifier(model: str | None, max_length: int | None = None) -> ClassifierSpec:
    """The classifier ``model`` names (see the module docstring), checked; no torch needed."""
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1):
        raise ConfigError(f"signal model 'llm-sentiment': max_length must be a positive integer, got {max_length!r}")
    if model is None:
        path = ADAPTERS_DIR / DEFAULT_ADAPTER
        if not (path / MANIFEST).is_file():
            raise SentimentModelError(
                f"the bundled sentiment adapter {DEFAULT_ADAPTER!r} is missing from {ADAPTERS_DIR}; "
                "pass model='<artifact directory from fintrade train>'"
            )
        return _artifact_spec(DEFAULT_ADAPTER, path, max_length)
    if not isinstance(model, str) or not model:
        raise ConfigError(f"signal model 'llm-sentiment': model must be a name or a path, got {model!r}")
    if model in bundled_adapters():
        return _artifact_spec(model, ADAPTERS_DIR / model, max_length)
    local = Path(model).expanduser()
    if (local / MANIFEST).is_file():
        return _artifact_spec(model, local.resolve(), max_length)
    return _model_spec(model, max_length)


def _artifact_spec(name: str, path: Path, max_length: int | None) -> ClassifierSpec:
    from fintrade.models.artifacts import read_manifest

    manifest = read_manifest(path)
    task = manifest.get("task", CLASSIFIER_TASK)
    if task != CLASSIFIER_TASK:
        raise SentimentModelError(
            f"adapter artifact {name!r} is a {task} model, not a sentiment classifier; "
            "train one with `fintrade train --dataset twitter-fin ...`"
        )
    order = _sentiment_order([str(label) for label in manifest.get("labels", [])], f"adapter artifact {name!r}")
    base = manifest.get("base_model", {})
    base_identity = _base_identity(base)
    identity = _digest([base_identity, _folder_digest(path, adapter=True)])
    trained_length = manifest.get("hyperparameters", {}).get("max_length")
    latest = manifest.get("dataset", {}).get("latest_date")
    return ClassifierSpec(
        name=name,
        path=str(path),
        artifact=True,
        order=order,
        identity=identity,
        max_length=max_length or int(trained_length or DEFAULT_MAX_LENGTH),
        knowledge_cutoff=_timestamp(latest),
        manifest=manifest,
    )


def _model_spec(name: str, max_length: int | None) -> ClassifierSpec:
    from fintrade.models.sources import resolve_model

    try:
        source = resolve_model(name)
    except ConfigError:
        adapters = ", ".join(bundled_adapters()) or "none installed"
        raise SentimentModelError(
            f"unknown sentiment model {name!r}: not a fintrade adapter artifact (a folder with {MANIFEST}), "
            f"a bundled adapter ({adapters}), a model alias, a local folder or a hub id (owner/name)"
        ) from None
    folder = Path(source.path) if source.local else _hub_snapshot(name)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise SentimentModelError(f"model {name!r}: no config.json in {folder}; not a transformers model folder")
    config = json.loads(config_file.read_text())
    architectures = [str(a) for a in config.get("architectures") or []]
    if not any(a.endswith("ForSequenceClassification") for a in architectures):
        found = ", ".join(architectures) or "none named"
        raise SentimentModelError(
            f"model {name!r} is not a sequence classifier (architectures: {found}); "
            f"train a sentiment adapter on it: fintrade train --model {name} --dataset twitter-fin --output DIR"
        )
    id2label = config.get("id2label") or {}
    labels = [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(len(id2label))]
    order = _sentiment_order(labels, f"model {name!r}")
    return ClassifierSpec(
        name=name,
        path=str(folder),
        artifact=False,
        order=order,
        identity=_folder_digest(folder),
        max_length=max_length or DEFAULT_MAX_LENGTH,
    )


def _sentiment_order(labels: list[str], where: str) -> tuple[int, int, int]:
    """Logit positions of negative, neutral, positive; an error unless the labels are exactly those."""
    mapped = [LABEL_NAMES.get(label.strip().lower()) for label in labels]
    if len(labels) != 3 or sorted(m or "" for m in mapped) != sorted(SENTIMENT):
        raise SentimentModelError(
            f"{where} is not a 3-class sentiment classifier: its labels are {', '.join(labels) or 'none'}, "
            f"expected {', '.join(SENTIMENT)}"
        )
    return (mapped.index("negative"), mapped.index("neutral"), mapped.index("positive"))


def _hub_snapshot(name: str) -> Path:
    """A hub model's files in the local Hugging Face cache, downloaded when missing (users have the network)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=[f"*{suffix}" for suffix in MODEL_FILE_SUFFIXES]))
    except Exception as exc:  # the hub client raises many types: offline, not found, gated
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SentimentModelError(f"cannot fetch model {name!r} from the hub: {first}") from None


def _base_identity(base: dict[str, Any]) -> str:
    """The identity of an artifact's base model: its files' content hash, else its name."""
    from fintrade.models.sources import resolve_model

    name = str(base.get("name") or base.get("path") or "")
    try:
        source = resolve_model(name if base.get("alias") else str(base.get("path") or name))
    except ConfigError:
        return f"name:{name}"
    return _folder_digest(Path(source.path)) if source.local else f"hub:{source.path}"


def _folder_digest(folder: Path, *, adapter: bool = False) -> str:
    """SHA-256 over the model files directly in ``folder`` (names and contents), memoised by size and mtime."""
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in MODEL_FILE_SUFFIXES and p.name not in UNHASHED
    )
    signature = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _content_digest(str(folder), signature, adapter)


@functools.lru_cache(maxsize=64)
def _content_digest(folder: str, signature: tuple[tuple[str, int, int], ...], adapter: bool) -> str:
    # Also memoised on disk: hashing a base model's weights takes ~0.2 s, paid by every new
    # process (fintrade check recomputes each cut in a fresh one) unless remembered there.
    from fintrade.cache import cache_root

    key = hashlib.sha256(json.dumps([folder, signature, adapter]).encode()).hexdigest()
    memo = cache_root() / "scores" / "digests" / key
    try:
        remembered = memo.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        remembered = ""
    if len(remembered) == 64:
        return remembered
    result = _hash_files(folder, signature, adapter)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial = memo.with_name(f"{key}.{os.getpid()}.tmp")
        partial.write_text(result, encoding="ascii")
        os.replace(partial, memo)
    except OSError:
        pass  # a read-only cache: hashed again next time
    return result


def _hash_files(folder: str, signature: tuple[tuple[str, int, int], ...], adapter: bool) -> str:
    digest = hashlib.sha256()
    for name, _, _ in signature:
        data = (Path(folder) / name).read_bytes()
        if adapter and name == "adapter_config.json":
            # The config records the base model's absolute path, which differs between machines and
            # virtual environments; the base's contents are hashed separately.
            settings = json.loads(data)
            settings.pop("base_model_name_or_path", None)
            data = json.dumps(settings, sort_keys=True).encode()
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _timestamp(value: Any) -> pd.Timestamp | None:
    if not value:
        return None
    import pandas as pd

    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


@dataclass
class LoadedClassifier:
    """A model ready for inference in eval mode, at one of :data:`PRECISIONS`, with its tokenizer."""

    spec: ClassifierSpec
    model: Any
    tokenizer: Any
    precision: str
    device: str = "cpu"


def load_classifier(spec: ClassifierSpec, *, precision: str = "float32", device: str = "cpu") -> LoadedClassifier:
    """Load ``spec`` for inference at ``precision`` (one of :data:`PRECISIONS`) on ``device``.

    An artifact's adapter is merged into its base (``merge_and_unload``) when it is made of
    weight updates and the base is full precision, so inference runs plain layers; a 4-bit
    (QLoRA) base is never merged into (that corrupts weights on CPU) and runs as trained at
    ``float32``. The other precisions reload the adapter on a fresh fp32 base and merge it
    first: ``bfloat16`` then casts the whole model, ``int8`` applies dynamic int8
    quantisation to every ``Linear`` layer. On a GPU a QLoRA adapter is merged the same way,
    into a fresh fp32 base: bitsandbytes' 4-bit layers are not moved between devices here.
    """
    from fintrade.models.sources import quiet_libraries

    check_precision(precision)
    # A backtest's output is fintrade's tables: no weight-loading bars or harmless notices.
    quiet_libraries()
    if spec.artifact:
        model, tokenizer = _load_artifact(spec, full_precision=precision != "float32" or device != "cpu")
    else:
        model, tokenizer = _load_plain(spec)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        # Decoder classifiers find each row's last real token through pad_token_id.
        model.config.pad_token_id = tokenizer.pad_token_id
    if precision == "int8":
        model = _quantize_dynamic(model)
    elif precision == "bfloat16":
        import torch

        # A GPU computes bfloat16 natively whatever the CPU: the warning is about the CPU's units.
        if device == "cpu" and not native_bfloat16():
            warnings.warn(
                "llm-sentiment: this CPU has no native bfloat16 (AVX512-BF16 or AMX), so precision='bfloat16' "
                "runs emulated and may be slower than float32; precision='int8' is the fast choice here",
                PrecisionWarning,
                stacklevel=2,
            )
        model = model.to(torch.bfloat16)
    if device != "cpu":
        model = model.to(device)
    model.eval()
    return LoadedClassifier(spec=spec, model=model, tokenizer=tokenizer, precision=precision, device=device)


class PrecisionWarning(UserWarning):
    """A precision that works but will not pay off on this machine."""


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 matrix products natively (oneDNN's own check)."""
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def check_device(device: Any, precision: str) -> None:
    """A clear error for a device that is not ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, or int8 on a GPU.

    Reads no hardware (a fully cached run needs no device); :func:`resolve_device` does.
    """
    devices.check_device(device, OWNER)
    if precision == "int8" and device.startswith("cuda"):
        raise ConfigError(
            f"{OWNER}: precision='int8' (dynamic quantisation) runs on the CPU only; use precision='bfloat16' on a GPU"
        )


def resolve_device(device: str, precision: str) -> str:
    """``"cpu"`` or a CUDA device for a checked ``device``; a GPU that is not there is a one-line error.

    ``"auto"`` takes the GPU when torch sees one, except for int8, whose dynamic quantisation
    runs on the CPU only.
    """
    check_device(device, precision)
    return devices.resolve_device(device, OWNER, gpu_allowed=precision != "int8")
    import torch

    if device == "auto":
        return "cuda" if precision != "int8" and torch.cuda.is_available() else "cpu"
    index = int(device.partition(":")[2] or 0)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= gpus:
        raise ConfigError(
            f"signal model 'llm-sentiment': device={device!r}, but torch sees {gpus or 'no'} CUDA GPU(s); "
            "use device='cpu' or 'auto'"
        )
    return device


def check_precision(precision: Any) -> None:
    """A clear error for anything but one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"signal model 'llm-sentiment': precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
            f"{did_you_mean(str(precision), PRECISIONS)}"
        )


def _load_artifact(spec: ClassifierSpec, *, full_precision: bool) -> tuple[Any, Any]:
    from fintrade.models.artifacts import is_mergeable, is_quantized, load_adapter

    four_bit = is_quantized(spec.manifest) and not full_precision
    model, tokenizer, _ = load_adapter(Path(spec.path), full_precision=full_precision)
    if is_mergeable(Path(spec.path)) and not four_bit:
        model = model.merge_and_unload()
    return model, tokenizer


def _load_plain(spec: ClassifierSpec) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    options = {"trust_remote_code": False, "local_files_only": True}
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.path, **options)
        model = AutoModelForSequenceClassification.from_pretrained(
            spec.path, dtype=torch.float32, use_safetensors=True, **options
        )
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SentimentModelError(f"cannot load model {spec.name!r} from {spec.path}: {first}") from None
    return model, tokenizer


def _quantize_dynamic(model: Any) -> Any:
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch marks its eager-mode quantisation API as deprecated in favour of torchao; it still works.
        warnings.filterwarnings("ignore", category=UserWarning, message=".*deprecated.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
