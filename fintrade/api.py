"""The public API for plugins: the fintrade modules a plugin may import, and what each is for.

A plugin, built in or published, imports fintrade only through these modules; everything else
in ``fintrade/`` may change without notice. ``tests/test_imports.py`` parses every built-in
plugin and refuses any other fintrade import (and any import of another built-in plugin), and
``tests/test_plugin_system.py`` checks that docs/plugins.md lists exactly these modules.

It also declares :data:`PLUGIN_API`, the version of that API. This module holds data only and
imports nothing, so reading it costs nothing.
"""

from __future__ import annotations

PLUGIN_API = "1.0"
"""The version of the plugin API (hooks, records, public modules): ``"MAJOR.MINOR"``.

The minor number grows when something is added (a hook, a record field with a default, a
public function) and a plugin written for an older minor keeps working; the major number grows
when something is removed or changed, and plugins must say they support it. A plugin declares
the versions it supports with a module attribute, ``fintrade_plugin_api = ">=1.0,<2"``
(docs/plugins.md); one that excludes this version is skipped with a warning naming both.
"""

PUBLIC_MODULES: dict[str, str] = {
    "fintrade": "`hookimpl`, the records and errors re-exported, `Strategy`, `__version__` and `PLUGIN_API`",
    "fintrade.types": "the records hooks yield (`DataSource`, `SignalModel`, `Dataset`, ...) and the data shapes",
    "fintrade.errors": "`FintradeError`, `ConfigError`, `DataError`, `PluginError`, `did_you_mean`",
    "fintrade.hookspecs": "the hook specifications, for reading their documentation and signatures",
    "fintrade.deferred": "`deferred` and `lazy_exports`: name an implementation without importing it",
    "fintrade.bars": "`validate_bars`, `clip_range`, `to_utc_timestamp`: checking and trimming bars",
    "fintrade.options": "`check_option_names`, `bool_option`, `text_option`, `path_option`: one-line option errors",
    "fintrade.jsonlines": "`json_objects`: JSON lines with line-numbered errors",
    "fintrade.cache": "`cache_root`, `cached_bars`, `DataWarning`, `offline_mode`: for sources that download",
    "fintrade.retry": "`with_retries` and `RetryPolicy`: for sources that call a network service",
    "fintrade.costs": "`Costs`: for cost presets",
    "fintrade.registry": "`Registry`: plugins by kind and name (datasets, data sources, ...)",
    "fintrade.manifest": "`write_json_atomic`, `library_versions`: for artifacts and their manifests",
    "fintrade.alignment": "point-in-time alignment of documents to bars (docs/signals.md)",
    "fintrade.indicators": "`rsi`, `ema`, `macd_histogram`, ...: trailing indicators on (bars x symbols) arrays",
    "fintrade.sqlite_store": "`SQLiteStore`: one cache file that several processes share",
    "fintrade.rowfiles": "`read_text`, `parse_csv`, `parse_jsonl`, `parse_dates`, `text_ids`: rows from your own files",
    "fintrade.datasets": "`split_dataset`, `dataset_hash`, `latest_date`: what trainers do with labelled rows",
    "fintrade.models": "the model service: `resolve_model`, `load_adapter`, `read_manifest`, `resolve_device`, ...",
    "fintrade.models.sources": "base models: offline aliases, local folders, hub ids, safe loading",
    "fintrade.models.bases": "the base an adapter sits on, per task (classification, sft, qa), fp32 or 4-bit",
    "fintrade.models.artifacts": "adapter artifacts: save, read the manifest, load, merge",
    "fintrade.models.devices": "`auto`/`cpu`/`cuda[:N]` checked once, batches moved next to the model",
    "fintrade.models.quantization": "4-bit loading with bitsandbytes and its CPU fixes",
    "fintrade.models.errors": "`UnknownModelError`, `QuantizationUnavailableError`",
    "fintrade.models.markers": "the response markers of causal-LM (`sft`) adapters",
    "fintrade.executors": "`active`, `Executor`, `ray_session`, `ChunkFailed`: batch work on the run's executor",
    "fintrade.testing": "the pytest plugin for plugin authors: fixtures and synthetic bars and documents",
    "fintrade.testing.conformance": (
        "the conformance kit: `check_data_source`, `check_text_source`, `check_signal_model`, `check_aggregator`, "
        "`check_dataset`, `check_adapter_method`"
    ),
}
"""Module name -> what a plugin uses it for. The order is the order docs/plugins.md lists them in."""

__all__ = ["PLUGIN_API", "PUBLIC_MODULES"]
