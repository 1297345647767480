"""Every hook fintrade calls, in one place.

Plugins implement these with :data:`fintrade.hookimpl`. Each ``fintrade_*`` discovery hook
returns an iterable of frozen records from :mod:`fintrade.types`; the core collects them from
every plugin, validates the names (lower case, unique) and builds the registry. A name
provided twice is an error that names every provider.

Example, a complete plugin module::

    import fintrade
    from fintrade.types import DataSource

    @fintrade.hookimpl
    def fintrade_data_sources():
        yield DataSource(name="my-csv", load=load_my_csv, description="Bars from my CSVs")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from fintrade.types import (
    AdapterMethod,
    Aggregator,
    CostPreset,
    Dataset,
    DataSource,
    SignalModel,
    TextSource,
)

if TYPE_CHECKING:
    import typer

PROJECT_NAME = "fintrade"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def fintrade_data_sources() -> Iterable[DataSource]:
    """Provide sources of OHLCV bars.

    Called once, when the registry is first built. Return (or yield) :class:`DataSource`
    records; ``load(request)`` is only called when a strategy uses the source.

    Example::

        @hookimpl
        def fintrade_data_sources():
            yield DataSource(name="my-exchange", load=fetch_bars, intervals=("1m", "1h", "1d"))
    """


@hookspec
def fintrade_text_sources() -> Iterable[TextSource]:
    """Provide sources of timestamped documents (news, tweets, filings).

    Called once, when the registry is built. ``load(request)`` returns a frame with
    ``published_at`` (UTC), ``symbol``, ``text``, ``source`` and ``id``.

    Example::

        @hookimpl
        def fintrade_text_sources():
            yield TextSource(name="my-news", load=load_news)
    """


@hookspec
def fintrade_datasets() -> Iterable[Dataset]:
    """Provide labelled text datasets for ``fintrade train`` and ``fintrade evaluate``.

    Called once, when the registry is built. ``load(options)`` returns ``text`` and
    ``label`` columns (``published_at`` too when known, so splits can be time-ordered).

    Example::

        @hookimpl
        def fintrade_datasets():
            yield Dataset(name="my-labels", load=read_labels, labels=("negative", "neutral", "positive"))
    """


@hookspec
def fintrade_adapter_methods() -> Iterable[AdapterMethod]:
    """Provide ways to adapt a base model (LoRA, QLoRA, prefix tuning, distillation, ...).

    Called once, when the registry is built. ``train(config)`` trains and writes an artifact
    directory; heavy libraries must be imported inside ``train``, not at module level.

    Example::

        @hookimpl
        def fintrade_adapter_methods():
            yield AdapterMethod(name="my-ia3", train=train_ia3)
    """


@hookspec
def fintrade_signal_models() -> Iterable[SignalModel]:
    """Provide models that turn bars and/or documents into scores in [-1, 1].

    Called once, when the registry is built. A per-bar model gives ``compute(inputs, params)``,
    which must be point-in-time: the score at bar t may use only what was known at t's close.
    A text model gives ``score_documents(documents, params)`` instead: it receives the documents
    the core prepared and returns one score per document (columns ``id``, ``score``,
    ``confidence``); the core refuses scores for documents it did not hand over and aligns the
    rest to bar closes itself, with the ``lag``, ``weighting``, ``half_life`` and ``no_news``
    parameters it adds to the model's defaults.

    Example::

        @hookimpl
        def fintrade_signal_models():
            yield SignalModel(name="my-rule", compute=my_rule, defaults={"window": 20})
            yield SignalModel(name="my-words", score_documents=score_each_document)
    """


@hookspec
def fintrade_aggregators() -> Iterable[Aggregator]:
    """Provide ways to combine several signals into one.

    Called once, when the registry is built. ``combine(signals, params)`` receives signals
    with identical index and columns and returns one :class:`~fintrade.types.Signal`.

    Example::

        @hookimpl
        def fintrade_aggregators():
            yield Aggregator(name="max-abs", combine=strongest_signal)
    """


@hookspec
def fintrade_cost_presets() -> Iterable[CostPreset]:
    """Provide named cost assumptions for a venue (maker/taker fees, typical slippage).

    Called once, when the registry is built. A strategy uses one by name:
    ``costs = "bybit-linear-taker"``; reports and manifests show the resolved numbers.

    Example::

        @hookimpl
        def fintrade_cost_presets():
            yield CostPreset("my-broker", Costs(fees=0.0005, fixed_fees=1.0))
    """


@hookspec
def fintrade_register_commands(app: typer.Typer) -> None:
    """Add commands to the ``fintrade`` CLI.

    Called once while the CLI starts, with the root Typer app. Keep imports inside the
    command functions so that ``fintrade --help`` stays fast.

    Example::

        @hookimpl
        def fintrade_register_commands(app):
            @app.command()
            def hello(name: str) -> None:
                print(f"hello {name}")
    """
