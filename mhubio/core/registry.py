"""Discovery of module classes: built-in ones and those of a model folder."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import pkgutil
import sys
from collections.abc import Iterable
from pathlib import Path

from mhubio.core.errors import ConfigError
from mhubio.core.module import Importer, Module

_BUILTIN_PACKAGE = "mhubio.modules"


class ModuleRegistry:
    """Maps module names used in workflow files to module classes."""

    def __init__(self, classes: Iterable[type[Module]] = ()) -> None:
        self._classes: dict[str, type[Module]] = {}
        for cls in classes:
            self.add(cls)

    def add(self, cls: type[Module]) -> None:
        """Register ``cls``; two different classes with one name are an error."""
        name = cls.module_name()
        if name in self._classes and self._classes[name] is not cls:
            other = self._classes[name]
            raise ConfigError(
                f"module name {name!r} is defined twice: {other.__module__} and {cls.__module__}"
            )
        self._classes[name] = cls

    def get(self, name: str) -> type[Module]:
        """The class named ``name``; ``KeyError`` with a suggestion otherwise."""
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(unknown_name_message("module", name, self._classes)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def names(self) -> list[str]:
        """Sorted module names."""
        return sorted(self._classes)

    @classmethod
    def discover(cls, model_dir: Path | None = None) -> ModuleRegistry:
        """Built-in modules plus those in ``model_dir/modules/*.py``."""
        registry = cls(_module_classes_in_package(_BUILTIN_PACKAGE))
        if model_dir is not None and (model_dir / "modules").is_dir():
            for path in sorted((model_dir / "modules").glob("*.py")):
                if path.name.startswith("_"):
                    continue
                for module_cls in _module_classes_in_file(path, model_dir.name):
                    registry.add(module_cls)
        return registry


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """'unknown module X (did you mean Y?)' with the closest known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(map(repr, close))}?" if close else f"known: {', '.join(known) or 'none'}"
    return f"unknown {kind} {name!r} ({hint})"


def _concrete_modules(namespace: object, module_name: str) -> list[type[Module]]:
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


def _module_classes_in_package(package_name: str) -> list[type[Module]]:
    package = importlib.import_module(package_name)
    classes = []
    for info in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
        module = importlib.import_module(info.name)
        classes.extend(_concrete_modules(module, info.name))
    return classes


def _module_classes_in_file(path: Path, model_name: str) -> list[type[Module]]:
    qualified = f"mhub_models.{model_name}.{path.stem}"
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
    return _concrete_modules(sys.modules[qualified], qualified)
