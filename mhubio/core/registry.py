"""Module classes by the names used in workflow files: built-in ones, those of a model folder, or given ones.

Built-in modules are listed in :data:`mhubio.modules.BUILTIN_MODULES` and imported only when a workflow uses
them.  A registry can be written as class paths (``package.module:ClassName``) and rebuilt from them in another
process, which is how worker processes get the modules of a run.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from mhubio.core.errors import ConfigError
from mhubio.core.module import Importer, Module
from mhubio.modules import BUILTIN_MODULES

_MODEL_PACKAGE = "mhub_models"
"""Package name under which the modules of model folders are loaded (from files, not importable by path)."""


class ModuleRegistry:
    """Maps module names used in workflow files to module classes.

    Parameters
    ----------
    classes:
        Module classes, registered under :meth:`Module.module_name`.
    paths:
        Module name -> class path ``package.module:ClassName``, imported on first :meth:`get`.
    """

    def __init__(self, classes: Iterable[type[Module]] = (), paths: Mapping[str, str] | None = None) -> None:
        self._classes: dict[str, type[Module]] = {}
        self._paths: dict[str, str] = {}
        for name, path in (paths or {}).items():
            if ":" not in path:
                raise ValueError(f"class path of module {name!r} must read 'package.module:ClassName', got {path!r}")
            self._paths[name] = path
        for cls in classes:
            self.add(cls)

    def add(self, cls: type[Module]) -> None:
        """Register ``cls``; two different classes with one name are an error."""
        name = cls.module_name()
        other = self._classes.get(name)
        if other is None and name in self._paths and self._paths[name] != class_path(cls):
            other_path = self._paths[name]
            raise ConfigError(f"module name {name!r} is defined twice: {other_path} and {class_path(cls)}")
        if other is not None and other is not cls:
            raise ConfigError(f"module name {name!r} is defined twice: {other.__module__} and {cls.__module__}")
        self._classes[name] = cls
        self._paths.pop(name, None)

    def get(self, name: str) -> type[Module]:
        """The class named ``name`` (imported now if it was only indexed); ``KeyError`` with a suggestion otherwise."""
        if name in self._classes:
            return self._classes[name]
        if name not in self._paths:
            raise KeyError(unknown_name_message("module", name, self.names()))
        cls = import_class(self._paths[name])
        if cls.module_name() != name:
            raise ConfigError(f"{self._paths[name]} is registered as {name!r} but is named {cls.module_name()!r}")
        self._classes[name] = cls
        del self._paths[name]
        return cls

    def __contains__(self, name: object) -> bool:
        return name in self._classes or name in self._paths

    def names(self) -> list[str]:
        """Sorted module names."""
        return sorted({*self._classes, *self._paths})

    def class_paths(self) -> dict[str, str]:
        """Module name -> ``package.module:ClassName`` of every module, for rebuilding the registry elsewhere.

        Raises :class:`ConfigError` for a class that cannot be imported by its path (defined in a function, or
        loaded from a file outside any package).
        """
        paths = dict(self._paths)
        for name, cls in self._classes.items():
            path = class_path(cls)
            try:
                found = import_class(path)
            except ConfigError:
                found = None
            if found is not cls or cls.__module__.startswith(f"{_MODEL_PACKAGE}."):
                raise ConfigError(
                    f"module {name!r} ({cls.__module__}.{cls.__qualname__}) cannot be imported by worker "
                    "processes: define it at the top level of an importable module"
                )
            paths[name] = path
        return dict(sorted(paths.items()))

    @classmethod
    def discover(cls, model_dir: Path | None = None) -> ModuleRegistry:
        """Built-in modules (indexed, not imported) plus those in ``model_dir/modules/*.py`` (imported)."""
        registry = cls(paths=BUILTIN_MODULES)
        if model_dir is not None and (model_dir / "modules").is_dir():
            for path in sorted((model_dir / "modules").glob("*.py")):
                if path.name.startswith("_"):
                    continue
                for module_cls in _module_classes_in_file(path, model_dir.name):
                    registry.add(module_cls)
        return registry


def class_path(cls: type) -> str:
    """``package.module:ClassName`` of ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str) -> type[Module]:
    """The module class at ``package.module:ClassName``."""
    module_name, _, qualname = path.partition(":")
    try:
        target: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import module class {path}: {exc}") from exc
    if not (inspect.isclass(target) and issubclass(target, Module)):
        raise ConfigError(f"{path} is not a module class (a subclass of mhubio.core.module.Module)")
    return target


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """'unknown module X (did you mean Y?)' with the closest known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(map(repr, close))}?" if close else f"known: {', '.join(known) or 'none'}"
    return f"unknown {kind} {name!r} ({hint})"


def concrete_modules(namespace: object, module_name: str) -> list[type[Module]]:
    """The workflow modules defined in ``namespace``: public, concrete subclasses of :class:`Module`.

    A private file (``_name.py``) holds bases and helpers, never workflow modules.
    """
    if module_name.rpartition(".")[2].startswith("_"):
        return []
    found = []
    for _, obj in inspect.getmembers(namespace, inspect.isclass):
        if (
            issubclass(obj, Module)
            and obj.__module__ == module_name
            and obj not in (Module, Importer)
            and not inspect.isabstract(obj)
            and not obj.__name__.startswith("_")
        ):
            found.append(obj)
    return found


def _module_classes_in_file(path: Path, model_name: str) -> list[type[Module]]:
    qualified = f"{_MODEL_PACKAGE}.{model_name}.{path.stem}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot load model module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[qualified]
            raise ConfigError(f"model module {path} failed to import: {exc}") from exc
    return concrete_modules(sys.modules[qualified], qualified)
