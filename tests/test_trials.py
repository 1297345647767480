"""The trial ledger: counted across runs, reset on new data, written atomically, listed and
cleared from the command line; and the JSON every backtest carries its significance in."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

from fintrade.errors import DataError
from fintrade.trials import TrialLedger
from tests.test_cli import ROOT, fintrade


def _record(ledger: TrialLedger, sharpes: list[float], data: str = "d1", strategy: str = "S") -> object:
    return ledger.record(strategy_file="/x/s.py", strategy=strategy, data_hash=data, sharpes=sharpes, observations=100)


def test_counts_add_up_over_runs_and_restart_on_new_data(tmp_path: Path) -> None:
    ledger = TrialLedger(tmp_path)
    first = _record(ledger, [0.1, 0.2, float("nan")])
    second = _record(ledger, [0.3])
    assert (first.trials, first.runs, first.this_run) == (3, 1, 3)
    assert (second.trials, second.runs, second.reset) == (4, 2, False)
    # NaN (a combination with no Sharpe ratio) counts as a trial but not in the variance.
    assert second.sharpe_variance == pytest.approx(0.01)
    again = _record(ledger, [0.5, 0.7], data="d2")
    assert (again.trials, again.runs, again.reset) == (2, 1, True)
    assert math.isclose(again.sharpe_variance, 0.02)
    # Another strategy in the same file has its own ledger.
    assert _record(ledger, [0.1], strategy="T").trials == 1
    assert [(e.strategy, e.trials) for e in ledger.entries()] == [("S", 2), ("T", 1)]


def test_concurrent_runs_both_count(tmp_path: Path) -> None:
    ledger = TrialLedger(tmp_path)
    threads = [threading.Thread(target=_record, args=(ledger, [0.1] * 5)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    [entry] = ledger.entries()
    assert (entry.trials, entry.runs) == (40, 8)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_corrupt_ledger_is_named_and_can_be_cleared(tmp_path: Path) -> None:
    ledger = TrialLedger(tmp_path)
    _record(ledger, [0.1])
    path = next(tmp_path.glob("*.json"))
    path.write_text("{not json")
    with pytest.raises(DataError, match=rf"trial ledger {path} is unreadable .*`fintrade trials clear`"):
        _record(ledger, [0.2])
    assert path.read_text() == "{not json"  # refused, not overwritten
    assert ledger.clear() == 1
    assert ledger.entries() == []


def test_trials_list_and_clear_from_the_command_line(tmp_path: Path) -> None:
    env = {"FINTRADE_CACHE_DIR": str(tmp_path)}
    ledger = TrialLedger(tmp_path / "trials")
    _record(ledger, [0.1, 0.2], strategy="Alpha")
    _record(ledger, [0.3], strategy="Beta")
    rows = json.loads(fintrade("trials", "list", "--json", env=env).stdout)
    assert [(r["strategy"], r["trials"], r["runs"]) for r in rows] == [("Alpha", 2, 1), ("Beta", 1, 1)]
    assert "Alpha" in fintrade("trials", "list", env=env).stdout
    assert fintrade("trials", "clear", "--strategy", "Alpha", env=env).stdout == "removed 1 trial ledger\n"
    assert [r["strategy"] for r in json.loads(fintrade("trials", "list", "--json", env=env).stdout)] == ["Beta"]
    assert fintrade("trials", "clear", env=env).stdout == "removed 1 trial ledger\n"
    assert "no trials recorded" in fintrade("trials", "list", env=env).stdout


def test_backtest_json_carries_significance_per_symbol_metrics_and_trades(tmp_path: Path) -> None:
    env = {"FINTRADE_CACHE_DIR": str(tmp_path)}
    runs = []
    for _ in range(2):
        result = fintrade("backtest", "strategies/sma_crossover.py", "--json", "--quiet", env=env)
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout))
    data = runs[0]
    significance = data["significance"]
    assert significance["evaluated_on"] == "walk_forward"
    assert 0 <= significance["psr"]["value"] <= 1
    combinations = data["combinations"]
    assert combinations > 1 and significance["dsr"]["trials"] == combinations
    assert runs[1]["significance"]["dsr"]["trials"] == 2 * combinations  # the second run counts the first's
    assert 0 <= significance["pbo"]["value"] <= 1 and significance["pbo"]["partitions"] == 16
    for name in ("sharpe", "cagr", "max_drawdown"):
        interval = significance["bootstrap"][name]
        assert interval["low"] <= interval["estimate"] <= interval["high"]
    assert significance["bootstrap"]["sharpe"]["estimate"] == pytest.approx(
        data["walk_forward"]["stitched"]["sharpe"], rel=1e-9
    )
    assert 0 <= significance["reality_check"]["spa_pvalue"] <= 1
    assert significance["verdict"].startswith(f"the best of {combinations} combinations: Deflated Sharpe")
    assert set(data["per_symbol"]) == set(data["symbols"])
    assert data["trades"] and {"entry", "exit", "side", "size", "pnl", "costs"} <= set(data["trades"][0])
    assert (ROOT / "strategies" / "sma_crossover.py").exists()
