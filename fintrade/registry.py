"""The typed registry: the only way core code reaches what plugins provide.

It calls each discovery hook once per plugin (so a failure names the plugin), checks every
record (type, lower-case name) and refuses clashes, naming every provider.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fintrade.errors import ConfigError, PluginError, did_you_mean
from fintrade.plugin_manager import FintradePluginManager, create_plugin_manager
from fintrade.types import AdapterMethod, Aggregator, CostPreset, Dataset, DataSource, SignalModel, TextSource

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]*$")

Record = TypeVar("Record", DataSource, TextSource, Dataset, AdapterMethod, SignalModel, Aggregator, CostPreset)


@dataclass(frozen=True)
class Provided(Generic[Record]):
    """A record and the plugin that provided it."""

    record: Record
    plugin: str


def validate_name(name: object, kind: str, plugin: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise PluginError(
            f"plugin {plugin!r} registered {kind} name {name!r}: names must be lower case "
            "letters, digits, '-', '_' or '.', starting with a letter"
        )
    return name


class Kind(Generic[Record]):
    """All records of one kind (data sources, signal models, ...) by name."""

    def __init__(self, label: str, items: Mapping[str, Provided[Record]]) -> None:
        self.label = label
        self._items: dict[str, Provided[Record]] = dict(items)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterable[Record]:  # type: ignore[override]
        return iter(provided.record for provided in self._items.values())

    def provider(self, name: str) -> str:
        return self._items[name].plugin

    def get(self, name: str) -> Record:
        """The record called ``name``; an unknown name suggests the closest one."""
        try:
            return self._items[name].record
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(
                f"unknown {self.label} {name!r}{did_you_mean(name, self._items)}; known: {known}"
            ) from None


HOOKS: dict[str, tuple[str, type]] = {
    "data_sources": ("fintrade_data_sources", DataSource),
    "text_sources": ("fintrade_text_sources", TextSource),
    "datasets": ("fintrade_datasets", Dataset),
    "adapter_methods": ("fintrade_adapter_methods", AdapterMethod),
    "signal_models": ("fintrade_signal_models", SignalModel),
    "aggregators": ("fintrade_aggregators", Aggregator),
    "cost_presets": ("fintrade_cost_presets", CostPreset),
}
LABELS = {
    "data_sources": "data source",
    "text_sources": "text source",
    "datasets": "dataset",
    "adapter_methods": "adapter method",
    "signal_models": "signal model",
    "aggregators": "aggregator",
    "cost_presets": "cost preset",
}


def _collect(pm: FintradePluginManager, hook_name: str, record_type: type, label: str) -> dict[str, Provided[Any]]:
    by_name: dict[str, list[Provided[Any]]] = {}
    for plugin, records in pm.call_each(hook_name):
        for record in records or ():
            if not isinstance(record, record_type):
                raise PluginError(
                    f"plugin {plugin!r} returned {type(record).__name__} from {hook_name}(); "
                    f"expected {record_type.__name__}"
                )
            name = validate_name(getattr(record, "name", None), label, plugin)
            by_name.setdefault(name, []).append(Provided(record, plugin))
    clashes = {name: providers for name, providers in by_name.items() if len(providers) > 1}
    if clashes:
        details = "; ".join(
            f"{label} {name!r} is provided by "
            + " and ".join(f"{p.plugin!r} ({_distribution(pm, p.plugin)})" for p in providers)
            for name, providers in sorted(clashes.items())
        )
        raise PluginError(f"name clash: {details}")
    return {name: providers[0] for name, providers in by_name.items()}


def _distribution(pm: FintradePluginManager, plugin: str) -> str:
    info = pm.infos.get(plugin)
    if info is None:
        return "unknown"
    return info.distribution or info.source


class Registry:
    """What every plugin provides, validated, by kind and name."""

    def __init__(self, pm: FintradePluginManager) -> None:
        self.pm = pm
        kinds = {
            attr: Kind(LABELS[attr], _collect(pm, hook, record_type, LABELS[attr]))
            for attr, (hook, record_type) in HOOKS.items()
        }
        self.data_sources: Kind[DataSource] = kinds["data_sources"]
        self.text_sources: Kind[TextSource] = kinds["text_sources"]
        self.datasets: Kind[Dataset] = kinds["datasets"]
        self.adapter_methods: Kind[AdapterMethod] = kinds["adapter_methods"]
        self.signal_models: Kind[SignalModel] = kinds["signal_models"]
        self.aggregators: Kind[Aggregator] = kinds["aggregators"]
        self.cost_presets: Kind[CostPreset] = kinds["cost_presets"]

    def __getstate__(self) -> dict[str, Any]:
        # Workers on other processes (Ray) get the resolved records, not the plugin manager.
        return {**self.__dict__, "pm": None}

    def only(self, **names: Iterable[str]) -> Registry:
        """A copy with only the named records of each kind (``signal_models=["sma-cross"]``), none of
        the other kinds: what a worker elsewhere needs, without the plugins it need not import."""
        copy = object.__new__(Registry)
        copy.__dict__.update(self.__getstate__())
        for attr in HOOKS:
            kind: Kind[Any] = getattr(self, attr)
            keep = set(names.get(attr, ()))
            setattr(copy, attr, Kind(kind.label, {n: p for n, p in kind._items.items() if n in keep}))
        return copy

    def kinds(self) -> dict[str, Kind[Any]]:
        return {attr: getattr(self, attr) for attr in HOOKS}


_factory: Callable[[], FintradePluginManager] = create_plugin_manager
_plugin_manager: FintradePluginManager | None = None


def get_plugin_manager() -> FintradePluginManager:
    """The process-wide plugin manager, built on first use."""
    global _plugin_manager
    if _plugin_manager is None:
        _plugin_manager = _factory()
    return _plugin_manager


def get_registry() -> Registry:
    """A registry over the current plugin manager (rebuilt each call: plugins may change)."""
    return Registry(get_plugin_manager())


def set_plugin_manager(pm: FintradePluginManager | None) -> None:
    """Replace the process-wide plugin manager (tests, embedding); ``None`` rebuilds it lazily."""
    global _plugin_manager
    _plugin_manager = pm
