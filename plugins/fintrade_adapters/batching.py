"""Batches of example indices, grouped by length so that little compute is spent on padding."""

from __future__ import annotations

import random
from collections.abc import Sequence

MEGABATCH = 50
"""Examples are sorted by length within windows of ``MEGABATCH`` batches: long enough to group
similar lengths, short enough that the order stays random across the epoch."""


def length_batches(
    lengths: Sequence[int], batch_size: int, *, shuffle: bool, seed: int, bucket: bool
) -> list[list[int]]:
    """Indices split into batches; with ``bucket``, each batch holds examples of similar length.

    Without ``shuffle`` the order is deterministic (evaluation): sorted by length when
    bucketing, else the original order.
    """
    indices = list(range(len(lengths)))
    rng = random.Random(seed)
    if shuffle:
        rng.shuffle(indices)
    if bucket:
        window = batch_size * MEGABATCH if shuffle else len(indices)
        indices = [
            i
            for start in range(0, len(indices), max(window, 1))
            for i in sorted(indices[start : start + window], key=lambda j: lengths[j])
        ]
    batches = [indices[start : start + batch_size] for start in range(0, len(indices), batch_size)]
    if shuffle and bucket:
        # Sorted windows would otherwise feed short batches first, then long ones, every epoch.
        rng.shuffle(batches)
    return batches
