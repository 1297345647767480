"""Deferred imports for plugins: register cheaply, import heavy code on first use.

The CLI imports every installed plugin to build its command list, so a plugin module that
imports pandas or torch at the top slows ``fintrade --help`` for everyone. These helpers let
a plugin name its implementation without importing it::

    DataSource(name="my-source", load=deferred("my_plugin.reader:load_bars"))
    __getattr__ = lazy_exports(__name__, {"load_bars": "my_plugin.reader"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


class Deferred:
    """A function that imports ``"package.module:function"`` on its first call, then calls it.

    A class rather than a closure so that it pickles (by its target) to other processes: Ray
    workers get the plugin records a sweep uses.
    """

    def __init__(self, target: str) -> None:
        module_name, _, function_name = target.partition(":")
        if not module_name or not function_name:
            raise ValueError(f"deferred target must look like 'package.module:function', got {target!r}")
        self.target = target
        self.__name__ = function_name
        self.__qualname__ = target
        self.__doc__ = f"Calls {target}, imported on first use."
        self._function: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._function is None:
            module_name, _, function_name = self.target.partition(":")
            self._function = getattr(importlib.import_module(module_name), function_name)
        return self._function(*args, **kwargs)

    def __reduce__(self) -> tuple[type[Deferred], tuple[str]]:
        return Deferred, (self.target,)

    def __repr__(self) -> str:
        return f"deferred({self.target!r})"


def deferred(target: str) -> Callable[..., Any]:
    """A function that imports ``"package.module:function"`` on its first call, then calls it."""
    return Deferred(target)


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports each exported name from its submodule on access."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
