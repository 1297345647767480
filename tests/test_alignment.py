"""Point-in-time alignment (fintrade.alignment): when bars close, which bar a document reaches, how
documents aggregate and decay, and what is dropped on the way, with hand-computed values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fintrade.alignment import (
    Alignment,
    AlignmentWarning,
    align_scores,
    available_bar,
    bar_close_times,
    bars_through,
    prepare_documents,
    session_close_times,
)
from fintrade.errors import ConfigError, DataError

NEW_YORK = "16:00 America/New_York"


def _utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize("UTC")


def _documents(rows: list[tuple[pd.Timestamp, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["published_at", "symbol", "score", "confidence"])


def _daily() -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Four daily bars at midnight UTC that close at the next midnight."""
    index = pd.date_range("2024-03-04", periods=4, freq="D", tz="UTC")
    return index, bar_close_times(index, "1d")


# --- when bars close --------------------------------------------------------------------------


def test_sample_convention_closes_at_four_in_new_york_across_daylight_saving() -> None:
    # Sample bars are labelled at the 09:30 New York open: 14:30 UTC in winter, 13:30 UTC in summer.
    # US clocks went forward on 2015-03-08 and back on 2015-11-01.
    labels = _utc("2015-03-06 14:30", "2015-03-09 13:30", "2015-10-30 13:30", "2015-11-02 14:30")
    closes = bar_close_times(labels, "1d", NEW_YORK)
    assert list(closes) == list(_utc("2015-03-06 21:00", "2015-03-09 20:00", "2015-10-30 20:00", "2015-11-02 21:00"))


def test_yahoo_convention_midnight_labels_close_the_same_trading_day() -> None:
    # Yahoo labels daily bars 00:00 UTC, which is the evening before in New York.
    labels = _utc("2015-03-06", "2015-03-09", "2015-10-30", "2015-11-02")
    closes = bar_close_times(labels, "1d", NEW_YORK)
    assert list(closes) == list(_utc("2015-03-06 21:00", "2015-03-09 20:00", "2015-10-30 20:00", "2015-11-02 21:00"))
    assert list(session_close_times(labels, NEW_YORK)) == list(closes)


def test_without_a_session_close_a_bar_closes_when_the_next_opens() -> None:
    index = _utc("2024-01-01 00:00", "2024-01-01 04:00", "2024-01-01 08:00")
    assert list(bar_close_times(index, "4h")) == list(_utc("2024-01-01 04:00", "2024-01-01 08:00", "2024-01-01 12:00"))


def test_intraday_closes_are_capped_at_the_next_bars_open() -> None:
    # Hourly bars of one New York session: the session close (16:00) would fall after every later
    # bar opened, so each bar but the last closes when the next one opens.
    labels = pd.date_range("2015-07-01 09:30", periods=7, freq="h", tz="America/New_York").tz_convert("UTC")
    closes = bar_close_times(labels, "1h", NEW_YORK)
    assert list(closes[:-1]) == list(labels[1:])
    assert closes[-1] == pd.Timestamp("2015-07-01 16:00", tz="America/New_York")
    # An irregular clock: a 1h bar followed 30 minutes later by the next closes at 30 minutes.
    gappy = _utc("2024-01-01 00:00", "2024-01-01 00:30", "2024-01-01 02:00")
    assert list(bar_close_times(gappy, "1h")) == list(_utc("2024-01-01 00:30", "2024-01-01 01:30", "2024-01-01 03:00"))


@pytest.mark.parametrize(
    ("session_close", "message"),
    [
        ("4pm New York", "expected 'HH:MM Area/City'"),
        ("16:00 Mars/Olympus_Mons", "unknown timezone 'Mars/Olympus_Mons'"),
    ],
)
def test_bad_session_close_is_a_config_error(session_close: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        bar_close_times(_utc("2024-01-02"), "1d", session_close)


# --- which bar a document reaches ---------------------------------------------------------------


def test_a_document_one_second_after_the_close_affects_only_the_next_bar() -> None:
    labels = _utc("2015-03-05 14:30", "2015-03-06 14:30", "2015-03-09 13:30", "2015-03-10 13:30")
    closes = bar_close_times(labels, "1d", NEW_YORK)
    at_close = closes[1]  # Friday 16:00 New York
    documents = _documents(
        [
            (at_close, "AAA", 1.0, 1.0),  # known at the close: Friday's bar
            (at_close + pd.Timedelta(seconds=1), "BBB", -1.0, 1.0),  # a second late: Monday's bar
        ]
    )
    signal = align_scores(documents, closes, ["AAA", "BBB"], index=labels)
    assert signal.score.index.equals(labels)
    np.testing.assert_array_equal(signal.score["AAA"].to_numpy(), [np.nan, 1.0, np.nan, np.nan])
    np.testing.assert_array_equal(signal.score["BBB"].to_numpy(), [np.nan, np.nan, -1.0, np.nan])
    np.testing.assert_array_equal(available_bar(documents["published_at"], closes), [1, 2])


def test_the_availability_lag_moves_a_document_across_the_close() -> None:
    index, closes = _daily()
    published = closes[1] - pd.Timedelta(minutes=30)
    documents = _documents([(published, "AAA", 0.5, 1.0)])
    within = align_scores(documents, closes, ["AAA"], Alignment(lag="29min"), index=index)
    across = align_scores(documents, closes, ["AAA"], Alignment(lag="31min"), index=index)
    np.testing.assert_array_equal(within.score["AAA"].to_numpy(), [np.nan, 0.5, np.nan, np.nan])
    np.testing.assert_array_equal(across.score["AAA"].to_numpy(), [np.nan, np.nan, 0.5, np.nan])
    # Known only after the last close: no bar at all.
    late = _documents([(closes[-1] - pd.Timedelta(minutes=1), "AAA", 0.5, 1.0)])
    assert available_bar(late["published_at"], closes, "2min").tolist() == [-1]
    assert align_scores(late, closes, ["AAA"], Alignment(lag="2min"), index=index).score["AAA"].isna().all()


def test_market_wide_documents_count_for_every_symbol() -> None:
    index, closes = _daily()
    documents = _documents(
        [
            (index[0] + pd.Timedelta(hours=1), "", 1.0, 1.0),  # about the whole market
            (index[0] + pd.Timedelta(hours=2), "AAA", 0.0, 1.0),
        ]
    )
    signal = align_scores(documents, closes, ["AAA", "BBB"], index=index)
    assert signal.score["AAA"].iloc[0] == 0.5  # mean of the market-wide 1 and its own 0
    assert signal.score["BBB"].iloc[0] == 1.0


# --- aggregation and decay ----------------------------------------------------------------------


def test_documents_of_a_bar_are_confidence_weighted_or_equal() -> None:
    index, closes = _daily()
    noon = index[0] + pd.Timedelta(hours=12)
    documents = _documents([(noon, "AAA", 1.0, 1.0), (noon, "AAA", -1.0, 0.5)])
    weighted = align_scores(documents, closes, ["AAA"], index=index)
    assert weighted.score["AAA"].iloc[0] == pytest.approx((1.0 - 0.5) / 1.5)
    assert weighted.confidence["AAA"].iloc[0] == pytest.approx(0.75)  # mean confidence
    equal = align_scores(documents, closes, ["AAA"], Alignment(weighting="equal"), index=index)
    assert equal.score["AAA"].iloc[0] == 0.0
    # Every document at confidence 0: the plain mean, at confidence 0.
    unsure = _documents([(noon, "AAA", 1.0, 0.0), (noon, "AAA", 0.5, 0.0)])
    zero = align_scores(unsure, closes, ["AAA"], index=index)
    assert (zero.score["AAA"].iloc[0], zero.confidence["AAA"].iloc[0]) == (0.75, 0.0)


def _decay_documents(closes: pd.DatetimeIndex) -> pd.DataFrame:
    return _documents(
        [
            (closes[0], "AAA", 1.0, 1.0),  # age 0 at bar 0's close
            (closes[2] - pd.Timedelta(hours=12), "AAA", -1.0, 0.5),  # half a half-life old at bar 2's close
            (closes[2] - pd.Timedelta(hours=1), "BBB", 1.0, 1.0),  # BBB's first news, at bar 2
        ]
    )


def test_no_news_is_no_signal_and_news_bars_carry_decayed_evidence() -> None:
    index, closes = _daily()
    signal = align_scores(_decay_documents(closes), closes, ["AAA", "BBB"], Alignment(half_life="1D"), index=index)
    # Bar 2, AAA: the first document weighs 2**-2 = 0.25 after two days; the second 0.5 * 2**-0.5.
    fresh = 0.5 * 2**-0.5
    weight, total = 0.25 + fresh, 0.25 - fresh
    np.testing.assert_allclose(signal.score["AAA"].to_numpy(), [1.0, np.nan, total, np.nan])
    np.testing.assert_allclose(signal.confidence["AAA"].to_numpy(), [1.0, np.nan, weight, np.nan])
    # BBB's one document is an hour old at the close: weight 2**(-1/24), below 1, so the score
    # is the weighted sum over 1 and the confidence the weight itself.
    bbb = 2 ** (-1 / 24)
    np.testing.assert_allclose(signal.score["BBB"].to_numpy(), [np.nan, np.nan, bbb, np.nan])
    np.testing.assert_allclose(signal.confidence["BBB"].to_numpy(), [np.nan, np.nan, bbb, np.nan])


def test_carry_decays_earlier_news_through_quiet_bars() -> None:
    index, closes = _daily()
    alignment = Alignment(half_life="1D", no_news="carry")
    signal = align_scores(_decay_documents(closes), closes, ["AAA", "BBB"], alignment, index=index)
    fresh = 0.5 * 2**-0.5
    weight, total = 0.25 + fresh, 0.25 - fresh
    # Bar 1: the first document, a day old, weighs 0.5: score 0.5 / max(0.5, 1), confidence 0.5.
    # Bar 3: bar 2's evidence a day older, halved; the score is the weighted sum over max(W, 1).
    np.testing.assert_allclose(signal.score["AAA"].to_numpy(), [1.0, 0.5, total, total / 2])
    np.testing.assert_allclose(signal.confidence["AAA"].to_numpy(), [1.0, 0.5, weight, weight / 2])
    # Nothing to carry before a symbol's first document.
    bbb = 2 ** (-1 / 24)
    np.testing.assert_allclose(signal.score["BBB"].to_numpy(), [np.nan, np.nan, bbb, bbb / 2])


def test_scores_and_confidences_out_of_range_are_data_errors() -> None:
    index, closes = _daily()
    with pytest.raises(DataError, match=r"document scores must be finite numbers in \[-1, 1\]"):
        align_scores(_documents([(index[0], "AAA", 1.5, 1.0)]), closes, ["AAA"], index=index)
    with pytest.raises(DataError, match=r"document confidences must be numbers in \[0, 1\]"):
        align_scores(_documents([(index[0], "AAA", 0.5, -0.1)]), closes, ["AAA"], index=index)


# --- preparing documents and configuration -------------------------------------------------------


def test_prepare_documents_drops_what_cannot_be_aligned_and_says_why() -> None:
    last_close = pd.Timestamp("2024-03-08 21:00", tz="UTC")
    documents = pd.DataFrame(
        {
            "published_at": [
                "2024-03-05T10:00:00Z",
                None,
                "not a date",
                "2024-03-05T11:00:00Z",
                "2024-03-05T12:00:00Z",
                "2024-03-05T13:00:00Z",
                "2024-03-08T21:00:01Z",
                "2024-03-04T09:00:00+01:00",
            ],
            "symbol": ["AAA", "AAA", "AAA", "AAA", "BBB", "ZZZ", "AAA", None],
            "text": ["kept", "no time", "bad time", "   ", None, "unknown symbol", "a second late", "market"],
        }
    )
    with pytest.warns(AlignmentWarning) as caught:
        prepared = prepare_documents(documents, ["AAA", "BBB"], last_close, "text source 'feed'")
    assert [str(w.message) for w in caught] == [
        "text source 'feed': dropped 2 without a timestamp; 2 with empty text; "
        "1 about symbols not traded (AAA, BBB); 1 published after the last bar's close (2024-03-08 21:00:00+00:00)"
    ]
    assert prepared["text"].tolist() == ["market", "kept"]  # sorted by time
    assert prepared["symbol"].tolist() == ["", "AAA"]
    assert prepared["published_at"].iloc[0] == pd.Timestamp("2024-03-04 08:00", tz="UTC")


def test_prepare_documents_is_silent_when_nothing_is_dropped_and_names_missing_columns() -> None:
    documents = pd.DataFrame({"published_at": ["2024-03-05T10:00:00Z"], "symbol": ["AAA"], "text": ["fine"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(prepare_documents(documents, ["AAA"], pd.Timestamp("2024-03-06", tz="UTC"))) == 1
    with pytest.raises(DataError, match="documents: missing column"):
        prepare_documents(documents.drop(columns="text"), ["AAA"], pd.Timestamp("2024-03-06", tz="UTC"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lag": "soon"}, "alignment lag 'soon' is not a duration"),
        ({"lag": "-5min"}, "alignment lag '-5min' must be positive"),
        ({"half_life": "0s"}, "alignment half_life '0s' must be positive"),
        ({"weighting": "median"}, "alignment weighting 'median': choose 'confidence' or 'equal'"),
        ({"no_news": "ffill"}, "alignment no_news 'ffill': choose 'none' or 'carry'"),
        ({"no_news": "carry"}, "no_news='carry' needs a half_life"),
    ],
)
def test_bad_alignment_settings_are_config_errors(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Alignment(**settings)  # type: ignore[arg-type]


def test_bars_through_a_date_covers_the_whole_day() -> None:
    labels = _utc("2015-03-05 14:30", "2015-03-06 14:30", "2015-03-09 13:30")
    assert bars_through(labels, "2015-03-06").tolist() == [True, True, False]
    assert bars_through(labels, "2015-03-06 12:00").tolist() == [True, False, False]
    assert bars_through(labels, pd.Timestamp("2015-03-06 09:30", tz="America/New_York")).tolist() == [True, True, False]
    with pytest.raises(ConfigError, match="'yesterday' is not a date or time"):
        bars_through(labels, "yesterday")
