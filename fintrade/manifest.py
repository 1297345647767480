"""Run manifests: what is needed to reproduce a result, written beside it.

A manifest is meant to be shared (it travels inside the JSON results and the HTML report), so
option values whose names look like secrets (``api_key``, ``apiSecret``, ``auth_token``,
``password``) are replaced by :data:`REDACTED`: :func:`redact` is the one place that decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from fintrade import __version__

REDACTED = "<redacted>"
SECRET_WORDS = ("key", "secret", "token", "password", "passphrase")
"""A name is secret when one of its words is one of these, or its last word ends with one
(``apikey``, ``clientsecret``); ``max_tokens`` or ``keyword`` are not."""


def _words(name: str) -> list[str]:
    """``"apiSecret"`` -> ``["api", "secret"]``; ``"auth_token"`` -> ``["auth", "token"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]


def is_secret_name(name: str) -> bool:
    """Whether an option called ``name`` probably holds a credential."""
    words = _words(name)
    return bool(words) and (any(word in SECRET_WORDS for word in words) or words[-1].endswith(SECRET_WORDS))


def redact(value: Any) -> Any:
    """``value`` with every secret-looking entry of every mapping inside it replaced by
    :data:`REDACTED` (None stays None: an unset secret reveals nothing). Lists and tuples are
    walked; the input is not changed.

    >>> redact({"source_options": {"api_key": "abc", "limit": 5}, "signals": [{"apiSecret": "x"}]})
    {'source_options': {'api_key': '<redacted>', 'limit': 5}, 'signals': [{'apiSecret': '<redacted>'}]}
    """
    if isinstance(value, Mapping):
        return {
            name: (REDACTED if item is not None and is_secret_name(str(name)) else redact(item))
            for name, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def redact_command(argv: list[str]) -> list[str]:
    """Command-line words with secret values hidden: ``api_key=abc`` and ``--api-key abc``."""
    shown: list[str] = []
    hide_next = False
    for word in argv:
        name, sep, _ = word.partition("=")
        if hide_next:
            shown.append(REDACTED)
            hide_next = False
        elif sep and is_secret_name(name.lstrip("-")):
            shown.append(f"{name}={REDACTED}")
        else:
            shown.append(word)
            hide_next = word.startswith("--") and is_secret_name(word)
    return shown


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


LIBRARIES = ("pandas", "numpy", "vectorbt", "vectorbt-rust", "pluggy", "pyarrow", "yfinance", "ccxt")


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class StrategyFile:
    """The strategy a run came from: its file, class and the file's content hash."""

    path: str
    class_name: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "class": self.class_name, "sha256": self.sha256}


@dataclass(frozen=True)
class PluginRecord:
    """One plugin that was loaded for the run."""

    name: str
    version: str
    source: str
    distribution: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "source": self.source, "distribution": self.distribution}


@dataclass(frozen=True)
class RunManifest:
    """Versions, inputs and settings of one run, secrets redacted; :meth:`to_dict` is its JSON."""

    fintrade_version: str
    created_at: str
    command: str
    python: str
    libraries: dict[str, str]
    strategy: StrategyFile
    plugins: tuple[PluginRecord, ...]
    data: dict[str, str]
    parameters: dict[str, Any]
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "fintrade_version": self.fintrade_version,
            "created_at": self.created_at,
            "command": self.command,
            "python": self.python,
            "libraries": dict(self.libraries),
            "strategy": self.strategy.to_dict(),
            "plugins": [plugin.to_dict() for plugin in self.plugins],
            "data": dict(self.data),
            "parameters": self.parameters,
            "seed": self.seed,
        }


def build_manifest(
    *,
    strategy_path: Path,
    strategy_name: str,
    plugins: list[dict[str, Any]],
    data_hashes: Mapping[str, str],
    parameters: Mapping[str, Any],
    seed: int,
) -> RunManifest:
    """The manifest of one run; ``plugins`` are ``fintrade plugins``' rows (only loaded ones are kept)."""
    return RunManifest(
        fintrade_version=__version__,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        command=" ".join(["fintrade", *redact_command(sys.argv[1:])]),
        python=platform.python_version(),
        libraries=library_versions(),
        strategy=StrategyFile(str(strategy_path), strategy_name, file_hash(strategy_path)),
        plugins=tuple(
            PluginRecord(p["name"], p["version"], p["source"], p["distribution"])
            for p in plugins
            if p["status"] == "ok"
        ),
        data=dict(data_hashes),
        parameters=redact(dict(parameters)),
        seed=seed,
    )


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp creates owner-only files; a result file should get the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2, default=str)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def manifest_path(result_path: Path) -> Path:
    """``out/report.html`` -> ``out/report.manifest.json``."""
    return result_path.with_name(f"{result_path.stem}.manifest.json")
