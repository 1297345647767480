"""Benchmark: a 1,000-combination SMA-crossover sweep on 10 symbols x 5 years of daily bars.

Three ways of doing the same research, measured side by side in one run on real data
(StockNet daily prices, 2012-09-04 .. 2017-09-01, split- and dividend-adjusted):

(a) fintrade: the sweep as ``run_backtest`` performs it (``expand_grid`` -> ``combined_signal`` ->
    ``target_positions`` -> ``engine.simulate``), and the complete ``run_backtest`` (data loading,
    splits, walk-forward, regimes, cost sensitivity) on a strategy over the same CSV files;
(b) plain vectorbt, written as a vectorbt user would: ``vbt.MA.run`` for the averages, target
    positions shifted to the next open, orders only where the target changes, and
    ``Portfolio.from_orders(size_type="targetpercent", engine="rust")``; its final values must equal
    fintrade's to 1e-6 relative, or the run fails (a ratio only counts when the numbers agree);
(c) backtesting.py: ``Backtest.optimize`` over the same 1,000 combinations on one symbol, timed in a
    child process (its fork-based pool would otherwise slow the contenders that follow it).

A warm-up round runs everything once (imports, numba/rust caches); then ``--repeats`` measured
rounds run the fintrade and vectorbt contenders one after the other, interleaved and rotated,
so that background load weighs on all of them alike; backtesting.py gets 3 rounds of its own
afterwards. Times are medians over rounds; fintrade/vectorbt ratios are taken within each
round, then their median. Results: markdown tables on stdout and
``bench/results/sweep.json``. Usage::

    .venv/bin/python bench/bench_sweep.py            # 5 rounds (+3 of backtesting.py): about 3 minutes on 2 cores
    .venv/bin/python bench/bench_sweep.py --quick    # 1 round, 100 sampled backtesting.py combinations
    .venv/bin/python bench/bench_sweep.py --profile  # also print a cProfile of the fintrade paths
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

# backtesting.py draws a tqdm bar per run and per optimisation; they would bury the results.
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import pandas as pd
from backtesting import Backtest
from backtesting import Strategy as BtStrategy

import fintrade
from fintrade import Costs, DataSource, Strategy, signal
from fintrade.data import load_bars
from fintrade.engine import Simulation, simulate
from fintrade.evaluation import run_backtest
from fintrade.plugin_manager import PluginInfo, create_plugin_manager
from fintrade.registry import Registry
from fintrade.sweep import combined_signal, expand_grid, target_positions
from fintrade.types import BarsRequest, SignalInput

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path(os.environ.get("FINTRADE_BENCH_DATA", "/work/shared/data/stocknet/price_raw"))
RESULTS = ROOT / "bench" / "results" / "sweep.json"

# Ten liquid names that trade over the whole StockNet range (1,258 bars each, none missing).
SYMBOLS: tuple[str, ...] = ("AAPL", "AMZN", "GOOG", "MSFT", "JPM", "BAC", "C", "T", "D", "FB")
FAST: tuple[int, ...] = tuple(range(5, 55, 5))  # 10 values
SLOW: tuple[int, ...] = tuple(range(55, 555, 5))  # 100 values, all above every fast window
COMBINATIONS: tuple[tuple[int, int], ...] = tuple((f, s) for f in FAST for s in SLOW)
assert len(COMBINATIONS) == 1000 and all(f < s for f, s in COMBINATIONS)
FEES = 0.001  # 10 bps of traded value per fill
SLIPPAGE = 0.0005  # 5 bps against every fill
INITIAL_CASH = 100_000.0
BACKTESTING_SYMBOL = "AAPL"
RTOL = 1e-6

# --------------------------------------------------------------------------------------- data


def read_adjusted_bars(data_dir: Path, symbol: str) -> pd.DataFrame:
    """One symbol's daily OHLCV, every price scaled by Adj Close / Close.

    Raw prices would make AAPL's 7:1 split of 2014 look like an 86% crash that every
    strategy trades through; adjusting keeps the sweep's trades realistic.
    """
    raw = pd.read_csv(data_dir / f"{symbol}.csv", index_col="Date", parse_dates=True)
    factor = raw["Adj Close"] / raw["Close"]
    bars = pd.DataFrame(
        {
            "open": raw["Open"] * factor,
            "high": raw["High"] * factor,
            "low": raw["Low"] * factor,
            "close": raw["Adj Close"],
            "volume": raw["Volume"].astype(float),
        }
    )
    bars.index = pd.DatetimeIndex(bars.index).tz_localize("UTC")
    bars.index.name = None
    return bars


class CsvSource:
    """An inline fintrade plugin: the ``bench-csv`` data source over the StockNet CSV files.

    Registered on a private plugin manager so that the benchmark depends only on fintrade's
    core and the technical plugin, not on the state of the bundled data plugins.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def load(self, request: BarsRequest) -> dict[str, pd.DataFrame]:
        return {symbol: read_adjusted_bars(self.data_dir, symbol) for symbol in request.symbols}

    @fintrade.hookimpl
    def fintrade_data_sources(self) -> list[DataSource]:
        return [DataSource(name="bench-csv", load=self.load, description="StockNet CSVs for bench/bench_sweep.py")]


def make_registry(data_dir: Path) -> Registry:
    pm = create_plugin_manager(load_entry_points=False)
    pm.register_plugin(CsvSource(data_dir), "bench-csv", PluginInfo("bench-csv", "strategy file", "ok"))
    return Registry(pm)


def sweep_strategy(symbols: Sequence[str]) -> Strategy:
    """The benchmarked strategy: long while SMA(fast) > SMA(slow), over the 1,000-point grid."""

    class SmaSweep(Strategy):
        source = "bench-csv"
        signals = (signal("sma-cross"),)
        direction = "long_only"
        costs = Costs(fees=FEES, slippage=SLIPPAGE)
        initial_cash = INITIAL_CASH
        grid: ClassVar[Mapping[str, Sequence[Any]]] = {"sma-cross.fast": list(FAST), "sma-cross.slow": list(SLOW)}
        objective = "sharpe"

        def accept(self, params: Mapping[str, Any]) -> bool:
            return bool(params["sma-cross.fast"] < params["sma-cross.slow"])

    SmaSweep.symbols = tuple(symbols)
    return SmaSweep()


# ------------------------------------------------------------------------------------ timing


@dataclass
class Contender:
    """One measured way of doing the sweep: its runs, stage times and the work it stands for."""

    key: str
    name: str
    run: Callable[[dict[str, float]], Any]
    units: int
    unit: str
    separate_rounds: int | None = None  # timed this many times after the interleaved rounds, not in them
    runs: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def per_unit(self) -> list[float]:
        return [seconds / self.units for seconds in self.runs]

    def time_once(self, round_number: int) -> Any:
        stages: dict[str, float] = {}
        gc.collect()  # garbage of the previous contender is not this one's cost
        start = time.perf_counter()
        result = self.run(stages)
        elapsed = time.perf_counter() - start
        # A contender timed elsewhere (backtesting.py, in a child process) reports its own seconds.
        elapsed = stages.pop("reported", elapsed)
        self.runs.append(elapsed)
        for name, seconds in stages.items():
            self.stages.setdefault(name, []).append(seconds)
        print(f"  round {round_number}: {self.name}: {elapsed:.3f} s", file=sys.stderr, flush=True)
        return result


class Stopwatch:
    """Cumulative lap times into a stages dict (used inside measured functions)."""

    def __init__(self, stages: dict[str, float]) -> None:
        self.stages = stages
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - self.last
        self.last = now


# ------------------------------------------------------------------------- (a) fintrade


def fintrade_sweep(strategy: Strategy, registry: Registry, inputs: SignalInput, stages: dict[str, float]) -> Simulation:
    """The grid part of ``run_backtest``: what a user's 1,000-combination sweep costs in fintrade."""
    watch = Stopwatch(stages)
    combos = expand_grid(strategy, registry)
    combined = combined_signal(strategy, registry, inputs, combos)
    watch.lap("signals")
    positions = target_positions(strategy, combined, "bench")
    watch.lap("positions")
    simulation = simulate(
        positions,
        inputs.field("open"),
        inputs.field("close"),
        Costs(fees=FEES, slippage=SLIPPAGE),
        initial_cash=strategy.initial_cash,
        position_size=strategy.position_size,
    )
    watch.lap("simulate (orders, portfolio, values)")
    return simulation


def fintrade_backtest(strategy: Strategy, registry: Registry, stages: dict[str, float]) -> Any:
    """The complete ``run_backtest``, its stages timed through the progress callback it offers."""
    watch = Stopwatch(stages)
    current = ["start"]

    def progress(stage: str) -> None:
        watch.lap(current[0])
        # "simulating 1000 combination(s) x 10 symbol(s)" -> "simulating"
        current[0] = stage.split(" ")[0] if stage.startswith("simulating") else stage

    result = run_backtest(strategy, registry, progress=progress)
    watch.lap(current[0])
    stages.pop("start", None)
    return result


# -------------------------------------------------------------------------- (b) vectorbt


def vectorbt_sweep(close: pd.DataFrame, open_: pd.DataFrame, stages: dict[str, float]) -> pd.DataFrame:
    """The same sweep in plain vectorbt, as its documentation would have a user write it."""
    import vectorbt as vbt

    watch = Stopwatch(stages)
    fast_ma = vbt.MA.run(close, window=[f for f, _ in COMBINATIONS], short_name="fast")
    slow_ma = vbt.MA.run(close, window=[s for _, s in COMBINATIONS], short_name="slow")
    long = fast_ma.ma_above(slow_ma)  # NaN averages compare False: flat until both exist
    watch.lap("signals")
    # Decided at close t, traded at open t+1; orders only where the target changes, so that
    # drift is not rebalanced (and charged) every bar.
    target = long.shift(1, fill_value=False).astype(float)
    size = target.where(target.ne(target.shift(1, fill_value=0.0)))
    watch.lap("positions")
    portfolio = vbt.Portfolio.from_orders(
        close,
        size,
        size_type="targetpercent",
        price=open_,
        fees=FEES,
        slippage=SLIPPAGE,
        init_cash=INITIAL_CASH / close.shape[1],
        engine="rust",
        freq="1D",
    )
    watch.lap("from_orders")
    value = portfolio.value()
    watch.lap("value()")
    return value


def vectorbt_numpy_sweep(close: np.ndarray, open_: np.ndarray, stages: dict[str, float]) -> np.ndarray:
    """The leanest vectorbt path: NumPy in and out, no pandas broadcasting (a floor, not a typical script).

    Shows how much of any gap is fintrade's own overhead and how much is vectorbt's pandas layer.
    """
    import vectorbt as vbt

    watch = Stopwatch(stages)
    n_symbols = close.shape[1]
    sums = np.vstack([np.zeros((1, n_symbols)), np.cumsum(close, axis=0)])
    means: dict[int, np.ndarray] = {}
    for window in sorted({w for pair in COMBINATIONS for w in pair}):
        means[window] = np.full(close.shape, np.nan)
        means[window][window - 1 :] = (sums[window:] - sums[:-window]) / window
    with np.errstate(invalid="ignore"):
        long = np.hstack([means[f] > means[s] for f, s in COMBINATIONS])  # NaN compares False: flat
    watch.lap("signals")
    target = np.zeros(long.shape)
    target[1:] = long[:-1]  # decided at close t, traded at open t+1
    size = target.copy()
    size[0][target[0] == 0] = np.nan
    size[1:][target[1:] == target[:-1]] = np.nan  # orders only where the target changes
    watch.lap("positions")
    n_combos = len(COMBINATIONS)
    portfolio = vbt.Portfolio.from_orders(
        np.tile(close, n_combos),
        size,
        size_type="targetpercent",
        price=np.tile(open_, n_combos),
        fees=FEES,
        slippage=SLIPPAGE,
        init_cash=INITIAL_CASH / n_symbols,
        engine="rust",
        freq="1D",
    )
    watch.lap("from_orders")
    value = portfolio.value().to_numpy()
    watch.lap("value()")
    return value


def final_values(values: pd.DataFrame) -> np.ndarray:
    """The last row of vectorbt's value frame, after checking its columns are in fintrade's order."""
    expected_columns = [(f, s, symbol) for f, s in COMBINATIONS for symbol in SYMBOLS]
    assert list(values.columns) == expected_columns, "vectorbt columns are not in fintrade's combination order"
    return values.to_numpy()[-1].copy()


def check_agreement(ours: np.ndarray, theirs: np.ndarray, what: str) -> float:
    """Assert two tools end every (combination, symbol) sleeve at the same value; return the worst gap."""
    worst = float(np.max(np.abs(ours - theirs) / np.abs(theirs)))
    if not np.allclose(ours, theirs, rtol=RTOL, atol=0.0):
        raise AssertionError(f"fintrade and {what} final values differ by up to {worst:.3e} relative (> {RTOL})")
    return worst


# --------------------------------------------------------------------- (c) backtesting.py


def sma(values: np.ndarray, window: int) -> pd.Series:
    """Trailing simple moving average, NaN until the window fills (backtesting.py's tutorial SMA)."""
    return pd.Series(values).rolling(window).mean()


class SmaCross(BtStrategy):
    """Long while the fast SMA is above the slow one: fintrade's sma-cross, long only.

    Module level because backtesting.py pickles the strategy class to its worker processes.
    """

    fast = 10
    slow = 100

    def init(self) -> None:
        self.fast_ma = self.I(sma, self.data.Close, self.fast)
        self.slow_ma = self.I(sma, self.data.Close, self.slow)

    def next(self) -> None:
        if self.fast_ma[-1] > self.slow_ma[-1]:
            if not self.position:
                self.buy()
        elif self.position:
            self.position.close()


def backtesting_optimize(bars: pd.DataFrame, subset: frozenset[tuple[int, int]] | None = None) -> pd.Series:
    """``Backtest.optimize`` over the grid (or a subset of it) on one symbol; returns the heatmap.

    A subset is chosen through the constraint rather than ``max_tries``, whose random sampling
    would make the number of runs, and so the per-combination time, vary.
    """
    data = bars.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    data.index = data.index.tz_localize(None)
    # Orders placed at close t fill at open t+1 (trade_on_close=False, the default), like
    # fintrade's next_open fills; spread is charged per fill like vectorbt's slippage.
    backtest = Backtest(data, SmaCross, cash=INITIAL_CASH, commission=FEES, spread=SLIPPAGE, finalize_trades=True)
    _, heatmap = backtest.optimize(
        fast=list(FAST),
        slow=list(SLOW),
        constraint=lambda p: p.fast < p.slow and (subset is None or (p.fast, p.slow) in subset),
        maximize="Sharpe Ratio",
        max_tries=None,
        return_heatmap=True,
    )
    expected = len(subset) if subset is not None else len(COMBINATIONS)
    assert len(heatmap) == expected, f"backtesting.py ran {len(heatmap)} combinations, expected {expected}"
    return heatmap


def backtesting_worker() -> int:
    """Child-process side of (c): one warm-up and one timed ``optimize``, reported as JSON on stdout.

    backtesting.py forks a process pool; forking the benchmark process itself would leave its
    ~1 GB heap copy-on-write shared, and the page faults that follow slowed whichever
    contender ran next by up to 2x. A child of its own keeps that cost where it belongs.
    """
    job = json.loads(sys.stdin.read())
    bars = read_adjusted_bars(Path(job["data_dir"]), job["symbol"])

    def subset(pairs: list[list[int]] | None) -> frozenset[tuple[int, int]] | None:
        return None if pairs is None else frozenset((f, s) for f, s in pairs)

    backtesting_optimize(bars, subset(job["warmup_subset"]))
    start = time.perf_counter()
    heatmap = backtesting_optimize(bars, subset(job["subset"]))
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed, "combinations": len(heatmap)}))
    return 0


def backtesting_in_child(
    data_dir: Path, subset: frozenset[tuple[int, int]] | None, warmup_subset: frozenset[tuple[int, int]]
) -> float:
    """Seconds of one ``Backtest.optimize`` timed in a child process (its warm-up not counted)."""
    job = {
        "data_dir": str(data_dir),
        "symbol": BACKTESTING_SYMBOL,
        "subset": None if subset is None else sorted(subset),
        "warmup_subset": sorted(warmup_subset),
    }
    done = subprocess.run(
        [sys.executable, __file__, "--backtesting-worker"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"backtesting.py worker failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


# ------------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            name: version(name)
            for name in ("fintrade", "vectorbt", "vectorbt-rust", "backtesting", "numpy", "pandas", "numba")
        },
    }


def profile(label: str, call: Callable[[], object], lines: int = 25) -> str:
    """A cProfile of one call: the top functions by cumulative and by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    for key in ("cumulative", "tottime"):
        out.write(f"\n### {label}: top {lines} by {key}\n")
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(lines)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 measured round; 100 backtesting.py combinations")
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds after the warm-up round (5)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the fintrade sweep and backtest")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="StockNet price_raw directory")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--backtesting-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backtesting_worker:
        return backtesting_worker()
    repeats = args.repeats or (1 if args.quick else 5)
    rng = np.random.default_rng(0)

    def sample(n: int) -> frozenset[tuple[int, int]]:
        return frozenset(COMBINATIONS[i] for i in rng.choice(len(COMBINATIONS), size=n, replace=False))

    bt_subset = sample(100) if args.quick else None
    bt_warmup_subset = sample(20)
    bt_combos = len(bt_subset) if bt_subset is not None else len(COMBINATIONS)

    registry = make_registry(args.data_dir)
    strategy = sweep_strategy(SYMBOLS)
    bars, _ = load_bars(strategy, registry)
    assert all(len(frame) == 1258 for frame in bars.values()), "expected 1,258 shared bars per symbol"
    inputs = SignalInput(bars=bars)
    close, open_ = inputs.field("close"), inputs.field("open")
    close_np, open_np = close.to_numpy(), open_.to_numpy()
    one_symbol = sweep_strategy((BACKTESTING_SYMBOL,))
    one_inputs = SignalInput(bars={BACKTESTING_SYMBOL: bars[BACKTESTING_SYMBOL]})
    n_columns = len(COMBINATIONS) * len(SYMBOLS)

    contenders = [
        Contender(
            "fintrade_sweep",
            "fintrade sweep (signals + positions + simulate)",
            lambda st: fintrade_sweep(strategy, registry, inputs, st).value[-1].copy(),
            n_columns,
            "combination-symbol",
        ),
        Contender(
            "vectorbt",
            "vectorbt (MA.run + from_orders rust + value)",
            lambda st: final_values(vectorbt_sweep(close, open_, st)),
            n_columns,
            "combination-symbol",
        ),
        Contender(
            "vectorbt_numpy",
            "vectorbt, NumPy in/out (lean floor)",
            lambda st: vectorbt_numpy_sweep(close_np, open_np, st)[-1].copy(),
            n_columns,
            "combination-symbol",
        ),
        Contender(
            "fintrade_run_backtest",
            "fintrade run_backtest (complete)",
            lambda st: fintrade_backtest(strategy, registry, st),
            n_columns,
            "combination-symbol",
        ),
        Contender(
            "fintrade_sweep_1_symbol",
            f"fintrade sweep, 1 symbol ({BACKTESTING_SYMBOL})",
            lambda st: fintrade_sweep(one_symbol, registry, one_inputs, st).value[-1].copy(),
            len(COMBINATIONS),
            "combination",
        ),
        Contender(
            "backtesting_py",
            f"backtesting.py optimize, 1 symbol ({BACKTESTING_SYMBOL})",
            # Each round's child warms up on 20 sampled combinations (imports, a first pool),
            # then times the grid; the warm-up round has nothing more to do.
            lambda st: st.update(reported=backtesting_in_child(args.data_dir, bt_subset, bt_warmup_subset)),
            bt_combos,
            "combination",
            # Apart from the others: after its 3 processes free their memory, whichever contender
            # ran next was up to 2x slower on this VM (memory handed back to the host re-faults).
            # 3 rounds (the slowest by far) keep the whole run under 5 minutes.
            separate_rounds=min(repeats, 3),
        ),
    ]
    by_key = {c.key: c for c in contenders}
    print(
        f"{len(COMBINATIONS)} combinations x {len(SYMBOLS)} symbols x {len(close)} bars; "
        f"1 warm-up round, then {repeats} measured round(s), contenders interleaved",
        file=sys.stderr,
    )

    # Rounds interleave the contenders, so that whatever else the machine is doing in a given
    # minute weighs on all of them; ratios are taken within a round, then their median.
    worst_gap = 0.0
    interleaved = [c for c in contenders if c.separate_rounds is None]
    for round_number in range(repeats + 1):
        finals: dict[str, np.ndarray] = {}
        # Rotate the order each round: the first heavy contender after a pause pays for
        # re-faulting memory on this VM, and rotation spreads that over all of them.
        shift = round_number % len(interleaved)
        for contender in interleaved[shift:] + interleaved[:shift]:
            if round_number == 0:
                result = contender.run({})
                print(f"  warm-up: {contender.name}", file=sys.stderr, flush=True)
            else:
                result = contender.time_once(round_number)
            if contender.key in ("fintrade_sweep", "vectorbt", "vectorbt_numpy"):
                finals[contender.key] = result
            del result
        for other in ("vectorbt", "vectorbt_numpy"):
            worst_gap = max(worst_gap, check_agreement(finals["fintrade_sweep"], finals[other], other))
    print(f"  final values agree in every round: worst relative gap {worst_gap:.2e} (<= {RTOL})", file=sys.stderr)
    for contender in contenders:
        for round_number in range(1, (contender.separate_rounds or 0) + 1):
            contender.time_once(round_number)

    def per_round(numerator: str, denominator: str) -> list[float]:
        return [a / b for a, b in zip(by_key[numerator].runs, by_key[denominator].runs, strict=True)]

    def per_unit_against_median(numerator: str, denominator: str) -> list[float]:
        # backtesting.py is timed in its own rounds, so each of its runs meets fintrade's median.
        bottom = by_key[denominator].median / by_key[denominator].units
        return [a / bottom for a in by_key[numerator].per_unit]

    ratio_rounds = {
        "fintrade_sweep / vectorbt": per_round("fintrade_sweep", "vectorbt"),
        "fintrade_sweep / vectorbt_numpy": per_round("fintrade_sweep", "vectorbt_numpy"),
        "fintrade_run_backtest / vectorbt": per_round("fintrade_run_backtest", "vectorbt"),
        "backtesting_py per combination / fintrade_sweep per combination-symbol": per_unit_against_median(
            "backtesting_py", "fintrade_sweep"
        ),
        "backtesting_py per combination / fintrade_sweep_1_symbol per combination": per_unit_against_median(
            "backtesting_py", "fintrade_sweep_1_symbol"
        ),
    }
    targets = {
        "fintrade_sweep / vectorbt": "<= 1.15",
        "backtesting_py per combination / fintrade_sweep per combination-symbol": ">= 50",
    }
    ratios: dict[str, dict[str, Any]] = {
        name: {
            "median_of_rounds": round(statistics.median(values), 3),
            "rounds": [round(v, 3) for v in values],
            "target": targets.get(name, ""),
        }
        for name, values in ratio_rounds.items()
    }
    rows: list[dict[str, Any]] = [
        {
            "key": c.key,
            "name": c.name,
            "median_s": round(c.median, 4),
            "runs_s": [round(r, 4) for r in c.runs],
            "units": c.units,
            "unit": c.unit,
            "per_unit_ms": round(c.median / c.units * 1000, 5),
            "stages_median_s": {k: round(statistics.median(v), 4) for k, v in c.stages.items()},
        }
        for c in contenders
    ]
    results = {
        "benchmark": "bench/bench_sweep.py",
        "command": " ".join([".venv/bin/python", "bench/bench_sweep.py", *(argv or sys.argv[1:])]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "setup": {
            "symbols": list(SYMBOLS),
            "bars": len(close),
            "start": close.index[0].date().isoformat(),
            "end": close.index[-1].date().isoformat(),
            "fast": list(FAST),
            "slow": list(SLOW),
            "combinations": len(COMBINATIONS),
            "fees": FEES,
            "slippage": SLIPPAGE,
            "warmup_rounds": 1,
            "measured_rounds": repeats,
        },
        "agreement": {"rtol": RTOL, "worst_relative_gap": worst_gap},
        "backtesting_py": {
            "combinations_per_run": bt_combos,
            "extrapolated": bt_combos < len(COMBINATIONS),
            "parallelism": f"multiprocessing.Pool(processes=os.cpu_count()={os.cpu_count()}), fork start method",
            "timed_in": "a child process per round, after a 20-combination warm-up there; optimize() only",
        },
        "rows": rows,
        "ratios": ratios,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")

    print("\n| what | median (s) | runs (s) | per unit (ms) | unit |\n|---|---:|---|---:|---|")
    for entry in rows:
        runs = ", ".join(f"{r:.2f}" for r in entry["runs_s"])
        print(f"| {entry['name']} | {entry['median_s']:.3f} | {runs} | {entry['per_unit_ms']:.4f} | {entry['unit']} |")
    print("\n| ratio (median of per-round ratios) | value | rounds | target |\n|---|---:|---|---|")
    for name, entry in ratios.items():
        rounds = ", ".join(f"{v:.2f}" for v in entry["rounds"])
        print(f"| {name} | {entry['median_of_rounds']:.2f} | {rounds} | {entry['target']} |")
    print("\n| stage | median (s) |\n|---|---:|")
    for entry in rows:
        for stage, seconds in entry["stages_median_s"].items():
            print(f"| {entry['name'].split(' (')[0]}: {stage} | {seconds:.3f} |")
    if bt_combos < len(COMBINATIONS):
        print(f"\nbacktesting.py ran {bt_combos} sampled combinations per round; per-combination time extrapolated.")
    print(f"\nfinal values agree to {worst_gap:.1e} relative; results written to {args.output}")

    if args.profile:
        print(profile("fintrade sweep", lambda: fintrade_sweep(strategy, registry, inputs, {})))
        print(profile("fintrade run_backtest", lambda: fintrade_backtest(strategy, registry, {})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
