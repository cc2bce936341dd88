"""What a fitting method is: one :class:`Method` declared in one module (``METHOD = Method(...)``),
built in (:mod:`descent.fitting.methods`) or a user's plugin file (``fits.plugins``).

A method owns everything about itself: its options (:class:`Option`, declared like
scikit-learn's parameter constraints), whether it depends on a seed, its theory-optimal step and
exact prediction when it has them, its colour and description. The loop
(:mod:`descent.fitting.iterative`), the streamed fits, the config schema and the report ask the
method, never its name.

An iterative method gives an engine, which separates *the loss and gradient on these rows*
(:meth:`Engine.gradient`) from *apply an update* (:meth:`Engine.update`), so the caller decides
which rows a gradient covers (a batch, the whole data, or a sum over shards or processes).
Methods whose update evaluates the loss several times (a line search) take a closure instead
(``update="closure"``, :class:`ClosureEngine`); a method that runs its own pass over the rows
(scikit-learn's epoch) says ``update="epoch"`` (:class:`EpochEngine`) and cannot be distributed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from descent.fitting.settings import FitSettings, shared_setting_names

if TYPE_CHECKING:  # typing only: numpy and the theory module are not needed to declare a method
    import numpy as np

    from descent.fitting.common import FitOutcome
    from descent.fitting.scaling import Standardization
    from descent.fitting.theory import Conditioning

#: JSON-schema types an option may take.
OPTION_TYPES: tuple[str, ...] = ("number", "integer", "boolean", "string", "null")


@dataclass(frozen=True)
class Option:
    """One option of a method: its JSON-schema ``type`` (one of :data:`OPTION_TYPES`, or a tuple
    of them), ``default``, a one-line ``description``, and optional bounds (``minimum``,
    ``maximum``, ``exclusive_minimum``, ``exclusive_maximum``) or ``choices``.

    The config schema's entry for the option is generated from it (:meth:`json_schema`), so a
    mistyped value is refused before any job, and the docs list it.
    """

    type: str | tuple[str, ...]
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        types = self.types
        if not types or any(t not in OPTION_TYPES for t in types):
            raise TypeError(
                f"an option's type must be one of {', '.join(OPTION_TYPES)} (or a tuple of them), not {self.type!r}"
            )
        if not isinstance(self.description, str) or not self.description.strip():
            raise TypeError("an option needs a one-line description")

    @property
    def types(self) -> tuple[str, ...]:
        return (self.type,) if isinstance(self.type, str) else tuple(self.type or ())

    def json_schema(self) -> dict[str, Any]:
        """The option's JSON schema (draft 2020-12), with its description and default."""
        schema: dict[str, Any] = {"description": self.description, "default": self.default}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
            return schema
        schema["type"] = list(self.types) if len(self.types) > 1 else self.types[0]
        for key, value in (
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("exclusiveMinimum", self.exclusive_minimum),
            ("exclusiveMaximum", self.exclusive_maximum),
        ):
            if value is not None:
                schema[key] = value
        return schema


class Engine(Protocol):
    """One iterative optimiser over ``(w (k,), b)`` (torch tensors), ``update="gradient"``."""

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]:
        """The loss (as reduced: mean or sum over these rows) and its gradient ``(gw (k,), gb ())``
        at the point the next update starts from, on ``X`` (m, k), ``y`` (m,); no update."""
        ...

    def update(self, gw: Any, gb: Any) -> None:
        """One step from that gradient."""
        ...

    def parameters(self) -> tuple[Any, Any]: ...

    def set_lr(self, lr: float) -> None:
        """Change the step size (step-size schedules call it between updates)."""
        ...


class ClosureEngine(Protocol):
    """``update="closure"``: an optimiser that evaluates the loss and gradient as often as it
    needs in one step (a line search)."""

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]: ...

    def step(self, evaluate: Callable[[], tuple[Any, Any, Any]]) -> tuple[Any, Any, Any]:
        """One step; ``evaluate()`` gives the loss and gradient at the current parameters (the
        caller chooses the rows). Returns the first evaluation (where the step started)."""
        ...

    def parameters(self) -> tuple[Any, Any]: ...

    def set_lr(self, lr: float) -> None: ...


class EpochEngine(Protocol):
    """``update="epoch"``: a method that runs its own pass over the rows it is given."""

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        """One pass; returns the loss and gradient norm where it started."""
        ...

    def parameters(self) -> tuple[Any, Any]: ...

    def set_lr(self, lr: float) -> None: ...


#: ``(w0 (k,), b0 (), lr, reduction, options, seed) -> engine`` (torch tensors in); ``options`` holds
#: the method's own options, as resolved (after ``lr: optimal``, which may set some of them);
#: ``seed`` is the fit's ``shuffle_seed``, for a method that draws on its own. A fit with
#: ``fit_intercept: false`` also passes the keyword ``fit_intercept=False`` (``b0`` is then 0): the
#: engine must leave the bias at 0 and return its gradient as 0 (every built-in engine takes it; an
#: engine that does not is refused for such a fit, never run with a moving bias).
EngineFactory = Callable[..., Any]
#: ``(X (n, k), y (n,), settings, stats) -> FitOutcome`` in the fitted space; ``stats`` is the
#: standardization to apply (a solver standardizes chunk by chunk in float64), or None for raw.
Solver = Callable[["np.ndarray", "np.ndarray", FitSettings, "Standardization | None"], "FitOutcome"]
#: ``(chunks, k, data dtype, settings, stats) -> FitOutcome``: the closed form from row chunks
#: (``chunks()`` starts a fresh pass), for data larger than memory.
ChunkSolver = Callable[..., "FitOutcome"]
#: ``Conditioning -> {"lr": step on the mean loss, option: value, …}``: the theory-optimal step and
#: the options it implies (momentum's β), for ``lr: optimal``.
OptimalStep = Callable[["Conditioning"], dict[str, float]]
#: ``(Conditioning, θ0 (k+1,), α on the mean loss, options) -> prediction`` with ``gap(t)``,
#: ``summary(...)``: the exact gap curve of the method's full-batch steps.
Predictor = Callable[["Conditioning", "np.ndarray", float, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Method:
    """A fitting method (see the module docstring).

    ``kind`` is ``iterative`` (with ``engine`` and its ``update`` style) or ``closed_form`` (with
    ``solve``, and ``solve_chunks`` when it can solve from row chunks). ``random``: its result
    depends on a seed even full batch (scikit-learn's own shuffle), so it is repeated over seeds.
    ``needs_torch``: whether a run imports torch (or a function of the options saying so).
    ``streamed_descent``: its update is plain gradient descent on the hand-derived gradient, so
    the streamed loop (:mod:`descent.fitting.stream_descent`) can run it from disk. ``monotone``:
    its full-batch loss should not rise (momentum's may for ~√κ steps), so a window without
    progress means a stall. ``inference``: its solution is the ordinary least-squares one, so
    classical OLS inference applies. ``reduces_partials`` (or a function of the options saying
    so): its ``solve_chunks`` takes ``partials=`` (:class:`descent.fitting.partials.Partials`,
    reduced from one job per shard of a sharded dataset) in place of its own Gram and QR passes.
    """

    name: str
    kind: Literal["iterative", "closed_form"]
    description: str
    colour: str
    options: Mapping[str, Option] = field(default_factory=dict)
    random: bool = False
    needs_torch: bool | Callable[[Mapping[str, Any]], bool] = False
    devices: tuple[str, ...] = ("cpu",)
    engine: EngineFactory | None = None
    update: Literal["gradient", "closure", "epoch"] = "gradient"
    solve: Solver | None = None
    solve_chunks: ChunkSolver | None = None
    streamed_descent: bool = False
    optimal_step: OptimalStep | None = None
    predict: Predictor | None = None
    monotone: bool = True
    inference: bool = False
    reduces_partials: bool | Callable[[Mapping[str, Any]], bool] = False

    def __post_init__(self) -> None:
        where = f"method {self.name!r}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise TypeError(f"{where}: a name must be an identifier (letters, digits, underscores)")
        if self.kind not in ("iterative", "closed_form"):
            raise TypeError(f"{where}: kind must be 'iterative' or 'closed_form', not {self.kind!r}")
        if (self.kind == "iterative") != (self.engine is not None) or (self.kind == "closed_form") != (
            self.solve is not None
        ):
            raise TypeError(f"{where}: an iterative method needs an engine, a closed form a solver")
        if self.update not in ("gradient", "closure", "epoch"):
            raise TypeError(f"{where}: update must be 'gradient', 'closure' or 'epoch', not {self.update!r}")
        for name, option in self.options.items():
            if not isinstance(option, Option):
                raise TypeError(
                    f"{where}: option {name!r} must be an Option(type, default, description), not {option!r}"
                )
            if not name.isidentifier():
                raise TypeError(f"{where}: option name {name!r} is not an identifier")
        clashes = sorted(set(self.options) & shared_setting_names())
        if clashes:
            raise TypeError(f"{where}: option(s) {clashes} clash with settings every method has")

    def uses_partials(self, options: Mapping[str, Any]) -> bool:
        """Whether a fit with these options of a sharded dataset reduces per-shard statistics."""
        return bool(self.reduces_partials(options) if callable(self.reduces_partials) else self.reduces_partials)

    def uses_torch(self, options: Mapping[str, Any]) -> bool:
        """Whether a run with these options imports torch."""
        return bool(self.needs_torch(options) if callable(self.needs_torch) else self.needs_torch)

    def option_problems(self, values: Mapping[str, Any], where: str) -> list[str]:
        """Problems of option ``values`` (name → value, the method's own options only), each
        naming ``where``, the option and what is allowed."""
        from jsonschema import Draft202012Validator  # only when options are checked, not when declared

        problems = []
        for name, value in values.items():
            option = self.options.get(name)
            if option is None:
                allowed = ", ".join(self.options) or "none"
                problems.append(f"{where}.{name}: not an option of method {self.name} (its options: {allowed})")
                continue
            for error in Draft202012Validator(option.json_schema()).iter_errors(value):
                problems.append(f"{where}.{name}: {error.message} (option of method {self.name})")
        return problems

    def settings(self, values: Mapping[str, Any]) -> FitSettings:
        """Typed settings from a flat resolved dict: the shared settings plus this method's
        options (missing ones take their declared default); any other name is refused, naming
        the method, the option and the allowed ones."""
        shared = shared_setting_names() | {"method", "applied", "fit", "repetition"}
        own = {name: value for name, value in values.items() if name not in shared}
        problems = self.option_problems(own, "settings")
        if problems:
            raise ValueError("; ".join(problems))
        flat = {name: value for name, value in values.items() if name in shared}
        flat.update({name: option.default for name, option in self.options.items()})
        flat.update(own)
        return FitSettings.from_dict(flat, frozenset(self.options))
