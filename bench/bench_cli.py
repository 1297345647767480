"""Benchmark: how long the ``fintrade`` command takes to start, and a cold demo backtest.

Every measurement is a fresh subprocess, as a user at a shell would see it (the OS file cache
is warm after the first, discarded run). ``fintrade --help`` is compared with the two floors it
cannot beat: starting Python at all, and importing pandas (which fintrade avoids on ``--help``).
The demo backtest (``strategies/sma_crossover.py`` on the bundled ``sample`` data, with an HTML
report) is compared with importing vectorbt, the floor of any command that simulates.
Usage::

    .venv/bin/python bench/bench_cli.py            # 10 runs per startup command, 3 backtests
    .venv/bin/python bench/bench_cli.py --quick    # 3 runs per startup command, 1 backtest
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "cli.json"
DEFAULT_STRATEGY = ROOT / "strategies" / "sma_crossover.py"
HELP_TARGET_S = 0.5


def fintrade_command() -> list[str]:
    """The installed console script next to this interpreter (what a user's shell runs)."""
    script = Path(sys.executable).parent / "fintrade"
    if script.exists():
        return [str(script)]
    found = shutil.which("fintrade")
    if found is None:
        raise SystemExit("no `fintrade` console script found; install fintrade first")
    return [found]


def wall_times(command: Sequence[str], runs: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``runs`` fresh subprocesses after ``warmup`` discarded ones; fails on a non-zero exit."""
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"`{' '.join(command)}` exited {done.returncode}:\n{done.stderr[-2000:]}")
        if i >= warmup:
            times.append(elapsed)
    return times


def top_imports(command: Sequence[str], count: int = 8) -> list[tuple[str, float]]:
    """The slowest top-level imports of ``command`` (run under ``python -X importtime``), in seconds."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    cumulative: dict[str, float] = {}
    for line in done.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"; top level has no indentation.
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if match:
            cumulative[match.group(2)] = int(match.group(1)) / 1e6
    return sorted(cumulative.items(), key=lambda item: -item[1])[:count]


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: version(name) for name in ("fintrade", "vectorbt", "pandas", "typer", "pluggy")},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 startup runs and 1 backtest instead of 10 and 3")
    parser.add_argument("--strategy", type=Path, default=DEFAULT_STRATEGY, help="strategy file for the backtest")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    startup_runs, backtest_runs = (3, 1) if args.quick else (10, 3)
    fintrade = fintrade_command()
    python = sys.executable

    rows: list[dict[str, Any]] = []
    tmp_dir = tempfile.TemporaryDirectory()
    tmp = tmp_dir.name

    def record(name: str, command: Sequence[str], runs: int) -> float:
        print(f"  {name} ...", file=sys.stderr, flush=True)
        times = wall_times(command, runs)
        median = statistics.median(times)
        rows.append(
            {
                "name": name,
                "command": shlex.join(command).replace(str(ROOT) + "/", "").replace(tmp, "<tmp>"),
                "median_s": round(median, 4),
                "runs_s": [round(t, 4) for t in times],
            }
        )
        return median

    python_floor = record("python -c pass", [python, "-c", "pass"], startup_runs)
    pandas_floor = record('python -c "import pandas"', [python, "-c", "import pandas"], startup_runs)
    help_median = record("fintrade --help", [*fintrade, "--help"], startup_runs)
    vectorbt_floor = record('python -c "import vectorbt"', [python, "-c", "import vectorbt"], backtest_runs)
    report = Path(tmp) / "r.html"
    strategy = str(args.strategy.resolve().relative_to(ROOT) if args.strategy.is_absolute() else args.strategy)
    backtest_command = ["backtest", strategy, "--report", str(report)]
    backtest_median = record(
        "fintrade backtest (cold, with HTML report)", [*fintrade, *backtest_command], backtest_runs
    )
    if not report.exists():
        raise SystemExit(f"the backtest did not write {report}")
    help_imports = top_imports(["-m", "fintrade.cli.main", "--help"])
    backtest_imports = top_imports(["-m", "fintrade.cli.main", *backtest_command])
    tmp_dir.cleanup()

    ratios = {
        "help_over_python_startup": help_median / python_floor,
        "help_over_import_pandas": help_median / pandas_floor,
        "backtest_over_import_vectorbt": backtest_median / vectorbt_floor,
    }
    results = {
        "benchmark": "bench/bench_cli.py",
        "command": " ".join([".venv/bin/python", "bench/bench_cli.py", *(argv or sys.argv[1:])]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "strategy": strategy,
        "rows": rows,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "targets": {"fintrade --help": f"< {HELP_TARGET_S} s"},
        "help_meets_target": help_median < HELP_TARGET_S,
        "help_top_imports_s": {name: round(seconds, 4) for name, seconds in help_imports},
        "backtest_top_imports_s": {name: round(seconds, 4) for name, seconds in backtest_imports},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")

    print("\n| command | median (s) | runs (s) |\n|---|---:|---|")
    for entry in rows:
        runs = ", ".join(f"{t:.3f}" for t in entry["runs_s"])
        print(f"| `{entry['command']}` | {entry['median_s']:.3f} | {runs} |")
    print("\n| ratio | value |\n|---|---:|")
    for name, value in ratios.items():
        print(f"| {name} | {value:.2f} |")
    verdict = "meets" if help_median < HELP_TARGET_S else "MISSES"
    print(f"\n`fintrade --help` {verdict} the {HELP_TARGET_S} s target ({help_median:.3f} s).")
    print("slowest imports of `fintrade --help`: " + ", ".join(f"{n} {s:.3f} s" for n, s in help_imports))
    print("slowest imports of the backtest: " + ", ".join(f"{n} {s:.3f} s" for n, s in backtest_imports))
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
