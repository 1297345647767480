"""Evaluate a saved adapter artifact on a dataset: accuracy, macro/weighted F1, confusion matrix.

SFT artifacts report loss and perplexity, plus accuracy and macro F1 on sentiment rows or exact
match and F1 of greedy generations on prompt/response rows; QA artifacts report exact match
and F1 (and accuracy, macro F1 on sentiment-as-QA rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError

if TYPE_CHECKING:
    from fintrade.registry import Registry

EVAL_SPLITS = ("test", "validation", "train", "all")


def evaluate_artifact(
    path: Path,
    dataset: str,
    *,
    split: str = "test",
    options: Mapping[str, Any] | None = None,
    batch_size: int = 32,
    limit: int | None = None,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Metrics of the artifact at ``path`` on ``dataset``.

    ``split`` ``test`` (or ``validation``, ``train``) re-creates the split the artifact was
    trained with when ``dataset`` is its training dataset (same seed, fractions, limit and
    options from the manifest), so the test rows are the held-out ones. On another dataset,
    or with ``all``, every row is scored. ``dataset`` is looked up in ``registry``.
    """
    from fintrade.models.artifacts import artifact_task, load_adapter, read_manifest
    from fintrade_adapters import data as data_module
    from fintrade_adapters.task_runs import make_task

    if split not in EVAL_SPLITS:
        raise ConfigError(f"split must be one of {', '.join(EVAL_SPLITS)}, not {split!r}")
    manifest = read_manifest(path)
    task_name = artifact_task(manifest)
    # SFT and QA artifacts trained on free-form rows have no labels; sentiment rows still read as these.
    labels = tuple(manifest["labels"]) or data_module.SENTIMENT_LABELS
    trained = manifest["dataset"]
    hyper = manifest["hyperparameters"]
    same_data = dataset == trained["name"] and not options
    if same_data:
        # The training dataset's own options (a CSV's path, a PhraseBank agreement level).
        options = trained.get("options") or {}
    if split == "all" or not same_data:
        frame = data_module.load_frame(dataset, options, labels, task_name, registry)
        frame = data_module.subset(frame, limit, int(hyper["seed"]))
        scored, scope = data_module.task_rows(frame, task_name, labels), "all"
    else:
        # The manifest's options and limit reproduce the rows the model was trained on.
        labelled = data_module.trained_split(manifest, labels, task_name, registry)
        scored, scope = (
            {"test": labelled.test, "validation": labelled.validation, "train": labelled.train}[split],
            split,
        )
        if limit is not None:
            scored = scored.iloc[:limit]
    if scored.empty:
        raise ConfigError(f"dataset {dataset!r} has no rows in split {split!r} to evaluate on")
    model, tokenizer, _ = load_adapter(path)
    task = make_task(task_name, tokenizer, labels if "label" in scored.columns else (), hyper)
    metrics = task.evaluate(model, task.encode(scored), batch_size)
    return {"artifact": str(path), "dataset": dataset, "split": scope, "method": manifest["method"], **metrics}
