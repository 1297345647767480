"""``fintrade plugin new``: a ready-to-publish plugin package of one kind, from templates.

The package has a ``pyproject.toml`` (an entry point in group ``fintrade``, the classifier
``Framework :: fintrade``, a ``fintrade`` requirement range), a working implementation of the
kind, tests that run the conformance kit (:mod:`fintrade.testing.conformance`; every kind but
a command, which has no record to check) and use the plugin as fintrade will, a README and a
GitHub Actions workflow. It installs and its tests pass
as generated; the author then replaces the example logic with their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from fintrade.errors import ConfigError

__all__ = ["KINDS", "Scaffold", "new_plugin"]

#: Kind -> the hook its plugin implements.
KINDS: dict[str, str] = {
    "data-source": "fintrade_data_sources",
    "text-source": "fintrade_text_sources",
    "signal-model": "fintrade_signal_models",
    "aggregator": "fintrade_aggregators",
    "adapter-method": "fintrade_adapter_methods",
    "dataset": "fintrade_datasets",
    "command": "fintrade_register_commands",
}

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Scaffold:
    """What was generated: the package folder and its files (relative paths)."""

    folder: Path
    distribution: str
    module: str
    name: str
    kind: str
    files: tuple[str, ...]


def _fintrade_range() -> str:
    """``>=0.1,<0.2`` for fintrade 0.1.x: the minor series the plugin was generated against."""
    from fintrade import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    upper = f"{major + 1}" if major > 0 else f"0.{minor + 1}"
    return f">={major}.{minor},<{upper}"


def _plugin_api_range() -> str:
    """``>=1.0,<2`` for plugin API 1.0: this major series, from this minor on."""
    from fintrade.api import PLUGIN_API

    major, minor = (int(part) for part in str(PLUGIN_API).split(".")[:2])
    return f">={major}.{minor},<{major + 1}"


def new_plugin(name: str, kind: str, directory: Path) -> Scaffold:
    """Write the package ``fintrade-<name>`` for a plugin of ``kind`` into ``directory``."""
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    if not _NAME.match(name):
        raise ConfigError(f"plugin name {name!r}: use lower-case letters, digits and single hyphens, e.g. 'my-signal'")
    distribution = f"fintrade-{name}"
    module = "fintrade_" + name.replace("-", "_")
    folder = Path(directory) / distribution
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} already exists and is not empty; choose another name or directory")
    values = {
        "name": name,
        "distribution": distribution,
        "module": module,
        "kind": kind,
        "hook": KINDS[kind],
        "fintrade_range": _fintrade_range(),
        "plugin_api": _plugin_api_range(),
        "title": name.replace("-", " "),
    }
    from fintrade import _scaffold_templates as templates

    files = {
        "pyproject.toml": templates.PYPROJECT,
        "README.md": templates.README + templates.USAGE[kind],
        ".github/workflows/ci.yml": templates.WORKFLOW,
        f"{module}/__init__.py": templates.IMPLEMENTATIONS[kind] + templates.PLUGIN_API_DECLARATION,
        f"tests/test_{module}.py": templates.TESTS[kind],
        **{f"{module}/{path}": text for path, text in templates.DATA.get(kind, {}).items()},
    }
    written = []
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(values), encoding="utf-8")
        written.append(relative)
    return Scaffold(folder, distribution, module, name, kind, tuple(written))
