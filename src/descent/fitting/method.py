"""The interface every fitting method implements (the registry itself is :mod:`.registry`)."""

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
    #: Full-batch steps are plain gradient descent ``θ ← θ − lr·∇L``: the exact linear prediction
    #: of :mod:`descent.fitting.theory` applies (mini-batch runs get it as a reference only).
    gd_prediction: bool = False
    engine: EngineFactory | None = None
    solve: Solver | None = None

    def __post_init__(self) -> None:
        if (self.kind == "iterative") != (self.engine is not None) or (self.kind == "closed_form") != (
            self.solve is not None
        ):
            raise TypeError(f"method {self.name}: an iterative method needs an engine, a closed form a solver")
