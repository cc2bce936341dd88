"""Every fitting method by name: the built-in ones, found by scanning :mod:`descent.fitting.methods`
(one module each, defining ``METHOD``), and the user's own, loaded from plugin files
(``fits.plugins``) that declare ``METHOD`` exactly like a built-in module.

The config schema's method choices and option entries, settings resolution, the rules and the
report all read the methods from here. Plugins are loaded by :func:`use_plugins` (the config's
validation calls it); the rules also export their paths in ``DESCENT_PLUGINS`` (like
``PYTHONPATH``), so every job's Python registers them when it first asks for a method.

This module is imported while Snakemake parses the workflow: method modules import torch,
pandas and scikit-learn only inside functions.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from descent.fitting import methods as builtin_methods
from descent.fitting.method import Method
from descent.fitting.settings import FitSettings

#: Environment variable listing plugin files (``os.pathsep``-separated, absolute) for job processes.
PLUGINS_VARIABLE = "DESCENT_PLUGINS"


class PluginError(ValueError):
    """A plugin file cannot be used; the message names the file and what is wrong."""


def _method_of(module: ModuleType, where: str) -> Method:
    method = getattr(module, "METHOD", None)
    if method is None:
        raise PluginError(f"{where}: declares no method (a method module defines METHOD = Method(...))")
    if not isinstance(method, Method):
        raise PluginError(f"{where}: METHOD is a {type(method).__name__}, not a descent.fitting.method.Method")
    return method


def _builtins() -> dict[str, Method]:
    found: dict[str, Method] = {}
    for info in sorted(pkgutil.iter_modules(builtin_methods.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{builtin_methods.__name__}.{info.name}")
        method = _method_of(module, module.__name__)
        found[method.name] = method
    return found


#: Every method by name: the built-in ones (alphabetical), then the plugins in the order loaded.
METHODS: dict[str, Method] = _builtins()
BUILTIN_METHODS: tuple[str, ...] = tuple(METHODS)
#: Plugin method name → the file it came from.
_PLUGIN_FILES: dict[str, Path] = {}
_environment_read = False


def plugin_files(paths: Sequence[str | os.PathLike[str]], base: str | os.PathLike[str] | None = None) -> list[Path]:
    """The plugin files ``paths`` name (a folder: every ``*.py`` in it, sorted, but ``_*.py``),
    relative paths taken from ``base`` (default: the working directory); a missing path, or a
    folder with no module, raises :class:`PluginError` naming it."""
    root = Path(base) if base is not None else Path.cwd()
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        full = path if path.is_absolute() else root / path
        if full.is_dir():
            modules = sorted(p for p in full.glob("*.py") if not p.name.startswith("_"))
            if not modules:
                raise PluginError(f"{entry}: a folder with no method module (*.py) in it")
            files.extend(modules)
        elif full.is_file():
            if full.suffix != ".py":
                raise PluginError(f"{entry}: not a Python file (a plugin is a .py module or a folder of them)")
            files.append(full)
        else:
            raise PluginError(f"{entry}: no such file or folder (relative paths are relative to {root})")
    return files


def _import_file(path: Path) -> ModuleType:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"descent_plugin_{digest}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PluginError(f"{path}: cannot be imported: {type(exc).__name__}: {exc}") from exc
    return module


def use_plugins(paths: Sequence[str | os.PathLike[str]], base: str | os.PathLike[str] | None = None) -> list[Method]:
    """Register exactly the methods of these plugin files or folders (unregistering plugins
    loaded before); a plugin that cannot be imported, declares no method, or whose method name
    clashes with another method raises :class:`PluginError` naming the file. Returns them."""
    global _environment_read
    _environment_read = True
    for name in list(_PLUGIN_FILES):
        METHODS.pop(name, None)
        del _PLUGIN_FILES[name]
    loaded: list[Method] = []
    for path in plugin_files(paths, base):
        method = _method_of(_import_file(path), str(path))
        if method.name in BUILTIN_METHODS:
            raise PluginError(f"{path}: method name {method.name!r} clashes with the built-in method of that name")
        if method.name in _PLUGIN_FILES:
            raise PluginError(
                f"{path}: method name {method.name!r} clashes with the plugin {_PLUGIN_FILES[method.name]}"
            )
        METHODS[method.name] = method
        _PLUGIN_FILES[method.name] = path
        loaded.append(method)
    return loaded


def plugin_source(name: str) -> Path | None:
    """The file a plugin method came from (None for a built-in one)."""
    return _PLUGIN_FILES.get(name)


def _read_environment() -> None:
    """Load the plugins a job's environment lists (once per process, unless loaded explicitly)."""
    global _environment_read
    if not _environment_read:
        listed = [p for p in os.environ.get(PLUGINS_VARIABLE, "").split(os.pathsep) if p]
        if listed:
            use_plugins(listed)
        _environment_read = True


def methods() -> dict[str, Method]:
    """Every registered method by name (built-in, then plugins)."""
    _read_environment()
    return METHODS


def get_method(name: str) -> Method:
    """The registered method ``name``; a ValueError lists the known ones."""
    known = methods()
    try:
        return known[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(known)}") from None


def iterative_methods() -> tuple[str, ...]:
    """Names of the registered iterative methods."""
    return tuple(name for name, m in methods().items() if m.kind == "iterative")


def closed_form_methods() -> tuple[str, ...]:
    """Names of the registered closed forms."""
    return tuple(name for name, m in methods().items() if m.kind == "closed_form")


def typed_settings(values: FitSettings | Mapping[str, Any]) -> FitSettings:
    """``values`` typed by its method (:meth:`Method.settings`): a flat resolved settings dict
    (as a rule passes it) becomes :class:`FitSettings`; typed settings are returned as they are."""
    if isinstance(values, FitSettings):
        return values
    return get_method(str(values["method"])).settings(values)
