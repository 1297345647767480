"""The committed lock is what the suite runs on: every locked package that is installed has its locked version.

`make test` installs with ``-c constraints.txt``; a drift here means the venv was built some other
way (or the lock was edited by hand) and the suite's result says nothing about the lock.
`make test-latest` sets FINTRADE_UNLOCKED=1: it runs the suite at the newest releases on purpose.
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
# The extras the Makefile's setup-dev installs: the lock must cover every package they name.
LOCKED_EXTRAS = ("dev", "yahoo", "bybit", "llm", "lexicon", "docs", "ray")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, raw in enumerate(LOCK.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and name and version, f"constraints.txt:{number}: expected name==version, got {raw!r}"
        pins[canonical(name)] = version
    return pins


def release(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13.0``: the lock is written without local labels, which pip's == ignores."""
    return version.split("+", 1)[0]


@pytest.mark.skipif(os.environ.get("FINTRADE_UNLOCKED") == "1", reason="make test-latest runs unlocked on purpose")
def test_installed_versions_match_the_lock() -> None:
    pins = locked_versions()
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}
    drifted = {
        name: f"locked {pins[name]}, installed {version}"
        for name, version in installed.items()
        if name in pins and release(version) != release(pins[name])
    }
    assert drifted == {}


def test_the_lock_covers_every_requirement_of_the_installed_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"]]
    for extra in LOCKED_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    pins = locked_versions()
    unlocked = [r for r in requirements if canonical(Requirement(r).name) not in pins]
    assert unlocked == []
    # The lock must also satisfy the ranges users install from, or `make lock` was skipped.
    outside = [
        f"{r} (locked {pins[canonical(Requirement(r).name)]})"
        for r in requirements
        if not Requirement(r).specifier.contains(release(pins[canonical(Requirement(r).name)]), prereleases=True)
    ]
    assert outside == []
