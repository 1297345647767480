"""Plugin manager and registry: good, broken, misspelled, clashing, strict mode, tracing."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

import fintrade
from fintrade.errors import ConfigError, PluginError
from fintrade.plugin_manager import BUILTIN_PLUGINS, PluginInfo, create_plugin_manager
from fintrade.registry import Registry
from fintrade.types import Aggregator, DataSource

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str, **functions: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for attr, value in functions.items():
        setattr(module, attr, value)
    return module


def _data_source_plugin(name: str, source_name: str) -> types.ModuleType:
    @fintrade.hookimpl
    def fintrade_data_sources():
        yield DataSource(name=source_name, load=lambda request: {})

    return _module(name, fintrade_data_sources=fintrade_data_sources)


@pytest.fixture
def pm():
    return create_plugin_manager(load_entry_points=False)


def test_builtins_register_with_status_ok(pm) -> None:
    assert [n for n in pm.infos] == list(BUILTIN_PLUGINS)
    assert all(info.status == "ok" and info.source == "builtin" for info in pm.infos.values())
    registry = Registry(pm)
    assert {"sma-cross", "momentum"} <= set(registry.signal_models.names())
    assert {"mean", "majority", "confidence-vote"} <= set(registry.aggregators.names())


def test_good_plugin_is_visible_in_the_registry(pm) -> None:
    pm.register_plugin(_data_source_plugin("mine", "my-source"), "mine", PluginInfo("mine", "test", "ok"))
    registry = Registry(pm)
    assert "my-source" in registry.data_sources
    assert registry.data_sources.provider("my-source") == "mine"
    assert pm.infos["mine"].hooks == ["fintrade_data_sources"]


def test_misspelled_hook_fails_loudly_naming_the_plugin(pm) -> None:
    @fintrade.hookimpl
    def fintrade_data_source():
        return []

    plugin = _module("typo", fintrade_data_source=fintrade_data_source)
    with pytest.raises(PluginError, match=r"plugin 'typo': .*unknown hook 'fintrade_data_source'"):
        pm.register_plugin(plugin, "typo", PluginInfo("typo", "test", "ok"))
    assert not pm.has_plugin("typo")


def test_name_clash_names_every_provider(pm) -> None:
    pm.register_plugin(
        _data_source_plugin("first", "prices"), "first", PluginInfo("first", "test", "ok", distribution="a-dist")
    )
    pm.register_plugin(
        _data_source_plugin("second", "prices"), "second", PluginInfo("second", "test", "ok", distribution="b-dist")
    )
    with pytest.raises(PluginError) as caught:
        Registry(pm)
    message = str(caught.value)
    assert message.startswith("name clash: data source 'prices' is provided by ")
    assert "'first' (a-dist)" in message and "'second' (b-dist)" in message


def test_a_clash_with_a_builtin_is_refused(pm) -> None:
    @fintrade.hookimpl
    def fintrade_aggregators():
        yield Aggregator("mean", lambda signals, params: signals[0])

    pm.register_plugin(
        _module("dup", fintrade_aggregators=fintrade_aggregators), "dup", PluginInfo("dup", "test", "ok")
    )
    with pytest.raises(PluginError, match=r"aggregator 'mean' is provided by 'fintrade_aggregators'.* and 'dup'"):
        Registry(pm)


@pytest.mark.parametrize("bad_name", ["Upper", "has space", "", "9lives"])
def test_invalid_names_are_refused(pm, bad_name: str) -> None:
    pm.register_plugin(_data_source_plugin("bad", bad_name), "bad", PluginInfo("bad", "test", "ok"))
    with pytest.raises(PluginError, match=f"plugin 'bad' registered data source name {bad_name!r}"):
        Registry(pm)


def test_wrong_record_type_is_refused(pm) -> None:
    @fintrade.hookimpl
    def fintrade_data_sources():
        return [Aggregator("x", lambda s, p: s[0])]

    pm.register_plugin(
        _module("wrong", fintrade_data_sources=fintrade_data_sources), "wrong", PluginInfo("wrong", "test", "ok")
    )
    with pytest.raises(
        PluginError, match=r"plugin 'wrong' returned Aggregator from fintrade_data_sources\(\); expected DataSource"
    ):
        Registry(pm)


def test_a_crashing_entry_point_hook_is_skipped_with_a_warning(pm, monkeypatch) -> None:
    @fintrade.hookimpl
    def fintrade_data_sources():
        raise RuntimeError("boom")

    pm.register_plugin(
        _module("crash", fintrade_data_sources=fintrade_data_sources), "crash", PluginInfo("crash", "entry point", "ok")
    )
    with pytest.warns(
        UserWarning,
        match=r"fintrade plugin 'crash' from distribution \? failed in fintrade_data_sources\(\): "
        r"RuntimeError: boom; skipped",
    ):
        registry = Registry(pm)
    assert pm.infos["crash"].status == "failed"
    assert "sample" in registry.data_sources or "local" in registry.data_sources
    monkeypatch.setenv("FINTRADE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"plugin 'crash' failed in fintrade_data_sources\(\): RuntimeError: boom"):
        Registry(pm)


def test_unknown_names_suggest_the_closest(pm) -> None:
    registry = Registry(pm)
    with pytest.raises(ConfigError, match=r"unknown signal model 'sma-cros' \(did you mean 'sma-cross'\?\); known: "):
        registry.signal_models.get("sma-cros")


def test_disable_list_skips_builtins(monkeypatch) -> None:
    monkeypatch.setenv("FINTRADE_DISABLE_PLUGINS", "fintrade_technical")
    pm = create_plugin_manager(load_entry_points=False)
    assert pm.infos["fintrade_technical"].status == "disabled"
    assert "sma-cross" not in Registry(pm).signal_models


def test_tracing_writes_hook_calls(monkeypatch, capsys) -> None:
    monkeypatch.setenv("FINTRADE_TRACE_HOOKS", "1")
    pm = create_plugin_manager(load_entry_points=False)
    pm.hook.fintrade_aggregators()
    assert "fintrade_aggregators" in capsys.readouterr().err


def test_core_never_imports_a_builtin_plugin() -> None:
    offenders = []
    for path in (ROOT / "fintrade").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in BUILTIN_PLUGINS]
    assert offenders == []


def test_docs_list_exactly_the_public_api() -> None:
    # One list: fintrade.api declares it, tests/test_imports.py enforces it, docs/plugins.md shows it.
    from fintrade.api import PUBLIC_MODULES

    text = (ROOT / "docs" / "plugins.md").read_text()
    section = text.split("\n## The public API\n", 1)[1].split("\n## ", 1)[0]
    listed = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert listed == list(PUBLIC_MODULES)


def test_deferred_imports_on_first_call_only(tmp_path, monkeypatch) -> None:
    import sys

    from fintrade.deferred import deferred, lazy_exports

    (tmp_path / "slow_module_for_test.py").write_text(
        "CALLS = []\ndef load(x):\n    CALLS.append(x)\n    return x * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    load = deferred("slow_module_for_test:load")
    assert "slow_module_for_test" not in sys.modules
    assert load(21) == 42
    assert sys.modules["slow_module_for_test"].CALLS == [21]
    getattr_ = lazy_exports("pkg", {"load": "slow_module_for_test"})
    assert getattr_("load") is sys.modules["slow_module_for_test"].load
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'other'"):
        getattr_("other")
    with pytest.raises(ValueError, match="deferred target must look like"):
        deferred("no_colon")
