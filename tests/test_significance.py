"""fintrade.significance: Deflated Sharpe, PBO, bootstrap intervals and SPA on seeded arrays."""

from __future__ import annotations

import itertools
import math
import re
from statistics import NormalDist

import numpy as np
import pytest
from scipy.stats import rankdata

from fintrade.metrics import compute_metrics
from fintrade.significance import (
    backtest_overfitting,
    bootstrap_intervals,
    deflate_best,
    deflated_sharpe,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe,
    sharpe_moments,
    sharpe_per_bar,
    superior_predictive_ability,
    verdict,
)

# Independent of scipy: the normal CDF from math.erf, its inverse from the standard library.
EULER_GAMMA = 0.5772156649015329


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def phi_inverse(p: float) -> float:
    return NormalDist().inv_cdf(p)


def independent_psr(sr: float, benchmark: float, t: float, skew: float, kurt: float) -> float:
    return phi((sr - benchmark) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr))


def independent_sr0(n: int, variance: float) -> float:
    return math.sqrt(variance) * (
        (1 - EULER_GAMMA) * phi_inverse(1 - 1 / n) + EULER_GAMMA * phi_inverse(1 - 1 / (n * math.e))
    )


def skewed_fat_tailed(seed: int = 3, n: int = 500) -> np.ndarray:
    """Steady gains, now and then a large loss: negative skew, raw kurtosis well above 3, and a
    per-bar Sharpe high enough (0.4) for the kurtosis term to matter."""
    rng = np.random.default_rng(seed)
    crash = rng.random(n) < 0.05
    return np.where(crash, rng.normal(-0.02, 0.01, n), rng.normal(0.004, 0.006, n))


def no_information_market(seed: int, bars: int = 1258, combinations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """I.i.d. returns without drift and random long/short combinations: nothing to find."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, bars)
    positions = rng.choice([-1.0, 1.0], size=(bars, combinations))
    return returns, positions * returns[:, None]


def planted_edge_market(
    seed: int, bars: int = 1258, combinations: int = 100, informed: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``informed`` combinations trade a noisy copy of a signal that predicts the next return."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=bars)
    returns = np.zeros(bars)
    returns[1:] = 0.005 * signal[:-1] + rng.normal(0.0, 0.01, bars - 1)
    positions = rng.choice([-1.0, 1.0], size=(bars, combinations))
    noisy = signal[:, None] + rng.normal(0.0, 1.0, (bars, informed))
    positions[1:, :informed] = np.sign(noisy[:-1])
    return returns, positions * returns[:, None]


# --- Deflated Sharpe: the paper's example --------------------------------------------------


def test_deflated_sharpe_reproduces_the_papers_example() -> None:
    # Bailey & Lopez de Prado (2014): N = 100, V = 1/2 a year, T = 1250 days, SR 2.5 a year,
    # skewness -3, kurtosis 10, 250 days a year -> SR0 = 0.1132 a day, DSR = 0.9004.
    variance = 0.5 / 250
    sharpe = 2.5 / math.sqrt(250)
    sr0 = expected_max_sharpe(100, variance)
    dsr = deflated_sharpe(sharpe, 1250, -3.0, 10.0, 100, variance)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    assert sr0 == pytest.approx(independent_sr0(100, variance), abs=1e-6)
    assert dsr == pytest.approx(independent_psr(sharpe, independent_sr0(100, variance), 1250, -3.0, 10.0), abs=1e-6)


def test_expected_max_sharpe_has_no_search_below_two_trials_and_grows_with_trials() -> None:
    assert expected_max_sharpe(1, 0.01) == 0.0
    assert expected_max_sharpe(0, 0.01) == 0.0
    assert expected_max_sharpe(100, 0.0) == 0.0
    assert math.isnan(expected_max_sharpe(100, -0.01))
    assert math.isnan(expected_max_sharpe(100, float("nan")))
    figures = [expected_max_sharpe(n, 0.01) for n in (2, 10, 100, 1000)]
    assert figures == sorted(figures) and figures[0] > 0
    # With one trial the Deflated Sharpe is the Probabilistic Sharpe against zero.
    assert deflated_sharpe(0.05, 500, -0.5, 5.0, 1, 0.01) == probabilistic_sharpe(0.05, 0.0, 500, -0.5, 5.0)


# --- Moments, PSR and MinTRL ---------------------------------------------------------------


def test_sharpe_moments_are_population_moments_with_raw_kurtosis() -> None:
    returns = skewed_fat_tailed()
    moments = sharpe_moments(returns)
    centred = returns - returns.mean()
    m2, m3, m4 = (np.mean(centred**k) for k in (2, 3, 4))
    assert moments.observations == returns.size
    assert moments.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1), rel=1e-12)
    assert moments.skewness == pytest.approx(m3 / m2**1.5, rel=1e-10)
    assert moments.kurtosis == pytest.approx(m4 / m2**2, rel=1e-10)
    # The series is what the PSR tests need: clearly skewed and fat-tailed.
    assert moments.skewness < -1.0 and moments.kurtosis > 6.0


def test_nan_bars_are_dropped_before_the_moments() -> None:
    returns = skewed_fat_tailed(n=300)
    with_gaps = np.concatenate([[np.nan], returns[:100], [np.nan], returns[100:]])
    assert sharpe_moments(with_gaps) == sharpe_moments(returns)


def test_psr_and_min_track_record_match_an_independent_computation_on_fat_tails() -> None:
    m = sharpe_moments(skewed_fat_tailed())
    benchmark = m.sharpe - 0.06
    psr = probabilistic_sharpe(m.sharpe, benchmark, m.observations, m.skewness, m.kurtosis)
    expected = independent_psr(m.sharpe, benchmark, m.observations, m.skewness, m.kurtosis)
    assert 0.6 < psr < 0.99
    assert psr == pytest.approx(expected, abs=1e-6)
    # Excess kurtosis in place of raw would move PSR far more than the tolerance above.
    excess = probabilistic_sharpe(m.sharpe, benchmark, m.observations, m.skewness, m.kurtosis - 3.0)
    assert abs(excess - psr) > 5e-3

    trl = min_track_record_length(m.sharpe, benchmark, m.skewness, m.kurtosis, confidence=0.95)
    term = 1 - m.skewness * m.sharpe + (m.kurtosis - 1) / 4 * m.sharpe**2
    assert trl == pytest.approx(1 + term * (phi_inverse(0.95) / (m.sharpe - benchmark)) ** 2, rel=1e-6)
    # A track record of exactly MinTRL bars has a PSR of exactly the confidence asked for.
    assert probabilistic_sharpe(m.sharpe, benchmark, trl, m.skewness, m.kurtosis) == pytest.approx(0.95, abs=1e-9)
    assert min_track_record_length(m.sharpe, benchmark, m.skewness, m.kurtosis - 3.0) != pytest.approx(trl, rel=1e-3)


def test_psr_and_min_track_record_on_degenerate_inputs() -> None:
    assert math.isnan(probabilistic_sharpe(0.1, 0.0, 1, 0.0, 3.0))
    assert math.isnan(probabilistic_sharpe(float("nan"), 0.0, 100, 0.0, 3.0))
    assert math.isnan(probabilistic_sharpe(0.1, 0.0, 100, float("nan"), 3.0))
    # 1 - g3 SR + (g4 - 1)/4 SR^2 <= 0: no distribution has these moments.
    assert math.isnan(probabilistic_sharpe(0.5, 0.0, 100, 10.0, 3.0))
    assert math.isnan(min_track_record_length(0.5, 0.0, 10.0, 3.0))
    assert min_track_record_length(0.05, 0.05, 0.0, 3.0) == math.inf
    assert min_track_record_length(0.01, 0.05, 0.0, 3.0) == math.inf
    with pytest.raises(ValueError, match=re.escape("confidence must lie strictly between 0 and 1, got 1.0")):
        min_track_record_length(0.1, 0.0, 0.0, 3.0, confidence=1.0)


def test_constant_and_too_short_series_give_nan_not_a_crash() -> None:
    flat = sharpe_moments(np.zeros(50))
    assert flat.sharpe == 0.0 and math.isnan(flat.skewness) and math.isnan(flat.kurtosis)
    steady = sharpe_moments(np.full(50, 0.001))
    assert math.isnan(steady.sharpe) and math.isnan(steady.skewness)
    assert math.isnan(probabilistic_sharpe(flat.sharpe, 0.0, flat.observations, flat.skewness, flat.kurtosis))
    single = sharpe_moments([0.01, np.nan])
    assert single.observations == 1 and math.isnan(single.sharpe)
    with pytest.raises(ValueError, match="no combination has a Sharpe ratio"):
        deflate_best(np.full((30, 3), 0.001))


def test_sharpe_matches_compute_metrics() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.normal(0.0005, 0.01, (400, 6))
    matrix[:, 5] = 0.0  # never trades: Sharpe 0 in both
    matrix[0] = np.nan  # the first bar has no return
    table = compute_metrics(matrix, 252.0)
    np.testing.assert_allclose(sharpe_per_bar(matrix) * math.sqrt(252.0), table.values["sharpe"], rtol=1e-13)


# --- Searches with nothing and with something to find --------------------------------------


def test_no_information_market_is_not_mistaken_for_an_edge() -> None:
    # One market's DSR, PBO or SPA p-value is a single draw from a spread-out null distribution
    # (the best of 100 lucky Sharpes lands at or below its expected maximum about half the time),
    # so the claims are made over twelve independent markets.
    dsr, psr, pbo, spa = [], [], [], []
    for seed in range(12):
        benchmark, matrix = no_information_market(seed)
        best = deflate_best(matrix)
        dsr.append(best.deflated)
        psr.append(best.psr)
        pbo.append(backtest_overfitting(matrix).pbo)
        spa.append(superior_predictive_ability(benchmark, matrix, reps=200, seed=seed).consistent)
    # Undeflated, the best of 100 always looks significant; deflated, it never does.
    assert min(psr) > 0.95
    assert max(dsr) < 0.95
    assert abs(np.mean(dsr) - 0.5) < 0.1
    assert np.median(dsr) < 0.6
    assert abs(np.mean(pbo) - 0.5) < 0.15
    # A p-value is uniform under the null (mean 0.5; the mean of twelve has a deviation of 0.08).
    assert np.mean(spa) > 0.25
    assert np.median(spa) > 0.1


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_edge_is_found_and_survives_the_search(seed: int) -> None:
    benchmark, matrix = planted_edge_market(seed)
    best = deflate_best(matrix)
    assert best.best < 5  # an informed combination
    assert best.trials == 100
    assert best.deflated > 0.95
    assert backtest_overfitting(matrix).pbo < 0.2
    assert superior_predictive_ability(benchmark, matrix, reps=300, seed=seed).consistent < 0.05


# --- Probability of Backtest Overfitting ---------------------------------------------------


def brute_force_logits(matrix: np.ndarray, partitions: int) -> np.ndarray:
    """CSCV written the slow way: explicit bar indices, np.std, scipy's rankdata."""
    matrix = matrix[~np.isnan(matrix).any(axis=1)]
    block = matrix.shape[0] // partitions
    matrix = matrix[matrix.shape[0] - block * partitions :]
    blocks = [np.arange(i * block, (i + 1) * block) for i in range(partitions)]
    logits = []
    for chosen in itertools.combinations(range(partitions), partitions // 2):
        inside = np.concatenate([blocks[i] for i in chosen])
        outside = np.setdiff1d(np.arange(matrix.shape[0]), inside)
        sharpe_in = matrix[inside].mean(axis=0) / matrix[inside].std(axis=0, ddof=1)
        sharpe_out = matrix[outside].mean(axis=0) / matrix[outside].std(axis=0, ddof=1)
        omega = rankdata(sharpe_out)[np.argmax(sharpe_in)] / (matrix.shape[1] + 1)
        logits.append(math.log(omega / (1 - omega)))
    return np.array(logits)


def test_pbo_matches_a_brute_force_cscv_with_ties_and_a_remainder() -> None:
    rng = np.random.default_rng(11)
    matrix = rng.normal(0.0, 0.01, (83, 7))  # 83 = 8 * 10 + 3: the first 3 bars are dropped
    matrix[:, 6] = matrix[:, 2]  # a tie out of sample (and in sample: the first one wins)
    matrix[:, 4] = -matrix[:, 1]
    matrix[40, 3] = np.nan  # the whole row goes
    result = backtest_overfitting(matrix, partitions=8)
    expected = brute_force_logits(matrix, 8)
    assert result.splits == 70 and result.partitions == 8
    assert result.bars == 80 and result.combinations == 7
    assert result.applicable
    np.testing.assert_allclose(result.logits, expected, atol=1e-10)
    assert result.pbo == pytest.approx(np.mean(expected <= 0))


def test_pbo_degenerate_inputs() -> None:
    rng = np.random.default_rng(2)
    one = backtest_overfitting(rng.normal(size=(200, 1)))
    assert math.isnan(one.pbo) and not one.applicable and one.logits.size == 0
    assert one.note == "needs at least 2 combinations to choose from, got 1"
    short = backtest_overfitting(rng.normal(size=(15, 4)))
    assert math.isnan(short.pbo) and short.note == "needs at least 16 bars without NaN for 16 blocks, got 15"
    with pytest.raises(ValueError, match="partitions must be even and at least 2, got 5"):
        backtest_overfitting(rng.normal(size=(200, 4)), partitions=5)
    with pytest.raises(ValueError, match="partitions must be even and at least 2, got 0"):
        backtest_overfitting(rng.normal(size=(200, 4)), partitions=0)
    # Flat combinations (Sharpe 0 everywhere) tie: no crash, a finite answer.
    flat = backtest_overfitting(np.zeros((64, 3)), partitions=4)
    assert flat.applicable and np.isfinite(flat.logits).all()


def test_pbo_of_the_full_grid_size_counts_every_split() -> None:
    _, matrix = no_information_market(4, combinations=300)
    result = backtest_overfitting(matrix)
    assert result.splits == 12870 and result.logits.shape == (12870,)
    assert result.bars == 1248  # 1258 bars, 16 blocks of 78


# --- Bootstrap intervals -------------------------------------------------------------------


def test_bootstrap_intervals_are_seeded_and_contain_the_point_estimates() -> None:
    rng = np.random.default_rng(9)
    returns = np.concatenate([[np.nan], rng.normal(0.0006, 0.012, 800)])
    first = bootstrap_intervals(returns, 252.0, reps=300, seed=4)
    assert first == bootstrap_intervals(returns, 252.0, reps=300, seed=4)
    assert first.sharpe_interval != bootstrap_intervals(returns, 252.0, reps=300, seed=5).sharpe_interval
    table = compute_metrics(returns[:, None], 252.0).row(0)
    assert first.sharpe == pytest.approx(table["sharpe"], rel=1e-10)
    assert first.cagr == pytest.approx(table["cagr"], rel=1e-10)
    assert first.max_drawdown == pytest.approx(table["max_drawdown"], rel=1e-10)
    for point, (lower, upper) in [
        (first.sharpe, first.sharpe_interval),
        (first.cagr, first.cagr_interval),
        (first.max_drawdown, first.max_drawdown_interval),
    ]:
        assert lower < point < upper
    assert first.observations == 800 and first.reps == 300 and first.seed == 4 and first.confidence == 0.95
    assert 1 <= first.block_size <= 400
    narrower = bootstrap_intervals(returns, 252.0, reps=300, seed=4, confidence=0.5)
    assert (
        first.sharpe_interval[0] < narrower.sharpe_interval[0] < narrower.sharpe_interval[1] < first.sharpe_interval[1]
    )


def test_bootstrap_block_size_is_given_or_clamped() -> None:
    returns = np.random.default_rng(1).normal(0.0, 0.01, 60)
    assert bootstrap_intervals(returns, 252.0, reps=50, block_size=7).block_size == 7
    assert bootstrap_intervals(returns, 252.0, reps=50, block_size=6.6).block_size == 7
    assert bootstrap_intervals(returns, 252.0, reps=50, block_size=1000).block_size == 30
    with pytest.raises(ValueError, match=re.escape("block_size must be at least 1 bar, got 0.5")):
        bootstrap_intervals(returns, 252.0, reps=50, block_size=0.5)
    with pytest.raises(ValueError, match=re.escape("confidence must lie strictly between 0 and 1, got 0.0")):
        bootstrap_intervals(returns, 252.0, confidence=0.0)


def test_bootstrap_on_degenerate_series() -> None:
    flat = bootstrap_intervals(np.zeros(100), 252.0, reps=50)
    assert flat.block_size == 1
    assert flat.sharpe == 0.0 and flat.sharpe_interval == (0.0, 0.0)
    assert flat.max_drawdown == 0.0
    short = bootstrap_intervals([np.nan, 0.01], 252.0, reps=50)
    assert short.observations == 1 and math.isnan(short.sharpe) and math.isnan(short.sharpe_interval[0])


# --- Superior Predictive Ability -----------------------------------------------------------


def test_spa_is_seeded_and_reports_its_settings() -> None:
    benchmark, matrix = no_information_market(3, bars=300, combinations=20)
    first = superior_predictive_ability(benchmark, matrix, reps=200, seed=1)
    assert first == superior_predictive_ability(benchmark, matrix, reps=200, seed=1)
    assert first.lower <= first.consistent <= first.upper
    assert first.reps == 200 and first.seed == 1 and first.models == 20 and first.observations == 300
    assert 1 <= first.block_size <= 150 and first.note is None
    given = superior_predictive_ability(benchmark, matrix, reps=200, seed=1, block_size=5)
    assert given.block_size == 5
    # Duplicate combinations are tested once: the same p-values, more models counted.
    doubled = superior_predictive_ability(benchmark, np.hstack([matrix, matrix[:, :7]]), reps=200, seed=1)
    assert doubled.models == 27
    assert (doubled.consistent, doubled.upper, doubled.lower) == (first.consistent, first.upper, first.lower)


def test_spa_degenerate_inputs() -> None:
    short = superior_predictive_ability([0.01, np.nan, 0.02], np.zeros((3, 2)), reps=50)
    assert math.isnan(short.consistent) and short.observations == 2
    assert short.note == "needs at least 3 bars without NaN and 1 model, got 2 bars and 2 models"
    with pytest.raises(ValueError, match="benchmark_returns must be T bars and model_returns T x N"):
        superior_predictive_ability(np.zeros(10), np.zeros((9, 2)))
    # One model, given as a series, identical to the benchmark: nothing beats it.
    returns = np.random.default_rng(0).normal(0.0, 0.01, 200)
    same = superior_predictive_ability(returns, returns, reps=100)
    assert same.models == 1 and same.left_out == 1 and same.consistent == 1.0
    assert same.note == "every model equals the benchmark or trails it by the same amount every bar: none can beat it"
    # Buy and hold, and a copy trailing it by a constant cost, among worse combinations: arch
    # alone says p = 0 (its strict comparison of a constant differential with itself).
    noise = np.random.default_rng(1).normal(-0.001, 0.01, 200)
    grid = np.column_stack([returns, returns - 0.002, noise])
    result = superior_predictive_ability(returns, grid, reps=200)
    assert result.models == 3 and result.left_out == 2 and result.note is None
    assert result.consistent > 0.3 and result.upper > 0.3
    # A model ahead by the same amount every bar does beat the benchmark: it stays in.
    ahead = superior_predictive_ability(returns, np.column_stack([returns + 0.001, noise]), reps=200)
    assert ahead.left_out == 0 and ahead.consistent < 0.05


# --- Verdict -------------------------------------------------------------------------------


def test_verdict_lines() -> None:
    assert verdict(0.41, 1000) == "the best of 1,000 combinations: Deflated Sharpe 0.41 - not distinguishable from luck"
    assert (
        verdict(0.97, 1000, pbo=0.08, spa_pvalue=0.01)
        == "the best of 1,000 combinations: Deflated Sharpe 0.97 - unlikely to be luck alone (PBO 0.08, SPA p = 0.01)"
    )
    assert verdict(0.7, 12, pbo=0.62) == (
        "the best of 12 combinations: Deflated Sharpe 0.70 - weak evidence, could be luck (PBO 0.62) - likely overfit"
    )
    assert verdict(float("nan"), 1, pbo=float("nan")) == (
        "the only combination: Deflated Sharpe nan - cannot be judged (too few bars or no variation)"
    )


@pytest.mark.parametrize("bars", [3, 4, 9, 19, 20])
def test_short_series_bootstrap_and_test_without_estimating_a_block_length(bars: int) -> None:
    rng = np.random.default_rng(bars)
    returns = rng.normal(0.001, 0.01, bars)
    intervals = bootstrap_intervals(returns, 252, reps=50, seed=1)
    assert intervals.block_size >= 1 and intervals.observations == bars
    spa = superior_predictive_ability(returns, rng.normal(0.0, 0.01, (bars, 3)), reps=50, seed=1)
    assert 0 <= spa.consistent <= 1


def test_a_coin_flip_deflated_sharpe_is_no_evidence() -> None:
    assert "not distinguishable from luck" in verdict(0.5, 10)
    assert "weak evidence" in verdict(0.51, 10)
