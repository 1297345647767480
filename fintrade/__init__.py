"""fintrade: a plugin-based trading research framework.

Strategy files use what this module exports; plugins may import the modules listed in
:data:`fintrade.api.PUBLIC_MODULES` (docs/plugins.md), and nothing else of fintrade.
Heavy libraries (vectorbt, torch) are imported lazily by the modules that need them.
"""

from __future__ import annotations

from fintrade.api import PLUGIN_API
from fintrade.errors import ConfigError, DataError, FintradeError, PluginError, StrategyError
from fintrade.executors import Executor
from fintrade.hookspecs import hookimpl
from fintrade.strategy import Costs, Regimes, SignalSpec, Significance, Splits, Strategy, WalkForward, signal
from fintrade.types import (
    AdapterMethod,
    Aggregator,
    BarsRequest,
    Dataset,
    DataSource,
    DocumentsRequest,
    Signal,
    SignalInput,
    SignalModel,
    TextSource,
)

__version__ = "0.1.0"

__all__ = [
    "PLUGIN_API",
    "AdapterMethod",
    "Aggregator",
    "BarsRequest",
    "ConfigError",
    "Costs",
    "DataError",
    "DataSource",
    "Dataset",
    "DocumentsRequest",
    "Executor",
    "FintradeError",
    "PluginError",
    "Regimes",
    "Signal",
    "SignalInput",
    "SignalModel",
    "SignalSpec",
    "Significance",
    "Splits",
    "Strategy",
    "StrategyError",
    "TextSource",
    "WalkForward",
    "__version__",
    "hookimpl",
    "signal",
]
