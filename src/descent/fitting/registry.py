"""The fitting methods, one module each, registered in one place.

A method declares its ``name``, ``kind`` (``iterative`` or ``closed_form``), whether it
``needs_torch``, the ``devices`` it can run on, a plot ``colour`` and a one-line ``description``,
plus either an engine factory (iterative: one optimisation step at a time, see :class:`Engine`)
or a solver (closed form). The config schema's method enum, settings resolution, the rules, the
report's colours and the README are all read from :data:`METHODS`; a test fails when the schema
and this registry disagree.

Adding a method is one module in :mod:`descent.fitting.methods` defining ``METHOD`` plus one
line in :data:`_MODULES` below (see README, "Adding a method"). This module is imported while
Snakemake parses the workflow: method modules import torch and pandas only inside functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np

    from descent.fitting.common import FitOutcome
    from descent.fitting.scaling import Standardization


class Engine(Protocol):
    """One iterative optimiser over ``(w (k,), b)``: ``step`` computes the batch loss and its
    gradient norm at the current parameters and then updates them (torch tensors in)."""

    def step(self, X: Any, y: Any) -> tuple[float, float]: ...

    def parameters(self) -> tuple[Any, Any]: ...


#: ``(w0 (k,), b0 (), lr, reduction) -> Engine`` (torch tensors in).
EngineFactory = Callable[[Any, Any, float, str], Engine]
#: ``(X (n, k), y (n,), settings, stats) -> FitOutcome`` in the fitted space; ``stats`` is the
#: standardization to apply (the solver standardizes chunk by chunk in float64), or None for raw.
Solver = Callable[["np.ndarray", "np.ndarray", dict[str, Any], "Standardization | None"], "FitOutcome"]


@dataclass(frozen=True)
class FitMethod:
    """A registered fitting method (see the module docstring)."""

    name: str
    kind: Literal["iterative", "closed_form"]
    description: str
    colour: str
    needs_torch: bool
    devices: tuple[str, ...] = ("cpu",)
    engine: EngineFactory | None = None
    solve: Solver | None = None

    def __post_init__(self) -> None:
        if (self.kind == "iterative") != (self.engine is not None) or (self.kind == "closed_form") != (
            self.solve is not None
        ):
            raise TypeError(f"method {self.name}: an iterative method needs an engine, a closed form a solver")


def _load() -> dict[str, FitMethod]:
    from descent.fitting.methods import autograd, lstsq, manual_gd, nn_linear, sklearn

    _MODULES = (manual_gd, autograd, nn_linear, lstsq, sklearn)
    return {module.METHOD.name: module.METHOD for module in _MODULES}


#: Every method by name, in the order the report lists them.
METHODS: dict[str, FitMethod] = _load()
ITERATIVE_METHODS: tuple[str, ...] = tuple(name for name, m in METHODS.items() if m.kind == "iterative")
CLOSED_FORM_METHODS: tuple[str, ...] = tuple(name for name, m in METHODS.items() if m.kind == "closed_form")


def get_method(name: str) -> FitMethod:
    """The registered method ``name``; a ValueError lists the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}") from None
