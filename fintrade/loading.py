"""Load a strategy file by path (``path.py`` or ``path.py:ClassName``) into a Strategy instance.

Every failure becomes a :class:`~fintrade.errors.StrategyError` that names the file and,
where there is one, the line.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from fintrade.errors import ConfigError, FintradeError, StrategyError, did_you_mean
from fintrade.strategy import Strategy


@dataclass(frozen=True)
class LoadedStrategy:
    strategy: Strategy
    module: ModuleType
    path: Path
    has_inline_plugin: bool


def split_spec(spec: str) -> tuple[Path, str | None]:
    """``"dir/s.py:Name"`` -> (Path("dir/s.py"), "Name"); a bare path -> (path, None)."""
    path, sep, name = spec.rpartition(":")
    if sep and path.endswith(".py") and name.isidentifier():
        return Path(path), name
    return Path(spec), None


def _error_line(exc: BaseException, path: Path) -> int | None:
    resolved = str(path.resolve())
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if str(Path(frame.filename).resolve()) == resolved:
            line = frame.lineno
    return line


def _execute(path: Path) -> ModuleType:
    module_name = f"fintrade_strategy_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{path}: cannot be loaded as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise StrategyError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except FintradeError as exc:
        sys.modules.pop(module_name, None)
        line = _error_line(exc, path)
        raise StrategyError(f"{path}:{line}: {exc}") from exc
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = _error_line(exc, path)
        raise StrategyError(f"{path}:{line}: {type(exc).__name__}: {exc}") from exc
    return module


def _strategy_classes(module: ModuleType) -> list[type[Strategy]]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]


KNOWN_ATTRIBUTES = {name for name in dir(Strategy) if not name.startswith("_")}


def _check_attributes(cls: type[Strategy], path: Path) -> None:
    """Refuse class attributes the framework would silently ignore (``symbol = ...``)."""
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and node.name == cls.__name__):
            continue
        for statement in node.body:
            targets = []
            if isinstance(statement, ast.Assign):
                targets = [t for t in statement.targets if isinstance(t, ast.Name)]
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                targets = [statement.target]
            for target in targets:
                name = target.id
                if name.startswith("_") or name in KNOWN_ATTRIBUTES or name.isupper():
                    continue
                raise StrategyError(
                    f"{path}:{statement.lineno}: unknown strategy attribute {name!r}"
                    f"{did_you_mean(name, KNOWN_ATTRIBUTES)} (prefix private helpers with '_')"
                )


def _attribute_line(cls: type[Strategy], path: Path, name: str) -> str:
    """``"path:line"`` of the class attribute ``name`` in the strategy file, or ``"path"``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            for statement in node.body:
                targets = statement.targets if isinstance(statement, ast.Assign) else []
                if isinstance(statement, ast.AnnAssign):
                    targets = [statement.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    return f"{path}:{statement.lineno}"
    return str(path)


def _check_settings(cls: type[Strategy], path: Path) -> None:
    """Refuse settings that would otherwise be misread far from the file: a string of symbols
    (``"AAPL"`` is four one-letter symbols), a start that is not a date."""
    from fintrade.bars import DATE_HELP, to_utc_timestamp

    symbols = cls.symbols
    if isinstance(symbols, str):
        raise ConfigError(
            f"{_attribute_line(cls, path, 'symbols')}: symbols = {symbols!r} is a string; "
            f"write a list: symbols = [{symbols!r}]"
        )
    if not isinstance(symbols, list | tuple) or not all(isinstance(s, str) and s for s in symbols):
        raise ConfigError(
            f"{_attribute_line(cls, path, 'symbols')}: symbols = {symbols!r}: expected a list of symbol "
            "strings, e.g. ['AAPL', 'MSFT']"
        )
    for name in ("start", "end"):
        value = getattr(cls, name)
        try:
            to_utc_timestamp(value, name)
        except ConfigError:
            raise ConfigError(
                f"{_attribute_line(cls, path, name)}: {name} = {value!r} is not a date; {DATE_HELP}"
            ) from None


def has_hookimpls(module: ModuleType) -> bool:
    return any(hasattr(obj, "fintrade_impl") for obj in vars(module).values())


def load_strategy(spec: str) -> LoadedStrategy:
    """Execute the strategy file and instantiate its Strategy subclass."""
    path, class_name = split_spec(spec)
    if not path.is_file():
        raise StrategyError(f"{path}: strategy file not found")
    module = _execute(path)
    classes = _strategy_classes(module)
    if class_name is not None:
        chosen = [cls for cls in classes if cls.__name__ == class_name]
        if not chosen:
            found = ", ".join(cls.__name__ for cls in classes) or "none"
            raise StrategyError(f"{path}: no Strategy subclass named {class_name!r} (found: {found})")
        cls = chosen[0]
    elif not classes:
        raise StrategyError(f"{path}: no Strategy subclass defined (class MyStrategy(fintrade.Strategy): ...)")
    elif len(classes) > 1:
        names = sorted(cls.__name__ for cls in classes)
        raise StrategyError(
            f"{path}: {len(classes)} Strategy subclasses ({', '.join(names)}); choose one with {path}:{names[0]}"
        )
    else:
        cls = classes[0]
    _check_attributes(cls, path)
    _check_settings(cls, path)
    try:
        instance = cls()
    except Exception as exc:
        raise StrategyError(f"{path}:{_error_line(exc, path)}: {type(exc).__name__}: {exc}") from exc
    return LoadedStrategy(instance, module, path, has_hookimpls(module))
