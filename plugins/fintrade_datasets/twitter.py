"""The ``twitter-fin`` dataset: Twitter Financial News Sentiment, train split, bundled (MIT).

9,543 finance-news tweets (cashtags, t.co links) labelled by the dataset's author:
1,442 negative (``0`` = Bearish), 1,923 positive (``1`` = Bullish) and 6,178 neutral
(``2`` = Neutral). Only the published train split is bundled; hold out validation and test
rows from it with :func:`fintrade_datasets.splits.split_dataset`. No options, no dates.
Provenance and licence: ``data/twitter_financial_news/README.md`` and ``LICENSE``.

The file is read through :mod:`importlib.resources`, so it works from a checkout, a wheel
or a zip.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import pandas as pd

from fintrade.errors import DataError
from fintrade.options import check_option_names
from fintrade_datasets.labelled import labelled_frame
from fintrade_datasets.labels import sentiment_labels

DATASET = "dataset 'twitter-fin'"
FOLDER = "twitter_financial_news"
FILE_NAME = "sent_train.csv"
LABEL_MAP: dict[str, str] = {"0": "negative", "1": "positive", "2": "neutral"}
"""The dataset card's numbering: 0 Bearish, 1 Bullish, 2 Neutral (not the PhraseBank order)."""


def data_file() -> Traversable:
    """The bundled ``sent_train.csv``."""
    return resources.files("fintrade_datasets").joinpath("data", FOLDER, FILE_NAME)


@lru_cache(maxsize=1)
def _tweets() -> pd.DataFrame:
    with data_file().open("rb") as handle:
        # As text: a tweet reading "NA" or "null" is a tweet, not a missing value.
        raw = pd.read_csv(handle, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(raw.columns) != ["text", "label"]:
        raise DataError(f"{DATASET}: the bundled {FILE_NAME} has columns {list(raw.columns)}, expected text, label")
    texts = raw["text"].tolist()
    rows = range(1, len(texts) + 1)
    labels = sentiment_labels(raw["label"].tolist(), rows, label_map=LABEL_MAP, where=DATASET, column="label")
    return labelled_frame(texts, labels)


def load_twitter_fin(options: Mapping[str, Any]) -> pd.DataFrame:
    """The ``twitter-fin`` dataset's ``load`` (no options): ``text``, ``label``, ``id``, in file order."""
    check_option_names(options, (), DATASET)
    return _tweets().copy()
