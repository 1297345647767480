"""Benchmark: what honest inference costs, as a ratio of the backtest without it.

Two things are timed side by side in one run, interleaved round by round so that background
load weighs on both alike:

(a) significance: ``run_backtest`` with the default ``Significance()`` (PSR, MinTRL, the trial
    ledger and DSR, PBO over 12,870 CSCV splits, 1,000 stationary-bootstrap resamples, Hansen's
    SPA with 1,000 resamples) against the same backtest with ``Significance(enabled=False)``;
(b) the check: ``run_check`` in its default mode (every grid combination, 64 cuts including the
    warm-up, calendar and event bars, each recomputation in a fresh process) and ``--fast``
    (first combination, 8 cuts, in process), against the backtest without significance.

On three strategies: the bundled SMA-crossover sweep (41 combinations x 5 symbols), the demo
(``strategies/tweet_sentiment.py``: run ``make demo`` first so its scores are cached) and the
1,000-combination x 10-symbol sweep of ``bench/bench_sweep.py``. Times are medians over rounds;
ratios are taken within each round, then their median. Results: a markdown table on stdout and
``bench/results/inference.json``. Usage::

    .venv/bin/python bench/bench_inference.py               # 3 rounds
    .venv/bin/python bench/bench_inference.py --repeats 1   # one round, quick
    .venv/bin/python bench/bench_inference.py --skip-check  # significance only
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_sweep import DEFAULT_DATA_DIR, SYMBOLS, make_registry, sweep_strategy

from fintrade import Significance, Strategy
from fintrade.check import run_check
from fintrade.evaluation import run_backtest
from fintrade.loading import load_strategy
from fintrade.plugin_manager import register_module_plugin
from fintrade.registry import Registry, get_plugin_manager
from fintrade.trials import TrialLedger

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "inference.json"


def without_significance(strategy: Strategy) -> Strategy:
    """The same strategy with its significance figures left out."""
    return type(type(strategy).__name__, (type(strategy),), {"significance": Significance(enabled=False)})()


@dataclass
class Case:
    """One strategy and its contenders; each contender's run times per round."""

    name: str
    strategy: Strategy
    registry: Registry
    check: bool
    runs: dict[str, list[float]] = field(default_factory=dict)

    def contenders(self, ledger: TrialLedger) -> dict[str, Callable[[], Any]]:
        bare = without_significance(self.strategy)
        found: dict[str, Callable[[], Any]] = {
            "backtest": lambda: run_backtest(bare, self.registry, ledger=ledger),
            "backtest + significance": lambda: run_backtest(self.strategy, self.registry, ledger=ledger),
        }
        if self.check:
            found["check --fast"] = lambda: run_check(self.strategy, self.registry, fast=True)
            found["check"] = lambda: run_check(self.strategy, self.registry)
        return found


def _file_case(name: str, path: str, check: bool) -> Case:
    loaded = load_strategy(str(ROOT / path))
    pm = get_plugin_manager()
    if loaded.has_inline_plugin:
        register_module_plugin(pm, loaded.module, path, "strategy file")
    return Case(name, loaded.strategy, Registry(pm), check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-check", action="store_true", help="time the significance figures only")
    parser.add_argument("--skip-demo", action="store_true", help="leave out strategies/tweet_sentiment.py")
    args = parser.parse_args()

    cases = [_file_case("sma_crossover (41 x 5)", "strategies/sma_crossover.py", not args.skip_check)]
    if not args.skip_demo:
        cases.append(_file_case("demo: tweet_sentiment", "strategies/tweet_sentiment.py", not args.skip_check))
    cases.append(
        Case("sweep 1,000 x 10", sweep_strategy(SYMBOLS), make_registry(DEFAULT_DATA_DIR), not args.skip_check)
    )

    with tempfile.TemporaryDirectory() as folder:
        ledger = TrialLedger(Path(folder))
        for case in cases:
            contenders = case.contenders(ledger)
            print(f"{case.name}: warm-up", file=sys.stderr, flush=True)
            for run in contenders.values():
                run()
            for round_number in range(1, args.repeats + 1):
                order = list(contenders)
                # Rotate the order each round so no contender always runs first (or after a heavy one).
                shift = round_number % len(order)
                for key in order[shift:] + order[:shift]:
                    gc.collect()
                    start = time.perf_counter()
                    contenders[key]()
                    seconds = time.perf_counter() - start
                    case.runs.setdefault(key, []).append(seconds)
                    print(f"  round {round_number}: {key}: {seconds:.2f} s", file=sys.stderr, flush=True)

    rows = []
    print("| strategy | contender | median s | ratio to the backtest |")
    print("|---|---|---:|---:|")
    for case in cases:
        base = case.runs["backtest"]
        for key, runs in case.runs.items():
            ratio = statistics.median(r / b for r, b in zip(runs, base, strict=True))
            rows.append({"strategy": case.name, "contender": key, "seconds": runs, "ratio": ratio})
            print(f"| {case.name} | {key} | {statistics.median(runs):.2f} | {ratio:.2f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {platform.python_version()}",
                "repeats": args.repeats,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
