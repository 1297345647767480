"""Labelled text for training: load a dataset through the registry, check it, subset and split it.

Datasets are reached only by name through :func:`fintrade.registry.get_registry`; the split,
hash and latest-date helpers belong to the ``fintrade_datasets`` plugin and are imported from
it when first needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fintrade_adapters.errors import DatasetLabelError

if TYPE_CHECKING:
    import pandas as pd

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


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


def load_frame(name: str, options: Mapping[str, Any] | None = None, labels: Sequence[str] = SENTIMENT_LABELS) -> Any:
    """The dataset's frame, checked: rows present, ``text`` and ``label`` columns, known labels."""
    from fintrade.registry import get_registry

    dataset = get_registry().datasets.get(name)
    if dataset.task not in ("sentiment", "classification"):
        raise DatasetLabelError(f"dataset {name!r} is for task {dataset.task!r}; sentiment training needs 'sentiment'")
    frame = dataset.load(dict(options or {}))
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
) -> LabelledData:
    """Load, check, subset and split a dataset for training."""
    frame = subset(load_frame(name, options, labels), limit, seed)
    train, validation, test = split(frame, how, fractions, seed)
    if train.empty:
        raise DatasetLabelError(f"dataset {name!r}: the training split is empty ({len(frame)} rows); use more data")
    return LabelledData(
        name=name,
        train=train,
        validation=validation,
        test=test,
        labels=tuple(labels),
        hash=dataset_hash(frame),
        size=len(frame),
        latest_date=latest_date(frame),
    )


def split(
    frame: pd.DataFrame, how: str, fractions: tuple[float, float, float], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train/validation/test frames, stratified by label or in time order (fintrade_datasets' rules)."""
    from fintrade_datasets.splits import split_dataset

    parts = split_dataset(frame, how=how, fractions=fractions, seed=seed)  # type: ignore[arg-type]
    return tuple(parts[name].reset_index(drop=True) for name in ("train", "validation", "test"))  # type: ignore[return-value]


def dataset_hash(frame: pd.DataFrame) -> str:
    """The fintrade_datasets content hash of the rows used (text and label, in order)."""
    from fintrade_datasets.splits import dataset_hash as rows_hash

    return str(rows_hash(frame))


def latest_date(frame: pd.DataFrame) -> str | None:
    """The newest ``published_at`` in the data (a model trained on it may know up to then)."""
    from fintrade_datasets.splits import latest_date as newest

    found = newest(frame)
    return None if found is None else found.isoformat()
