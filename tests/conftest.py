"""Shared fixtures: an isolated plugin manager and an in-memory bars source for core tests."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fintrade
from fintrade.plugin_manager import FintradePluginManager, PluginInfo, create_plugin_manager
from fintrade.registry import Registry, set_plugin_manager
from fintrade.types import BarsRequest, DataSource


def random_walk_bars(symbol: str, n_bars: int = 600, seed: int = 0) -> pd.DataFrame:
    """Daily bars from a drifting random walk whose drift flips every 120 bars (trends to find)."""
    rng = np.random.default_rng([seed, sum(map(ord, symbol))])
    drift = np.where((np.arange(n_bars) // 120) % 2 == 0, 0.002, -0.0015)
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.01, n_bars)))
    open_ = np.concatenate([[close[0]], close[:-1]]) * (1 + rng.normal(0, 0.001, n_bars))
    index = pd.date_range("2018-01-01", periods=n_bars, freq="B", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": 1e6,
        },
        index=index,
    )


class MemorySource:
    """A data source serving frames put into ``frames`` (tests change them to plant things)."""

    def __init__(self) -> None:
        self.frames: dict[str, pd.DataFrame] = {}
        self.requests: list[BarsRequest] = []

    def load(self, request: BarsRequest) -> dict[str, pd.DataFrame]:
        self.requests.append(request)
        return {s: self.frames.get(s, random_walk_bars(s)) for s in request.symbols}


@pytest.fixture
def memory_source() -> MemorySource:
    return MemorySource()


@pytest.fixture
def core_pm(memory_source: MemorySource) -> Iterator[FintradePluginManager]:
    """Built-ins plus a ``memory`` data source; installed as the process-wide manager."""
    pm = create_plugin_manager(load_entry_points=False)

    @fintrade.hookimpl
    def fintrade_data_sources():
        yield DataSource(name="memory", load=memory_source.load)

    plugin = types.ModuleType("memory_plugin")
    plugin.fintrade_data_sources = fintrade_data_sources  # type: ignore[attr-defined]
    pm.register_plugin(plugin, "memory_plugin", PluginInfo("memory_plugin", "test", "ok"))
    set_plugin_manager(pm)
    yield pm
    set_plugin_manager(None)


@pytest.fixture
def core_registry(core_pm: FintradePluginManager) -> Registry:
    return Registry(core_pm)


@pytest.fixture(autouse=True)
def _isolated_trial_ledger(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process backtests record their trials: into a fresh ledger per test, not the user's cache."""
    folder = tmp_path_factory.mktemp("trials")
    monkeypatch.setattr("fintrade.trials.default_ledger_dir", lambda: folder)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One real local Ray (2 CPUs) for the tests of a module, shut down after them."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def score_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh fintrade cache dir and no in-memory llm-sentiment scores (loaded models are kept: they are pure)."""
    from fintrade_sentiment import llm

    monkeypatch.setenv("FINTRADE_CACHE_DIR", str(tmp_path / "cache"))
    llm._memory.clear()
    return tmp_path / "cache"
