"""The interface every fitting method implements (the registry itself is :mod:`.registry`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np

    from descent.config.fits import FitSettings
    from descent.fitting.common import FitOutcome
    from descent.fitting.scaling import Standardization


class Engine(Protocol):
    """One iterative optimiser over ``(w (k,), b)``: ``step`` computes the batch loss and its
    gradient norm at the current parameters and then updates them (torch tensors in)."""

    def step(self, X: Any, y: Any) -> tuple[float, float]: ...

    def parameters(self) -> tuple[Any, Any]: ...

    def set_lr(self, lr: float) -> None:
        """Change the step size (step-size schedules call it between updates)."""
        ...


#: ``(w0 (k,), b0 (), lr, reduction, **options) -> Engine`` (torch tensors in); ``options`` holds
#: the method's own settings (``momentum``, ``lbfgs_history``, …) from :class:`FitSettings`.
EngineFactory = Callable[..., Engine]
#: ``(X (n, k), y (n,), settings, stats) -> FitOutcome`` in the fitted space; ``stats`` is the
#: standardization to apply (the solver standardizes chunk by chunk in float64), or None for raw.
Solver = Callable[["np.ndarray", "np.ndarray", "FitSettings", "Standardization | None"], "FitOutcome"]


@dataclass(frozen=True)
class FitMethod:
    """A registered fitting method (see the module docstring)."""

    name: str
    kind: Literal["iterative", "closed_form"]
    description: str
    colour: str
    needs_torch: bool
    devices: tuple[str, ...] = ("cpu",)
    #: Which exact linear prediction of :mod:`descent.fitting.theory` its full-batch steps follow:
    #: ``"gd"`` (``θ ← θ − lr·∇L``), ``"heavy_ball"``, ``"nesterov"``, or None (no linear theory:
    #: Adam, L-BFGS, scikit-learn's schedule). Mini-batch runs get it as a reference only.
    prediction: str | None = None
    engine: EngineFactory | None = None
    solve: Solver | None = None

    def __post_init__(self) -> None:
        if (self.kind == "iterative") != (self.engine is not None) or (self.kind == "closed_form") != (
            self.solve is not None
        ):
            raise TypeError(f"method {self.name}: an iterative method needs an engine, a closed form a solver")
