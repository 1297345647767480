"""``fintrade check``: planted leaks are caught and named (signal, grid combination, symbol, bar,
cut) with a non-zero exit: next-bar peeks, centred windows, misplaced documents, aggregators and
``positions()`` using the whole history, a leak in the grid's second combination only, a
``.bfill()`` into the warm-up, a fit cached in a module-level variable, a peek on month-end bars
only, on the rare bars where a document arrives or a position changes, and documents stamped
with their date only. The bundled strategies and the honest built-ins pass."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fintrade.check import (
    DEFAULT_CUTS,
    CheckResult,
    CutGroup,
    Leak,
    calendar_bars,
    change_bars,
    choose_cuts,
    cut_inputs,
    date_only_risks,
    run_check,
    sample_cuts,
)
from fintrade.data import load_signal_inputs
from fintrade.errors import ConfigError, DataError
from fintrade.loading import LoadedStrategy, load_strategy
from fintrade.plugin_manager import create_plugin_manager, register_module_plugin
from fintrade.registry import Registry
from fintrade.types import DATED_DOCUMENTS, SignalInput
from tests.loopback.bybit import bybit_env
from tests.loopback.yahoo import yahoo_env
from tests.test_cli import ROOT, fintrade

TECHNICAL = """
import numpy as np
import pandas as pd

import fintrade
from fintrade import Strategy, signal
from fintrade.types import Aggregator, Signal, SignalModel


def _tomorrow(inputs, params):
    # The planted leak: the sign of the next bar's move.
    close = inputs.field("close")
    return Signal.certain(np.sign(close.shift(-1) - close))


def _centred(inputs, params):
    # A centred rolling mean reaches window // 2 bars into the future.
    close = inputs.field("close")
    mean = close.rolling(params["window"], center=True).mean()
    return Signal.certain(np.tanh((close / mean - 1.0) * 20.0))


def _demeaned(signals, params):
    # An aggregator that centres each column on its full-history mean (halved: stays in [-1, 1]).
    score = signals[0].score
    return Signal((score - score.mean()) / 2.0, signals[0].confidence)


@fintrade.hookimpl
def fintrade_signal_models():
    yield SignalModel("tomorrow", _tomorrow)
    yield SignalModel("centred-mean", _centred, defaults={"window": 5})


@fintrade.hookimpl
def fintrade_aggregators():
    yield Aggregator("demeaned", _demeaned)


class Tomorrow(Strategy):
    symbols = ["AAA", "BBB"]
    source = "synthetic"
    source_options = {"bars": 300}
    signals = [signal("sma-cross", fast=5, slow=20), signal("tomorrow")]


class Centred(Strategy):
    symbols = ["AAA", "BBB"]
    source = "synthetic"
    source_options = {"bars": 300}
    signals = [signal("momentum", lookback=10), signal("centred-mean", window=5)]


class LeakyAggregator(Strategy):
    symbols = ["AAA"]
    source = "synthetic"
    source_options = {"bars": 300}
    signals = [signal("momentum", lookback=10)]
    aggregator = "demeaned"


class LeakyPositions(Strategy):
    symbols = ["AAA"]
    source = "synthetic"
    source_options = {"bars": 300}
    signals = [signal("momentum", lookback=10)]
    direction = "long_short"

    def positions(self, combined):
        # Sized by the next bar's score.
        return combined.score.shift(-1).fillna(0.0)
"""

# Tweets scored by the same word count, then put on bars three ways. Only the close-time
# alignment is honest: sample bars are labelled 09:30 New York and close at 16:00.
DOCUMENTS = """
import numpy as np
import pandas as pd

import fintrade
from fintrade import Strategy, signal
from fintrade.alignment import Alignment, align_scores, available_bar
from fintrade.types import Signal, SignalModel

UP = ("up", "buy", "bull", "bullish", "long", "beat", "surge", "surges", "rallies", "record", "soars", "upgrade")
DOWN = ("down", "sell", "bear", "bearish", "short", "miss", "plunges", "slump", "falls", "loss", "downgrade")


def word_score(text):
    words = text.lower().split()
    return float(np.sign(sum(w in UP for w in words) - sum(w in DOWN for w in words)))


def _per_bar(inputs, bar):
    # Count of documents per bar and symbol, squashed: any document moved changes it.
    docs = inputs.documents
    score = np.full((len(inputs.index), len(inputs.symbols)), np.nan)
    for j, symbol in enumerate(inputs.symbols):
        rows = bar[(docs["symbol"] == symbol).to_numpy() & (bar >= 0)]
        counts = np.bincount(rows, minlength=len(inputs.index)).astype(float)
        score[:, j] = np.where(counts > 0, np.tanh(counts / 20.0), np.nan)
    return Signal.certain(pd.DataFrame(score, index=inputs.index, columns=inputs.symbols))


def _by_open(inputs, params):
    # Leak: the bar whose open precedes the tweet, though the bar closed at 16:00.
    published = pd.DatetimeIndex(inputs.documents["published_at"])
    return _per_bar(inputs, inputs.index.searchsorted(published, side="right") - 1)


def _by_label_date(inputs, params):
    # Leak: the bar of the tweet's calendar date (UTC), after-hours tweets included.
    dates = pd.DatetimeIndex(inputs.documents["published_at"]).normalize()
    labels = inputs.index.normalize()
    position = labels.get_indexer(dates)
    return _per_bar(inputs, position)


def _one_bar_early(inputs, params):
    # Leak: news put on the bar before the one it became known at, as when features are
    # shifted to line up with the next bar's return.
    return _per_bar(inputs, available_bar(inputs.documents["published_at"], inputs.closes_at) - 1)


def _by_close(inputs, params):
    docs = inputs.documents.assign(score=inputs.documents["text"].map(word_score))
    alignment = Alignment(lag=params["lag"], half_life="1D", no_news="carry")
    return align_scores(docs, inputs.closes_at, inputs.symbols, alignment, index=inputs.index)


@fintrade.hookimpl
def fintrade_signal_models():
    yield SignalModel("tweets-by-open", _by_open, needs_documents=True)
    yield SignalModel("tweets-by-date", _by_label_date, needs_documents=True)
    yield SignalModel("tweets-by-close", _by_close, defaults={"lag": "0s"}, needs_documents=True)
    yield SignalModel("tweets-one-bar-early", _one_bar_early, needs_documents=True)


class ByOpen(Strategy):
    symbols = ["AAPL", "MSFT"]
    source = "sample"
    start = "2014-01-01"
    end = "2014-07-01"
    text_source = "sample-tweets"
    signals = [signal("tweets-by-open")]


class ByLabelDate(ByOpen):
    signals = [signal("tweets-by-date")]


class ByClose(ByOpen):
    signals = [signal("tweets-by-close"), signal("tweets-by-close", label="lagged", lag="90min")]


class SyntheticByClose(Strategy):
    symbols = ["AAA", "BBB"]
    source = "synthetic"
    source_options = {"bars": 200, "seed": 3}
    text_source = "synthetic-news"
    text_options = {"bars": 200, "seed": 3, "information": 1.0, "docs_per_bar": 2}
    signals = [signal("tweets-by-close", lag="30min")]


class SyntheticOneBarEarly(SyntheticByClose):
    signals = [signal("tweets-by-close", lag="30min"), signal("tweets-one-bar-early")]
"""


# Leaks that hide from a check of the first combination, of cuts after the warm-up, of
# recomputations in one process, or of cuts anywhere but the one bar they happen at.
PLANTED = """
import os

import numpy as np
import pandas as pd

import fintrade
from fintrade import Strategy, signal
from fintrade.alignment import available_bar
from fintrade.errors import ConfigError, DataError
from fintrade.types import Signal, SignalModel, TextSource


def _momentum(close):
    return np.tanh((close / close.shift(10) - 1.0) * 10.0)


def _next_move(close):
    return np.tanh((close.shift(-1) / close - 1.0) * 50.0)


def _peeky(inputs, params):
    # Honest momentum; with peek=True, the next bar's move.
    close = inputs.field("close")
    return Signal.certain(_next_move(close) if params["peek"] else _momentum(close))


def _backfilled(inputs, params):
    # A 30-bar mean whose warm-up NaNs are back-filled from the first full window: the future.
    close = inputs.field("close")
    return Signal.certain(np.tanh((close / close.rolling(30).mean().bfill() - 1.0) * 20.0))


_FIT = {}


def _cached_fit(inputs, params):
    # Fitted on the first history this process sees, then reused for every later call.
    close = inputs.field("close")
    if "mean" not in _FIT:
        _FIT["mean"], _FIT["std"] = close.mean(), close.std()
    return Signal.certain(np.tanh((close - _FIT["mean"]) / _FIT["std"] / 3.0))


def _month_end_peek(inputs, params):
    # Honest momentum, but the last bar of a month (known from the next bar's label) reads the next move.
    close = inputs.field("close")
    score = _momentum(close)
    month = inputs.index.month
    last_of_month = np.r_[month[:-1] != month[1:], False]
    score.loc[last_of_month] = _next_move(close).loc[last_of_month]
    return Signal.certain(score)


def _news_peek(inputs, params):
    # Honest momentum, but a bar where news arrives reads the next move.
    close = inputs.field("close")
    score = _momentum(close)
    bars = available_bar(inputs.documents["published_at"], inputs.closes_at)
    bars = bars[bars >= 0]
    score.iloc[bars] = _next_move(close).iloc[bars]
    return Signal.certain(score)


def _picky(inputs, params):
    if len(inputs.index) < 50:
        raise ConfigError(f"needs 50 bars, got {len(inputs.index)}")
    return Signal.certain(_momentum(inputs.field("close")))


def _dies(inputs, params):
    # A crash no exception handler sees (only ever run in a child of the check).
    if len(inputs.index) < 50:
        os._exit(3)
    return Signal.certain(_momentum(inputs.field("close")))


def _words(documents, params):
    score = documents["text"].map({"up": 1.0, "down": -1.0}).fillna(0.0)
    return pd.DataFrame({"id": documents["id"], "score": score, "confidence": 1.0})


NEWS_DAYS = ["2015-02-10", "2015-04-22", "2015-06-03", "2015-08-19", "2015-10-07", "2015-12-15"]


def _documents(published):
    n = len(published)
    texts = ["up" if i % 3 else "down" for i in range(n)]
    ids = [f"d{i}" for i in range(n)]
    return pd.DataFrame({"published_at": published, "symbol": "AAA", "text": texts, "source": "wire", "id": ids})


def _sparse_news(request):
    # Six headlines about AAA, at noon UTC.
    return _documents(pd.DatetimeIndex([day + " 12:00" for day in NEWS_DAYS], tz="UTC"))


def _dated_news(request):
    # A headline a day, stamped with the day only: midnight UTC.
    return _documents(pd.bdate_range("2015-01-05", periods=200, tz="UTC"))


def _naive_news(request):
    return _documents(pd.bdate_range("2015-01-05", periods=200) + pd.Timedelta(hours=15))


@fintrade.hookimpl
def fintrade_signal_models():
    yield SignalModel("peeky", _peeky, defaults={"peek": False})
    yield SignalModel("backfilled", _backfilled)
    yield SignalModel("cached-fit", _cached_fit)
    yield SignalModel("month-end-peek", _month_end_peek)
    yield SignalModel("news-peek", _news_peek, needs_documents=True)
    yield SignalModel("picky", _picky)
    yield SignalModel("dies", _dies)
    yield SignalModel("words", score_documents=_words)


@fintrade.hookimpl
def fintrade_text_sources():
    yield TextSource("sparse-news", _sparse_news)
    yield TextSource("dated-news", _dated_news)
    yield TextSource("naive-news", _naive_news)


class Synthetic(Strategy):
    symbols = ["AAA", "BBB"]
    source = "synthetic"
    source_options = {"bars": 300}
    signals = [signal("momentum", lookback=10)]


class PeekInSecondCombination(Synthetic):
    signals = [signal("peeky")]
    grid = {"peeky.peek": [False, True]}


class Backfilled(Synthetic):
    signals = [signal("backfilled"), signal("momentum", lookback=60)]


class CachedFit(Synthetic):
    signals = [signal("cached-fit")]


class MonthEndPeek(Synthetic):
    signals = [signal("month-end-peek")]


class NewsPeek(Synthetic):
    text_source = "sparse-news"
    signals = [signal("news-peek")]


class ChangesEarly(Synthetic):
    signals = [signal("sma-cross", fast=5, slow=20)]
    direction = "long_short"

    def positions(self, combined):
        # All in, one way or the other; a change is taken a bar early, from the next bar's score.
        side = np.sign(combined.score).fillna(0.0)
        ahead = side.shift(-1)
        return side.where(~(ahead.notna() & ahead.ne(side)), ahead)


class Picky(Synthetic):
    signals = [signal("picky")]


class Dies(Synthetic):
    signals = [signal("dies")]


class DatedNews(Synthetic):
    text_source = "dated-news"
    signals = [signal("words")]


class NaiveNews(DatedNews):
    text_source = "naive-news"
"""


@pytest.fixture(scope="module")
def strategy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("check")
    texts = {"technical": TECHNICAL, "documents": DOCUMENTS, "planted": PLANTED}
    paths = {name: folder / f"{name}.py" for name in texts}
    for name, text in texts.items():
        paths[name].write_text(text, encoding="utf-8")
    return paths


def _load(path: Path, class_name: str) -> tuple[LoadedStrategy, Registry]:
    # Each load runs the file again: module-level state starts empty.
    loaded = load_strategy(f"{path}:{class_name}")
    pm = create_plugin_manager(load_entry_points=False)
    register_module_plugin(pm, loaded.module, str(path), "strategy file")
    return loaded, Registry(pm)


def _check(path: Path, class_name: str, **options: object) -> tuple[CheckResult, SignalInput]:
    loaded, registry = _load(path, class_name)
    result = run_check(loaded.strategy, registry, **options)  # type: ignore[arg-type]
    inputs, _ = load_signal_inputs(loaded.strategy, registry)
    return result, inputs


def _leaks(result: CheckResult, series: str) -> dict[str, Leak]:
    return {leak.symbol: leak for leak in result.leaks if leak.series == series}


def _position(inputs: SignalInput, moment: str) -> int:
    return int(inputs.index.get_loc(pd.Timestamp(moment)))


# --- planted leaks ----------------------------------------------------------------------------


def test_next_bar_peek_is_caught_at_each_cut_with_both_values(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["technical"], "Tomorrow", cuts=8)
    assert not result.clean
    assert {leak.series for leak in result.leaks} >= {"tomorrow", "combined", "positions"}
    assert "sma-cross" not in {leak.series for leak in result.leaks}
    leaks = _leaks(result, "tomorrow")
    assert set(leaks) == {"AAA", "BBB"}
    # The first cut is the first bar: a cut there keeps one bar.
    assert result.cuts[0] == inputs.index[0].isoformat()
    for symbol, leak in leaks.items():
        # The cut bar is where the future was read; cut, it has no next bar.
        assert leak.bar == leak.cut == result.cuts[0]
        assert leak.field == "score" and leak.truncated is None
        close = inputs.field("close")[symbol].to_numpy()
        assert leak.full == np.sign(close[1] - close[0])
        assert leak.cuts_differing == len(result.cuts) == 8
        assert leak.combination == {} and leak.combination_number == 1
    assert result.summary().startswith("LOOKAHEAD: ")
    assert "tomorrow (AAA, BBB)" in result.summary()


def test_centred_rolling_mean_is_caught_one_bar_before_the_cut(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["technical"], "Centred", cuts=3)
    assert "momentum" not in {leak.series for leak in result.leaks}
    leaks = _leaks(result, "centred-mean")
    assert set(leaks) == {"AAA", "BBB"}
    for symbol, leak in leaks.items():
        # A 5-bar centred window at bar s needs s + 2: bars t - 1 and t change when cut at t.
        cut = _position(inputs, leak.cut)
        assert leak.bar == inputs.index[cut - 1].isoformat()
        assert leak.params == {"window": 5} and leak.truncated is None
        close = inputs.field("close")[symbol].to_numpy()
        window = close[cut - 3 : cut + 2]
        expected = np.tanh((close[cut - 1] / window.mean() - 1.0) * 20.0)
        assert leak.full == pytest.approx(expected, rel=1e-12)


def test_an_aggregator_using_the_whole_history_is_caught(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["technical"], "LeakyAggregator", cuts=2)
    assert "momentum" not in {leak.series for leak in result.leaks}
    # Two cuts: the first bar (nothing scored yet) and the second-to-last bar.
    assert result.cuts == [inputs.index[0].isoformat(), inputs.index[-2].isoformat()]
    leak = _leaks(result, "combined")["AAA"]
    # Every bar moves with the full-history mean: the first to differ is the first scored one,
    # bar 10 of a 10-bar momentum.
    assert leak.bar == inputs.index[10].isoformat() and leak.cut == result.cuts[1]
    assert leak.cuts_differing == 1
    assert leak.model == "aggregator demeaned"


def test_positions_reading_the_next_score_are_caught(strategy_files: dict[str, Path]) -> None:
    result, _ = _check(strategy_files["technical"], "LeakyPositions", cuts=2)
    assert [(leak.series, leak.model, leak.field) for leak in result.leaks] == [
        ("positions", "LeakyPositions.positions()", "position")
    ]


@pytest.mark.parametrize("class_name", ["ByOpen", "ByLabelDate"])
def test_a_tweet_used_before_its_bar_closed_is_caught(strategy_files: dict[str, Path], class_name: str) -> None:
    result, inputs = _check(strategy_files["documents"], class_name, cuts=4)
    series = {"ByOpen": "tweets-by-open", "ByLabelDate": "tweets-by-date"}[class_name]
    leaks = _leaks(result, series)
    assert set(leaks) == {"AAPL", "MSFT"}
    documents = inputs.documents
    assert documents is not None
    for symbol, leak in leaks.items():
        # The bar that changed is a cut bar: only what came after its close went missing.
        assert leak.bar in result.cuts
        t = _position(inputs, leak.bar)
        close = inputs.closes_at[t]
        assert close.tz_convert("America/New_York").strftime("%H:%M") == "16:00"
        mine = documents.loc[documents["symbol"] == symbol, "published_at"]
        if series == "tweets-by-open":
            counted = mine[(mine >= inputs.index[t]) & (mine < inputs.index[t + 1])]
        else:
            counted = mine[mine.dt.normalize() == inputs.index[t].normalize()]
        known = counted[counted <= close]
        assert len(counted) > len(known)  # tweets after 16:00 New York counted for the bar
        assert leak.full == pytest.approx(np.tanh(len(counted) / 20.0))
        expected_cut = np.tanh(len(known) / 20.0) if len(known) else None
        assert leak.truncated == (pytest.approx(expected_cut) if expected_cut is not None else None)


def test_a_leak_in_the_second_grid_combination_is_caught_and_named(strategy_files: dict[str, Path]) -> None:
    result, _ = _check(strategy_files["planted"], "PeekInSecondCombination")
    assert result.coverage == "whole grid: 2 combinations" and result.combinations == 2
    assert not result.clean
    for leak in result.leaks:
        # Only the peeking combination, named by its grid value and place, in every series.
        assert leak.combination == {"peeky.peek": True} and leak.combination_number == 2
    peeky = _leaks(result, "peeky")
    assert set(peeky) == {"AAA", "BBB"} and all(leak.params == {"peek": True} for leak in peeky.values())
    assert {leak.series for leak in result.leaks} == {"peeky", "combined", "positions"}


def test_fast_checks_the_first_combination_only_and_so_misses_the_second(strategy_files: dict[str, Path]) -> None:
    result, _ = _check(strategy_files["planted"], "PeekInSecondCombination", fast=True)
    # The documented limitation of --fast: one combination, 8 cuts after the warm-up, one process.
    assert result.clean and result.combinations == 1 and result.grid_combinations == 2
    assert result.coverage == "first combination of 2 (--fast)" and len(result.cuts) == 8
    assert result.isolation == "in process (--fast)"


def test_a_backfilled_warm_up_is_caught_at_a_cut_inside_it(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["planted"], "Backfilled")
    leaks = _leaks(result, "backfilled")
    assert set(leaks) == {"AAA", "BBB"}
    for leak in leaks.values():
        # The first bar took the value of bar 29, the end of the first 30-bar window.
        assert leak.bar == inputs.index[0].isoformat()
        assert _position(inputs, leak.cut) < 29 and leak.truncated is None
    assert result.cut_kinds["warm-up"] >= 5
    # --fast cuts only after the longest warm-up (60 bars of momentum), where the fill is history.
    fast, _ = _check(strategy_files["planted"], "Backfilled", fast=True)
    assert "backfilled" not in {leak.series for leak in fast.leaks}


def test_a_fit_cached_in_module_state_is_caught_by_fresh_processes(strategy_files: dict[str, Path]) -> None:
    result, _ = _check(strategy_files["planted"], "CachedFit")
    assert result.isolation == "a fresh process per computation"
    assert set(_leaks(result, "cached-fit")) == {"AAA", "BBB"}
    # In one process every cut reuses the full history's fit: --fast cannot see it.
    fast, _ = _check(strategy_files["planted"], "CachedFit", fast=True)
    assert fast.clean


def test_without_fork_everything_runs_in_process_and_says_so(
    strategy_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fintrade.check.fork_available", lambda: False)
    result, _ = _check(strategy_files["planted"], "PeekInSecondCombination", cuts=8)
    assert result.isolation == "in process (this platform cannot fork)"
    assert result.warnings[-1].startswith("fork is not available here, so every computation ran in this process")
    # Still the whole grid and every cut: the second combination's peek is found.
    assert {leak.combination_number for leak in result.leaks} == {2}


def test_a_peek_on_month_end_bars_only_is_caught_at_a_month_end_cut(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["planted"], "MonthEndPeek")
    leaks = _leaks(result, "month-end-peek")
    assert set(leaks) == {"AAA", "BBB"}
    month_ends = {inputs.index[bar].isoformat() for bar in calendar_bars(inputs.index)["month-end"]}
    for leak in leaks.values():
        assert leak.bar == leak.cut and leak.cut in month_ends
        # Only the cuts exactly at a month end show it.
        assert leak.cuts_differing == len(set(result.cuts) & month_ends) < len(result.cuts)


def test_a_peek_on_the_bars_where_news_arrives_is_caught(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["planted"], "NewsPeek")
    assert inputs.documents is not None and len(inputs.documents) == 6
    # Each headline comes at noon of a bar's day, so it reaches that bar (closing at midnight).
    news_days = ["2015-02-10", "2015-04-22", "2015-06-03", "2015-08-19", "2015-10-07", "2015-12-15"]
    news_bars = {pd.Timestamp(day, tz="UTC").isoformat() for day in news_days}
    assert news_bars <= {moment.isoformat() for moment in inputs.index}
    leaks = _leaks(result, "news-peek")
    assert set(leaks) == {"AAA", "BBB"}
    for leak in leaks.values():
        assert leak.bar == leak.cut and leak.cut in news_bars
    assert result.cut_kinds["documents"] >= 1 and set(result.cuts) >= news_bars


def test_positions_that_change_a_bar_early_are_caught_at_a_change(strategy_files: dict[str, Path]) -> None:
    result, _ = _check(strategy_files["planted"], "ChangesEarly")
    assert {leak.series for leak in result.leaks} == {"positions"}
    assert {leak.symbol for leak in result.leaks} == {"AAA", "BBB"}
    assert all(leak.bar == leak.cut and leak.field == "position" for leak in result.leaks)


def test_documents_stamped_with_their_date_only_are_a_leak_risk(strategy_files: dict[str, Path]) -> None:
    result, _ = _check(strategy_files["planted"], "DatedNews", cuts=4)
    assert not result.leaks and not result.clean
    assert result.risks == [
        "200 of 200 documents are stamped exactly at midnight UTC: dates without a time, counted from the start "
        "of their day, may reach a bar that closed before they were published; give the text source publication "
        "times, or declare the dates so the source counts them from the end of their day (local-documents: "
        "dates=True with timezone)"
    ]
    assert result.summary() == f"LEAK RISK: {result.risks[0]}"
    assert result.to_dict()["risks"] == result.risks


def test_naive_document_times_are_refused(strategy_files: dict[str, Path]) -> None:
    loaded, registry = _load(strategy_files["planted"], "NaiveNews")
    # Refused when the documents load, before any cut: the check exits non-zero with this line.
    with pytest.raises(DataError) as refused:
        run_check(loaded.strategy, registry, cuts=4)
    assert str(refused.value) == (
        "text source 'naive-news': published_at has no timezone (first 2015-01-05 15:00:00); "
        "text sources must return timezone-aware times (UTC)"
    )


def test_date_only_risk_rule() -> None:
    days = pd.Series(pd.bdate_range("2015-01-05", periods=10, tz="UTC"))
    frame = pd.DataFrame({"published_at": days, "symbol": "A", "text": "t"})
    assert date_only_risks(frame)[0].startswith("10 of 10 documents are stamped exactly at midnight UTC")
    # Midnight in the market's zone is a date too; a few midnights among real times are not.
    new_york = frame.assign(published_at=days.dt.tz_localize(None).dt.tz_localize("America/New_York"))
    assert date_only_risks(new_york) == []
    assert date_only_risks(new_york, ["America/New_York"])[0].startswith("10 of 10 documents")
    mixed = frame.assign(published_at=days + pd.to_timedelta([0, 0, 0, 0, 1, 2, 3, 4, 5, 6], unit="h"))
    assert date_only_risks(mixed) == []
    # Dates a source declared and moved to the end of their day are honest.
    frame.attrs[DATED_DOCUMENTS] = True
    assert date_only_risks(frame) == [] and date_only_risks(None) == []


LOCAL_DOCUMENTS = """
import pandas as pd

import fintrade
from fintrade import Strategy, signal
from fintrade.types import SignalModel


def _words(documents, params):
    score = documents["text"].map({{"up": 1.0, "down": -1.0}}).fillna(0.0)
    return pd.DataFrame({{"id": documents["id"], "score": score, "confidence": 1.0}})


@fintrade.hookimpl
def fintrade_signal_models():
    yield SignalModel("words", score_documents=_words)


class Local(Strategy):
    symbols = ["AAA"]
    source = "synthetic"
    source_options = {{"bars": 120}}
    text_source = "local-documents"
    text_options = {options}
    signals = [signal("words")]
"""


@pytest.mark.parametrize(
    ("stamp", "options", "risky"),
    [
        ("{day}", {"dates": True, "timezone": "UTC"}, False),
        ("{day}T00:00:00Z", {}, True),
        ("{day}T14:37:00Z", {}, False),
    ],
    ids=["declared-dates", "midnight-utc", "times"],
)
def test_local_documents_dates_are_a_risk_unless_declared(
    tmp_path: Path, stamp: str, options: dict[str, object], risky: bool
) -> None:
    days = pd.bdate_range("2015-01-05", periods=60)
    rows = [
        f"{stamp.format(day=day.strftime('%Y-%m-%d'))},AAA,{'up' if i % 2 else 'down'}" for i, day in enumerate(days)
    ]
    (tmp_path / "news.csv").write_text("published_at,symbol,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    path = tmp_path / "local.py"
    path.write_text(LOCAL_DOCUMENTS.format(options={"path": str(tmp_path / "news.csv"), **options}), encoding="utf-8")
    result, inputs = _check(path, "Local", cuts=4)
    assert inputs.documents is not None and len(inputs.documents) == 60
    assert not result.leaks
    assert bool(result.risks) is risky and result.clean is not risky


# --- honest signals pass ------------------------------------------------------------------------


def test_builtin_technical_signals_pass_on_the_sample_data(tmp_path: Path) -> None:
    path = tmp_path / "honest.py"
    path.write_text(
        "from fintrade import Strategy, signal\n\n"
        "class Honest(Strategy):\n"
        "    symbols = ['AAPL', 'JPM']\n"
        "    source = 'sample'\n"
        "    signals = [signal('sma-cross', fast=10, slow=50), signal('momentum', lookback=20)]\n"
        "    aggregator = 'confidence-vote'\n"
        "    grid = {'sma-cross.fast': [5, 10], 'momentum.lookback': [10, 60]}\n",
        encoding="utf-8",
    )
    result, _ = _check(path, "Honest", cuts=6)
    assert result.clean, result.leaks[:3]
    assert result.combinations == result.grid_combinations == 4
    assert [row["columns"] for row in result.series] == [4, 4, 8, 8]  # 2 distinct sets x 2 symbols; 4 combos
    assert result.compared > 0 and len(result.cuts) == 6
    assert result.summary().startswith(
        "clean: whole grid: 4 combinations; 4 series (sma-cross, momentum, combined, positions) x 2 symbol(s)"
    )


def test_close_time_alignment_of_tweets_passes(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["documents"], "ByClose", cuts=4)
    assert result.clean, result.leaks[:3]
    assert inputs.documents is not None and len(inputs.documents) > 1000


def test_align_scores_on_synthetic_news_passes(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["documents"], "SyntheticByClose")
    assert result.clean, result.leaks[:3]
    # 200 bars: more than the default 64 cuts, so every kind of cut bar is there.
    assert len(result.cuts) == DEFAULT_CUTS
    assert {"warm-up", "spread", "month-end", "week-end", "documents"} <= set(result.cut_kinds)
    # Two documents per bar and symbol, during each of the 200 bars.
    assert inputs.documents is not None and len(inputs.documents) == 2 * 2 * 200


def test_news_shifted_one_bar_early_is_caught_on_synthetic_news(strategy_files: dict[str, Path]) -> None:
    result, _ = _check(strategy_files["documents"], "SyntheticOneBarEarly", cuts=3)
    assert "tweets-by-close" not in {leak.series for leak in result.leaks}
    leaks = _leaks(result, "tweets-one-bar-early")
    assert set(leaks) == {"AAA", "BBB"}
    for leak in leaks.values():
        # The cut bar lost the two documents of the bar after it.
        assert leak.bar == leak.cut == result.cuts[0]
        assert leak.full == pytest.approx(np.tanh(2 / 20.0)) and leak.truncated is None


# --- cut times and inputs -----------------------------------------------------------------------


def test_fast_cuts_are_spread_after_the_warm_up_and_end_one_bar_early() -> None:
    assert choose_cuts(100, 20, 5) == [20, 40, 59, 78, 98]  # 20, 39.5, 59, 78.5, 98 rounded to even
    assert choose_cuts(100, 99, 3) == [98]
    with pytest.raises(ConfigError, match="--cuts must be at least 1"):
        choose_cuts(100, 0, 0)


def test_a_short_history_is_cut_at_every_bar() -> None:
    plan = sample_cuts(30, 64, [CutGroup("spread", np.arange(5))])
    assert plan.positions == list(range(29)) and plan.kinds == {"every bar": 29}
    assert sample_cuts(65, 64, []).positions == list(range(64))


def test_sampled_cuts_take_a_share_of_every_group_and_are_deterministic() -> None:
    index = pd.bdate_range("2015-01-01", periods=1000, tz="UTC")
    boundaries = calendar_bars(index)
    groups = [
        CutGroup("warm-up", np.array([0, 1, 2, 4, 8])),
        CutGroup("spread", np.linspace(0, 998, 40).round().astype(int), weight=2),
        *(CutGroup(name, bars) for name, bars in boundaries.items()),
        CutGroup("documents", np.array([500, 501, 777])),
    ]
    plan = sample_cuts(1000, 40, groups)
    assert len(plan.positions) == 40 == sum(plan.kinds.values())
    assert plan.positions == sorted(plan.positions) and plan.positions[-1] <= 998
    assert {0, 1, 2, 500, 501, 777} <= set(plan.positions)  # small groups are taken whole
    assert set(plan.kinds) == {"warm-up", "spread", "year-end", "quarter-end", "month-end", "week-end", "documents"}
    month_ends = set(boundaries["month-end"].tolist())
    assert len(month_ends & set(plan.positions)) >= 3
    assert sample_cuts(1000, 40, groups) == plan
    # A group may be taken in its own order, best first (the warm-up: the first bars).
    assert sample_cuts(1000, 3, [CutGroup("warm-up", np.array([7, 0, 7, 3, 9]), spread=False)]).positions == [0, 3, 7]
    with pytest.raises(ConfigError, match="--cuts must be at least 1"):
        sample_cuts(1000, 0, groups)


def test_calendar_and_change_bars() -> None:
    index = pd.DatetimeIndex(["2015-01-29", "2015-01-30", "2015-02-02", "2015-03-31", "2015-04-01"], tz="UTC")
    bars = calendar_bars(index)
    # The last bar is never a boundary: its period may go on.
    assert bars["month-end"].tolist() == [1, 2, 3] and bars["quarter-end"].tolist() == [3]
    assert bars["week-end"].tolist() == [1, 2] and bars["year-end"].tolist() == []
    values = np.array([[np.nan, 1.0], [np.nan, 1.0], [0.5, 1.0], [0.5, 1.0], [0.5, -1.0]])
    assert change_bars(values).tolist() == [2, 4]


def test_explicit_cut_dates(strategy_files: dict[str, Path]) -> None:
    loaded, registry = _load(strategy_files["technical"], "Centred")
    result = run_check(loaded.strategy, registry, at=["2015-03-04", "2015-06-01T12:00"])
    # Bars are business days at 00:00 UTC; a date covers its day, a time takes the bar before it.
    assert result.cuts == ["2015-03-04T00:00:00+00:00", "2015-06-01T00:00:00+00:00"]
    assert result.cut_kinds == {"--at": 2}
    with pytest.raises(ConfigError, match=r"--at 2014-01-01: before the first bar"):
        run_check(loaded.strategy, registry, at=["2014-01-01"])
    with pytest.raises(ConfigError, match=r"--at 2030-01-01: at or after the last bar .* nothing would be cut"):
        run_check(loaded.strategy, registry, at=["2030-01-01"])
    with pytest.raises(ConfigError, match="'soon' is not a date or time"):
        run_check(loaded.strategy, registry, at=["soon"])


def test_cut_inputs_keep_what_was_known_at_the_close() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    bars = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=index)
    closes = index + pd.Timedelta(hours=20)
    documents = pd.DataFrame(
        {
            "published_at": [closes[1], closes[1] + pd.Timedelta(seconds=1), closes[2]],
            "symbol": "X",
            "text": ["at the close", "a second late", "next day"],
        }
    )
    cut = cut_inputs(SignalInput({"X": bars}, documents, closes), 1)
    assert list(cut.index) == list(index[:2]) and list(cut.closes_at) == list(closes[:2])
    assert cut.documents is not None and cut.documents["text"].tolist() == ["at the close"]


def test_an_error_in_a_forked_computation_comes_back_as_the_same_error(strategy_files: dict[str, Path]) -> None:
    loaded, registry = _load(strategy_files["planted"], "Picky")
    with pytest.raises(ConfigError, match=r"^on data cut at .*: .*needs 50 bars, got \d+$"):
        run_check(loaded.strategy, registry, cuts=4)
    assert multiprocessing.active_children() == []  # the other computation was ended and reaped


def test_a_computation_that_dies_is_an_error_and_leaves_no_process(strategy_files: dict[str, Path]) -> None:
    loaded, registry = _load(strategy_files["planted"], "Dies")
    with pytest.raises(RuntimeError, match=r"process ended without a result \(exit code 3\)"):
        run_check(loaded.strategy, registry, cuts=4)
    assert multiprocessing.active_children() == []


# --- the command ----------------------------------------------------------------------------------


def test_command_exit_status_json_and_table(strategy_files: dict[str, Path]) -> None:
    leaky = fintrade("check", f"{strategy_files['technical']}:Tomorrow", "--json", "--quiet", "--cuts", "3")
    assert leaky.returncode == 1, leaky.stderr
    data = json.loads(leaky.stdout)
    assert data["clean"] is False and len(data["cuts"]) == 3
    fields = {"series", "model", "params", "combination", "combination_number", "symbol", "bar", "cut", "field"}
    assert fields | {"full", "truncated"} <= set(data["leaks"][0])
    assert {(row["series"], row["symbol"]) for row in data["leaks"]} >= {("tomorrow", "AAA"), ("tomorrow", "BBB")}
    assert data["coverage"] == "whole grid: 1 combination" and data["isolation"] == "a fresh process per computation"

    table = fintrade("check", f"{strategy_files['technical']}:Tomorrow", "--quiet", "--cuts", "3")
    assert table.returncode == 1
    assert "LOOKAHEAD: " in table.stdout and "first bar" in table.stdout and "tomorrow" in table.stdout

    clean = fintrade("check", str(ROOT / "strategies" / "sma_crossover.py"), "--quiet")
    assert clean.returncode == 0, clean.stderr
    words = " ".join(clean.stdout.split())
    assert "checked: whole grid: 41 combinations | 64 cuts (" in words
    assert "clean: whole grid: 41 combinations; 3 series (sma-cross, combined, positions) x 5 symbol(s)" in words

    bad = fintrade("check", str(ROOT / "strategies" / "sma_crossover.py"), "--at", "1999-01-01")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: --at 1999-01-01: before the first bar") and bad.stderr.count("\n") == 1


def test_command_names_the_leaking_combination_and_fast_documents_its_limit(strategy_files: dict[str, Path]) -> None:
    target = f"{strategy_files['planted']}:PeekInSecondCombination"
    leaky = fintrade("check", target, "--json", "--quiet")
    assert leaky.returncode == 1, leaky.stderr
    data = json.loads(leaky.stdout)
    assert data["coverage"] == "whole grid: 2 combinations" and data["grid_combinations"] == 2
    assert {(row["series"], row["combination_number"]) for row in data["leaks"]} == {
        ("peeky", 2),
        ("combined", 2),
        ("positions", 2),
    }
    table = fintrade("check", target, "--quiet")
    assert table.returncode == 1 and "#2 peek=True" in " ".join(table.stdout.split())
    fast = fintrade("check", target, "--fast", "--quiet")
    assert fast.returncode == 0, fast.stderr
    assert "clean: first combination of 2 (--fast)" in " ".join(fast.stdout.split())


@pytest.mark.parametrize("class_name", ["Backfilled", "CachedFit", "MonthEndPeek", "NewsPeek", "DatedNews"])
def test_command_exits_non_zero_on_each_planted_leak(strategy_files: dict[str, Path], class_name: str) -> None:
    result = fintrade("check", f"{strategy_files['planted']}:{class_name}", "--json", "--quiet")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["clean"] is False and (data["leaks"] or data["risks"])


def test_command_error_in_a_child_is_one_line(strategy_files: dict[str, Path]) -> None:
    result = fintrade("check", f"{strategy_files['planted']}:Picky", "--quiet")
    assert result.returncode == 1
    assert result.stderr.startswith("error: on data cut at ") and "needs 50 bars" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# --- the bundled strategies pass --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "serve"), [("yahoo_equities.py", yahoo_env), ("bybit_perp_funding.py", bybit_env)])
def test_bundled_strategies_on_loopback_data_pass(tmp_path: Path, name: str, serve: object) -> None:
    with serve(tmp_path) as env:  # type: ignore[operator]
        result = fintrade("check", str(ROOT / "strategies" / name), "--json", "--quiet", env=env)
    assert result.returncode == 0, result.stderr + result.stdout[-2000:]
    data = json.loads(result.stdout)
    assert data["clean"] and data["coverage"].startswith("whole grid") and len(data["cuts"]) == DEFAULT_CUTS


def test_the_demo_passes_on_a_short_window(tmp_path: Path) -> None:
    # The quarter that tests/test_cli.py backtests, so the suite scores its tweets once.
    short = tmp_path / "short_demo.py"
    short.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'strategies')!r})\n"
        "from tweet_sentiment import TweetSentiment\n"
        "class ShortDemo(TweetSentiment):\n"
        "    end = '2015-06-01'\n"
    )
    result = fintrade("check", f"{short}:ShortDemo", "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["clean"] and data["coverage"] == "whole grid: 3 combinations" and data["risks"] == []
    assert data["cut_kinds"].get("documents", 0) >= 1


@pytest.mark.slow
def test_the_demo_passes() -> None:
    result = fintrade("check", str(ROOT / "strategies" / "tweet_sentiment.py"), "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["clean"] and len(data["cuts"]) == DEFAULT_CUTS
