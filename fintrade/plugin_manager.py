"""Build the pluggy plugin manager: built-ins first, then entry points, each one safely.

Built-in plugins are ordinary modules under ``plugins/`` named in :data:`BUILTIN_PLUGINS`;
they are registered from that tuple only (never also as entry points, which pluggy would
reject as a double registration). Third-party plugins come from the ``fintrade`` entry-point
group and are loaded one at a time, so one broken plugin is reported and skipped instead of
taking the CLI down.

Environment variables:

``FINTRADE_STRICT_PLUGINS=1``
    re-raise the first plugin error instead of warning.
``FINTRADE_PLUGINS=a,b``
    load only these entry-point plugins (an empty value loads none).
``FINTRADE_DISABLE_PLUGINS=a,b``
    never load these plugins (built-ins included).
``FINTRADE_TRACE_HOOKS=1``
    print every hook call and its result to stderr.

An entry-point plugin may declare the plugin API versions it supports with a module (or
object) attribute, ``fintrade_plugin_api = ">=1.0,<2"``; one that excludes
:data:`fintrade.api.PLUGIN_API` is not registered and is listed as ``incompatible``.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from fintrade import hookspecs
from fintrade.api import PLUGIN_API
from fintrade.errors import PluginError

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME

BUILTIN_PLUGINS: tuple[str, ...] = (
    "fintrade_local",
    "fintrade_sample",
    "fintrade_synthetic",
    "fintrade_technical",
    "fintrade_aggregators",
    "fintrade_bybit",
    "fintrade_yahoo",
    "fintrade_datasets",
    "fintrade_adapters",
    "fintrade_sentiment",
    "fintrade_direction",
)
"""Modules registered before any entry point, in this order."""


PLUGIN_API_ATTRIBUTE = "fintrade_plugin_api"
"""The attribute of a plugin's entry-point object that declares the plugin API versions it supports."""

_API_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d+)(?:\.(\d+))?\s*$")


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to load and was skipped."""


def _api_version(major: str, minor: str | None) -> tuple[int, int]:
    return int(major), int(minor or 0)


def supports_plugin_api(declared: object, provided: str = PLUGIN_API) -> bool:
    """Whether a plugin declaring ``declared`` runs on a core providing plugin API ``provided``.

    ``declared`` is a range of comma-separated clauses (``">=1.0,<2"``; operators ``>=``, ``>``,
    ``<=``, ``<``, ``==``, ``!=``, versions ``MAJOR`` or ``MAJOR.MINOR``, a missing minor being
    0), or a bare version (``"1.2"``, ``"1"``, ``1``), which means that major from that minor
    on: the compatibility rule, since minors only add. A malformed declaration is a ValueError.
    """
    match = _API_CLAUSE.match(provided)
    if match is None or match.group(1):
        raise ValueError(f"plugin API {provided!r} is not a version")
    version = _api_version(match.group(2), match.group(3))
    text = str(declared) if isinstance(declared, int | str) and not isinstance(declared, bool) else ""
    clauses = [_API_CLAUSE.match(part) for part in text.split(",")]
    if not text.strip() or any(clause is None for clause in clauses):
        raise ValueError(
            f"{PLUGIN_API_ATTRIBUTE} = {declared!r} is not a plugin API range; write one such as '>=1.0,<2'"
        )
    checks = {
        ">=": lambda bound: version >= bound,
        ">": lambda bound: version > bound,
        "<=": lambda bound: version <= bound,
        "<": lambda bound: version < bound,
        "==": lambda bound: version == bound,
        "!=": lambda bound: version != bound,
    }
    for clause in clauses:
        assert clause is not None
        operator, bound = clause.group(1), _api_version(clause.group(2), clause.group(3))
        if operator is None:  # a bare version: the same major, this minor or later
            if not (version[0] == bound[0] and version >= bound):
                return False
        elif not checks[operator](bound):
            return False
    return True


def _declared_api(plugin: object, info: PluginInfo) -> str | None:
    """The plugin's declared API range when this core's :data:`PLUGIN_API` is outside it, else None.

    Records the declaration in ``info.plugin_api``; a malformed one raises ValueError.
    """
    declared = getattr(plugin, PLUGIN_API_ATTRIBUTE, None)
    if declared is None:
        return None
    info.plugin_api = str(declared)
    return None if supports_plugin_api(declared) else info.plugin_api


@dataclass
class PluginInfo:
    """What ``fintrade plugins`` shows about one plugin."""

    name: str
    source: str  # "builtin", "entry point" or "strategy file"
    status: str  # "ok", "failed", "incompatible" or "disabled"
    version: str = ""
    distribution: str = ""
    hooks: list[str] = field(default_factory=list)
    error: str = ""
    plugin_api: str = ""  # the plugin API versions the plugin declares it supports ("" when it does not say)


class FintradePluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each plugin came from and how loading went."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.tracing = False

    def register_plugin(self, plugin: object, name: str, info: PluginInfo) -> None:
        """Register ``plugin`` and record ``info``; a bad hook name fails here, with the plugin named."""
        try:
            self.register(plugin, name=name)
            # A misspelled hook (fintrade_data_source) is unknown to pluggy until checked.
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            if self.is_registered(plugin):
                self.unregister(plugin)
            raise PluginError(f"plugin {name!r}: {exc}") from exc
        info.hooks = sorted(
            caller.name for caller in self.get_hookcallers(plugin) or [] if caller.name.startswith("fintrade_")
        )
        info.status = "ok"
        self.infos[name] = info

    def strategy_plugins(self) -> list[str]:
        return [name for name, info in self.infos.items() if info.source == "strategy file"]

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call every plugin's ``hook_name`` separately and yield ``(plugin, result)``.

        Unlike ``pm.hook.<name>()``, a failure here names its plugin: a third-party plugin that
        raises is marked failed, reported and skipped; a built-in (or any plugin in strict
        mode) raises :class:`PluginError`. Results that are iterators are drained inside the
        guard, because generator hooks fail only when iterated.
        """
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            plugin = impl.plugin_name
            try:
                result = impl.function(**kwargs)
                if isinstance(result, Iterator):
                    result = list(result)
            except Exception as exc:
                self.plugin_failed(plugin, f"{hook_name}(): {type(exc).__name__}: {exc}", exc)
                continue
            if self.tracing:
                sys.stderr.write(f"fintrade hook {hook_name} [{plugin}] -> {result!r}\n")
            yield plugin, result

    def plugin_failed(self, plugin: str, error: str, exc: BaseException) -> None:
        """Record and report a failing plugin; raise instead for built-ins and in strict mode."""
        info = self.infos.get(plugin)
        if strict_plugins() or info is None or info.source != "entry point":
            raise PluginError(f"plugin {plugin!r} failed in {error}") from exc
        info.status, info.error = "failed", error
        warnings.warn(
            f"fintrade plugin {plugin!r} from distribution {info.distribution or '?'} failed in {error}; skipped",
            PluginLoadWarning,
            stacklevel=3,
        )


def _env_names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def strict_plugins() -> bool:
    return os.environ.get("FINTRADE_STRICT_PLUGINS", "") not in ("", "0", "false")


def _fintrade_version() -> str:
    from fintrade import __version__

    return __version__


def _register_builtins(pm: FintradePluginManager, disabled: set[str]) -> None:
    for module_name in BUILTIN_PLUGINS:
        if module_name in disabled:
            pm.infos[module_name] = PluginInfo(module_name, "builtin", "disabled")
            continue
        module = importlib.import_module(module_name)
        info = PluginInfo(module_name, "builtin", "ok", version=_fintrade_version(), distribution="fintrade")
        pm.register_plugin(module, module_name, info)
        if not info.hooks:
            # An empty namespace package imports fine and silently provides nothing: a broken install.
            raise PluginError(
                f"built-in plugin {module_name!r} implements no hooks (imported from "
                f"{getattr(module, '__file__', None) or 'a namespace package'}); reinstall fintrade"
            )


def _register_entry_points(pm: FintradePluginManager, allowed: set[str] | None, disabled: set[str]) -> None:
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name
        dist = entry_point.dist
        info = PluginInfo(
            name,
            "entry point",
            "failed",
            version=dist.version if dist else "",
            distribution=dist.name if dist else "",
        )
        if name in disabled or (allowed is not None and name not in allowed):
            info.status = "disabled"
            pm.infos[name] = info
            continue
        if pm.has_plugin(name):
            # Built-ins are registered from the tuple; an entry point of the same name would
            # be a second registration of the same plugin.
            info.error = f"name already used by the {pm.infos[name].source} plugin"
            pm.infos.setdefault(f"{name} ({info.distribution})", info)
            warnings.warn(
                f"fintrade plugin {name!r} from distribution {info.distribution or '?'} was skipped: {info.error}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        try:
            plugin = entry_point.load()
            unsupported = _declared_api(plugin, info)
            if unsupported is None:
                pm.register_plugin(plugin, name, info)
        except Exception as exc:
            if strict_plugins():
                raise PluginError(
                    f"fintrade plugin {name!r} from distribution {info.distribution or '?'} failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            info.error = f"{type(exc).__name__}: {exc}"
            pm.infos[name] = info
            warnings.warn(
                f"fintrade plugin {name!r} from distribution {info.distribution or '?'} failed to load "
                f"and was skipped: {info.error}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        if unsupported is not None:
            _skip_incompatible(pm, plugin, info, unsupported)


def _skip_incompatible(pm: FintradePluginManager, plugin: object, info: PluginInfo, declared: str) -> None:
    """List a plugin made for another plugin API as ``incompatible``, with both versions, unregistered."""
    message = (
        f"fintrade plugin {info.name!r} from distribution {info.distribution or '?'} supports plugin API "
        f"{declared!r}, but this fintrade provides plugin API {PLUGIN_API!r}"
    )
    if strict_plugins():
        raise PluginError(message)
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    info.status = "incompatible"
    info.hooks = sorted(
        attr for attr in dir(plugin) if attr.startswith("fintrade_") and hasattr(getattr(plugin, attr, None), marker)
    )
    info.error = f"supports plugin API {declared!r}; this fintrade provides {PLUGIN_API!r}"
    pm.infos[info.name] = info
    warnings.warn(
        f"{message}; skipped (install a release of the plugin made for plugin API {PLUGIN_API.split('.')[0]})",
        PluginLoadWarning,
        stacklevel=3,
    )


def _enable_tracing(pm: FintradePluginManager) -> None:
    pm.tracing = True
    pm.trace.root.setwriter(sys.stderr.write)
    pm.enable_tracing()


def create_plugin_manager(*, load_entry_points: bool = True) -> FintradePluginManager:
    """A plugin manager with the built-ins and (unless told not to) the installed plugins."""
    pm = FintradePluginManager()
    disabled = _env_names("FINTRADE_DISABLE_PLUGINS") or set()
    _register_builtins(pm, disabled)
    if load_entry_points:
        _register_entry_points(pm, _env_names("FINTRADE_PLUGINS"), disabled)
    pm.check_pending()
    if os.environ.get("FINTRADE_TRACE_HOOKS"):
        _enable_tracing(pm)
    return pm


def register_module_plugin(pm: FintradePluginManager, module: ModuleType, name: str, source: str) -> None:
    """Register a module (for example a strategy file with ``@hookimpl`` functions).

    A module declaring plugin API versions that exclude this fintrade's is refused: the user
    ran it on purpose, so this is an error rather than a skip.
    """
    info = PluginInfo(name, source, "ok", version="", distribution="")
    try:
        declared = _declared_api(module, info)
    except ValueError as exc:
        raise PluginError(f"{source} {name}: {exc}") from None
    if declared is not None:
        raise PluginError(
            f"{source} {name} supports plugin API {declared!r}, but this fintrade provides plugin API {PLUGIN_API!r}"
        )
    if pm.has_plugin(name):
        pm.unregister(name=name)
    pm.register_plugin(module, name, info)
