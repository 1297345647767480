"""Sweeps on Ray: the same strategy files, the same JSON as the local executor, and the failure
behaviour of issue 14 (a killed worker retried a bounded number of times, a failing block named,
an interrupted sweep resumed from the blocks it finished).

One real local Ray (2 CPUs) for the module. Grids are cut into several blocks with
``FINTRADE_BLOCK_SIZE`` so that every sweep is several Ray tasks. Ray's workers are other
processes: what a signal model did there is counted through files in ``tmp_path``.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from fintrade.errors import PluginError  # noqa: E402
from fintrade.evaluation import BacktestResult, run_backtest  # noqa: E402
from fintrade.executors import MAX_RETRIES, ChunkFailed, Executor  # noqa: E402
from fintrade.loading import load_strategy  # noqa: E402
from fintrade.plugin_manager import create_plugin_manager, register_module_plugin  # noqa: E402
from fintrade.registry import Registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 4  # combinations per block: the 16-combination grids below are 4 blocks, 4 Ray tasks

# The evaluation settings every strategy here shares: several symbols, walk-forward folds,
# every kind of cost, significance without writing to the trial ledger.
SETTINGS = """
    symbols = ["AAA", "BBB", "CCC"]
    source = "synthetic"
    source_options = {"bars": 400}
    costs = Costs(fees=0.0005, slippage=0.0002, spread=0.0002)
    splits = Splits(train=0.6, validation=0.2, test=0.2)
    walk_forward = WalkForward(folds=3)
    significance = Significance(record_trials=False, bootstrap_reps=200)
"""

BUILTIN = f"""
from fintrade import Costs, Significance, Splits, Strategy, WalkForward, signal


class SmaSweep(Strategy):
{SETTINGS}
    signals = [signal("sma-cross", fast=5, slow=20)]
    grid = {{"sma-cross.fast": [3, 5, 8, 12], "sma-cross.slow": [20, 30, 50, 80]}}
"""

# An inline plugin: the signal model lives in the strategy file, which Ray's workers cannot
# import; it reaches them by value. Grid order is fast-major, so with BLOCK = 4 each block is
# one value of ``fast``: FAIL_FAST = 8 is "combinations 9-12 of 16".
INLINE = """
import os
import signal as signals

import numpy as np

import fintrade
from fintrade import Costs, Significance, Splits, Strategy, WalkForward, signal
from fintrade.types import Signal, SignalModel

DRIVER = {driver}  # the test's process: a worker may die, the driver never
HOW = {how!r}  # None, "raise", "kill" (every time) or "kill-once"
FAIL_FAST = 8
MARKER = {marker!r}  # created by the one attempt that dies, so that its retry lives
CALLS = {calls!r}  # where each call appends "fast slow pid"


def _ratio(inputs, params):
    fast, slow = params["fast"], params["slow"]
    if CALLS:
        with open(CALLS, "a") as calls:
            calls.write(f"{{fast}} {{slow}} {{os.getpid()}}\\n")
    if fast == FAIL_FAST and HOW == "raise":
        raise ValueError(f"no prices for fast={{fast}}")
    if fast == FAIL_FAST and HOW is not None and HOW.startswith("kill") and os.getpid() != DRIVER:
        if HOW == "kill":
            os.kill(os.getpid(), signals.SIGKILL)
        try:
            os.close(os.open(MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass  # a retry: the first attempt died already
        else:
            os.kill(os.getpid(), signals.SIGKILL)
    close = inputs.field("close")
    return Signal.certain(np.tanh((close.rolling(fast).mean() / close.rolling(slow).mean() - 1.0) * 50.0))


@fintrade.hookimpl
def fintrade_signal_models():
    yield SignalModel("ratio", _ratio, defaults={{"fast": 5, "slow": 20}})


class RatioSweep(Strategy):
{settings}
    signals = [signal("ratio", fast=5, slow=20)]
    grid = {{"ratio.fast": [3, 5, 8, 12], "ratio.slow": [20, 30, 50, 80]}}
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache (where a sweep keeps its finished blocks) and grids cut into blocks of 4."""
    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FINTRADE_BLOCK_SIZE", str(BLOCK))
    return tmp_path / "cache"


def inline_strategy(tmp_path: Path, how: str | None = None, calls: Path | None = None) -> Path:
    path = tmp_path / "ratio_sweep.py"
    text = INLINE.format(
        driver=os.getpid(),
        how=how,
        marker=str(tmp_path / "died-once"),
        calls=str(calls) if calls else None,
        settings=textwrap.indent(textwrap.dedent(SETTINGS).strip("\n"), "    "),
    )
    path.write_text(text, encoding="utf-8")
    return path


def loaded(path: Path) -> tuple[Any, Registry]:
    """The strategy in a real strategy file and a registry with its inline plugin, as the CLI builds them."""
    strategy_file = load_strategy(str(path))
    pm = create_plugin_manager(load_entry_points=False)
    if strategy_file.has_inline_plugin:
        register_module_plugin(pm, strategy_file.module, str(path), "strategy file")
    return strategy_file.strategy, Registry(pm)


def as_json(result: BacktestResult) -> str:
    return json.dumps(result.to_dict())


def calls_on_workers(calls: Path) -> list[tuple[int, int]]:
    """(fast, slow) of every call a Ray worker made (not the driver's re-simulation of the chosen ones)."""
    rows = [line.split() for line in calls.read_text().splitlines()] if calls.exists() else []
    return [(int(fast), int(slow)) for fast, slow, pid in rows if int(pid) != os.getpid()]


def test_a_ray_the_run_started_is_shut_down_when_it_ends(cache_dir, tmp_path) -> None:
    # First in the module, before ray_cluster connects this process: the run starts its own Ray.
    assert not ray.is_initialized()
    path = tmp_path / "sma_sweep.py"
    path.write_text(BUILTIN, encoding="utf-8")
    strategy, registry = loaded(path)
    on_ray = run_backtest(strategy, registry, executor=Executor("ray", workers=2))
    assert not ray.is_initialized()  # stopped, as docs/scale.md says; the next run may start another
    assert as_json(on_ray) == as_json(run_backtest(strategy, registry, executor=Executor("local")))


def test_a_sweep_on_ray_gives_the_local_json(ray_cluster, cache_dir, tmp_path) -> None:
    path = tmp_path / "sma_sweep.py"
    path.write_text(BUILTIN, encoding="utf-8")
    strategy, registry = loaded(path)
    stages: list[str] = []
    local = run_backtest(strategy, registry, executor=Executor("local"))
    on_ray = run_backtest(strategy, registry, executor=Executor("ray"), progress=stages.append)
    assert as_json(on_ray) == as_json(local)
    assert len(local.walk_forward.folds) == 3
    # Four blocks, so four Ray tasks, each counted in the one progress line.
    assert [s for s in stages if "blocks" in s][-1].endswith(": 4/4 blocks")
    assert not (cache_dir / "sweeps").exists() or not any((cache_dir / "sweeps").iterdir())


def test_a_strategy_file_with_its_own_signal_model_runs_on_ray(ray_cluster, cache_dir, tmp_path) -> None:
    calls = tmp_path / "calls.txt"
    strategy, registry = loaded(inline_strategy(tmp_path, calls=calls))
    local = run_backtest(strategy, registry, executor=Executor("local"))
    calls.unlink()
    on_ray = run_backtest(strategy, registry, executor=Executor("ray"))
    assert as_json(on_ray) == as_json(local)
    # The model ran on the workers (shipped by value), once per combination.
    assert sorted(calls_on_workers(calls)) == sorted((f, s) for f in (3, 5, 8, 12) for s in (20, 30, 50, 80))


def test_a_block_whose_worker_is_killed_once_is_retried(ray_cluster, cache_dir, tmp_path) -> None:
    calls = tmp_path / "calls.txt"
    strategy, registry = loaded(inline_strategy(tmp_path, how="kill-once", calls=calls))
    local = run_backtest(strategy, registry, executor=Executor("local"))
    assert not (tmp_path / "died-once").exists()  # nothing dies in the driver
    calls.unlink()
    on_ray = run_backtest(strategy, registry, executor=Executor("ray"))
    assert (tmp_path / "died-once").exists()  # a worker did die
    assert as_json(on_ray) == as_json(local)
    worker_calls = calls_on_workers(calls)
    # fast=8's block ran twice: the attempt that died at its first call, and the retry.
    assert worker_calls.count((8, 20)) == 2
    assert all(worker_calls.count((f, s)) == 1 for f in (3, 5, 12) for s in (20, 30, 50, 80))


def test_a_block_that_raises_stops_the_run_with_the_error_local_gives(ray_cluster, cache_dir, tmp_path) -> None:
    strategy, registry = loaded(inline_strategy(tmp_path, how="raise"))
    with pytest.raises(PluginError) as on_ray:
        run_backtest(strategy, registry, executor=Executor("ray"))
    with pytest.raises(PluginError) as local:
        run_backtest(strategy, registry, executor=Executor("local"))
    expected = (
        "signal model 'ratio' (signal 'ratio') with {'fast': 8, 'slow': 20} failed: ValueError: no prices for fast=8"
    )
    assert str(on_ray.value) == str(local.value) == expected


def test_a_block_that_always_kills_its_worker_fails_after_bounded_retries(ray_cluster, cache_dir, tmp_path) -> None:
    calls = tmp_path / "calls.txt"
    strategy, registry = loaded(inline_strategy(tmp_path, how="kill", calls=calls))
    started = time.monotonic()
    with pytest.raises(ChunkFailed) as failed:
        run_backtest(strategy, registry, executor=Executor("ray"))
    elapsed = time.monotonic() - started
    assert str(failed.value) == (
        f"combinations 9-12 of 16 failed: its worker died {MAX_RETRIES + 1} times (killed, or out of memory); "
        "lower the memory budget (--max-memory) for smaller blocks"
    )
    assert calls_on_workers(calls).count((8, 20)) == MAX_RETRIES + 1  # the first attempt and its retries, no more
    # Ray retries a dead worker's task at once (no backoff); each attempt waits for a fresh worker.
    assert elapsed < 60, f"{MAX_RETRIES + 1} attempts took {elapsed:.0f} s"


def test_an_interrupted_sweep_on_ray_resumes_from_the_blocks_it_finished(ray_cluster, cache_dir, tmp_path) -> None:
    calls = tmp_path / "calls.txt"
    strategy, registry = loaded(inline_strategy(tmp_path, calls=calls))
    uninterrupted = run_backtest(strategy, registry, executor=Executor("local"))

    def interrupt(stage: str) -> None:
        if stage.endswith(" 2/4 blocks"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_backtest(strategy, registry, executor=Executor("ray"), progress=interrupt)
    # The interrupted sweep's generator is closed (its tasks cancelled) once its frames are freed;
    # let any task still running finish writing before the re-run is counted.
    gc.collect()
    time.sleep(1.0)
    stored = sorted((cache_dir / "sweeps").glob("*/block-*.npz"))
    assert len(stored) == 2
    done = {int(re.match(r"block-(\d+)-", p.name).group(1)) // BLOCK for p in stored}  # type: ignore[union-attr]
    missing = [fast for i, fast in enumerate((3, 5, 8, 12)) if i not in done]
    calls.unlink()

    stages: list[str] = []
    resumed = run_backtest(strategy, registry, executor=Executor("ray"), progress=stages.append)
    assert as_json(resumed) == as_json(uninterrupted)
    # Only the two blocks not on disk were computed, each combination once.
    assert sorted(calls_on_workers(calls)) == sorted((f, s) for f in missing for s in (20, 30, 50, 80))
    assert [s.rsplit(": ", 1)[1] for s in stages if s.endswith("blocks")] == ["3/4 blocks", "4/4 blocks"]
    assert not list((cache_dir / "sweeps").glob("*/block-*.npz"))  # a completed sweep removes its blocks


def test_the_cli_on_ray_prints_the_local_json(tmp_path) -> None:
    path = tmp_path / "sma_sweep.py"
    path.write_text(BUILTIN, encoding="utf-8")
    env = {
        **os.environ,
        "FINTRADE_CACHE_DIR": str(tmp_path / "cache"),
        "FINTRADE_BLOCK_SIZE": str(BLOCK),
        # The Ray the command starts gets 2 CPUs however many the machine has (Ray reads this
        # where it resolves a node's resources), as the module's own Ray does.
        "RAY_OVERRIDE_RESOURCES": json.dumps({"CPU": 2, "GPU": 0}),
    }

    def backtest(executor: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "fintrade.cli.main", "backtest", str(path), "--json", "--quiet"]
        return subprocess.Popen(
            [*command, "--executor", executor],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )

    # Both at once: the Ray one spends most of its time starting its own local Ray.
    runs = {executor: backtest(executor) for executor in ("ray", "local")}
    payloads = {}
    for executor, run in runs.items():
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        payloads[executor] = json.loads(out)
    manifests = {executor: payload.pop("manifest") for executor, payload in payloads.items()}
    assert payloads["ray"] == payloads["local"]
    assert manifests["ray"]["parameters"].pop("executor") == {"name": "ray", "address": None, "workers": None}
    assert manifests["local"]["parameters"].pop("executor") == {"name": "local", "address": None, "workers": None}
    for manifest in manifests.values():
        del manifest["created_at"], manifest["command"]
    assert manifests["ray"] == manifests["local"]
