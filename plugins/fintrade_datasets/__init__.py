"""Built-in plugin: labelled financial text for ``fintrade train`` and ``fintrade evaluate``.

Every dataset is for the ``sentiment`` task with labels ``("negative", "neutral",
"positive")``. ``load(options)`` returns a frame with ``text`` (str), ``label`` (one of those
three strings), ``published_at`` (UTC, only when the data has dates) and ``id`` (str, stable
and unique), in the source's order.

``phrasebank`` (:mod:`fintrade_datasets.phrasebank`)
    Financial PhraseBank v1.0 (Malo et al. 2014), CC BY-NC-SA 3.0: **not bundled** (non-
    commercial), read from option ``path``, ``$FINTRADE_PHRASEBANK_DIR`` or
    ``../shared/data/financial_phrasebank_v1.0``. Options ``agreement`` (``"all"``
    (default), ``"75"``, ``"66"``, ``"50"``), ``dedupe`` (default ``True``: drop repeated
    rows and sentences with conflicting labels), ``path``. No dates.
``twitter-fin`` (:mod:`fintrade_datasets.twitter`)
    Twitter Financial News Sentiment, published train split, 9,543 tweets, MIT, bundled.
    No options, no dates.
``csv`` and ``jsonl`` (:mod:`fintrade_datasets.labelled_files`)
    your own file. Options ``path`` (required), ``text_column`` (``"text"``),
    ``label_column`` (``"label"``), ``date_column`` (gives ``published_at``), ``id_column``,
    ``label_map`` (raw label -> negative/neutral/positive), ``encoding`` (``"utf-8"``).

Example, in a plugin handed ``registry`` (a :class:`fintrade.registry.Registry`, as training
methods are: see :class:`fintrade.types.AdapterMethod`)::

    from fintrade.datasets import split_dataset

    frame = registry.datasets.get("phrasebank").load({"agreement": "75"})
    parts = split_dataset(frame, how="stratified", seed=0)  # train / validation / test

:mod:`fintrade_datasets.splits` holds the public helpers ``split_dataset``,
``dataset_hash`` and ``latest_date`` (also importable from this package).

The CLI imports every built-in plugin to build its command list, so this module imports no
pandas: the readers live in submodules, imported when a dataset is first loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import fintrade
from fintrade.deferred import deferred, lazy_exports
from fintrade.types import Dataset
from fintrade_datasets.labels import SENTIMENT_LABELS

if TYPE_CHECKING:
    from fintrade_datasets.splits import dataset_hash, latest_date, split_dataset

_PUBLIC: dict[str, str] = {
    "dataset_hash": "fintrade_datasets.splits",
    "latest_date": "fintrade_datasets.splits",
    "split_dataset": "fintrade_datasets.splits",
}

__getattr__ = lazy_exports(__name__, _PUBLIC)

TASK = "sentiment"
FILE_OPTIONS = (
    "options: path (required), text_column='text', label_column='label', date_column (-> published_at), "
    "id_column, label_map (raw label -> negative/neutral/positive; needed for numeric labels), encoding='utf-8'"
)


@fintrade.hookimpl
def fintrade_datasets() -> Iterator[Dataset]:
    """The ``phrasebank``, ``twitter-fin``, ``csv`` and ``jsonl`` datasets."""
    yield Dataset(
        name="phrasebank",
        load=deferred("fintrade_datasets.phrasebank:load_phrasebank"),
        task=TASK,
        labels=SENTIMENT_LABELS,
        description=(
            "Financial PhraseBank v1.0 sentences (2,264 to 4,846), not bundled: read from option path, "
            "$FINTRADE_PHRASEBANK_DIR or ../shared/data/financial_phrasebank_v1.0; options: "
            "agreement='all'|'75'|'66'|'50', dedupe=True (drop repeated rows and conflicting sentences), path"
        ),
        licence="CC BY-NC-SA 3.0 (non-commercial)",
    )
    yield Dataset(
        name="twitter-fin",
        load=deferred("fintrade_datasets.twitter:load_twitter_fin"),
        task=TASK,
        labels=SENTIMENT_LABELS,
        description="Twitter Financial News Sentiment, published train split (9,543 tweets), bundled; no options",
        licence="MIT",
    )
    yield Dataset(
        name="csv",
        load=deferred("fintrade_datasets.labelled_files:load_csv_dataset"),
        task=TASK,
        labels=SENTIMENT_LABELS,
        description=f"Labelled text from a CSV file (.csv, .csv.gz); {FILE_OPTIONS}",
        licence="your data's own",
    )
    yield Dataset(
        name="jsonl",
        load=deferred("fintrade_datasets.labelled_files:load_jsonl_dataset"),
        task=TASK,
        labels=SENTIMENT_LABELS,
        description=f"Labelled text from a JSON-lines file (.jsonl, .ndjson, .jsonl.gz); {FILE_OPTIONS}",
        licence="your data's own",
    )


__all__ = ["SENTIMENT_LABELS", "dataset_hash", "fintrade_datasets", "latest_date", "split_dataset"]
