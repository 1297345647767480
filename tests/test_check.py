"""``fintrade check``: planted leaks in a technical signal, in document alignment, in an aggregator and
in ``positions()`` are caught and named; the honest built-ins and an ``align_scores`` model pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fintrade.check import CheckResult, Leak, choose_cuts, cut_inputs, run_check
from fintrade.data import load_signal_inputs
from fintrade.errors import ConfigError
from fintrade.loading import LoadedStrategy, load_strategy
from fintrade.plugin_manager import create_plugin_manager, register_module_plugin
from fintrade.registry import Registry
from fintrade.types import SignalInput
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


@pytest.fixture(scope="module")
def strategy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("check")
    paths = {"technical": folder / "technical.py", "documents": folder / "documents.py"}
    paths["technical"].write_text(TECHNICAL, encoding="utf-8")
    paths["documents"].write_text(DOCUMENTS, encoding="utf-8")
    return paths


def _load(path: Path, class_name: str) -> tuple[LoadedStrategy, Registry]:
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
    result, inputs = _check(strategy_files["technical"], "Tomorrow")
    assert not result.clean
    assert {leak.series for leak in result.leaks} >= {"tomorrow", "combined", "positions"}
    assert "sma-cross" not in {leak.series for leak in result.leaks}
    leaks = _leaks(result, "tomorrow")
    assert set(leaks) == {"AAA", "BBB"}
    first_cut = _position(inputs, result.cuts[0])
    for symbol, leak in leaks.items():
        # The last bar before the first cut is where the future was read; cut, it has no next bar.
        assert leak.bar == leak.cut == result.cuts[0]
        assert leak.field == "score" and leak.truncated is None
        close = inputs.field("close")[symbol].to_numpy()
        assert leak.full == np.sign(close[first_cut + 1] - close[first_cut])
        assert leak.cuts_differing == len(result.cuts) == 8
    assert result.summary().startswith("LOOKAHEAD: ")
    assert "tomorrow (AAA, BBB)" in result.summary()


def test_centred_rolling_mean_is_caught_one_bar_before_the_cut(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["technical"], "Centred", cuts=3)
    assert "momentum" not in {leak.series for leak in result.leaks}
    leaks = _leaks(result, "centred-mean")
    assert set(leaks) == {"AAA", "BBB"}
    first_cut = _position(inputs, result.cuts[0])
    for symbol, leak in leaks.items():
        # A 5-bar centred window at bar s needs s + 2: bars t - 1 and t change when cut at t.
        assert leak.bar == inputs.index[first_cut - 1].isoformat()
        assert leak.params == {"window": 5} and leak.truncated is None
        close = inputs.field("close")[symbol].to_numpy()
        window = close[first_cut - 3 : first_cut + 2]
        expected = np.tanh((close[first_cut - 1] / window.mean() - 1.0) * 20.0)
        assert leak.full == pytest.approx(expected, rel=1e-12)


def test_an_aggregator_using_the_whole_history_is_caught(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["technical"], "LeakyAggregator", cuts=2)
    assert "momentum" not in {leak.series for leak in result.leaks}
    leak = _leaks(result, "combined")["AAA"]
    # Every bar moves with the full-history mean: the first to differ is the first scored one,
    # bar 10 of a 10-bar momentum, where the first cut falls (the end of the warm-up).
    assert leak.bar == inputs.index[10].isoformat() == result.cuts[0]
    assert leak.truncated == 0.0 and leak.cuts_differing == 2
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
    result, _ = _check(path, "Honest", all_combinations=True, cuts=6)
    assert result.clean, result.leaks[:3]
    assert result.combinations == 4
    assert [row["columns"] for row in result.series] == [4, 4, 8, 8]  # 2 distinct sets x 2 symbols; 4 combos
    assert result.compared > 0 and len(result.cuts) == 6
    assert result.summary().startswith("clean: 4 series (sma-cross, momentum, combined, positions) x 2 symbol(s)")


def test_close_time_alignment_of_tweets_passes(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["documents"], "ByClose", cuts=4)
    assert result.clean, result.leaks[:3]
    assert inputs.documents is not None and len(inputs.documents) > 1000


def test_align_scores_on_synthetic_news_passes(strategy_files: dict[str, Path]) -> None:
    result, inputs = _check(strategy_files["documents"], "SyntheticByClose")
    assert result.clean, result.leaks[:3]
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


def test_cuts_are_spread_after_the_warm_up_and_end_one_bar_early() -> None:
    assert choose_cuts(100, 20, 5) == [20, 40, 59, 78, 98]  # 20, 39.5, 59, 78.5, 98 rounded to even
    assert choose_cuts(100, 99, 3) == [98]
    with pytest.raises(ConfigError, match="--cuts must be at least 1"):
        choose_cuts(100, 0, 0)


def test_explicit_cut_dates(strategy_files: dict[str, Path]) -> None:
    loaded, registry = _load(strategy_files["technical"], "Centred")
    result = run_check(loaded.strategy, registry, at=["2015-03-04", "2015-06-01T12:00"])
    # Bars are business days at 00:00 UTC; a date covers its day, a time takes the bar before it.
    assert result.cuts == ["2015-03-04T00:00:00+00:00", "2015-06-01T00:00:00+00:00"]
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


# --- the command ----------------------------------------------------------------------------------


def test_command_exit_status_json_and_table(strategy_files: dict[str, Path]) -> None:
    leaky = fintrade("check", f"{strategy_files['technical']}:Tomorrow", "--json", "--quiet", "--cuts", "3")
    assert leaky.returncode == 1, leaky.stderr
    data = json.loads(leaky.stdout)
    assert data["clean"] is False and len(data["cuts"]) == 3
    assert {"series", "model", "params", "symbol", "bar", "cut", "field", "full", "truncated"} <= set(data["leaks"][0])
    assert {(row["series"], row["symbol"]) for row in data["leaks"]} >= {("tomorrow", "AAA"), ("tomorrow", "BBB")}

    table = fintrade("check", f"{strategy_files['technical']}:Tomorrow", "--quiet", "--cuts", "3")
    assert table.returncode == 1
    assert "LOOKAHEAD: " in table.stdout and "first bar" in table.stdout and "tomorrow" in table.stdout

    clean = fintrade("check", str(ROOT / "strategies" / "sma_crossover.py"), "--quiet")
    assert clean.returncode == 0, clean.stderr
    assert "clean: 3 series (sma-cross, combined, positions) x 5 symbol(s)" in " ".join(clean.stdout.split())

    bad = fintrade("check", str(ROOT / "strategies" / "sma_crossover.py"), "--at", "1999-01-01")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: --at 1999-01-01: before the first bar") and bad.stderr.count("\n") == 1
