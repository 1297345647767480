"""Labelled text for training: load a dataset through the registry, check it, subset and split it.

Datasets are reached only by name, in the registry the caller passes (the training command
passes the one it built; :func:`datasets_in`); the split, hash and latest-date helpers are the
public :mod:`fintrade.datasets`, imported when first needed.

Each training task reads rows of its own shape (:data:`TASK_COLUMNS`): a dataset made for the
task serves them directly, and a sentiment dataset is converted after the split
(:func:`task_rows`), so the same seed gives the same held-out sentences for every task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fintrade_adapters.errors import DatasetLabelError

if TYPE_CHECKING:
    import pandas as pd

    from fintrade.registry import Kind, Registry
    from fintrade.types import Dataset
    from fintrade_adapters.config import TrainConfig

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
TASK_COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("text", "label"),
    "sft": ("prompt", "response"),
    "qa": ("question", "context", "answer_text", "answer_start"),
}
# A dataset's ``task`` field -> the training task its rows are made for.
DATASET_TASKS: dict[str, str] = {
    "sentiment": "classification",
    "classification": "classification",
    "sft": "sft",
    "qa": "qa",
}


@dataclass(frozen=True)
class LabelledData:
    """A dataset split for training: the frames, and what the manifest records about them."""

    name: str
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    labels: tuple[str, ...]
    hash: str
    size: int
    latest_date: str | None


def datasets_in(registry: Registry | None) -> Kind[Dataset]:
    """The datasets of ``registry``, the one the caller was given.

    ``None`` is for Python callers that pass no registry (``train(config)`` without a
    ``registry`` entry): they get the process registry, as the CLI would have passed.
    """
    if registry is None:
        from fintrade.registry import get_registry

        registry = get_registry()
    return registry.datasets


def load_frame(
    name: str,
    options: Mapping[str, Any] | None = None,
    labels: Sequence[str] = SENTIMENT_LABELS,
    task: str = "classification",
    registry: Registry | None = None,
) -> Any:
    """The dataset's frame, checked: rows present, ``text`` and ``label`` columns, known labels.

    For ``task`` ``sft`` or ``qa``, a dataset made for that task is checked for the task's
    columns instead; a sentiment dataset is returned as it is (see :func:`task_rows`).
    ``name`` is looked up in ``registry`` (:func:`datasets_in`).
    """
    dataset = datasets_in(registry).get(name)
    native = DATASET_TASKS.get(dataset.task)
    if native not in ("classification", task):
        if task == "classification":
            raise DatasetLabelError(
                f"dataset {name!r} is for task {dataset.task!r}; sentiment training needs 'sentiment'"
            )
        raise DatasetLabelError(
            f"dataset {name!r} is for task {dataset.task!r}; --task {task} needs a sentiment dataset or one for "
            f"task {task!r}"
        )
    frame = dataset.load(dict(options or {}))
    if native != "classification":
        return _task_frame(name, frame, TASK_COLUMNS[native])
    missing = [column for column in ("text", "label") if column not in frame.columns]
    if missing:
        raise DatasetLabelError(
            f"dataset {name!r} has no {' or '.join(missing)} column (columns: {list(frame.columns)})"
        )
    if frame.empty:
        raise DatasetLabelError(f"dataset {name!r} is empty: nothing to train or evaluate on")
    unexpected = sorted({str(label) for label in frame["label"].unique()} - set(labels))
    if unexpected:
        raise DatasetLabelError(
            f"dataset {name!r} has labels {', '.join(map(repr, unexpected[:5]))} that do not match the task "
            f"(expected {', '.join(labels)})"
        )
    return frame.reset_index(drop=True)


def _task_frame(name: str, frame: pd.DataFrame, columns: Sequence[str]) -> Any:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DatasetLabelError(f"dataset {name!r} has no {', '.join(missing)} column (columns: {list(frame.columns)})")
    if frame.empty:
        raise DatasetLabelError(f"dataset {name!r} is empty: nothing to train or evaluate on")
    return frame.reset_index(drop=True)


def task_rows(frame: pd.DataFrame, task: str, labels: Sequence[str] = SENTIMENT_LABELS) -> pd.DataFrame:
    """Rows in ``task``'s shape: sentiment rows become prompts (sft) or questions (qa); others pass."""
    if task == "sft" and "prompt" not in frame.columns:
        from fintrade_adapters.sft import sentiment_prompts

        return sentiment_prompts(frame)
    if task == "qa" and "question" not in frame.columns:
        from fintrade_adapters.qa import sentiment_questions

        return sentiment_questions(frame, labels)
    return frame


def subset(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most ``limit`` rows, drawn at random but kept in their original (time) order."""
    if limit is None or limit >= len(frame):
        return frame
    return frame.sample(n=limit, random_state=seed).sort_index().reset_index(drop=True)


def prepare(
    name: str,
    options: Mapping[str, Any] | None,
    *,
    how: str = "stratified",
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    limit: int | None = None,
    labels: Sequence[str] = SENTIMENT_LABELS,
    task: str = "classification",
    registry: Registry | None = None,
) -> LabelledData:
    """Load, check, subset and split a dataset for training; the frames are in ``task``'s shape.

    ``labels`` is empty for rows without labels (a prompt/response or QA file).
    """
    frame = subset(load_frame(name, options, labels, task, registry), limit, seed)
    train, validation, test = split(frame, how, fractions, seed)
    if train.empty:
        raise DatasetLabelError(f"dataset {name!r}: the training split is empty ({len(frame)} rows); use more data")
    train, validation, test = (task_rows(part, task, labels) for part in (train, validation, test))
    return LabelledData(
        name=name,
        train=train,
        validation=validation,
        test=test,
        labels=tuple(labels) if "label" in frame.columns else (),
        hash=dataset_hash(frame),
        size=len(frame),
        latest_date=latest_date(frame),
    )


def split_for(config: TrainConfig, task: str = "classification", registry: Registry | None = None) -> LabelledData:
    """The rows ``config`` trains, validates and tests on, its dataset looked up in ``registry``."""
    return prepare(
        config.dataset,
        config.dataset_options,
        how=config.split,
        fractions=config.fractions,
        seed=config.seed,
        limit=config.limit,
        task=task,
        registry=registry,
    )


def trained_split(
    manifest: Mapping[str, Any],
    labels: Sequence[str] = SENTIMENT_LABELS,
    task: str = "classification",
    registry: Registry | None = None,
) -> LabelledData:
    """The rows an artifact was trained, validated and tested on, rebuilt from its manifest.

    The same dataset options, limit, split and seed give the same rows: this is how an
    artifact's own test split is scored again without ever being trained on.
    """
    hyper = manifest["hyperparameters"]
    return prepare(
        manifest["dataset"]["name"],
        manifest["dataset"].get("options") or {},
        how=hyper["split"],
        fractions=tuple(hyper["fractions"]),  # type: ignore[arg-type]
        seed=int(hyper["seed"]),
        limit=hyper.get("limit"),
        labels=labels,
        task=task,
        registry=registry,
    )


def split(
    frame: pd.DataFrame, how: str, fractions: tuple[float, float, float], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train/validation/test frames, stratified by label or in time order (:func:`fintrade.datasets.split_dataset`)."""
    from fintrade.datasets import split_dataset

    if "label" not in frame.columns:
        # Unlabelled rows (prompt/response, QA) are one stratum: a seeded shuffle cut by the fractions.
        parts = split_dataset(frame.assign(label=""), how=how, fractions=fractions, seed=seed)  # type: ignore[arg-type]
        parts = {name: part.drop(columns="label") for name, part in parts.items()}
    else:
        parts = split_dataset(frame, how=how, fractions=fractions, seed=seed)  # type: ignore[arg-type]
    return tuple(parts[name].reset_index(drop=True) for name in ("train", "validation", "test"))  # type: ignore[return-value]


def dataset_hash(frame: pd.DataFrame) -> str:
    """The :func:`fintrade.datasets.dataset_hash` content hash of the rows used (text and label, in order).

    Rows without ``text`` and ``label`` (prompt/response, QA) hash their task columns the same
    way: SHA-256 over length-prefixed fields, row by row, with a versioned header.
    """
    from fintrade.datasets import dataset_hash as rows_hash

    if "text" in frame.columns and "label" in frame.columns:
        return str(rows_hash(frame))
    import hashlib

    columns = next(cols for cols in TASK_COLUMNS.values() if all(c in frame.columns for c in cols))
    digest = hashlib.sha256(b"fintrade-task-rows-hash-v1\n" + ",".join(columns).encode() + b"\n")
    for row in zip(*(frame[column].tolist() for column in columns), strict=True):
        for value in row:
            field = str(value).encode("utf-8")
            digest.update(b"%d:" % len(field))
            digest.update(field)
    return digest.hexdigest()


def latest_date(frame: pd.DataFrame) -> str | None:
    """The newest ``published_at`` in the data (a model trained on it may know up to then)."""
    from fintrade.datasets import latest_date as newest

    found = newest(frame)
    return None if found is None else found.isoformat()
