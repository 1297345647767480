"""The core owns point-in-time alignment: text models score documents, the core places them.

A document-scoring model (``SignalModel.score_documents``) is handed the prepared documents and
returns one score per document; the core refuses scores for documents it did not hand over and
decides alone which bar each score reaches, so a model that never calls an alignment function
is point-in-time anyway and one that tries to move its scores earlier cannot. A per-bar model
that reads documents is probed by the backtest: its scores must not move when the latest
documents are withheld.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fintrade
from fintrade.alignment import ALIGNMENT_DEFAULTS, Alignment, align_scores, available_bar, bar_close_times
from fintrade.errors import ConfigError, PluginError
from fintrade.registry import Registry
from fintrade.sweep import compute_signal
from fintrade.types import ScoredDocuments, Signal, SignalInput, SignalModel

SYMBOLS = ["AAA", "BBB"]
# Most tests hand raw documents, one of them after the last close: the drop warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::fintrade.alignment.AlignmentWarning")


def _inputs(synthetic_bars: Callable[..., dict[str, pd.DataFrame]], documents: pd.DataFrame | None) -> SignalInput:
    bars = synthetic_bars(SYMBOLS, n_bars=12, start="2024-03-01")
    index = next(iter(bars.values())).index
    return SignalInput(bars=bars, documents=documents, close_times=bar_close_times(index, "1d"))


def _documents(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(published_at, symbol, text) rows; ids d0, d1, ..."""
    return pd.DataFrame(
        {
            "published_at": pd.to_datetime([row[0] for row in rows], utc=True, format="ISO8601"),
            "symbol": [row[1] for row in rows],
            "text": [row[2] for row in rows],
            "source": "test",
            "id": [f"d{i}" for i in range(len(rows))],
        }
    )


# Bars open at midnight UTC and close at the next midnight: bar 0 is 2024-03-01, closing 03-02 00:00.
NEWS = _documents(
    [
        ("2024-03-01 10:00", "AAA", "AAA up"),  # known by bar 0's close
        ("2024-03-02 00:00:01", "AAA", "AAA down"),  # one second after bar 0's close: bar 1
        ("2024-03-03 23:00", "BBB", "BBB up"),  # bar 2, or bar 3 with a lag over an hour
        ("2024-03-05 12:00", "", "market up"),  # the whole market, bar 4
        ("2024-03-20 12:00", "AAA", "AAA up"),  # after the last bar's close (bar 11 closes 03-13)
    ]
)


def _word_scores(documents: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """A naive text model: no alignment call, no lag handling, just a score per document."""
    score = documents["text"].str.endswith("up").map({True: 1.0, False: -1.0})
    return pd.DataFrame({"id": documents["id"], "score": score, "confidence": 0.5})


def _model(score_documents: Callable[..., Any], name: str = "words", **defaults: Any) -> SignalModel:
    return SignalModel(name=name, score_documents=score_documents, defaults=defaults)


def _one(model: SignalModel, inputs: SignalInput, **params: Any) -> pd.DataFrame:
    """The score frame of one parameter set, symbol columns, as a backtest computes it."""
    signal = compute_signal(model, inputs, [{**model.defaults, **params}], model.name, probe=True)
    return signal.score.droplevel("combo", axis=1)


def test_a_model_that_never_aligns_gets_point_in_time_scores(synthetic_bars) -> None:
    inputs = _inputs(synthetic_bars, NEWS)
    score = _one(_model(_word_scores), inputs)
    assert score["AAA"].iloc[0] == 1.0  # published during bar 0
    assert score["AAA"].iloc[1] == -1.0  # one second after bar 0's close: only bar 1
    assert score["BBB"].iloc[2] == 1.0
    assert score["AAA"].iloc[4] == 1.0 and score["BBB"].iloc[4] == 1.0  # market-wide news
    assert int(score.notna().sum().sum()) == 5  # nothing else, and the news after the last close nowhere

    # The availability lag is the core's parameter, though the model never declared it.
    lagged = _one(_model(_word_scores), inputs, lag="2h")
    assert np.isnan(lagged["BBB"].iloc[2]) and lagged["BBB"].iloc[3] == 1.0


def test_document_models_get_the_core_alignment_parameters_and_never_see_them(synthetic_bars) -> None:
    seen: list[dict[str, Any]] = []

    def scores(documents: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
        seen.append(dict(params))
        return _word_scores(documents, params)

    model = _model(scores, threshold=0.5)
    assert dict(model.defaults) == {"threshold": 0.5, **ALIGNMENT_DEFAULTS} and model.needs_documents
    assert Alignment(**ALIGNMENT_DEFAULTS) == Alignment()  # one set of defaults
    grid = [
        {**model.defaults, "lag": lag, "half_life": half_life} for lag in ("0s", "2h") for half_life in (None, "1D")
    ]
    signal = compute_signal(model, _inputs(synthetic_bars, NEWS), grid, "words")
    assert seen == [{"threshold": 0.5}]  # scored once for the four alignments, without their parameters
    assert signal.score.shape == (12, 4 * len(SYMBOLS))


def test_the_documents_handed_over_are_prepared_and_only_those_that_can_reach_a_bar(synthetic_bars) -> None:
    handed: list[pd.DataFrame] = []

    def scores(documents: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
        handed.append(documents)
        return _word_scores(documents, params)

    foreign = pd.concat([NEWS, _documents([("2024-03-04 12:00", "ZZZ", "ZZZ up")]).assign(id="z")])
    with pytest.warns(UserWarning, match="about symbols not traded"):
        _one(_model(scores), _inputs(synthetic_bars, foreign.iloc[::-1]))
    documents = handed[0]
    assert list(documents["id"]) == ["d0", "d1", "d2", "d3"]  # sorted, no ZZZ, nothing after the last close
    assert str(documents["published_at"].dt.tz) == "UTC"


class Words:
    @fintrade.hookimpl
    def fintrade_signal_models(self) -> Iterator[SignalModel]:
        yield _model(_word_scores)


def test_documents_the_core_loaded_are_prepared_once(register_plugin, monkeypatch) -> None:
    from fintrade import alignment
    from fintrade.data import load_signal_inputs
    from fintrade.registry import get_registry
    from fintrade.strategy import Strategy, signal

    register_plugin(Words(), name="words-plugin")

    class News(Strategy):
        symbols = ["AAA", "BBB"]
        source = "synthetic"
        source_options = {"bars": 60, "seed": 3}
        text_source = "synthetic-news"
        text_options = {"bars": 60, "seed": 3}
        signals = [signal("words")]

    registry = get_registry()
    inputs, _ = load_signal_inputs(News(), registry)
    calls: list[str] = []
    monkeypatch.setattr(alignment, "prepare_documents", lambda *args, **kwargs: calls.append("again"))
    signal_ = compute_signal(registry.signal_models.get("words"), inputs, [dict(ALIGNMENT_DEFAULTS)], "words")
    assert calls == [] and signal_.score.notna().any().any()


def test_scores_for_documents_the_model_was_not_given_are_refused_naming_it(synthetic_bars) -> None:
    future = NEWS.iloc[[4]]  # the model knows of a document from after the last bar's close

    def peeking(documents: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
        return _word_scores(pd.concat([documents, future]), params)

    with pytest.raises(PluginError) as error:
        _one(_model(peeking, name="peeker"), _inputs(synthetic_bars, NEWS))
    assert str(error.value) == (
        "signal model 'peeker' (signal 'peeker') returned scores for 1 document(s) it was not given "
        "(first: 'd4'); a text model scores only the documents the core hands it"
    )


def test_a_model_cannot_move_its_scores_to_earlier_bars(synthetic_bars) -> None:
    def backdating(documents: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
        # Claims every document was known a day earlier and names the bar it wants: ignored.
        scored = _word_scores(documents, params)
        return scored.assign(published_at=documents["published_at"] - pd.Timedelta("1D"), bar=0)

    inputs = _inputs(synthetic_bars, NEWS)
    pd.testing.assert_frame_equal(_one(_model(backdating), inputs), _one(_model(_word_scores), inputs))


def test_bad_document_scores_are_refused_naming_the_model(synthetic_bars) -> None:
    inputs = _inputs(synthetic_bars, NEWS)

    def message(score_documents: Callable[..., Any]) -> str:
        with pytest.raises(PluginError) as error:
            _one(_model(score_documents, name="bad"), inputs)
        return str(error.value)

    assert message(lambda documents, params: _word_scores(documents, params).assign(score=2.0)) == (
        "signal model 'bad' (signal 'bad') returned document scores that are not finite numbers in [-1, 1]"
    )
    twice = lambda documents, params: pd.concat([_word_scores(documents, params)] * 2)  # noqa: E731
    assert message(twice) == "signal model 'bad' (signal 'bad') returned more than one score for document 'd0'"
    assert message(lambda documents, params: documents[["id"]]) == (
        "signal model 'bad' (signal 'bad') returned document scores without column(s) score"
    )
    assert message(lambda documents, params: [0.5] * len(documents)) == (
        "signal model 'bad' (signal 'bad') returned list, expected a DataFrame with columns id, score "
        "and optionally confidence"
    )


def test_unscored_documents_count_for_nothing_and_a_cutoff_is_kept(synthetic_bars) -> None:
    def some(documents: pd.DataFrame, params: Mapping[str, Any]) -> ScoredDocuments:
        scored = _word_scores(documents, params)
        return ScoredDocuments(scored[scored["id"] != "d0"], knowledge_cutoff=pd.Timestamp("2024-03-04", tz="UTC"))

    model = _model(some)
    signal = compute_signal(model, _inputs(synthetic_bars, NEWS), [dict(model.defaults)], "some")
    assert np.isnan(signal.score[(0, "AAA")].iloc[0]) and signal.score[(0, "AAA")].iloc[1] == -1.0
    assert signal.knowledge_cutoff == pd.Timestamp("2024-03-04", tz="UTC")


def test_a_document_model_without_a_text_source_gets_one_line(synthetic_bars) -> None:
    with pytest.raises(ConfigError) as error:
        _one(_model(_word_scores), _inputs(synthetic_bars, None))
    assert str(error.value) == (
        "signal model 'words' (signal 'words'): signal model 'words' scores documents but the strategy has no "
        'text source: set `text_source` (e.g. text_source = "sample-tweets")'
    )


def test_a_signal_model_needs_compute_or_score_documents() -> None:
    with pytest.raises(PluginError, match=r"signal model 'empty': give compute .* or score_documents"):
        SignalModel(name="empty")


# --- per-bar models that read documents ------------------------------------------------------


def _per_bar(inputs: SignalInput, bar: np.ndarray) -> Signal:
    documents = inputs.documents
    score = np.full((len(inputs.index), len(inputs.symbols)), np.nan)
    for j, symbol in enumerate(inputs.symbols):
        rows = bar[((documents["symbol"] == symbol) | (documents["symbol"] == "")).to_numpy() & (bar >= 0)]
        counts = np.bincount(rows, minlength=len(inputs.index)).astype(float)
        score[:, j] = np.where(counts > 0, np.tanh(counts), np.nan)
    return Signal.certain(pd.DataFrame(score, index=inputs.index, columns=inputs.symbols))


def _honest(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    return _per_bar(inputs, available_bar(inputs.documents["published_at"], inputs.closes_at))


def _one_bar_early(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    # A per-bar score at bar t from a document published after t's close.
    return _per_bar(inputs, available_bar(inputs.documents["published_at"], inputs.closes_at) - 1)


class PerBarNews:
    @fintrade.hookimpl
    def fintrade_signal_models(self) -> Iterator[SignalModel]:
        yield SignalModel("news-count", _honest, needs_documents=True)
        yield SignalModel("news-count-early", _one_bar_early, needs_documents=True)


def test_a_per_bar_model_using_later_documents_is_refused_by_the_backtest(synthetic_bars, register_plugin) -> None:
    from fintrade.registry import get_registry

    register_plugin(PerBarNews(), name="per-bar-news")
    registry: Registry = get_registry()
    inputs = _inputs(synthetic_bars, NEWS)
    honest = _one(registry.signal_models.get("news-count"), inputs)
    assert honest["AAA"].iloc[1] == np.tanh(1.0)
    with pytest.raises(PluginError) as error:
        _one(registry.signal_models.get("news-count-early"), inputs)
    assert str(error.value).startswith(
        "signal model 'news-count-early' (signal 'news-count-early') is not point-in-time: its score at bar "
        "2024-03-04 00:00:00+00:00 changes when the documents published after the close of bar "
        "2024-03-04 00:00:00+00:00 are withheld"
    )
    # Without the probe (what `fintrade check` computes, to report where it leaks) it runs.
    model = registry.signal_models.get("news-count-early")
    compute_signal(model, inputs, [{}], "early")


def test_core_alignment_equals_align_scores_on_the_same_scores(synthetic_bars) -> None:
    inputs = _inputs(synthetic_bars, NEWS)
    alignment = Alignment(lag="30min", half_life="1D", no_news="carry")
    by_core = _one(_model(_word_scores), inputs, lag="30min", half_life="1D", no_news="carry")
    documents = NEWS.iloc[:4].assign(score=[1.0, -1.0, 1.0, 1.0], confidence=0.5)
    by_hand = align_scores(documents, inputs.closes_at, SYMBOLS, alignment, index=inputs.index).score
    pd.testing.assert_frame_equal(by_core, by_hand, check_names=False)
