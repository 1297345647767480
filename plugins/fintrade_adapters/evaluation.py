"""Evaluate a saved adapter artifact on a dataset: accuracy, macro/weighted F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fintrade.errors import ConfigError

EVAL_SPLITS = ("test", "validation", "train", "all")


def evaluate_artifact(
    path: Path,
    dataset: str,
    *,
    split: str = "test",
    options: Mapping[str, Any] | None = None,
    batch_size: int = 32,
    limit: int | None = None,
) -> dict[str, Any]:
    """Metrics of the artifact at ``path`` on ``dataset``.

    ``split`` ``test`` (or ``validation``, ``train``) re-creates the split the artifact was
    trained with when ``dataset`` is its training dataset (same seed, fractions, limit and
    options from the manifest), so the test rows are the held-out ones. On another dataset,
    or with ``all``, every row is scored.
    """
    from fintrade_adapters import data as data_module
    from fintrade_adapters.artifacts import load_adapter, read_manifest
    from fintrade_adapters.tasks import SequenceClassificationTask

    if split not in EVAL_SPLITS:
        raise ConfigError(f"split must be one of {', '.join(EVAL_SPLITS)}, not {split!r}")
    manifest = read_manifest(path)
    labels = tuple(manifest["labels"])
    trained = manifest["dataset"]
    hyper = manifest["hyperparameters"]
    same_data = dataset == trained["name"] and not options
    if same_data:
        # The training dataset's own options (a CSV's path, a PhraseBank agreement level).
        options = trained.get("options") or {}
    if split == "all" or not same_data:
        frame = data_module.subset(data_module.load_frame(dataset, options, labels), limit, int(hyper["seed"]))
        scored, scope = frame, "all"
    else:
        # The manifest's options and limit reproduce the rows the model was trained on.
        labelled = data_module.prepare(
            dataset,
            options,
            how=hyper["split"],
            fractions=tuple(hyper["fractions"]),  # type: ignore[arg-type]
            seed=int(hyper["seed"]),
            limit=hyper.get("limit"),
            labels=labels,
        )
        scored, scope = (
            {"test": labelled.test, "validation": labelled.validation, "train": labelled.train}[split],
            split,
        )
        if limit is not None:
            scored = scored.iloc[:limit]
    if scored.empty:
        raise ConfigError(f"dataset {dataset!r} has no rows in split {split!r} to evaluate on")
    model, tokenizer, _ = load_adapter(path)
    task = SequenceClassificationTask(tokenizer, labels, int(hyper["max_length"]))
    metrics = task.evaluate(model, task.encode(scored), batch_size)
    return {"artifact": str(path), "dataset": dataset, "split": scope, "method": manifest["method"], **metrics}
