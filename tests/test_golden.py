"""Golden JSON: every strategy in strategies/ gives the same ``backtest --json`` as when its golden was made.

A reshaping of the core must not move a figure. Each bundled strategy runs offline (network
sources against their loopback servers, as in tests/test_cli.py) and its JSON is compared with
tests/golden/<strategy>.json: every key and every value, floats to a relative 1e-9, except the
fields that legitimately vary between machines and runs (:data:`VARYING_MANIFEST_FIELDS`).

Regenerate the goldens, after a change that is meant to move the numbers, with::

    FINTRADE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py -m ""
"""

from __future__ import annotations

import json
import math
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import LOOPBACK, ROOT, SLOW_STRATEGIES, STRATEGIES, fintrade

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("FINTRADE_UPDATE_GOLDEN") == "1"
RELATIVE_TOLERANCE = 1e-9
# Floating-point noise around zero has no scale to be relative to.
ABSOLUTE_TOLERANCE = 1e-15

#: Manifest fields that describe the run rather than its result: when and how it was invoked,
#: the interpreter, library and plugin versions installed on this machine (third-party plugins
#: included), and where the strategy file lies and what its bytes hash to.
VARYING_MANIFEST_FIELDS = ("fintrade_version", "created_at", "command", "python", "libraries", "plugins")
VARYING_STRATEGY_FIELDS = ("path", "sha256")


def stable(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON without the fields that vary from run to run and machine to machine."""
    data = json.loads(json.dumps(data))
    manifest = data.get("manifest", {})
    for key in VARYING_MANIFEST_FIELDS:
        manifest.pop(key, None)
    for key in VARYING_STRATEGY_FIELDS:
        manifest.get("strategy", {}).pop(key, None)
    # Where the trial ledger lies: under each run's own cache directory.
    ((data.get("significance") or {}).get("dsr") or {}).pop("ledger", None)
    return data


def differences(actual: Any, expected: Any, where: str = "$") -> list[str]:
    """Every place where ``actual`` differs from ``expected``, as ``path: actual != expected``."""
    if isinstance(expected, float) and isinstance(actual, float):
        if math.isclose(actual, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE):
            return []
        return [f"{where}: {actual!r} != {expected!r}"]
    if type(actual) is not type(expected):
        return [f"{where}: {actual!r} ({type(actual).__name__}) != {expected!r} ({type(expected).__name__})"]
    if isinstance(expected, dict):
        found = [f"{where}.{key}: missing" for key in expected if key not in actual]
        found += [f"{where}.{key}: unexpected" for key in actual if key not in expected]
        for key in expected:
            if key in actual:
                found += differences(actual[key], expected[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if len(actual) != len(expected):
            return [f"{where}: {len(actual)} items != {len(expected)}"]
        return [
            d for i, (a, e) in enumerate(zip(actual, expected, strict=True)) for d in differences(a, e, f"{where}[{i}]")
        ]
    return [] if actual == expected else [f"{where}: {actual!r} != {expected!r}"]


def test_differences_see_every_change_and_forgive_float_noise() -> None:
    golden = {"a": 1.0, "b": [1, "x", None], "c": {"d": True}}
    assert differences({"a": 1.0 + 1e-12, "b": [1, "x", None], "c": {"d": True}}, golden) == []
    assert differences({"a": 1.001, "b": [1, "y"], "c": {"d": 1}, "e": 0}, golden) == [
        "$.e: unexpected",
        "$.a: 1.001 != 1.0",
        "$.b: 2 items != 3",
        "$.c.d: 1 (int) != True (bool)",
    ]
    assert differences({"a": 1, "b": [1, "x", None], "c": {}}, golden) == [
        "$.a: 1 (int) != 1.0 (float)",
        "$.c.d: missing",
    ]
    assert stable({"manifest": {"created_at": "now", "seed": 0, "strategy": {"class": "A", "path": "p"}}}) == {
        "manifest": {"seed": 0, "strategy": {"class": "A"}}
    }


@pytest.mark.parametrize(
    "strategy",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_STRATEGIES else p for p in STRATEGIES],
    ids=[p.name for p in STRATEGIES],
)
def test_backtest_json_matches_its_golden(strategy: Path, tmp_path: Path) -> None:
    golden = GOLDEN / f"{strategy.stem}.json"
    serve = LOOPBACK.get(strategy.name, lambda cache_dir: nullcontext({"FINTRADE_CACHE_DIR": str(cache_dir)}))
    with serve(tmp_path) as env:
        result = fintrade("backtest", str(strategy.relative_to(ROOT)), "--json", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    actual = stable(json.loads(result.stdout))
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(actual, indent=1, sort_keys=False) + "\n")
    assert golden.exists(), f"no golden for {strategy.name}: run with FINTRADE_UPDATE_GOLDEN=1"
    found = differences(actual, json.loads(golden.read_text()))
    assert not found, f"{strategy.name} differs from {golden.name} in {len(found)} place(s):\n" + "\n".join(found[:40])
