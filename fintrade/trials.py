"""The trial ledger: every combination a strategy has been judged on, across runs.

A Sharpe ratio found by trying many combinations is inflated by the trying. The Deflated
Sharpe Ratio corrects for it, but only if it is told how many tries there were, and a
researcher who runs a grid, looks at the answer, edits the grid and runs again has tried both
grids. So every backtest records the Sharpe ratio of each combination it evaluated here, and
the deflation counts all of them.

One ledger file per strategy (its file and class), under ``<cache>/trials/``. It belongs to
one data set: when the bars (or documents) hash differs from the recorded one, the earlier
trials were made on other data, and the ledger starts again from this run. ``fintrade trials
list`` shows the ledgers, ``fintrade trials clear`` removes them.

Writes go to a temporary file that is renamed onto the ledger, under a file lock, so two runs
finishing together both count and a killed run never leaves half a ledger.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from fintrade.cache import cache_root
from fintrade.errors import DataError

__all__ = ["LedgerEntry", "TrialCount", "TrialLedger", "default_ledger_dir"]

FORMAT_VERSION = 1


def default_ledger_dir() -> Path:
    """``<cache>/trials``: beside the cached data the trials were made on."""
    return cache_root() / "trials"


@dataclass(frozen=True)
class TrialCount:
    """What the ledger holds for a strategy after this run is recorded."""

    #: Every combination evaluated on this data, this run's included.
    trials: int
    #: How many runs they came from.
    runs: int
    #: Combinations evaluated by this run.
    this_run: int
    #: Sample variance (ddof=1) of the trials' per-bar Sharpe ratios (NaN under two finite ones).
    sharpe_variance: float
    #: True when earlier trials were dropped because the data changed.
    reset: bool
    path: Path

    def to_dict(self) -> dict[str, Any]:
        variance = self.sharpe_variance
        return {
            "trials": self.trials,
            "runs": self.runs,
            "this_run": self.this_run,
            "sharpe_variance": variance if math.isfinite(variance) else None,
            "reset": self.reset,
            "ledger": str(self.path),
        }


@dataclass(frozen=True)
class LedgerEntry:
    """One strategy's ledger, as ``fintrade trials list`` shows it."""

    strategy: str
    strategy_file: str
    data_hash: str
    runs: int
    trials: int
    first_run: str
    last_run: str
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "strategy_file": self.strategy_file,
            "data_hash": self.data_hash,
            "runs": self.runs,
            "trials": self.trials,
            "first_run": self.first_run,
            "last_run": self.last_run,
            "path": str(self.path),
        }


def _variance(sharpes: Sequence[float]) -> float:
    finite = [s for s in sharpes if math.isfinite(s)]
    if len(finite) < 2:
        return float("nan")
    mean = math.fsum(finite) / len(finite)
    return math.fsum((s - mean) ** 2 for s in finite) / (len(finite) - 1)


class TrialLedger:
    """The ledgers under ``root`` (default :func:`default_ledger_dir`)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_ledger_dir()

    def path_for(self, strategy_file: str, strategy: str) -> Path:
        """The ledger of one strategy class in one file: its name, and a hash telling same-named ones apart."""
        digest = hashlib.sha256(f"{strategy_file}\0{strategy}".encode()).hexdigest()[:16]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in strategy)[:60]
        return self.root / f"{safe}-{digest}.json"

    def record(
        self,
        *,
        strategy_file: str,
        strategy: str,
        data_hash: str,
        sharpes: Sequence[float],
        observations: int,
    ) -> TrialCount:
        """Add one run's per-bar Sharpe ratios (one per combination) and return the ledger's count."""
        path = self.path_for(strategy_file, strategy)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            ledger = self._read(path)
            reset = ledger is not None and ledger["data_hash"] != data_hash
            if ledger is None or reset:
                ledger = {
                    "version": FORMAT_VERSION,
                    "strategy": strategy,
                    "strategy_file": strategy_file,
                    "data_hash": data_hash,
                    "runs": [],
                }
            ledger["runs"].append(
                {
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "observations": int(observations),
                    # JSON has no NaN: a combination without a Sharpe ratio still counts as a trial.
                    "sharpes": [float(s) if math.isfinite(s) else None for s in sharpes],
                }
            )
            self._write(path, ledger)
        every = [s if s is not None else float("nan") for run in ledger["runs"] for s in run["sharpes"]]
        return TrialCount(
            trials=len(every),
            runs=len(ledger["runs"]),
            this_run=len(sharpes),
            sharpe_variance=_variance(every),
            reset=reset,
            path=path,
        )

    def entries(self) -> list[LedgerEntry]:
        """Every ledger under the root, by strategy name."""
        found = []
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            ledger = self._read(path)
            if ledger is None or not ledger["runs"]:
                continue
            runs = ledger["runs"]
            found.append(
                LedgerEntry(
                    strategy=ledger["strategy"],
                    strategy_file=ledger["strategy_file"],
                    data_hash=ledger["data_hash"],
                    runs=len(runs),
                    trials=sum(len(run["sharpes"]) for run in runs),
                    first_run=runs[0]["at"],
                    last_run=runs[-1]["at"],
                    path=path,
                )
            )
        return sorted(found, key=lambda entry: (entry.strategy, entry.strategy_file))

    def clear(self, strategy: str | None = None) -> int:
        """Remove the ledgers (of one strategy name, or all, unreadable ones included); returns how many."""
        removed = 0
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            if strategy is not None:
                try:
                    ledger = self._read(path)
                except DataError:
                    continue
                if ledger is None or ledger["strategy"] != strategy:
                    continue
            with FileLock(str(path) + ".lock"):
                path.unlink(missing_ok=True)
            Path(str(path) + ".lock").unlink(missing_ok=True)
            removed += 1
        return removed

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        if not path.exists():
            return None
        try:
            ledger = json.loads(path.read_text())
            if not isinstance(ledger, dict) or not isinstance(ledger.get("runs"), list):
                raise ValueError("not a ledger")
            if ledger.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {ledger.get('version')!r}, expected {FORMAT_VERSION}")
        except (ValueError, OSError) as exc:
            raise DataError(
                f"trial ledger {path} is unreadable ({exc}); remove it with `fintrade trials clear`"
            ) from exc
        return ledger

    @staticmethod
    def _write(path: Path, ledger: dict[str, Any]) -> None:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(ledger, file, separators=(",", ":"))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
