"""The conformance kit: every built-in plugin passes it, and planted contract breaks are named.

The planted plugins are small stand-ins written here, each breaking one contract on purpose;
the built-ins are the real plugins, run on the kit's synthetic data or their bundled data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fintrade.plugin_manager import create_plugin_manager
from fintrade.registry import Registry
from fintrade.testing import make_synthetic_bars
from fintrade.testing.conformance import (
    ConformanceError,
    check_aggregator,
    check_data_source,
    check_signal_model,
    check_text_source,
)
from fintrade.types import BarsRequest, DataSource, Signal, SignalInput, SignalModel

REGISTRY = Registry(create_plugin_manager(load_entry_points=False))
#: Trains a classifier on text embeddings for every computation: ~30 s under the kit.
SLOW_MODELS = {"market-direction"}
#: Needs a fine-tuned language model artifact (tests/test_sentiment_models.py checks it with one).
NEEDS_ARTIFACT = {"llm-sentiment"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_MODELS else name
        for name in REGISTRY.signal_models.names()
        if name not in NEEDS_ARTIFACT
    ],
)
def test_every_built_in_signal_model_conforms(name: str) -> None:
    report = check_signal_model(REGISTRY.signal_models.get(name))
    assert "no_lookahead" in report.passed and report.ok


@pytest.mark.parametrize("name", REGISTRY.aggregators.names())
def test_every_built_in_aggregator_conforms(name: str) -> None:
    assert len(check_aggregator(REGISTRY.aggregators.get(name)).passed) == 6


#: A synthetic market makes up bars for any symbol at any date: by design, and marked so.
INVENTED = "a synthetic market has every symbol at every date"


@pytest.mark.parametrize(
    ("name", "symbols", "start", "end", "options", "gaps"),
    [
        ("sample", ["AAPL", "JPM"], "2015-01-01", "2015-06-01", {}, {}),
        (
            "synthetic",
            ["AAA", "BBB"],
            "2020-01-01",
            "2020-06-01",
            {"seed": 3},
            dict.fromkeys(["empty_range", "unknown_symbol"], INVENTED),
        ),
    ],
)
def test_built_in_data_sources_conform(name: str, symbols, start, end, options, gaps) -> None:
    source = REGISTRY.data_sources.get(name)
    report = check_data_source(source, symbols=symbols, start=start, end=end, options=options, expected_failures=gaps)
    assert "valid_bars" in report.passed and set(report.expected) == set(gaps)


@pytest.mark.parametrize(
    ("name", "symbols", "start", "end", "options", "gaps"),
    [
        ("sample-tweets", ["AAPL", "JPM"], "2015-01-01", "2015-03-01", {}, {}),
        ("synthetic-news", ["AAA", "BBB"], "2020-01-01", "2020-06-01", {"seed": 3}, {"empty_range": INVENTED}),
    ],
)
def test_built_in_text_sources_conform(name: str, symbols, start, end, options, gaps) -> None:
    source = REGISTRY.text_sources.get(name)
    report = check_text_source(source, symbols=symbols, start=start, end=end, options=options, expected_failures=gaps)
    assert "valid_documents" in report.passed and set(report.expected) == set(gaps)


def _unsorted(request: BarsRequest) -> dict[str, pd.DataFrame]:
    bars = make_synthetic_bars(request.symbols, n_bars=50, start="2020-01-01")
    return {symbol: frame.iloc[::-1] for symbol, frame in bars.items()}


def test_a_source_returning_unsorted_bars_is_named() -> None:
    source = DataSource(name="shuffled", load=_unsorted)
    with pytest.raises(ConformanceError) as caught:
        check_data_source(source, symbols=["AAA"])
    message = str(caught.value)
    assert "check 'valid_bars' failed for data source 'shuffled'" in message
    assert "not sorted" in message


def _loud(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    return Signal.certain(pd.DataFrame(3.0, index=inputs.index, columns=inputs.symbols))


def test_scores_out_of_range_are_named() -> None:
    with pytest.raises(ConformanceError, match=r"check 'scores_in_range' failed for signal model 'loud': scores "):
        check_signal_model(SignalModel(name="loud", compute=_loud))


def _peek(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """Tomorrow's return, today: the classic lookahead."""
    closes = pd.DataFrame({s: f["close"] for s, f in inputs.bars.items()})
    return Signal.certain(np.sign(closes.pct_change().shift(-1)).fillna(0.0))


def test_a_model_that_peeks_ahead_is_named() -> None:
    with pytest.raises(ConformanceError) as caught:
        check_signal_model(SignalModel(name="peeker", compute=_peek))
    message = str(caught.value)
    assert re.search(r"check 'no_lookahead' failed for signal model 'peeker': LOOKAHEAD", message)
    # Only the lookahead: the other contracts hold.
    assert "1 failed" in message.splitlines()[0]


def test_a_known_gap_is_marked_not_skipped_and_a_stale_mark_is_reported() -> None:
    report = check_signal_model(
        SignalModel(name="peeker", compute=_peek), expected_failures={"no_lookahead": "a demo of the classic leak"}
    )
    assert report.expected == {"no_lookahead": "a demo of the classic leak"} and "deterministic" in report.passed
    honest = REGISTRY.signal_models.get("momentum")
    with pytest.raises(ConformanceError, match=r"check 'deterministic' passed .* marked as an expected failure"):
        check_signal_model(honest, expected_failures={"deterministic": "stale"})
    with pytest.raises(ValueError, match="unknown check"):
        check_signal_model(honest, expected_failures={"determinism": "misspelt"})


def test_a_crash_fails_its_check_with_the_plugin_named() -> None:
    def broken(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
        raise KeyError("close")

    with pytest.raises(
        ConformanceError, match=r"check 'signal_shape' failed for signal model 'broken': raised KeyError"
    ):
        check_signal_model(SignalModel(name="broken", compute=broken))
