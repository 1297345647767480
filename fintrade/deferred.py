"""Deferred imports for plugins: register cheaply, import heavy code on first use.

The CLI imports every installed plugin to build its command list, so a plugin module that
imports pandas or torch at the top slows ``fintrade --help`` for everyone. These helpers let
a plugin name its implementation without importing it::

    DataSource(name="my-source", load=deferred("my_plugin.reader:load_bars"))
    __getattr__ = lazy_exports(__name__, {"load_bars": "my_plugin.reader"})
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any


def deferred(target: str) -> Callable[..., Any]:
    """A function that imports ``"package.module:function"`` on its first call, then calls it."""
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name:
        raise ValueError(f"deferred target must look like 'package.module:function', got {target!r}")

    @functools.cache
    def resolve() -> Callable[..., Any]:
        return getattr(importlib.import_module(module_name), function_name)  # type: ignore[no-any-return]

    def call(*args: Any, **kwargs: Any) -> Any:
        return resolve()(*args, **kwargs)

    call.__name__ = function_name
    call.__qualname__ = target
    call.__doc__ = f"Calls {target}, imported on first use."
    return call


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports each exported name from its submodule on access."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
