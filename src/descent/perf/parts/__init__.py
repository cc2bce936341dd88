"""The parts of the benchmark (``make bench``), one module each, found by :func:`discover`.

Each module declares ``PART = descent.perf.part.Part(...)``: its options, its run, its rows of
the printed table and its targets. Adding a part is adding a module here.
"""

from __future__ import annotations

import importlib
import pkgutil

from descent.perf.part import Part


def discover() -> list[Part]:
    """Every part of this package, in the order of their ``position``."""
    parts = []
    for module in pkgutil.iter_modules(__path__):
        part = getattr(importlib.import_module(f"{__name__}.{module.name}"), "PART", None)
        if not isinstance(part, Part):
            raise TypeError(f"{__name__}.{module.name} declares no PART = Part(...)")
        parts.append(part)
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"two parts share a name: {sorted(names)}")
    return sorted(parts, key=lambda part: part.position)
