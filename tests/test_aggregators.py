"""Aggregators: time-decay by hand, and every aggregator across technical and NaN-heavy document signals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fintrade_synthetic import make_documents, make_market

from fintrade.alignment import align_scores, bar_close_times
from fintrade.errors import ConfigError, DataError
from fintrade.registry import Registry
from fintrade.types import Signal, SignalInput

AGGREGATORS = ("mean", "confidence-vote", "majority", "time-decay")
NAN = np.nan


def _frame(values: list[float]) -> pd.DataFrame:
    index = pd.date_range("2020-01-01", periods=len(values), tz="UTC")
    return pd.DataFrame({"X": values}, index=index)


def _signal(scores: list[float], confidences: list[float]) -> Signal:
    return Signal(_frame(scores), _frame(confidences))


def test_time_decay_by_hand(core_registry: Registry) -> None:
    news = _signal([NAN, 0.8, NAN, NAN, -0.4, NAN], [NAN, 1.0, NAN, NAN, 0.5, NAN])
    decayed = core_registry.aggregators.get("time-decay").combine([news], {"half_life": 2})
    fade = 2**-0.5  # one bar at a half-life of two bars
    np.testing.assert_allclose(decayed.score["X"], [NAN, 0.8, 0.8 * fade, 0.4, -0.4, -0.4 * fade])
    np.testing.assert_allclose(decayed.confidence["X"], [NAN, 1.0, fade, 0.5, 0.5, 0.5 * fade])


def test_time_decay_combines_first(core_registry: Registry) -> None:
    # Bar 0: only a speaks. Bar 1: a = 0.6 (confidence 1) and b = -0.2 (confidence 0.5). Bar 2: silence.
    a = _signal([1.0, 0.6, NAN], [0.5, 1.0, NAN])
    b = _signal([NAN, -0.2, NAN], [NAN, 0.5, NAN])
    combine = core_registry.aggregators.get("time-decay").combine
    by_mean = combine([a, b], {"half_life": 1})  # default combine: mean
    np.testing.assert_allclose(by_mean.score["X"], [1.0, 0.2, 0.1])
    np.testing.assert_allclose(by_mean.confidence["X"], [0.5, 0.75, 0.375])
    by_vote = combine([a, b], {"half_life": 1, "combine": "confidence-vote"})
    vote = (0.6 * 1.0 - 0.2 * 0.5) / 1.5
    agreement = (1.0 - 0.5) / 1.5 * 1.0  # net sign weight / total weight, times the strongest confidence
    np.testing.assert_allclose(by_vote.score["X"], [1.0, vote, vote / 2])
    np.testing.assert_allclose(by_vote.confidence["X"], [0.5, agreement, agreement / 2])


def test_time_decay_uses_no_later_bar(core_registry: Registry) -> None:
    rng = np.random.default_rng(3)
    scores = np.where(rng.random(60) < 0.2, rng.uniform(-1, 1, 60), NAN)
    signal = _signal(scores.tolist(), np.where(np.isnan(scores), NAN, 0.7).tolist())
    combine = core_registry.aggregators.get("time-decay").combine
    full = combine([signal], {"half_life": 3})
    for cut in (5, 20, 59):
        part = Signal(signal.score.iloc[:cut], signal.confidence.iloc[:cut])
        pd.testing.assert_frame_equal(combine([part], {"half_life": 3}).score, full.score.iloc[:cut])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"half_life": 0}, "aggregator 'time-decay': half_life must be a positive number of bars, got 0"),
        ({"half_life": "5"}, "aggregator 'time-decay': half_life must be a number of bars, got '5'"),
        ({"combine": "vote"}, "aggregator 'time-decay': combine 'vote'; choose one of mean, confidence-vote, majority"),
        ({"halflife": 3}, "aggregator 'time-decay': unknown parameter 'halflife' (did you mean 'half_life'?)"),
    ],
)
def test_time_decay_bad_parameters(core_registry: Registry, params: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        core_registry.aggregators.get("time-decay").combine([_signal([1.0], [1.0])], params)
    assert str(error.value).startswith(message)


def _mixed_signals(core_registry: Registry) -> list[Signal]:
    """A technical signal (every bar after warm-up), a sparse document signal and a silent one."""
    market = make_market(["AAA", "BBB"], seed=4, bars=300)
    inputs = SignalInput(bars=market.bars)
    technical = core_registry.signal_models.get("rsi").compute(inputs, {})
    documents = make_documents(market, information=1.0, docs_per_bar=0.1, arrivals="poisson")
    documents["score"] = documents["sentiment"].astype(float)
    documents["confidence"] = np.linspace(0.2, 1.0, len(documents))
    news = align_scores(documents, bar_close_times(market.index, "1d"), market.symbols, index=market.index)
    silent = Signal(news.score * NAN, news.confidence * NAN)
    return [technical, news, silent]


@pytest.mark.parametrize("name", AGGREGATORS)
def test_every_aggregator_mixes_technical_and_document_signals(core_registry: Registry, name: str) -> None:
    technical, news, silent = signals = _mixed_signals(core_registry)
    assert 0.05 < news.score.notna().to_numpy().mean() < 0.2  # NaN-heavy, as real news is
    aggregator = core_registry.aggregators.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" on bars nobody speaks
        combined = aggregator.combine(signals, dict(aggregator.defaults))
        alone = aggregator.combine([news, silent], dict(aggregator.defaults))
    for result in (combined, alone):
        assert result.score.shape == technical.score.shape
        score, confidence = result.score.to_numpy(), result.confidence.to_numpy()
        assert np.nanmax(np.abs(score)) <= 1.0
        assert np.nanmin(confidence) >= 0.0 and np.nanmax(confidence) <= 1.0
        assert np.array_equal(np.isnan(score), np.isnan(confidence))
    speaks = technical.score.notna().to_numpy() | news.score.notna().to_numpy()
    if name == "time-decay":
        first = np.argmax(speaks, axis=0)
        rows = np.arange(len(speaks))[:, None]
        assert np.array_equal(combined.score.notna().to_numpy(), rows >= first)
        # News alone is carried over the silent bars after it: far fewer NaN than the news itself.
        assert alone.score.notna().to_numpy().mean() > 0.9
    else:
        # A score exactly where at least one signal speaks; the silent one changes nothing.
        assert np.array_equal(combined.score.notna().to_numpy(), speaks)
        without_silent = aggregator.combine([technical, news], dict(aggregator.defaults))
        pd.testing.assert_frame_equal(combined.score, without_silent.score)
        np.testing.assert_array_equal(alone.score.notna().to_numpy(), news.score.notna().to_numpy())


@pytest.mark.parametrize("name", AGGREGATORS)
def test_columns_in_another_order_are_realigned(core_registry: Registry, name: str) -> None:
    technical, news, _ = _mixed_signals(core_registry)
    reordered = Signal(news.score[["BBB", "AAA"]], news.confidence[["BBB", "AAA"]])
    combine = core_registry.aggregators.get(name).combine
    pd.testing.assert_frame_equal(combine([technical, reordered], {}).score, combine([technical, news], {}).score)
    other = Signal(news.score.rename(columns={"BBB": "CCC"}), news.confidence.rename(columns={"BBB": "CCC"}))
    with pytest.raises(DataError, match=r"signal 2 has 300 bars x 2 columns.*only one: BBB, CCC"):
        combine([technical, other], {})


def test_time_decay_on_grid_columns(core_registry: Registry) -> None:
    market = make_market(["AAA", "BBB"], seed=2, bars=120)
    grid = core_registry.signal_models.get("bollinger").compute_grid(
        SignalInput(bars=market.bars), [{"window": 10}, {"window": 30}]
    )
    every_seventh = np.broadcast_to(np.arange(120)[:, None] % 7 == 0, grid.score.shape)
    sparse = Signal(grid.score.where(every_seventh), grid.confidence)
    decayed = core_registry.aggregators.get("time-decay").combine([sparse], {"half_life": 2})
    assert list(decayed.score.columns) == list(grid.score.columns)
    # Bar 29 carries bar 28 (a multiple of 7) one bar on: at a half-life of 2 bars, times 2 ** -0.5.
    np.testing.assert_allclose(decayed.score.iloc[29], grid.score.iloc[28] * 2**-0.5)
