"""Adapter artifacts: a PEFT directory plus ``fintrade_manifest.json``; loading and merging them.

Layout of ``OUTPUT/``::

    adapter_config.json          peft: method, targets, base model path
    adapter_model.safetensors    peft: adapter weights and the classification head (modules_to_save)
    tokenizer files              the base model's tokenizer, so the artifact is self-contained
    fintrade_manifest.json       base model, method, hyperparameters, data hash, metrics, versions
    merged/                      with --merge: a full model with the adapter merged in

An artifact is written into a temporary folder beside ``OUTPUT`` and renamed into place, so
a reader never sees half an artifact. ``PeftModel.from_pretrained`` loads it unchanged.

``hyperparameters.task`` in the manifest names the task it was trained for (``classification``,
``sft`` or ``qa``; none means classification), and :func:`load_adapter` rebuilds that task's
base (:mod:`fintrade.models.bases`) before loading the adapter onto it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError
from fintrade.manifest import write_json_atomic
from fintrade.models.sources import staged_folder

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

MANIFEST = "fintrade_manifest.json"
MERGED = "merged"
MERGE_TOLERANCE = 1e-4
"""Largest allowed |merged - unmerged| logit difference. Merging W + BA in fp32 reorders
float sums; on MiniLM the measured difference is around 1e-6, so 1e-4 catches a wrong merge
(a corrupted or missing update moves logits by 1e-2 or more) without flaking."""


def save_artifact(
    model: Any, tokenizer: PreTrainedTokenizerBase, output: Path, manifest: dict[str, Any], **save_options: Any
) -> Path:
    """Write the adapter, tokenizer and manifest to ``output`` atomically; returns ``output``.

    ``save_options`` go to peft's ``save_pretrained`` (``save_embedding_layers=False`` for SFT).
    """
    output = output.expanduser()
    if output.exists() and any(output.iterdir()) and not (output / MANIFEST).exists():
        raise ConfigError(
            f"output directory {str(output)!r} is not empty and holds no fintrade artifact; choose another"
        )
    with staged_folder(output) as staging:
        model.save_pretrained(str(staging), safe_serialization=True, **save_options)
        _name_base_portably(staging, manifest)
        tokenizer.save_pretrained(str(staging))
        write_json_atomic(staging / MANIFEST, manifest)
        os.chmod(staging, 0o755)
    return output


def _name_base_portably(staging: Path, manifest: dict[str, Any]) -> None:
    """Name an alias's hub id as the base in ``adapter_config.json`` and the model card, not this machine's path.

    peft records where the base was loaded from; for a packaged alias that is a site-packages
    path on the training machine. fintrade loads through the manifest and never reads it, but
    plain peft (``AutoPeftModel*``) does, and the hub id is the same weights anywhere.
    """
    from fintrade.models.sources import UPSTREAM

    base = manifest.get("base_model", {})
    config_file = staging / "adapter_config.json"
    if not base.get("alias") or base.get("name") not in UPSTREAM or not config_file.is_file():
        return
    settings = json.loads(config_file.read_text())
    settings["base_model_name_or_path"] = UPSTREAM[base["name"]]
    config_file.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    card = staging / "README.md"  # peft's model card names the base in its front matter
    if base.get("path") and card.is_file():
        card.write_text(card.read_text().replace(str(base["path"]), UPSTREAM[base["name"]]))


def read_manifest(path: Path) -> dict[str, Any]:
    """The artifact's manifest, or a clear error when ``path`` is not a fintrade artifact."""
    manifest_file = Path(path) / MANIFEST
    if not manifest_file.is_file():
        raise ConfigError(
            f"{str(path)!r} is not a fintrade adapter artifact (no {MANIFEST}); train one with `fintrade train`"
        )
    return json.loads(manifest_file.read_text())  # type: ignore[no-any-return]


def artifact_task(manifest: dict[str, Any]) -> str:
    """The task an artifact was trained for (artifacts from before tasks existed are classifiers)."""
    return str(manifest.get("hyperparameters", {}).get("task") or "classification")


def is_quantized(manifest: dict[str, Any]) -> bool:
    """Whether the artifact's adapter was trained on a 4-bit base (QLoRA)."""
    return bool(manifest.get("quantization"))


PROMPT_LEARNING = frozenset({"PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING"})
"""peft types that add virtual tokens rather than weight updates: nothing to merge."""


def is_mergeable(path: Path) -> bool:
    """Whether the artifact's adapter is a weight update that merges into the base (not virtual tokens)."""
    config_file = Path(path) / "adapter_config.json"
    if not config_file.is_file():
        return True
    return json.loads(config_file.read_text()).get("peft_type") not in PROMPT_LEARNING


def load_adapter(path: Path, *, full_precision: bool = False) -> tuple[Any, PreTrainedTokenizerBase, dict[str, Any]]:
    """The base model with the artifact's adapter, its tokenizer and manifest (eval mode).

    A QLoRA adapter is loaded onto a 4-bit base, as trained, unless ``full_precision``. An
    ``sft`` base is resized to the artifact's tokenizer and its marker rows rebuilt before the
    adapter loads (LoRA's saved rows then replace them), so every method reloads exactly.
    """
    from peft import PeftModel
    from transformers import AutoTokenizer

    from fintrade.models.bases import FourBit, load_classifier_base, load_task_base
    from fintrade.models.sources import resolve_model

    manifest = read_manifest(path)
    task = artifact_task(manifest)
    base = manifest["base_model"]
    source = resolve_model(base["name"] if base.get("alias") else base["path"])
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False, local_files_only=True)
    four_bit = None if full_precision else FourBit.of(manifest)
    if task == "classification":
        pad_token_id = int(tokenizer.pad_token_id or 0)
        model = load_classifier_base(
            source, base["architecture"], tuple(manifest["labels"]), pad_token_id, four_bit=four_bit
        )
    else:  # a causal LM (sft) or a QA model
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = load_task_base(task, source, tokenizer, four_bit=four_bit)
    with warnings.catch_warnings():
        # peft calls a transformers method that transformers deprecates; nothing for users to do.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        adapted = PeftModel.from_pretrained(model, str(path))
    adapted.eval()
    return adapted, tokenizer, manifest


def merge_artifact(path: Path, sentences: Sequence[str]) -> dict[str, Any]:
    """Write ``path/merged``: the adapter merged into a freshly loaded fp32 base, verified.

    Never merges into a 4-bit base (that corrupts weights on CPU, ASSETS trap 2). The merged
    model's logits on ``sentences`` must match the unmerged adapter's within
    :data:`MERGE_TOLERANCE` (times the largest |logit| when that exceeds 1); the measured
    difference and the tolerance are recorded in the manifest.
    """
    import torch

    manifest = read_manifest(path)
    if not is_mergeable(path):
        raise ConfigError(f"method {manifest['method']!r} adds virtual tokens, not weight updates: nothing to merge")
    model, tokenizer, _ = load_adapter(path, full_precision=True)
    texts = list(sentences) or ["Shares rose after strong quarterly earnings.", "The company cut its outlook."]
    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        unmerged = _output_logits(model(**batch))
        merged_model = model.merge_and_unload()
        merged_model.eval()
        merged = _output_logits(merged_model(**batch))
    difference = float((merged - unmerged).abs().max())
    # Relative above 1: fp32 reordering grows with the logits, and a causal LM's reach 20 or more
    # (SmolLM2 + LoRA measured 9.7e-5 at max |logit| ~20); a wrong merge moves them far more.
    tolerance = MERGE_TOLERANCE * max(1.0, float(unmerged.abs().max()))
    if not difference <= tolerance:
        raise ConfigError(
            f"merged model disagrees with the adapter (max |logit difference| {difference:.2e} "
            f"> {tolerance:.1e}); "
            "the artifact is kept without merged/"
        )
    with staged_folder(Path(path) / MERGED) as staging:
        merged_model.save_pretrained(str(staging), safe_serialization=True)
        tokenizer.save_pretrained(str(staging))
    manifest["merged"] = {
        "path": MERGED,
        "max_abs_logit_difference": difference,
        "tolerance": tolerance,
        "sentences": len(texts),
    }
    write_json_atomic(Path(path) / MANIFEST, manifest)
    return manifest


def _output_logits(output: Any) -> Any:
    """A model's scores as one tensor: ``logits``, or QA's start and end logits side by side."""
    import torch

    if getattr(output, "logits", None) is not None:
        return output.logits
    return torch.cat([output.start_logits, output.end_logits], dim=-1)
