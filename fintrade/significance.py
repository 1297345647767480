"""Does the edge survive the search that found it: significance statistics on plain arrays.

A grid search that tries many combinations and keeps the best one reports the luckiest draw.
These functions say how much of that best figure is luck. They take numpy arrays of simple
per-bar returns (no backtest objects) and follow :mod:`fintrade.metrics`:

- a NaN row is not a return (the series' first bar): it is dropped before anything else;
- Sharpe per bar = ``mean / std(ddof=1)`` at a zero risk-free rate, annualised by
  ``sqrt(periods_per_year)``; a series that never moves has a Sharpe of 0 when its mean is 0
  and none (NaN) otherwise (exactly constant here; compute_metrics tests ``std > 0``, which
  a constant non-zero series can pass by a rounding residue);
- equity = ``cumprod(1 + r)``; CAGR = ``equity[-1] ** (periods_per_year / n) - 1`` (-1 when
  the equity ends at or below zero); max drawdown = ``min(equity / cummax(equity) - 1)``.

The statistics:

- :func:`probabilistic_sharpe`, :func:`min_track_record_length`, :func:`expected_max_sharpe`
  and :func:`deflated_sharpe`: Bailey & Lopez de Prado, "The Sharpe Ratio Efficient Frontier"
  (2012) and "The Deflated Sharpe Ratio" (2014). Every Sharpe there is per bar, not annualised.
- :func:`backtest_overfitting`: the Probability of Backtest Overfitting by combinatorially
  symmetric cross-validation (Bailey, Borwein, Lopez de Prado & Zhu, 2017).
- :func:`bootstrap_intervals` and :func:`superior_predictive_ability`: the stationary bootstrap
  (Politis & Romano, 1994) and Hansen's (2005) test for Superior Predictive Ability, both
  from the ``arch`` package.
- :func:`verdict`: one plain-words line from those figures.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "BestOfSearch",
    "BootstrapIntervals",
    "OverfittingResult",
    "SPAResult",
    "SharpeMoments",
    "backtest_overfitting",
    "bootstrap_intervals",
    "deflate_best",
    "deflated_sharpe",
    "expected_max_sharpe",
    "min_track_record_length",
    "probabilistic_sharpe",
    "sharpe_moments",
    "sharpe_per_bar",
    "superior_predictive_ability",
    "verdict",
]

#: Deflated Sharpe at or above this: the best combination is unlikely to be luck alone.
SIGNIFICANT_DSR = 0.95
#: Deflated Sharpe at or below this: the best combination is not distinguishable from luck
#: (0.5 itself is a coin flip: a strategy that never trades scores exactly that).
LUCK_DSR = 0.5
#: Probability of Backtest Overfitting at or above this: the search likely overfits.
OVERFIT_PBO = 0.5

# Returns this close (a trillionth of equity a bar) are the same return up to rounding.
_SAME_RETURN = 1e-12
# A variance this small relative to the mean square is rounding noise: the series is constant.
_RELATIVE_VARIANCE_FLOOR = 1e-12


def _as_returns(returns: np.ndarray | list[float]) -> np.ndarray:
    """One series of returns as float64, NaN bars dropped."""
    values = np.asarray(returns, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"returns must be one series (1-d), got an array of shape {values.shape}")
    return values[~np.isnan(values)]


def _as_matrix(returns_matrix: np.ndarray, name: str = "returns_matrix") -> np.ndarray:
    """Bars x combinations as float64, rows with any NaN dropped (as compute_metrics counts bars)."""
    values = np.asarray(returns_matrix, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be bars x combinations (2-d), got an array of shape {values.shape}")
    return values[~np.isnan(values).any(axis=1)]


def _sharpe_from_sums(total: np.ndarray, squares: np.ndarray, count: int) -> np.ndarray:
    """Per-bar Sharpe (``ddof=1``) from sums and sums of squares over ``count`` bars each.

    One pass, for the 12,870 splits of PBO; it agrees with the two-pass :func:`_sharpe_of` to
    about ``(mean / std)^2`` machine epsilons, far below any difference a ranking cares about.

    A constant series has no spread: Sharpe 0 when its mean is 0, NaN otherwise (metrics.py).
    The variance from sums of squares can be a rounding residue for a constant series, so a
    variance below ``1e-12`` of the mean square counts as none.
    """
    shape = np.shape(total)
    if count < 2:
        return np.full(shape, np.nan)
    total = np.atleast_1d(np.asarray(total, dtype=float))
    squares = np.atleast_1d(np.asarray(squares, dtype=float))
    # In place where it can be: PBO calls this on 12,870 x N arrays.
    mean = total / count
    variance = total * mean
    np.subtract(squares, variance, out=variance)
    variance /= count - 1
    still = variance <= squares * (_RELATIVE_VARIANCE_FLOOR / count)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.sqrt(variance, out=variance)
        sharpe = np.divide(mean, variance, out=variance)
    if still.any():
        sharpe[still] = np.where(mean[still] == 0, 0.0, np.nan)
    return sharpe.reshape(shape)


def _sharpe_of(values: np.ndarray) -> np.ndarray:
    """Per-bar Sharpe of each column (bars first), two-pass as compute_metrics has it.

    A column whose returns are all the same has none: 0 when they are 0, NaN otherwise
    (compute_metrics tests ``std > 0``, where a constant non-zero column can leave a rounding
    residue and a meaningless huge ratio; here it is NaN).
    """
    n = values.shape[0]
    if n < 2:
        return np.full(values.shape[1:], np.nan)
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=1)
    still = (np.ptp(values, axis=0) == 0) | (std == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(still, np.where(mean == 0, 0.0, np.nan), mean / std)


def sharpe_per_bar(returns_matrix: np.ndarray) -> np.ndarray:
    """Per-bar Sharpe (``mean / std(ddof=1)``) of each column of a bars x combinations array.

    Rows with any NaN are dropped first (as :func:`fintrade.metrics.compute_metrics` counts
    bars). A column that never moves has Sharpe 0 when its mean is 0 and NaN otherwise; with
    fewer than two bars every Sharpe is NaN. Multiply by ``sqrt(periods_per_year)`` to annualise.
    """
    values = _as_matrix(returns_matrix)
    return _sharpe_of(values)


@dataclass(frozen=True)
class SharpeMoments:
    """A return series' per-bar Sharpe and the moments that widen its error.

    ``skewness`` and ``kurtosis`` are population moments (``bias=True``); ``kurtosis`` is raw,
    3 for a normal distribution, not excess. ``observations`` counts the non-NaN returns.
    """

    sharpe: float
    skewness: float
    kurtosis: float
    observations: int


def sharpe_moments(returns: np.ndarray | list[float]) -> SharpeMoments:
    """Per-bar Sharpe, skewness and raw kurtosis of one series of simple returns.

    NaN bars are dropped. Skewness is ``scipy.stats.skew(bias=True)`` and kurtosis
    ``scipy.stats.kurtosis(fisher=False, bias=True)``: population moments, kurtosis raw
    (normal = 3). A constant series has no skewness or kurtosis (NaN); fewer than two returns
    give NaN throughout.
    """
    values = _as_returns(returns)
    n = values.size
    if n < 2:
        return SharpeMoments(float("nan"), float("nan"), float("nan"), n)
    sharpe = float(_sharpe_of(values))
    if np.ptp(values) == 0:
        return SharpeMoments(sharpe, float("nan"), float("nan"), n)
    with warnings.catch_warnings():
        # Nearly constant data: scipy warns and returns NaN, which is the answer we want.
        warnings.simplefilter("ignore", RuntimeWarning)
        skewness = float(stats.skew(values, bias=True))
        kurtosis = float(stats.kurtosis(values, fisher=False, bias=True))
    return SharpeMoments(sharpe, skewness, kurtosis, n)


def _sharpe_variance_term(sharpe: float, skewness: float, kurtosis: float) -> float:
    """``1 - g3 SR + (g4 - 1) / 4 SR^2``: T times the variance of an estimated Sharpe (per bar)."""
    return 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2


def probabilistic_sharpe(
    sharpe: float, benchmark: float, observations: float, skewness: float, kurtosis: float
) -> float:
    """Probabilistic Sharpe Ratio: the probability that the true Sharpe exceeds ``benchmark``.

    Bailey & Lopez de Prado (2012)::

        PSR = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))

    ``sharpe`` and ``benchmark`` are per bar (not annualised), ``observations`` is T, the
    number of returns, ``skewness`` is g3 and ``kurtosis`` is g4, raw (normal = 3, not excess),
    as :func:`sharpe_moments` gives them. NaN when any input is NaN or infinite, when T < 2,
    or when the variance term is not positive (a skewness and kurtosis no distribution has
    with that Sharpe).
    """
    if not all(math.isfinite(v) for v in (sharpe, benchmark, observations, skewness, kurtosis)):
        return float("nan")
    if observations < 2:
        return float("nan")
    term = _sharpe_variance_term(sharpe, skewness, kurtosis)
    if term <= 0:
        return float("nan")
    return float(stats.norm.cdf((sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(term)))


def min_track_record_length(
    sharpe: float, benchmark: float, skewness: float, kurtosis: float, confidence: float = 0.95
) -> float:
    """Minimum Track Record Length: bars needed for PSR(``benchmark``) to reach ``confidence``.

    Bailey & Lopez de Prado (2012)::

        MinTRL = 1 + (1 - g3 SR + (g4 - 1) / 4 SR^2) (z_alpha / (SR - SR*))^2

    with ``z_alpha = Phi^-1(confidence)``; Sharpes per bar, kurtosis raw (normal = 3). The
    answer is in bars (divide by bars per year for years). Infinite when ``sharpe <= benchmark``
    (no track record is long enough); NaN when an input is NaN or the variance term is not
    positive. ``confidence`` must lie strictly between 0 and 1.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if not all(math.isfinite(v) for v in (sharpe, benchmark, skewness, kurtosis)):
        return float("nan")
    term = _sharpe_variance_term(sharpe, skewness, kurtosis)
    if term <= 0:
        return float("nan")
    if sharpe <= benchmark:
        return float("inf")
    z = float(stats.norm.ppf(confidence))
    return 1.0 + term * (z / (sharpe - benchmark)) ** 2


def expected_max_sharpe(trials: float, variance: float) -> float:
    """Expected maximum of ``trials`` estimated Sharpes when every true Sharpe is zero.

    Bailey & Lopez de Prado (2014), from extreme value theory::

        SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))

    with gamma the Euler-Mascheroni constant, N = ``trials`` (independent trials) and V =
    ``variance``, the variance of the trials' Sharpes, in the units of the Sharpe to be deflated
    (per bar for :func:`deflated_sharpe`). One trial or fewer: no search, 0. NaN for a negative
    or NaN variance or NaN trials.
    """
    if math.isnan(trials) or math.isnan(variance) or variance < 0:
        return float("nan")
    if trials <= 1:
        return 0.0
    gamma = float(np.euler_gamma)
    quantiles = (1 - gamma) * stats.norm.ppf(1 - 1 / trials) + gamma * stats.norm.ppf(1 - 1 / (trials * math.e))
    return float(math.sqrt(variance) * quantiles)


def deflated_sharpe(
    sharpe: float, observations: float, skewness: float, kurtosis: float, trials: float, variance: float
) -> float:
    """Deflated Sharpe Ratio: PSR against the Sharpe the best of ``trials`` would show by luck.

    Bailey & Lopez de Prado (2014): ``PSR(SR0)`` with ``SR0 = expected_max_sharpe(trials,
    variance)``. All Sharpes per bar; ``variance`` is the variance of the trials' per-bar
    Sharpes; kurtosis raw (normal = 3). The probability that the best combination's true Sharpe
    is above zero once the search that picked it is accounted for. NaN where
    :func:`probabilistic_sharpe` or :func:`expected_max_sharpe` is.

    The paper's example: 100 trials, V = 1/2 annualised, 1,250 daily returns (250 a year), an
    annualised Sharpe of 2.5, skewness -3 and kurtosis 10 give SR0 = 0.1132 a day and DSR = 0.9004.
    """
    benchmark = expected_max_sharpe(trials, variance)
    return probabilistic_sharpe(sharpe, benchmark, observations, skewness, kurtosis)


@dataclass(frozen=True)
class BestOfSearch:
    """The best combination of a search, deflated for the search (all Sharpes per bar).

    ``best`` is its column; ``psr`` its Probabilistic Sharpe against zero (the search ignored);
    ``deflated`` its Deflated Sharpe against ``expected_max``, the best Sharpe expected from
    ``trials`` lucky draws with the observed ``variance`` (``ddof=1``) of the trials' Sharpes.
    """

    best: int
    moments: SharpeMoments
    trials: int
    variance: float
    expected_max: float
    psr: float
    deflated: float


def deflate_best(returns_matrix: np.ndarray) -> BestOfSearch:
    """Deflated Sharpe of the best column of a bars x combinations array of returns.

    Rows with any NaN are dropped. The best column has the highest per-bar Sharpe (the first on
    a tie; NaN Sharpes never win); trials = the number of columns, each counted as an independent
    trial. Correlated combinations are fewer independent trials than that (the paper clusters
    them into effective trials); counting every column errs on the side of deflating more.
    ``ValueError`` when no column has a Sharpe.
    """
    values = _as_matrix(returns_matrix)
    sharpes = _sharpe_of(values)
    if not np.isfinite(sharpes).any():
        raise ValueError(
            f"no combination has a Sharpe ratio ({values.shape[0]} bars without NaN, {values.shape[1]} combinations)"
        )
    best = int(np.argmax(np.where(np.isnan(sharpes), -np.inf, sharpes)))
    moments = sharpe_moments(values[:, best])
    trials = values.shape[1]
    finite = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    expected = expected_max_sharpe(trials, variance)
    return BestOfSearch(
        best=best,
        moments=moments,
        trials=trials,
        variance=variance,
        expected_max=expected,
        psr=probabilistic_sharpe(moments.sharpe, 0.0, moments.observations, moments.skewness, moments.kurtosis),
        deflated=probabilistic_sharpe(
            moments.sharpe, expected, moments.observations, moments.skewness, moments.kurtosis
        ),
    )


@dataclass(frozen=True)
class OverfittingResult:
    """Probability of Backtest Overfitting from combinatorially symmetric cross-validation.

    ``pbo`` is the share of splits whose in-sample best ranks in the bottom half out of sample
    (logit <= 0); ``logits`` holds one logit per split (for a histogram). ``partitions`` is S,
    ``splits`` = C(S, S/2), ``bars`` the bars used (NaN rows and the leading remainder dropped),
    ``combinations`` N. When the test does not apply, ``pbo`` is NaN, ``logits`` empty and
    ``note`` says why.
    """

    pbo: float
    logits: np.ndarray
    partitions: int
    splits: int
    bars: int
    combinations: int
    note: str | None = None

    @property
    def applicable(self) -> bool:
        return self.note is None


def backtest_overfitting(returns_matrix: np.ndarray, partitions: int = 16) -> OverfittingResult:
    """Probability of Backtest Overfitting (Bailey, Borwein, Lopez de Prado & Zhu, 2017).

    ``returns_matrix`` is bars x combinations of simple returns. Rows with any NaN are dropped,
    then the leading rows that do not fill a block, so the rest splits into ``partitions`` (S)
    equal consecutive blocks. For each of the C(S, S/2) ways to take S/2 blocks as in-sample
    (12,870 for S = 16) and the rest as out-of-sample: the combination with the best in-sample
    per-bar Sharpe (the first on a tie) is ranked among all N by out-of-sample Sharpe (1..N
    ascending, ties averaged), omega = rank / (N + 1), logit = ln(omega / (1 - omega)). PBO is
    the share of logits <= 0: how often the in-sample winner is at or below the out-of-sample
    median. A NaN Sharpe (a constant non-zero return) ranks below every other.

    ``ValueError`` for S odd or below 2. Fewer than two combinations, or too few bars for two
    returns in a half, is not an error: the result has PBO NaN and a ``note``.
    """
    if partitions < 2 or partitions % 2:
        raise ValueError(f"partitions must be even and at least 2, got {partitions}")
    values = _as_matrix(returns_matrix)
    n_bars, n_combinations = values.shape
    block = n_bars // partitions
    half = partitions // 2

    def not_applicable(note: str) -> OverfittingResult:
        return OverfittingResult(float("nan"), np.empty(0), partitions, 0, block * partitions, n_combinations, note)

    if n_combinations < 2:
        return not_applicable(f"needs at least 2 combinations to choose from, got {n_combinations}")
    if block * half < 2:
        return not_applicable(
            f"needs at least {max(partitions, 4)} bars without NaN for {partitions} blocks, got {n_bars}"
        )
    used = values[n_bars - block * partitions :].reshape(partitions, block, n_combinations)
    block_sums = used.sum(axis=1)
    block_squares = (used**2).sum(axis=1)
    total_sums = block_sums.sum(axis=0)
    total_squares = block_squares.sum(axis=0)
    count = block * half

    chosen = np.array(list(itertools.combinations(range(partitions), half)))
    in_sample = np.zeros((len(chosen), partitions))
    np.put_along_axis(in_sample, chosen, 1.0, axis=1)

    logits = np.empty(len(chosen))
    # Chunks keep the splits x combinations arrays small: at most 2,048 splits and 2**21 floats
    # (16 MB) each, so a grid of 100,000 combinations does not need gigabytes per array.
    step = max(1, min(2048, 2**21 // n_combinations))
    for start in range(0, len(chosen), step):
        mask = in_sample[start : start + step]
        sums_in = mask @ block_sums
        squares_in = mask @ block_squares
        sharpe_in = _sharpe_from_sums(sums_in, squares_in, count)
        sharpe_out = _sharpe_from_sums(total_sums - sums_in, total_squares - squares_in, count)
        sharpe_in[np.isnan(sharpe_in)] = -np.inf
        sharpe_out[np.isnan(sharpe_out)] = -np.inf
        best = np.argmax(sharpe_in, axis=1)
        best_out = sharpe_out[np.arange(len(mask)), best][:, None]
        below = np.count_nonzero(sharpe_out < best_out, axis=1)
        tied = np.count_nonzero(sharpe_out == best_out, axis=1)
        omega = (below + (tied + 1) / 2.0) / (n_combinations + 1)
        logits[start : start + step] = np.log(omega / (1.0 - omega))
    return OverfittingResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        partitions=partitions,
        splits=len(chosen),
        bars=block * partitions,
        combinations=n_combinations,
    )


MIN_BLOCK_ESTIMATE_BARS = 20
"""Below this many returns the block length is not estimated but 1 (see :func:`_block_size`)."""


def _block_size(series: np.ndarray, block_size: float | None) -> int:
    """The stationary bootstrap's mean block length: given or Politis-White, rounded to the
    nearest whole bar (arch takes an integer), within [1, T/2]."""
    n = series.shape[0]
    if block_size is None and n < MIN_BLOCK_ESTIMATE_BARS:
        # Too short to measure autocorrelation (arch's estimator reads ~sqrt(T) + 5 lags and
        # fails on fewer bars than that): resample single bars.
        block_size = 1.0
    if block_size is None:
        from arch.bootstrap import optimal_block_length

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # A constant series has no autocorrelation to measure: arch warns and gives NaN.
            warnings.simplefilter("ignore", RuntimeWarning)
            estimate = float(optimal_block_length(series)["stationary"].iloc[0])
        block_size = estimate if math.isfinite(estimate) else 1.0
    elif not block_size >= 1:
        raise ValueError(f"block_size must be at least 1 bar, got {block_size}")
    return int(min(max(math.floor(block_size + 0.5), 1), max(n // 2, 1)))


def _annual_figures(returns: np.ndarray, periods_per_year: float) -> np.ndarray:
    """Annualised Sharpe, CAGR and max drawdown of one series, exactly as compute_metrics has them."""
    n = returns.shape[0]
    sharpe = float(_sharpe_of(returns)) * math.sqrt(periods_per_year)
    equity = np.cumprod(1.0 + returns)
    with np.errstate(over="ignore"):
        cagr = equity[-1] ** (periods_per_year / n) - 1.0 if equity[-1] > 0 else -1.0
    drawdown = float(np.min(equity / np.maximum.accumulate(equity) - 1.0))
    return np.array([sharpe, cagr, drawdown])


@dataclass(frozen=True)
class BootstrapIntervals:
    """Percentile confidence intervals from a stationary block bootstrap of one return series.

    The point estimates are the figures of the series itself (annualised Sharpe, CAGR, max
    drawdown as :func:`fintrade.metrics.compute_metrics` has them); ``*_interval`` is
    (lower, upper) at ``confidence``. ``block_size`` is the mean block length in bars (0: no
    bootstrap ran).
    """

    sharpe: float
    sharpe_interval: tuple[float, float]
    cagr: float
    cagr_interval: tuple[float, float]
    max_drawdown: float
    max_drawdown_interval: tuple[float, float]
    block_size: int
    reps: int
    seed: int
    confidence: float
    observations: int


def bootstrap_intervals(
    returns: np.ndarray | list[float],
    periods_per_year: float,
    *,
    reps: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    block_size: float | None = None,
) -> BootstrapIntervals:
    """Stationary-bootstrap percentile intervals for annualised Sharpe, CAGR and max drawdown.

    NaN bars are dropped. ``arch.bootstrap.StationaryBootstrap`` resamples blocks of random
    (geometric) length, which keeps the serial dependence of returns that an i.i.d. bootstrap
    would destroy. Its mean length is ``block_size`` or, when None, the Politis-White estimate
    (``arch.bootstrap.optimal_block_length``, stationary column; 1 for a series without
    autocorrelation to measure), rounded to the nearest whole bar and clamped to [1, T/2]. The generator is
    ``numpy.random.default_rng(seed)``, so a seed gives the same intervals every time. Fewer
    than two returns: every figure NaN.
    """
    from arch.bootstrap import StationaryBootstrap

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if reps < 1:
        raise ValueError(f"reps must be at least 1, got {reps}")
    values = _as_returns(returns)
    n = values.size
    nan_pair = (float("nan"), float("nan"))
    if n < 2:
        return BootstrapIntervals(
            sharpe=float("nan"),
            sharpe_interval=nan_pair,
            cagr=float("nan"),
            cagr_interval=nan_pair,
            max_drawdown=float("nan"),
            max_drawdown_interval=nan_pair,
            block_size=0,
            reps=reps,
            seed=seed,
            confidence=confidence,
            observations=n,
        )
    size = _block_size(values, block_size)
    point = _annual_figures(values, periods_per_year)
    bootstrap = StationaryBootstrap(size, values, seed=np.random.default_rng(seed))
    with np.errstate(all="ignore"):
        bounds = bootstrap.conf_int(
            lambda x: _annual_figures(x, periods_per_year), reps=reps, method="percentile", size=confidence
        )
    lower, upper = bounds
    return BootstrapIntervals(
        sharpe=float(point[0]),
        sharpe_interval=(float(lower[0]), float(upper[0])),
        cagr=float(point[1]),
        cagr_interval=(float(lower[1]), float(upper[1])),
        max_drawdown=float(point[2]),
        max_drawdown_interval=(float(lower[2]), float(upper[2])),
        block_size=size,
        reps=reps,
        seed=seed,
        confidence=confidence,
        observations=n,
    )


@dataclass(frozen=True)
class SPAResult:
    """Hansen's test for Superior Predictive Ability of N models against a benchmark.

    Null hypothesis: no model's expected return beats the benchmark's. ``consistent`` is
    Hansen's SPA p-value, ``upper`` White's Reality Check (recentres every model, so the most
    conservative), ``lower`` the liberal bound. ``block_size`` is the stationary bootstrap's
    mean block length in bars (0: no bootstrap ran). ``models`` counts the models given; ``left_out`` those whose
    return equals the benchmark's, or trails it by the same amount, on every bar: they cannot
    beat it and are left out of the test. NaN p-values with a ``note`` when the test does not
    apply; 1 with a ``note`` when every model is left out.
    """

    consistent: float
    upper: float
    lower: float
    block_size: int
    reps: int
    seed: int
    models: int
    observations: int
    left_out: int = 0
    note: str | None = None


def superior_predictive_ability(
    benchmark_returns: np.ndarray | list[float],
    model_returns: np.ndarray,
    *,
    reps: int = 1000,
    seed: int = 0,
    block_size: float | None = None,
) -> SPAResult:
    """Does any of the models (combinations) beat the benchmark (buy and hold)? Hansen's SPA.

    ``benchmark_returns`` is T bars, ``model_returns`` T x N (or T for one model), both simple
    returns; a bar with a NaN in either is dropped. ``arch.bootstrap.SPA`` runs on losses =
    -returns with the stationary bootstrap and ``numpy.random.default_rng(seed)``, so a seed gives
    the same p-values every time. The mean block length is ``block_size`` or, when None, the
    Politis-White estimate for the loss differential of the model with the highest mean return
    (the one the test statistic hinges on), rounded to the nearest whole bar and clamped to
    [1, T/2]. Fewer than three bars: NaN p-values and a ``note``.

    A model whose return equals the benchmark's on every bar (a grid's always-long member is buy
    and hold), or trails it by the same amount on every bar, is left out: its loss differential
    is the same constant in every resample, and arch compares the bootstrap maximum with the
    observed one strictly, so that constant against itself would count as a significant win
    (p = 0) whenever the other models are worse. "The same" allows 1e-12 of rounding a bar.

    Models with the same returns on every bar are tested once: the test's maximum over models
    is the same, and so are the p-values, at a fraction of the cost for grids whose parameters
    often produce the same trades.

    Cost: arch estimates variances with a Python loop over T lags (about T x T x N
    multiplications) and resamples the T x N differentials ``reps`` times; 1,258 bars x 1,000
    models with ``reps=1000`` took 2.5 to 4 s of CPU (half that with ``reps=500``).
    """
    from arch.bootstrap import SPA

    if reps < 1:
        raise ValueError(f"reps must be at least 1, got {reps}")
    benchmark = np.asarray(benchmark_returns, dtype=float)
    models = np.asarray(model_returns, dtype=float)
    if models.ndim == 1:
        models = models[:, None]
    if benchmark.ndim != 1 or models.ndim != 2 or models.shape[0] != benchmark.shape[0]:
        raise ValueError(
            f"benchmark_returns must be T bars and model_returns T x N, got shapes {benchmark.shape} and {models.shape}"
        )
    keep = ~(np.isnan(benchmark) | np.isnan(models).any(axis=1))
    benchmark, models = benchmark[keep], models[keep]
    n_bars, n_models = models.shape
    if n_bars < 3 or n_models < 1:
        return SPAResult(
            *(float("nan"),) * 3,
            block_size=0,
            reps=reps,
            seed=seed,
            models=n_models,
            observations=n_bars,
            note=f"needs at least 3 bars without NaN and 1 model, got {n_bars} bars and {n_models} models",
        )
    ahead = models - benchmark[:, None]
    never_ahead = (np.ptp(ahead, axis=0) <= _SAME_RETURN) & (ahead.mean(axis=0) <= _SAME_RETURN)
    n_left_out = int(never_ahead.sum())
    if n_left_out == n_models:
        return SPAResult(
            consistent=1.0,
            upper=1.0,
            lower=1.0,
            block_size=0,
            reps=reps,
            seed=seed,
            models=n_models,
            observations=n_bars,
            left_out=n_left_out,
            note="every model equals the benchmark or trails it by the same amount every bar: none can beat it",
        )
    # Duplicate series (parameters that never change a trade) add nothing to the maximum the
    # test takes over models, only to its cost: each series is tested once.
    # np.unique hands the columns back transposed; the bootstrap gathers rows, so rows go first.
    models = np.ascontiguousarray(np.unique(models[:, ~never_ahead], axis=1))
    best = int(np.argmax(models.mean(axis=0)))
    size = _block_size(models[:, best] - benchmark, block_size)
    test = SPA(
        -benchmark, -models, block_size=size, reps=reps, bootstrap="stationary", seed=np.random.default_rng(seed)
    )
    with np.errstate(all="ignore"):
        test.compute()
    pvalues = test.pvalues
    return SPAResult(
        consistent=float(pvalues["consistent"]),
        upper=float(pvalues["upper"]),
        lower=float(pvalues["lower"]),
        block_size=size,
        reps=reps,
        seed=seed,
        models=n_models,
        observations=n_bars,
        left_out=n_left_out,
    )


def verdict(
    deflated: float,
    trials: int,
    *,
    this_run: int | None = None,
    pbo: float | None = None,
    spa_pvalue: float | None = None,
) -> str:
    """One plain-words line on whether the best of ``trials`` combinations is more than luck.

    The Deflated Sharpe decides the words: at or above 0.95 "unlikely to be luck alone", from
    above 0.5 to 0.95 "weak evidence, could be luck", 0.5 or below "not distinguishable from luck", NaN
    "cannot be judged". PBO and the SPA p-value, when given, follow in parentheses, and a PBO
    at or above 0.5 adds "likely overfit". ``this_run``: how many of the trials this run made,
    named when earlier runs' trials are counted too. For example::

        the best of 1,000 combinations: Deflated Sharpe 0.97 - unlikely to be luck alone (PBO 0.08, SPA p = 0.01)
    """
    subject = "the only combination" if trials <= 1 else f"the best of {trials:,} combinations"
    if this_run is not None and trials > this_run:
        # Earlier runs' trials count too (the trial ledger): say so, or the number looks wrong.
        subject += f" tried on this data ({this_run:,} this run)"
    if math.isnan(deflated):
        words = "cannot be judged (too few bars or no variation)"
    elif deflated >= SIGNIFICANT_DSR:
        words = "unlikely to be luck alone"
    elif deflated > LUCK_DSR:
        words = "weak evidence, could be luck"
    else:
        words = "not distinguishable from luck"
    details = []
    if pbo is not None and not math.isnan(pbo):
        details.append(f"PBO {pbo:.2f}")
    if spa_pvalue is not None and not math.isnan(spa_pvalue):
        details.append(f"SPA p = {spa_pvalue:.2f}")
    line = f"{subject}: Deflated Sharpe {deflated:.2f} - {words}"
    if details:
        line += f" ({', '.join(details)})"
    if pbo is not None and not math.isnan(pbo) and pbo >= OVERFIT_PBO:
        line += " - likely overfit"
    return line
