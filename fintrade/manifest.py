"""Run manifests: what is needed to reproduce a result, written beside it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from fintrade import __version__


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


def build_manifest(
    *,
    strategy_path: Path,
    strategy_name: str,
    plugins: list[dict[str, Any]],
    data_hashes: Mapping[str, str],
    parameters: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """A JSON-ready record of versions, inputs and settings of one run."""
    return {
        "fintrade_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["fintrade", *sys.argv[1:]]),
        "python": platform.python_version(),
        "libraries": library_versions(),
        "strategy": {"path": str(strategy_path), "class": strategy_name, "sha256": file_hash(strategy_path)},
        "plugins": [
            {"name": p["name"], "version": p["version"], "source": p["source"], "distribution": p["distribution"]}
            for p in plugins
            if p["status"] == "ok"
        ],
        "data": dict(data_hashes),
        "parameters": dict(parameters),
        "seed": seed,
    }


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
