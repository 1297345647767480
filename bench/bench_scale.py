"""Benchmark: how far one machine goes, and what a second core or a Ray cluster adds (issue 14).

SMA-crossover sweeps on the ``synthetic`` source (1,258 daily bars per symbol), the complete
``run_backtest`` each time: splits, 5 walk-forward folds, regimes, cost sensitivity. Significance
is off in every run here (``Significance(enabled=False)``): its cost is measured apart, in
bench/bench_inference.py, and grows with the grid in ways the sweep does not (SPA).

Sections (``--sections``, default all):

``time``
    Time per column-bar (columns = combinations x symbols) of the complete backtest on 1,000 x 10
    and 10,000 x 10, side by side in one process with (a) vectorbt's ``Portfolio.from_orders``
    (rust engine) on the same orders, timed alone (the simulation only: no signals, no
    evaluation), in blocks of 1,000 combinations so that its broadcast inputs fit in memory, and
    (b) a fused numba loop: signal from precomputed averages, fill at the next open with fees and
    slippage, each column's final value (one thread; the physical-limit estimate).
``memory``
    Peak RSS of each sweep in a fresh process: 1,000 x 10, 10,000 x 10, 1,000 x 100 and
    100,000 x 10; with ``--before REF``, also 1,000 x 10 on the code at git ``REF`` (a worktree).
``executors``
    One sweep that takes the local executor at least 30 s, on ``local``, ``processes`` (2 workers)
    and a local Ray with 2 CPUs, each in a fresh process: wall time, speedup over local, and peak
    memory of the driver and of each worker. ``ray`` starts Ray inside the timed run (what
    ``--executor ray`` does on a machine without one); ``ray-running`` times the sweep on a Ray
    already started, whose workers have run one sweep (a cluster started with ``ray start``).
``ray``
    Ray's overhead per task (empty tasks) and the time to put the bars in the object store, for the
    cluster projection in docs/scale.md.

Usage::

    .venv/bin/python bench/bench_scale.py                       # everything: about 15 minutes on 2 cores
    .venv/bin/python bench/bench_scale.py --sections time --quick
    .venv/bin/python bench/bench_scale.py --sections memory --before ebcaba3
    .venv/bin/python bench/bench_scale.py --profile 10000      # where the time goes

Results: markdown on stdout and ``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scale.json"
BARS = 1258
START = "2012-01-02"
END = "2016-10-27"  # 1,258 business days from START
FEES = 0.001
SLIPPAGE = 0.0005
FAST_FIRST, SLOW_FIRST = 2, 60


def grid(combinations: int) -> dict[str, list[int]]:
    """An SMA grid of ``combinations``: fast windows from 2, slow windows from 60, at most 500 of
    them so that every slow average exists for most of the 1,258 bars."""
    slow = min(500, combinations // 10) if combinations >= 100 else combinations
    fast = combinations // slow
    assert fast * slow == combinations, combinations
    return {
        "sma-cross.fast": list(range(FAST_FIRST, FAST_FIRST + fast)),
        "sma-cross.slow": list(range(SLOW_FIRST, SLOW_FIRST + slow)),
    }


def strategy(combinations: int, symbols: int, executor: str | None = None) -> Any:
    from fintrade import Costs, Significance, Strategy, WalkForward, signal

    class Sweep(Strategy):
        pass

    Sweep.symbols = [f"S{i:03d}" for i in range(symbols)]
    Sweep.source = "synthetic"
    Sweep.interval = "1d"
    Sweep.start, Sweep.end = START, END
    Sweep.signals = [signal("sma-cross", fast=5, slow=60)]
    Sweep.costs = Costs(fees=FEES, slippage=SLIPPAGE)
    Sweep.walk_forward = WalkForward(folds=5, mode="rolling")
    Sweep.significance = Significance(enabled=False)
    Sweep.grid = grid(combinations)
    Sweep.executor = executor
    return Sweep()


def run_once(combinations: int, symbols: int, executor: str | None = None) -> dict[str, Any]:
    """One complete backtest in this process: seconds, bars, chosen parameters."""
    from fintrade.evaluation import run_backtest
    from fintrade.registry import get_registry

    started = time.perf_counter()
    result = run_backtest(strategy(combinations, symbols, executor), get_registry())
    seconds = time.perf_counter() - started
    assert result.bars == BARS, result.bars
    return {"seconds": seconds, "bars": result.bars, "chosen": result.chosen}


def warm_up() -> None:
    run_once(10, 2)


# --- time ------------------------------------------------------------------------------------------


def _fused_kernel() -> Any:
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def fused(means, fast_of, slow_of, opens, closes, fees, slippage, cash):  # pragma: no cover - numba
        _, n_bars, n_symbols = means.shape
        n_combos = fast_of.shape[0]
        final = np.empty((n_combos, n_symbols))
        for combo in range(n_combos):
            for symbol in range(n_symbols):
                units, money, held = 0.0, cash, 0.0
                for i in range(1, n_bars):
                    difference = means[fast_of[combo], i - 1, symbol] - means[slow_of[combo], i - 1, symbol]
                    target = 1.0 if difference > 0 else 0.0  # decided at the previous close
                    if target != held:
                        price = opens[i, symbol]
                        if target > held:
                            fill = price * (1 + slippage)
                            units = money / (fill * (1 + fees))
                            money = 0.0
                        else:
                            fill = price * (1 - slippage)
                            money = units * fill * (1 - fees)
                            units = 0.0
                        held = target
                final[combo, symbol] = money + units * closes[n_bars - 1, symbol]
        return final

    return fused


def vectorbt_seconds(plan: Any, registry: Any, market: Any, symbols: int) -> float:
    """vectorbt on fintrade's own orders, 1,000 combinations at a time (its broadcast inputs of the
    whole grid would not fit), the ``from_orders`` call alone timed."""
    import numpy as np
    import vectorbt as vbt

    from fintrade.engine import executed_targets, order_sizes
    from fintrade.grid import block_positions

    opens, closes = market.opens.to_numpy(dtype=float), market.closes.to_numpy(dtype=float)
    combinations = len(plan.combinations)
    total = 0.0
    for start in range(0, combinations, 1000):
        block = range(start, min(start + 1000, combinations))
        positions, _ = block_positions(plan, registry, market, block)
        sizes = order_sizes(executed_targets(np.ascontiguousarray(positions.to_numpy(dtype=float)), "next_open"))
        close_wide, open_wide = np.tile(closes, len(block)), np.tile(opens, len(block))
        began = time.perf_counter()
        vbt.Portfolio.from_orders(
            close=close_wide,
            size=sizes,
            size_type="targetpercent",
            price=open_wide,
            fees=FEES,
            slippage=SLIPPAGE,
            init_cash=100_000.0 / symbols,
            direction="both",
            engine="rust",
        )
        total += time.perf_counter() - began
    return total


def fused_inputs(plan: Any, market: Any) -> tuple[Any, ...]:
    """The fused loop's inputs: every distinct average once, and each combination's pair of them."""
    import numpy as np

    from fintrade.indicators import rolling_means

    closes = market.closes.to_numpy(dtype=float)
    windows = sorted(set(plan.strategy.grid["sma-cross.fast"]) | set(plan.strategy.grid["sma-cross.slow"]))
    averages = rolling_means(closes, windows)
    means = np.stack([averages[w] for w in windows])  # NaN in the warm-up: no position
    number = {w: i for i, w in enumerate(windows)}
    fast_of = np.array([number[c.params["sma-cross.fast"]] for c in plan.combinations])
    slow_of = np.array([number[c.params["sma-cross.slow"]] for c in plan.combinations])
    return means, fast_of, slow_of, market.opens.to_numpy(dtype=float), closes


def time_size(combinations: int, symbols: int, repeats: int, fused: Any) -> dict[str, Any]:
    import numpy as np

    from fintrade.evaluation import load, prepare
    from fintrade.registry import get_registry

    column_bars = combinations * symbols * BARS
    registry = get_registry()
    plan = prepare(strategy(combinations, symbols), registry)
    market = load(plan, registry)
    means, fast_of, slow_of, opens, closes = fused_inputs(plan, market)
    small = [np.ascontiguousarray(a) for a in (means[:, :50], fast_of[:1], slow_of[:1], opens[:50], closes[:50])]
    fused(*small, FEES, SLIPPAGE, 1.0)  # compiled here, not in the timed call
    timings: dict[str, list[float]] = {"fintrade": [], "vectorbt": [], "fused": []}
    for _ in range(repeats):
        timings["fintrade"].append(run_once(combinations, symbols)["seconds"])
        timings["vectorbt"].append(vectorbt_seconds(plan, registry, market, symbols))
        began = time.perf_counter()
        fused(means, fast_of, slow_of, opens, closes, FEES, SLIPPAGE, 100_000.0 / symbols)
        timings["fused"].append(time.perf_counter() - began)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return {
        "combinations": combinations,
        "symbols": symbols,
        "bars": BARS,
        "repeats": repeats,
        "seconds": medians,
        "ns_per_column_bar": {name: value / column_bars * 1e9 for name, value in medians.items()},
        "fintrade_over_vectorbt": medians["fintrade"] / medians["vectorbt"],
        "fintrade_over_fused": medians["fintrade"] / medians["fused"],
    }


def section_time(sizes: list[int], repeats: int) -> dict[str, Any]:
    warm_up()
    fused = _fused_kernel()
    return {"rows": [time_size(combinations, 10, repeats, fused) for combinations in sizes]}


# --- memory ----------------------------------------------------------------------------------------

CHILD = """
import importlib.util, json, resource, sys, time
# The code under test is the one on PYTHONPATH, not the editable install's finder (which would
# shadow a worktree of older code); this benchmark itself is loaded from its file.
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
spec = importlib.util.spec_from_file_location("bench_scale", {script!r})
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
run_once = bench.run_once
import fintrade
assert fintrade.__file__.startswith({code_root!r}), fintrade.__file__
executor = {executor!r}
if executor == "ray-running":
    # A cluster already up (ray start --head) with warm workers: start one, sweep once untimed.
    from fintrade.executors import ray_session
    ray_session(None, None)
    executor = "ray"
    run_once({combinations} // 10, {symbols}, executor)
found = run_once({combinations}, {symbols}, executor)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent's copy.
status = open("/proc/self/status").read().splitlines()
found["peak_rss_bytes"] = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
found["children_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps(found, default=str))
"""


def in_child(
    combinations: int, symbols: int, executor: str | None = None, *, code_root: Path = ROOT, env: dict | None = None
) -> dict[str, Any]:
    """A sweep in a fresh Python process, so that its peak RSS is its own."""
    script = CHILD.format(
        script=str(Path(__file__).resolve()),
        code_root=str(code_root),
        combinations=combinations,
        symbols=symbols,
        executor=executor,
    )
    environment = {**os.environ, "PYTHONPATH": f"{code_root}{os.pathsep}{code_root / 'plugins'}", **(env or {})}
    began = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, cwd=code_root, check=False
    )
    wall = time.perf_counter() - began
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1:] or [f"exit {completed.returncode}"], "wall": wall}
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    found["wall"] = wall
    return found


def section_memory(before: str | None) -> dict[str, Any]:
    rows = []
    for combinations, symbols in ((1000, 10), (10_000, 10), (1000, 100), (100_000, 10)):
        found = in_child(combinations, symbols)
        rows.append({"code": "now", "combinations": combinations, "symbols": symbols, **found})
        print(f"memory: {combinations} x {symbols}: {found}", file=sys.stderr)
    if before:
        folder = Path(tempfile.mkdtemp(prefix="fintrade-before-"))
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), before], cwd=ROOT, check=True)
        try:
            found = in_child(1000, 10, code_root=folder)
            rows.append({"code": before, "combinations": 1000, "symbols": 10, **found})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
    return {"rows": rows}


# --- executors -------------------------------------------------------------------------------------


def _watch_workers(stop: threading.Event, peaks: dict[int, int]) -> None:
    """Peak RSS of every Ray worker process while a sweep runs (sampled every 0.2 s)."""
    import psutil

    while not stop.is_set():
        for process in psutil.process_iter(["pid", "name", "cmdline"]):
            try:
                command = " ".join(process.info["cmdline"] or [])
                if "ray::" in (process.info["name"] or "") or "default_worker.py" in command:
                    rss = process.memory_info().rss
                    peaks[process.info["pid"]] = max(peaks.get(process.info["pid"], 0), rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        stop.wait(0.2)


def section_executors(combinations: int) -> dict[str, Any]:
    rows = []
    for executor in ("local", "processes", "ray", "ray-running"):
        peaks: dict[int, int] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=_watch_workers, args=(stop, peaks), daemon=True)
        if executor.startswith("ray"):
            watcher.start()
        found = in_child(combinations, 10, executor)
        stop.set()
        if executor.startswith("ray"):
            watcher.join()
            found["worker_peak_rss_bytes"] = sorted(peaks.values(), reverse=True)[:2]
        elif executor == "processes":
            found["worker_peak_rss_bytes"] = [found.get("children_peak_rss_bytes")]
        rows.append({"executor": executor, "combinations": combinations, "symbols": 10, **found})
        print(f"executors: {executor}: {found}", file=sys.stderr)
    local = rows[0].get("seconds")
    for row in rows:
        if local and row.get("seconds"):
            row["speedup_over_local"] = local / row["seconds"]
    return {"rows": rows}


# --- ray overhead ----------------------------------------------------------------------------------


def section_ray() -> dict[str, Any]:
    import ray

    from fintrade.evaluation import load, prepare
    from fintrade.registry import get_registry

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:

        @ray.remote
        def nothing(value: int) -> int:
            return value

        ray.get([nothing.remote(i) for i in range(20)])  # workers started
        began = time.perf_counter()
        ray.get([nothing.remote(i) for i in range(500)])
        per_task = (time.perf_counter() - began) / 500
        registry = get_registry()
        plan = prepare(strategy(1000, 10), registry)
        market = load(plan, registry)
        began = time.perf_counter()
        ray.put(market)
        put_seconds = time.perf_counter() - began
    finally:
        ray.shutdown()
    return {"seconds_per_empty_task_2_cpus": per_task, "put_bars_10_symbols_seconds": put_seconds}


def profile(combinations: int) -> None:
    """Where a complete backtest of ``combinations`` x 10 spends its time: cProfile, by own time."""
    import cProfile
    import pstats

    warm_up()
    profiler = cProfile.Profile()
    profiler.runcall(run_once, combinations, 10)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(12)


def markdown(results: dict[str, Any]) -> str:
    lines = []
    if "time" in results:
        lines += [
            "| combinations x symbols | fintrade complete backtest | vectorbt from_orders alone | fused loop | "
            "fintrade / vectorbt | fintrade / fused |",
            "|---|---|---|---|---|---|",
        ]
        for row in results["time"]["rows"]:
            ns = row["ns_per_column_bar"]
            lines.append(
                f"| {row['combinations']:,} x {row['symbols']} | {ns['fintrade']:.0f} ns | {ns['vectorbt']:.0f} ns | "
                f"{ns['fused']:.1f} ns | {row['fintrade_over_vectorbt']:.2f}x | {row['fintrade_over_fused']:.1f}x |"
            )
        lines.append("")
    if "memory" in results:
        lines += ["| code | combinations x symbols | peak RSS | seconds |", "|---|---|---|---|"]
        for row in results["memory"]["rows"]:
            peak = f"{row['peak_rss_bytes'] / 1e9:.2f} GB" if "peak_rss_bytes" in row else f"failed: {row['error']}"
            seconds = f"{row['seconds']:.1f}" if "seconds" in row else "-"
            lines.append(f"| {row['code']} | {row['combinations']:,} x {row['symbols']} | {peak} | {seconds} |")
        lines.append("")
    if "executors" in results:
        lines += [
            "| executor | seconds | speedup over local | driver peak RSS | worker peak RSS |",
            "|---|---|---|---|---|",
        ]
        for row in results["executors"]["rows"]:
            workers = ", ".join(f"{w / 1e9:.2f} GB" for w in row.get("worker_peak_rss_bytes") or [] if w) or "-"
            lines.append(
                f"| {row['executor']} | {row.get('seconds', float('nan')):.1f} | "
                f"{row.get('speedup_over_local', float('nan')):.2f}x | "
                f"{row.get('peak_rss_bytes', 0) / 1e9:.2f} GB | {workers} |"
            )
        lines.append("")
    if "ray" in results:
        ray_figures = results["ray"]
        lines.append(
            f"Ray: {ray_figures['seconds_per_empty_task_2_cpus'] * 1e3:.2f} ms per empty task (2 CPUs); "
            f"putting 10 symbols' bars in the object store: {ray_figures['put_bars_10_symbols_seconds'] * 1e3:.1f} ms."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="time,memory,executors,ray")
    parser.add_argument("--quick", action="store_true", help="time: 1,000 x 10 only, one round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="git ref of the code to compare memory with (a worktree)")
    parser.add_argument("--executor-combinations", type=int, default=60_000)
    parser.add_argument("--profile", type=int, metavar="N", help="only profile one backtest of N x 10 (stderr)")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    sections = args.sections.split(",")
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "command": " ".join(["python", *sys.argv]),
    }
    if "time" in sections:
        results["time"] = section_time([1000] if args.quick else [1000, 10_000], 1 if args.quick else args.repeats)
    if "memory" in sections:
        results["memory"] = section_memory(args.before)
    if "executors" in sections:
        results["executors"] = section_executors(args.executor_combinations)
    if "ray" in sections:
        results["ray"] = section_ray()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**previous, **results}, indent=1, default=str) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
