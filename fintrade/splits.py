"""Time-ordered train/validation/test splits and walk-forward folds, as bar positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fintrade.errors import ConfigError, DataError


@dataclass(frozen=True)
class Window:
    """Bars ``[start, stop)`` by position."""

    start: int
    stop: int

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def as_slice(self) -> slice:
        return slice(self.start, self.stop)


@dataclass(frozen=True)
class Splits:
    """Fractions of the bars, in time order: train, then validation, then test."""

    train: float = 0.6
    validation: float = 0.2
    test: float = 0.2

    def __post_init__(self) -> None:
        parts = (self.train, self.validation, self.test)
        if any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-9:
            raise ConfigError(
                f"splits must be non-negative and add up to 1, got train={self.train}, "
                f"validation={self.validation}, test={self.test}"
            )

    def windows(self, n_bars: int) -> dict[str, Window]:
        train_end = round(n_bars * self.train)
        validation_end = round(n_bars * (self.train + self.validation))
        windows = {
            "train": Window(0, train_end),
            "validation": Window(train_end, validation_end),
            "test": Window(validation_end, n_bars),
        }
        for name, window in windows.items():
            fraction = getattr(self, name)
            if fraction > 0 and len(window) < 2:
                raise DataError(
                    f"the {name} split ({fraction:.0%} of {n_bars} bars) has {len(window)} bars; "
                    "use a longer date range or larger split"
                )
        return windows


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: parameters are chosen on ``in_sample``, judged on ``out_of_sample``."""

    number: int
    in_sample: Window
    out_of_sample: Window


@dataclass(frozen=True)
class WalkForward:
    """Walk-forward evaluation.

    The bars are cut into ``folds + 1`` equal chunks. Fold i chooses parameters on chunk i
    (``rolling``) or on chunks 0..i (``anchored``) and trades chunk i + 1 with them. The
    out-of-sample chunks are stitched into one track record.
    """

    folds: int = 5
    mode: Literal["rolling", "anchored"] = "rolling"

    def __post_init__(self) -> None:
        if self.mode not in ("rolling", "anchored"):
            raise ConfigError(f"walk_forward.mode must be 'rolling' or 'anchored', got {self.mode!r}")
        if not isinstance(self.folds, int) or self.folds < 1:
            raise ConfigError(f"walk_forward.folds must be a positive integer, got {self.folds!r}")

    def fold_windows(self, n_bars: int) -> list[Fold]:
        chunks = self.folds + 1
        edges = [round(n_bars * i / chunks) for i in range(chunks + 1)]
        folds = []
        for i in range(self.folds):
            in_start = 0 if self.mode == "anchored" else edges[i]
            fold = Fold(i + 1, Window(in_start, edges[i + 1]), Window(edges[i + 1], edges[i + 2]))
            for part, window in (("in-sample", fold.in_sample), ("out-of-sample", fold.out_of_sample)):
                if len(window) < 2:
                    raise DataError(
                        f"walk-forward fold {fold.number} has {len(window)} {part} bars "
                        f"({n_bars} bars cut into {chunks} chunks); use fewer folds or more data"
                    )
            folds.append(fold)
        return folds
