"""Whether a backtest's edge survives the search that found it.

A reported Sharpe ratio is one draw from a noisy estimator, and the best of many tries is
inflated by the trying. Every backtest therefore also answers, on the same returns it reports:

- how likely the true Sharpe ratio beats a benchmark, given the track record's length,
  skewness and fat tails (Probabilistic Sharpe Ratio), and how long a record that would take
  (Minimum Track Record Length);
- the same against the best Sharpe ratio that luck alone would give over every combination
  tried for this strategy on this data, in this run and earlier ones (Deflated Sharpe Ratio,
  with the trial count from :mod:`fintrade.trials`);
- how often the combination that is best in one half of the history ranks below the median
  in the other half (Probability of Backtest Overfitting, by combinatorially symmetric
  cross-validation over the whole grid);
- stationary block-bootstrap intervals for Sharpe, CAGR and maximum drawdown, and whether
  any combination beats buy-and-hold once the search is accounted for (Hansen's SPA and
  White's Reality Check p-values).

The formulas live in :mod:`fintrade.significance`; this module chooses the returns they are
applied to and turns the answers into records. docs/evaluation.md explains each statistic.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fintrade.errors import ConfigError

if TYPE_CHECKING:
    from fintrade.trials import TrialCount

__all__ = [
    "BootstrapInterval",
    "Deflation",
    "Overfitting",
    "RealityCheck",
    "Significance",
    "SignificanceResult",
    "assess",
    "strategy_file",
]


@dataclass(frozen=True)
class Significance:
    """How a backtest tests its own luck (a strategy setting, ``significance = Significance(...)``).

    ``benchmark_sharpe`` is annualised, like every reported Sharpe ratio; ``partitions`` is the
    number of blocks combinatorially symmetric cross-validation splits the history into (even);
    ``bootstrap_reps`` resamples for the intervals and the SPA test; ``block_size`` is the mean
    block length of the stationary bootstrap (None: chosen from the returns' autocorrelation,
    Politis and White 2004); ``record_trials`` adds this run's combinations to the trial ledger.
    ``enabled=False`` leaves the figures out (``significance`` is null): for timing them, not for research.
    """

    enabled: bool = True
    benchmark_sharpe: float = 0.0
    partitions: int = 16
    bootstrap_reps: int = 1000
    confidence: float = 0.95
    block_size: float | None = None
    record_trials: bool = True

    def __post_init__(self) -> None:
        if self.partitions < 2 or self.partitions % 2:
            raise ConfigError(f"Significance(partitions={self.partitions!r}): give an even number, at least 2")
        if self.bootstrap_reps < 1:
            raise ConfigError(f"Significance(bootstrap_reps={self.bootstrap_reps!r}): give at least 1")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"Significance(confidence={self.confidence!r}): give a level in (0, 1), e.g. 0.95")
        if self.block_size is not None and not self.block_size >= 1:
            raise ConfigError(f"Significance(block_size={self.block_size!r}): give None or at least 1 bar")
        if not math.isfinite(self.benchmark_sharpe):
            raise ConfigError(f"Significance(benchmark_sharpe={self.benchmark_sharpe!r}): give a finite number")


def _number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: undefined figures are null; the rest keep 12 significant digits."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.12g}")


@dataclass(frozen=True)
class Deflation:
    """The Deflated Sharpe Ratio and where its trial count comes from."""

    value: float | None
    #: Every combination in the ledger (this run's included): the N of the deflation.
    trials: int
    this_run: int
    runs: int
    #: Variance of the trials' per-bar Sharpe ratios (ddof=1).
    sharpe_variance: float | None
    #: The Sharpe ratio luck alone would give the best of ``trials`` tries (annualised).
    expected_max_sharpe: float | None
    #: Where the trials are kept (None when this run was not recorded).
    ledger: str | None
    #: True when the data changed since the ledger's earlier runs, so they no longer count.
    reset: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _number(self.value),
            "trials": self.trials,
            "this_run": self.this_run,
            "runs": self.runs,
            "sharpe_variance": _number(self.sharpe_variance),
            "expected_max_sharpe": _number(self.expected_max_sharpe),
            "ledger": self.ledger,
            "reset": self.reset,
        }


@dataclass(frozen=True)
class Overfitting:
    """Probability of Backtest Overfitting by combinatorially symmetric cross-validation."""

    value: float | None
    partitions: int
    #: How many in-sample / out-of-sample splits were tried: C(partitions, partitions / 2).
    splits: int
    #: Histogram of the out-of-sample rank logits of each split's in-sample winner.
    logit_edges: tuple[float, ...]
    logit_counts: tuple[int, ...]
    median_logit: float | None
    #: Why there is no value (one combination, too few bars), else None.
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _number(self.value),
            "partitions": self.partitions,
            "splits": self.splits,
            "median_logit": _number(self.median_logit),
            "logit_histogram": {
                "edges": [_number(edge) for edge in self.logit_edges],
                "counts": list(self.logit_counts),
            },
            "reason": self.reason,
        }


@dataclass(frozen=True)
class BootstrapInterval:
    """A statistic of the reported returns and its stationary-bootstrap percentile interval."""

    estimate: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": _number(self.estimate), "low": _number(self.low), "high": _number(self.high)}


@dataclass(frozen=True)
class RealityCheck:
    """Does any combination beat buy-and-hold, once the search over all of them is accounted for?"""

    #: Hansen's SPA (consistent) p-value; ``lower`` and ``upper`` bound it; ``upper`` is White's Reality Check.
    spa_pvalue: float | None
    lower_pvalue: float | None
    reality_check_pvalue: float | None
    models: int
    #: Combinations that cannot beat buy-and-hold (equal to it, or trailing it by a constant, on
    #: every bar), left out of the test: counted as wins by a strict comparison, they would
    #: make a grid holding buy-and-hold itself look significant.
    left_out: int = 0
    block_size: int | None = None
    benchmark: str = "buy_and_hold"

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "models": self.models,
            "left_out": self.left_out,
            "block_size": self.block_size,
            "spa_pvalue": _number(self.spa_pvalue),
            "lower_pvalue": _number(self.lower_pvalue),
            "reality_check_pvalue": _number(self.reality_check_pvalue),
        }


@dataclass(frozen=True)
class SignificanceResult:
    """Every significance figure of one backtest, on the returns it reports."""

    #: The window the figures are computed on: ``walk_forward`` (stitched out-of-sample) or ``test``.
    evaluated_on: str
    observations: int
    periods_per_year: float
    sharpe: float | None
    skewness: float | None
    #: Raw kurtosis (3 for normal returns), as the Sharpe ratio's standard error needs it.
    kurtosis: float | None
    benchmark_sharpe: float
    psr: float | None
    min_track_record_bars: float | None
    confidence: float
    deflation: Deflation
    overfitting: Overfitting
    bootstrap: Mapping[str, BootstrapInterval]
    bootstrap_settings: Mapping[str, Any]
    reality_check: RealityCheck | None
    verdict: str

    @property
    def min_track_record_years(self) -> float | None:
        bars = self.min_track_record_bars
        return None if bars is None or not math.isfinite(bars) else bars / self.periods_per_year

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluated_on": self.evaluated_on,
            "observations": self.observations,
            # Per-bar figures are the annualised ones over sqrt(periods_per_year).
            "periods_per_year": _number(self.periods_per_year),
            "sharpe": _number(self.sharpe),
            "skewness": _number(self.skewness),
            "kurtosis": _number(self.kurtosis),
            "psr": {"value": _number(self.psr), "benchmark_sharpe": self.benchmark_sharpe},
            "min_track_record": {
                "bars": _number(self.min_track_record_bars),
                "years": _number(self.min_track_record_years),
                "confidence": self.confidence,
                "met": bool(self.min_track_record_bars is not None and self.observations >= self.min_track_record_bars),
            },
            "dsr": self.deflation.to_dict(),
            "pbo": self.overfitting.to_dict(),
            "bootstrap": {
                **dict(self.bootstrap_settings),
                **{name: interval.to_dict() for name, interval in self.bootstrap.items()},
            },
            "reality_check": self.reality_check.to_dict() if self.reality_check is not None else None,
            "verdict": self.verdict,
        }


def strategy_file(strategy: object) -> str:
    """The file a strategy class was written in (its first class outside fintrade), for the ledger key.

    A baseline is a class fintrade derives from the strategy's own, so it shares the file.
    """
    package = str(Path(__file__).resolve().parent)
    for cls in type(strategy).__mro__:
        module = sys.modules.get(cls.__module__)
        file = getattr(module, "__file__", None)
        if file and not str(Path(file).resolve()).startswith(package):
            return str(Path(file).resolve())
    return type(strategy).__module__


def data_hash(bar_hashes: Mapping[str, str], documents: Any = None) -> str:
    """One hash of everything a strategy's signals saw: every symbol's bars and the documents."""
    digest = hashlib.sha256()
    for symbol in sorted(bar_hashes):
        digest.update(f"{symbol}={bar_hashes[symbol]}\n".encode())
    if documents is not None and len(documents):
        import pandas as pd

        digest.update(pd.util.hash_pandas_object(documents.reset_index(drop=True), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _overfitting(returns: np.ndarray, partitions: int) -> Overfitting:
    from fintrade.significance import backtest_overfitting

    splits = math.comb(partitions, partitions // 2)
    if returns.shape[1] < 2:
        return Overfitting(None, partitions, 0, (), (), None, "one combination: nothing was chosen among others")
    if returns.shape[0] < 2 * partitions:
        return Overfitting(
            None, partitions, 0, (), (), None, f"{returns.shape[0]} bars: too few for {partitions} partitions"
        )
    found = backtest_overfitting(returns, partitions=partitions)
    logits = np.asarray(found.logits, dtype=float)
    finite = logits[np.isfinite(logits)]
    counts, edges = np.histogram(finite, bins=20) if finite.size else (np.array([], dtype=int), np.array([]))
    return Overfitting(
        value=float(found.pbo),
        partitions=partitions,
        splits=splits,
        logit_edges=tuple(float(e) for e in edges),
        logit_counts=tuple(int(c) for c in counts),
        median_logit=float(np.median(finite)) if finite.size else None,
    )


def assess(
    *,
    settings: Significance,
    evaluated_on: str,
    reported: np.ndarray,
    combinations: np.ndarray,
    history: np.ndarray,
    benchmark: np.ndarray,
    periods_per_year: float,
    seed: int,
    record: Callable[[np.ndarray, int], TrialCount] | None = None,
) -> SignificanceResult:
    """Every significance figure of a backtest.

    ``reported``: the returns the headline figures are computed on (the evaluated bars only);
    ``combinations``: every combination's returns on those same bars (bars x combinations);
    ``history``: every combination's returns over the whole history, first bar dropped (for
    cross-validation); ``benchmark``: buy-and-hold's returns on the evaluated bars.
    ``record(sharpes, observations)`` adds this run's trials to the ledger and returns a
    :class:`fintrade.trials.TrialCount` (None: count this run's only).
    """
    from fintrade import significance as stats

    scale = math.sqrt(periods_per_year)
    moments = stats.sharpe_moments(reported)
    benchmark_per_bar = settings.benchmark_sharpe / scale
    psr = stats.probabilistic_sharpe(
        moments.sharpe, benchmark_per_bar, moments.observations, moments.skewness, moments.kurtosis
    )
    track = stats.min_track_record_length(
        moments.sharpe, benchmark_per_bar, moments.skewness, moments.kurtosis, confidence=settings.confidence
    )

    sharpes = stats.sharpe_per_bar(combinations)
    if record is not None:
        count = record(sharpes, combinations.shape[0])
        trials, runs, variance, reset = count.trials, count.runs, count.sharpe_variance, count.reset
        ledger: str | None = str(count.path)
    else:
        finite = sharpes[np.isfinite(sharpes)]
        trials, runs, ledger, reset = len(sharpes), 1, None, False
        variance = float(finite.var(ddof=1)) if finite.size > 1 else float("nan")
    if trials > 1 and math.isfinite(variance):
        deflated = stats.deflated_sharpe(
            moments.sharpe, moments.observations, moments.skewness, moments.kurtosis, trials, variance
        )
        expected = stats.expected_max_sharpe(trials, variance) * scale
    elif trials <= 1:
        # One try: nothing to deflate for, the PSR against zero is the answer.
        deflated = stats.probabilistic_sharpe(
            moments.sharpe, 0.0, moments.observations, moments.skewness, moments.kurtosis
        )
        expected = 0.0
    else:
        deflated, expected = float("nan"), float("nan")
    deflation = Deflation(
        value=deflated,
        trials=trials,
        this_run=len(sharpes),
        runs=runs,
        sharpe_variance=variance,
        expected_max_sharpe=expected,
        ledger=ledger,
        reset=reset,
    )

    overfitting = _overfitting(history, settings.partitions)

    enough = moments.observations >= 4
    intervals: dict[str, BootstrapInterval] = {}
    bootstrap_settings: dict[str, Any] = {
        "method": "stationary",
        "reps": settings.bootstrap_reps,
        "seed": seed,
        "confidence": settings.confidence,
        "block_size": None,
    }
    reality: RealityCheck | None = None
    if enough:
        found = stats.bootstrap_intervals(
            reported,
            periods_per_year,
            reps=settings.bootstrap_reps,
            seed=seed,
            confidence=settings.confidence,
            block_size=settings.block_size,
        )
        bootstrap_settings["block_size"] = _number(found.block_size)
        for name in ("sharpe", "cagr", "max_drawdown"):
            low, high = getattr(found, f"{name}_interval")
            intervals[name] = BootstrapInterval(getattr(found, name), low, high)
        spa = stats.superior_predictive_ability(
            benchmark, combinations, reps=settings.bootstrap_reps, seed=seed, block_size=settings.block_size
        )
        reality = RealityCheck(spa.consistent, spa.lower, spa.upper, spa.models, spa.left_out, spa.block_size or None)

    return SignificanceResult(
        evaluated_on=evaluated_on,
        observations=moments.observations,
        periods_per_year=periods_per_year,
        sharpe=moments.sharpe * scale if math.isfinite(moments.sharpe) else None,
        skewness=moments.skewness,
        kurtosis=moments.kurtosis,
        benchmark_sharpe=settings.benchmark_sharpe,
        psr=psr,
        min_track_record_bars=track,
        confidence=settings.confidence,
        deflation=deflation,
        overfitting=overfitting,
        bootstrap=intervals,
        bootstrap_settings=bootstrap_settings,
        reality_check=reality,
        verdict=stats.verdict(
            deflated,
            trials,
            this_run=len(sharpes),
            pbo=overfitting.value,
            spa_pvalue=reality.spa_pvalue if reality is not None else None,
        ),
    )
