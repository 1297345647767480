"""Train/validation/test splits of a labelled dataset, and what a manifest records about it.

Labelled datasets come from the ``fintrade_datasets`` hook (``registry.datasets``); what a
trainer or an evaluator does with their rows is here, in the public API, so that a training
plugin needs no dataset plugin's modules (``from fintrade.datasets import ...``):

- :func:`split_dataset`: stratified by label (shuffled by a seed) or in time order;
- :func:`dataset_hash`: a SHA-256 of the rows' text and label, in order, for manifests;
- :func:`latest_date`: the newest ``published_at``, i.e. how far into the future a model
  trained on the data may have seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from fintrade.errors import ConfigError, DataError, did_you_mean

SPLIT_NAMES: tuple[str, str, str] = ("train", "validation", "test")
HOWS: tuple[str, ...] = ("stratified", "time")
HASH_VERSION = b"fintrade-dataset-hash-v1\n"


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    try:
        parts = tuple(float(part) for part in fractions)
    except (TypeError, ValueError):
        raise ConfigError(
            f"split_dataset: fractions must be three numbers (train, validation, test), got {fractions!r}"
        ) from None
    if len(parts) != 3 or any(not part > 0 for part in parts) or abs(sum(parts) - 1.0) > 1e-9:
        raise ConfigError(
            "split_dataset: fractions must be three numbers above 0 that add up to 1 "
            f"(train, validation, test), got {tuple(fractions)!r}"
        )
    return parts[0], parts[1], parts[2]


def _cuts(count: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Where train ends and validation ends among ``count`` rows.

    Rounding the cumulative share (not each share) keeps every piece within one row of its
    exact size and the three pieces adding up to ``count``.
    """
    first = round(count * fractions[0])
    second = round(count * (fractions[0] + fractions[1]))
    return first, max(first, second)


def _stratified_positions(labels: np.ndarray, fractions: tuple[float, float, float], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    pieces: list[list[np.ndarray]] = [[], [], []]
    # Classes in sorted order and one generator: the same seed and frame give the same split.
    for label in sorted(set(labels.tolist())):
        positions = rng.permutation(np.flatnonzero(labels == label))
        first, second = _cuts(len(positions), fractions)
        for piece, chunk in zip(pieces, (positions[:first], positions[first:second], positions[second:]), strict=True):
            piece.append(chunk)
    # Back in the frame's order, so a split reads like the source (and stays time-ordered if it was).
    return [np.sort(np.concatenate(chunks)) for chunks in pieces]


def _time_positions(frame: pd.DataFrame, fractions: tuple[float, float, float]) -> list[np.ndarray]:
    if "published_at" not in frame.columns:
        raise DataError(
            "split_dataset: how='time' needs a 'published_at' column and this dataset has no dates; "
            "use how='stratified'"
        )
    published = frame["published_at"]
    if not pd.api.types.is_datetime64_any_dtype(published.dtype):
        raise DataError(f"split_dataset: column 'published_at' must hold timestamps, not {published.dtype}")
    undated = int(published.isna().sum())
    if undated:
        raise DataError(
            f"split_dataset: how='time' needs a date on every row; {undated} of {len(frame)} rows have no published_at"
        )
    # Stable: rows published at the same time keep the frame's order.
    order = np.argsort(published.to_numpy(), kind="stable")
    first, second = _cuts(len(order), fractions)
    return [order[:first], order[first:second], order[second:]]


def split_dataset(
    frame: pd.DataFrame,
    *,
    how: Literal["stratified", "time"] = "stratified",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Split ``frame`` into ``{"train": ..., "validation": ..., "test": ...}``; no row is in two.

    ``how="stratified"`` shuffles each label's rows with ``seed`` and cuts them by
    ``fractions``, so every split keeps the label proportions: each label's count in a split
    is within one row of its exact share, and the same seed always gives the same split. The
    rows of each split keep the frame's order.

    ``how="time"`` sorts by ``published_at`` (rows with equal times keep their order) and cuts
    it, so every training row is no later than every validation row, and every validation
    row no later than every test row; ``seed`` is not used. Prefer it whenever the data has
    dates: a random split lets a model learn from the future of its test set.

    Frames keep the original index labels (use ``reset_index(drop=True)`` for 0..n-1).
    An empty frame, a split that would be empty, fractions that are not three positive
    numbers adding up to 1, or an unknown ``how`` are errors.
    """
    if how not in HOWS:
        raise ConfigError(
            f"split_dataset: unknown how={how!r}{did_you_mean(str(how), HOWS)}; use 'stratified' or 'time'"
        )
    parts = _check_fractions(fractions)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"split_dataset: seed must be an int, got {seed!r}")
    if len(frame) == 0:
        raise DataError("split_dataset: the dataset is empty; there is nothing to split")
    if how == "time":
        positions = _time_positions(frame, parts)
    else:
        if "label" not in frame.columns:
            raise DataError("split_dataset: how='stratified' needs a 'label' column")
        positions = _stratified_positions(frame["label"].astype(str).to_numpy(), parts, int(seed))
    for name, fraction, chosen in zip(SPLIT_NAMES, parts, positions, strict=True):
        if len(chosen) == 0:
            raise DataError(
                f"split_dataset: the {name} split would be empty ({fraction:.0%} of {len(frame)} rows); "
                f"use more rows or a larger {name} fraction"
            )
    return {name: frame.iloc[chosen] for name, chosen in zip(SPLIT_NAMES, positions, strict=True)}


def dataset_hash(frame: pd.DataFrame) -> str:
    """SHA-256 (64 hex digits) of the rows' ``text`` and ``label``, in row order.

    Order-dependent on purpose: it identifies the exact sequence a model was trained or
    evaluated on, so the same rows shuffled give a different hash (hash each split you use,
    or sort first if you want a set hash). Other columns (``id``, ``published_at``) and the
    index are not included. Each field is length-prefixed, so no text can imitate a row
    boundary, and the encoding is versioned, so a future change cannot collide silently.
    """
    missing = [column for column in ("text", "label") if column not in frame.columns]
    if missing:
        raise DataError(f"dataset_hash: the frame has no {' or '.join(missing)} column")
    digest = hashlib.sha256(HASH_VERSION)
    for text, label in zip(frame["text"].tolist(), frame["label"].tolist(), strict=True):
        for field in (str(text).encode("utf-8"), str(label).encode("utf-8")):
            digest.update(b"%d:" % len(field))
            digest.update(field)
    return digest.hexdigest()


def latest_date(frame: pd.DataFrame) -> pd.Timestamp | None:
    """The newest ``published_at`` (UTC), or ``None`` when the frame has no dates.

    A model trained on this data may know about events up to this time; a backtest window
    before it is not out of sample for that model.
    """
    if "published_at" not in frame.columns or len(frame) == 0:
        return None
    latest = frame["published_at"].max()
    if pd.isna(latest):
        return None
    stamp = pd.Timestamp(latest)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


__all__ = ["dataset_hash", "latest_date", "split_dataset"]
