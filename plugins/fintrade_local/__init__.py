"""Built-in plugin: bars and documents from files on disk.

Data source ``local`` (:func:`load_local_bars`): CSV or Parquet OHLCV files, one per symbol.
Text source ``local-documents`` (:func:`load_local_documents`): CSV or JSON-lines documents.

Example strategy settings::

    source = "local"
    source_options = {"path": "~/data/daily", "adjusted": True}
    text_source = "local-documents"
    text_options = {"path": "~/data/news.jsonl"}

The CLI imports every built-in plugin to build its command list, so this module imports no
pandas: the readers live in submodules, imported when a source is first loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import fintrade
from fintrade.deferred import deferred, lazy_exports
from fintrade.types import DataSource, TextSource

if TYPE_CHECKING:
    from fintrade_local.bar_files import load_local_bars, read_bar_file
    from fintrade_local.document_files import document_id, load_local_documents, read_document_file

# A file holds whatever interval it was written at; the source does not resample, so it
# accepts the usual ones and returns the file's own bars.
INTERVALS: tuple[str, ...] = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")

_PUBLIC: dict[str, str] = {
    "load_local_bars": "fintrade_local.bar_files",
    "read_bar_file": "fintrade_local.bar_files",
    "document_id": "fintrade_local.document_files",
    "load_local_documents": "fintrade_local.document_files",
    "read_document_file": "fintrade_local.document_files",
}


__getattr__ = lazy_exports(__name__, _PUBLIC)


@fintrade.hookimpl
def fintrade_data_sources() -> Iterator[DataSource]:
    """The ``local`` data source."""
    yield DataSource(
        name="local",
        load=deferred("fintrade_local.bar_files:load_local_bars"),
        description="OHLCV bars from CSV or Parquet files (option path: a file, or a directory of <SYMBOL>.csv)",
        intervals=INTERVALS,
    )


@fintrade.hookimpl
def fintrade_text_sources() -> Iterator[TextSource]:
    """The ``local-documents`` text source."""
    yield TextSource(
        name="local-documents",
        load=deferred("fintrade_local.document_files:load_local_documents"),
        description="Documents from CSV or JSON-lines files (published_at, symbol, text[, source, id])",
    )


__all__ = [
    "INTERVALS",
    "document_id",
    "fintrade_data_sources",
    "fintrade_text_sources",
    "load_local_bars",
    "load_local_documents",
    "read_bar_file",
    "read_document_file",
]
