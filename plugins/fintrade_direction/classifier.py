"""Walk-forward training of the direction classifier: point-in-time by construction.

Rows are (bar, symbol) pairs, pooled over symbols (the features are scale-free). The model is
refitted at bars ``min_train``, ``min_train + refit_every``, ...; the fit at bar t uses the
rows s with ``s + 1 <= t`` (a row's label needs the close of s+1) and, with ``train_window``,
only the last ``train_window`` bars of them, and it predicts bars t to the next refit. Before
``min_train`` there is no prediction. Everything a fit learns (the text PCA, the
standardisation, the logistic regression) comes from its training rows only, and the refit
bars do not depend on how long the data is, so cutting the data after t changes nothing at t.

Each fit: an optional PCA of the text vectors (from running sums, so a refit costs the rows it
adds, not all rows), standardisation, then a multinomial logistic regression, warm-started
from the previous fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fintrade_direction.labels import DOWN, FLAT, UP
from fintrade_direction.text_features import BarText

CLASSES: tuple[int, ...] = (DOWN, FLAT, UP)
MAX_ITER = 1000


@dataclass(frozen=True)
class Schedule:
    """When to refit and on which bars: see the module docstring."""

    min_train: int
    refit_every: int
    train_window: int = 0

    def refits(self, n_bars: int) -> range:
        return range(self.min_train, n_bars, self.refit_every)

    def training_bars(self, refit: int) -> tuple[int, int]:
        """Bars ``[first, stop)`` whose rows a fit at ``refit`` may use: labels known by its close."""
        stop = refit  # row s is usable when s + 1 <= refit
        first = max(0, stop - self.train_window) if self.train_window else 0
        return first, stop


class TextProjection:
    """PCA of the news vectors of the training rows, kept as running sums over bars.

    Rows enter as the expanding (or rolling) training window moves forward and leave when it
    drops them; the projection is the top ``components`` eigenvectors of their covariance.
    """

    def __init__(self, text: BarText, n_symbols: int, usable: np.ndarray, components: int) -> None:
        self.text = text
        self.components = components
        # Only news rows that are also usable training rows (numeric features and label known).
        keep = usable[text.rows]
        self.rows = text.rows[keep]
        self.vectors = text.vectors[keep]
        self.bars = self.rows // n_symbols
        self.count = 0
        self.total = np.zeros(text.dim)
        self.outer = np.zeros((text.dim, text.dim))
        self.first = self.stop = 0
        self.mean = np.zeros(text.dim)
        self.basis = np.zeros((text.dim, 0))
        self.projected = np.zeros((len(text.rows), 0))

    def _block(self, first_bar: int, stop_bar: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.bars, [first_bar, stop_bar])
        return self.vectors[lo:hi]

    def fit(self, first: int, stop: int) -> None:
        """Move the window to training bars ``[first, stop)`` and recompute the projection."""
        for block, sign in ((self._block(self.stop, stop), 1.0), (self._block(self.first, first), -1.0)):
            if len(block):
                self.count += int(sign) * len(block)
                self.total += sign * block.sum(axis=0)
                self.outer += sign * (block.T @ block)
        self.first, self.stop = first, stop
        if self.components == 0:
            # No reduction: the raw vectors go to the classifier (standardised there).
            self.mean, self.basis, self.projected = np.zeros(self.text.dim), np.eye(self.text.dim), self.text.vectors
            return
        k = min(self.components, self.text.dim, max(self.count - 1, 0))
        if k == 0:
            self.mean, self.basis = np.zeros(self.text.dim), np.zeros((self.text.dim, 0))
            self.projected = np.zeros((len(self.text.rows), 0))
            return
        self.mean = self.total / self.count
        covariance = (self.outer - self.count * np.outer(self.mean, self.mean)) / (self.count - 1)
        _, vectors = np.linalg.eigh(covariance)
        basis = vectors[:, ::-1][:, :k]
        # Eigenvectors have no sign of their own: fix one, so equal inputs give equal features.
        flip = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(k)])
        self.basis = basis * np.where(flip == 0, 1.0, flip)
        # Every news row at once: one contiguous product is cheaper than gathering rows first.
        self.projected = (self.text.vectors - self.mean) @ self.basis

    def features(self, rows: np.ndarray) -> np.ndarray:
        """Projected mean vectors of ``rows`` (zeros where a row had no news) and the news flag."""
        out = np.zeros((len(rows), self.basis.shape[1] + 1))
        position = np.searchsorted(self.text.rows, rows)
        position = np.minimum(position, max(len(self.text.rows) - 1, 0))
        has_news = (self.text.rows[position] == rows) if len(self.text.rows) else np.zeros(len(rows), dtype=bool)
        if has_news.any():
            out[has_news, :-1] = self.projected[position[has_news]]
        out[:, -1] = has_news
        return out


def walk_forward(
    numeric: np.ndarray,
    labels: np.ndarray,
    schedule: Schedule,
    *,
    text: BarText | None = None,
    components: int = 16,
    C: float = 1.0,
) -> np.ndarray:
    """Probabilities (bars, symbols, 3) of down, flat and up; NaN where nothing was predicted.

    ``numeric`` is (bars, symbols, features), ``labels`` (bars, symbols) from
    :func:`~fintrade_direction.labels.next_bar_labels`.
    """
    from threadpoolctl import threadpool_limits

    # The matrices are small (a 384 x 384 covariance, tens of features): BLAS and OpenMP threads
    # only add hand-offs (on a busy 2-core machine, spinning OpenBLAS threads made one eigh take
    # seconds instead of 50 ms), and one thread sums in one order, so results do not depend on
    # the number of cores.
    with threadpool_limits(limits=1):
        return _walk_forward(numeric, labels, schedule, text, components, C)


def _walk_forward(
    numeric: np.ndarray, labels: np.ndarray, schedule: Schedule, text: BarText | None, components: int, C: float
) -> np.ndarray:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    n_bars, n_symbols, n_features = numeric.shape
    flat_numeric = numeric.reshape(n_bars * n_symbols, n_features)
    flat_labels = labels.reshape(-1)
    complete = np.isfinite(flat_numeric).all(axis=1)
    usable = complete & ~np.isnan(flat_labels)
    projection = TextProjection(text, n_symbols, usable, components) if text is not None else None
    out = np.full((n_bars * n_symbols, len(CLASSES)), np.nan)
    model: Any = None

    def design(rows: np.ndarray) -> np.ndarray:
        if projection is None:
            return flat_numeric[rows]
        return np.hstack([flat_numeric[rows], projection.features(rows)])

    for refit in schedule.refits(n_bars):
        first, stop = schedule.training_bars(refit)
        train = np.flatnonzero(usable[first * n_symbols : stop * n_symbols]) + first * n_symbols
        end = min(refit + schedule.refit_every, n_bars)
        predict = np.flatnonzero(complete[refit * n_symbols : end * n_symbols]) + refit * n_symbols
        if projection is not None:
            projection.fit(first, stop)
        y = flat_labels[train].astype(int)
        classes = np.unique(y)
        if len(classes) < 2 or len(predict) == 0:
            continue
        x = design(train)
        scaler = StandardScaler().fit(x)
        if model is None or not np.array_equal(model.classes_, classes) or model.coef_.shape[1] != x.shape[1]:
            model = LogisticRegression(C=C, max_iter=MAX_ITER, warm_start=True)
        with warnings.catch_warnings():
            # A fit that stops at MAX_ITER is still a fine, deterministic model; the warning
            # would repeat for every refit of a sweep.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(scaler.transform(x), y)
        probabilities = model.predict_proba(scaler.transform(design(predict)))
        for column, label in enumerate(model.classes_):
            out[predict, CLASSES.index(int(label))] = probabilities[:, column]
        missing = [CLASSES.index(c) for c in CLASSES if c not in model.classes_]
        out[np.ix_(predict, missing)] = 0.0
    return out.reshape(n_bars, n_symbols, len(CLASSES))


__all__ = ["CLASSES", "FLAT", "Schedule", "TextProjection", "walk_forward"]
