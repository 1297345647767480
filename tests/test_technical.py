"""RSI, MACD and Bollinger: equal to plain reference implementations, point-in-time, grids, bad parameters."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from fintrade.errors import ConfigError
from fintrade.registry import Registry
from fintrade.types import SignalInput
from tests.conftest import random_walk_bars

BARS = {s: random_walk_bars(s, n_bars=400) for s in ("AAA", "BBB")}
INPUTS = SignalInput(bars=BARS)
CLOSE = pd.DataFrame({s: f["close"] for s, f in BARS.items()})


def _closes(values: list[float]) -> SignalInput:
    index = pd.date_range("2020-01-01", periods=len(values), tz="UTC")
    frame = pd.DataFrame({"open": values, "high": values, "low": values, "close": values, "volume": 1.0}, index=index)
    return SignalInput({"X": frame})


def _score(registry: Registry, model: str, inputs: SignalInput, **params: object) -> pd.DataFrame:
    return registry.signal_models.get(model).compute(inputs, params).score


def reference_rsi(close: list[float], window: int) -> list[float]:
    """Wilder's RSI as the textbook states it, one bar at a time."""
    out = [np.nan] * len(close)
    changes = [b - a for a, b in itertools.pairwise(close)]
    if len(changes) < window:
        return out
    gain = sum(max(c, 0.0) for c in changes[:window]) / window
    loss = sum(max(-c, 0.0) for c in changes[:window]) / window
    for t in range(window, len(close)):
        if t > window:
            change = changes[t - 1]
            gain = (gain * (window - 1) + max(change, 0.0)) / window
            loss = (loss * (window - 1) + max(-change, 0.0)) / window
        if gain + loss == 0:
            out[t] = 50.0
        else:
            out[t] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out


def test_rsi_by_hand(core_registry: Registry) -> None:
    # Changes +1, -1, +2, -0.5: the first RSI (window 2) averages +1 and -1: gain 0.5, loss 0.5 -> 50.
    # Then gain (0.5 + 2) / 2 = 1.25, loss 0.5 / 2 = 0.25 -> RSI 100 - 100 / 6 = 83.33;
    # then gain 1.25 / 2 = 0.625, loss (0.25 + 0.5) / 2 = 0.375 -> RSI 62.5.
    inputs = _closes([1.0, 2.0, 1.0, 3.0, 2.5])
    expected_rsi = np.array([np.nan, np.nan, 50.0, 100 - 100 / 6, 62.5])
    assert reference_rsi([1.0, 2.0, 1.0, 3.0, 2.5], 2) == pytest.approx(expected_rsi.tolist(), nan_ok=True)
    # Reversion with levels 30/70: RSI 50 -> 0, 83.3 -> -1 (overbought), 62.5 -> -(12.5 / 20).
    score = _score(core_registry, "rsi", inputs, window=2)["X"].to_numpy()
    np.testing.assert_allclose(score, [np.nan, np.nan, 0.0, -1.0, -0.625])
    # With levels 0/100 the score is (50 - RSI) / 50.
    wide = _score(core_registry, "rsi", inputs, window=2, lower=0, upper=100)["X"].to_numpy()
    np.testing.assert_allclose(wide, (50 - expected_rsi) / 50)


def test_rsi_matches_the_textbook_loop(core_registry: Registry) -> None:
    for window in (3, 14):
        score = _score(core_registry, "rsi", INPUTS, window=window, lower=0, upper=100, mode="trend")
        for symbol in BARS:
            expected = (np.array(reference_rsi(CLOSE[symbol].tolist(), window)) - 50) / 50
            np.testing.assert_allclose(score[symbol].to_numpy(), expected, rtol=1e-9, atol=1e-12)


def test_rsi_flat_prices_are_neutral(core_registry: Registry) -> None:
    score = _score(core_registry, "rsi", _closes([5.0] * 6), window=3)["X"].to_numpy()
    np.testing.assert_array_equal(score[3:], [0.0, 0.0, 0.0])


def test_macd_matches_pandas_ewm(core_registry: Registry) -> None:
    fast, slow, signal, scale = 5, 13, 4, 0.7
    line = CLOSE.ewm(span=fast, adjust=False).mean() - CLOSE.ewm(span=slow, adjust=False).mean()
    histogram = line - line.ewm(span=signal, adjust=False).mean()
    volatility = CLOSE.pct_change().rolling(slow).std(ddof=0)
    expected = np.tanh(histogram / (scale * CLOSE * volatility))
    expected.iloc[: slow + signal - 2] = np.nan
    score = _score(core_registry, "macd", INPUTS, fast=fast, slow=slow, signal=signal, scale=scale)
    assert score.notna().sum().min() == len(CLOSE) - (slow + signal - 2)
    np.testing.assert_allclose(score.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-12)


def test_bollinger_matches_pandas_rolling(core_registry: Registry) -> None:
    window, width = 10, 1.5
    mean, deviation = CLOSE.rolling(window).mean(), CLOSE.rolling(window).std(ddof=0)
    expected = (-(CLOSE - mean) / (width * deviation)).clip(-1, 1)
    score = _score(core_registry, "bollinger", INPUTS, window=window, width=width)
    np.testing.assert_allclose(score.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-12)
    trend = _score(core_registry, "bollinger", INPUTS, window=window, width=width, mode="trend")
    np.testing.assert_allclose(trend.to_numpy(), -expected.to_numpy(), atol=1e-12)


def test_bollinger_by_hand(core_registry: Registry) -> None:
    # Window 2 over 1, 3: mean 2, population std 1; close 3 is 1 std above -> width 2 gives -0.5.
    score = _score(core_registry, "bollinger", _closes([1.0, 3.0, 3.0, 2.0]), window=2, width=2.0)["X"]
    np.testing.assert_allclose(score.to_numpy(), [np.nan, -0.5, 0.0, 0.5])


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("rsi", {"window": 14}),
        ("macd", {"fast": 12, "slow": 26, "signal": 9}),
        ("bollinger", {"window": 20, "width": 2.0}),
        ("momentum", {"lookback": 10}),
        ("sma-cross", {"fast": 5, "slow": 20}),
    ],
)
def test_values_at_t_do_not_change_when_later_bars_are_cut(core_registry: Registry, model: str, params: dict) -> None:
    compute = core_registry.signal_models.get(model).compute
    full = compute(INPUTS, params)
    for cut in (15, 40, 200, 399):
        truncated = SignalInput(bars={s: f.iloc[:cut] for s, f in BARS.items()})
        cut_signal = compute(truncated, params)
        pd.testing.assert_frame_equal(cut_signal.score, full.score.iloc[:cut])
        pd.testing.assert_frame_equal(cut_signal.confidence, full.confidence.iloc[:cut])


@pytest.mark.parametrize(
    ("model", "grid"),
    [
        ("rsi", [{"window": 14}, {"window": 7, "mode": "trend"}, {"window": 14, "lower": 20, "upper": 80}]),
        ("macd", [{}, {"fast": 5, "slow": 35}, {"signal": 3, "scale": 2.0}, {}]),
        ("bollinger", [{"window": 20}, {"window": 50, "width": 1.0}, {"window": 20, "mode": "trend"}]),
    ],
)
def test_grid_equals_one_by_one(core_registry: Registry, model: str, grid: list[dict]) -> None:
    signal_model = core_registry.signal_models.get(model)
    together = signal_model.compute_grid(INPUTS, grid).score
    assert together.shape[1] == len(grid) * len(BARS)
    for combo, params in enumerate(grid):
        np.testing.assert_array_equal(together[combo].to_numpy(), signal_model.compute(INPUTS, params).score.to_numpy())


def test_scores_stay_in_range(core_registry: Registry) -> None:
    for model in ("rsi", "macd", "bollinger"):
        values = core_registry.signal_models.get(model).compute(INPUTS, {}).score.to_numpy()
        assert np.nanmax(np.abs(values)) <= 1.0
        assert np.isfinite(values[60:]).all()


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("rsi", {"window": 0}, "signal model 'rsi': parameter 'window' must be a positive integer, got 0"),
        ("rsi", {"window": 2.5}, "signal model 'rsi': parameter 'window' must be a positive integer, got 2.5"),
        ("rsi", {"lower": 60}, "signal model 'rsi': levels must satisfy lower < 50 < upper, got 60 and 70"),
        ("rsi", {"upper": 120}, "signal model 'rsi': parameter 'upper' must be a number between 0 and 100, got 120"),
        ("rsi", {"mode": "up"}, "signal model 'rsi': parameter 'mode' must be one of 'reversion', 'trend', got 'up'"),
        ("macd", {"fast": 30}, "signal model 'macd': fast (30) must be shorter than slow (26)"),
        ("macd", {"scale": 0}, "signal model 'macd': parameter 'scale' must be a positive number, got 0"),
        ("macd", {"signal": True}, "signal model 'macd': parameter 'signal' must be a positive integer, got True"),
        ("bollinger", {"window": 1}, "signal model 'bollinger': parameter 'window' must be at least 2, got 1"),
        ("bollinger", {"width": -1}, "signal model 'bollinger': parameter 'width' must be a positive number, got -1"),
        (
            "bollinger",
            {"widht": 2},
            "signal model 'bollinger': unknown parameter 'widht' (did you mean 'width'?); known: mode, width, window",
        ),
    ],
)
def test_bad_parameters_are_one_line_errors(core_registry: Registry, model: str, params: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        core_registry.signal_models.get(model).compute(INPUTS, params)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
