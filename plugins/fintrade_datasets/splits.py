"""Train/validation/test splits of a labelled dataset: :mod:`fintrade.datasets`, under its old name.

The helpers moved to the public API so that trainers in other plugins can use them;
``from fintrade_datasets.splits import split_dataset`` (and ``from fintrade_datasets import
split_dataset``) keep working.
"""

from __future__ import annotations

from fintrade.datasets import HOWS, SPLIT_NAMES, dataset_hash, latest_date, split_dataset

__all__ = ["HOWS", "SPLIT_NAMES", "dataset_hash", "latest_date", "split_dataset"]
