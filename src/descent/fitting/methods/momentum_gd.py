"""``momentum_gd``: heavy-ball momentum with the hand-derived gradients,
``θ_{t+1} = θ_t − lr·∇L(θ_t) + β·(θ_t − θ_{t−1})`` (from rest: ``θ_{−1} = θ_0``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descent.fitting.method import Method, Option
from descent.fitting.objective import hand_gradients
from descent.fitting.theory import heavy_ball_optimal_step, predict_heavy_ball

#: The momentum option, shared with Nesterov's method (:mod:`.nesterov_gd`).
MOMENTUM = Option(
    "number",
    0.9,
    "momentum β (the velocity kept from one step to the next); lr: optimal sets it from the Hessian",
    minimum=0,
    exclusive_maximum=1,
)


class MomentumEngine:
    """Heavy ball (Polyak): one gradient per step, at the current parameters. Subclasses change
    only :meth:`move` (Nesterov: the same velocity, the parameters moved to the look-ahead point)."""

    def __init__(
        self,
        w0: Any,
        b0: Any,
        lr: float,
        reduction: str,
        options: Mapping[str, Any],
        seed: int = 0,
        fit_intercept: bool = True,
    ) -> None:
        self.w, self.b, self.lr, self.reduction = w0.clone(), b0.clone(), lr, reduction
        self.beta = float(options["momentum"])
        self.vw, self.vb = w0.new_zeros(w0.shape), b0.new_zeros(b0.shape)
        self.fit_intercept = fit_intercept  # without: ∂b is 0, so the bias's velocity stays 0 and b at b0 (0)

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]:
        loss, gw, gb = hand_gradients(X, y, self.w, self.b, self.reduction)
        return loss, gw, gb if self.fit_intercept else gb * 0

    def update(self, gw: Any, gb: Any) -> None:
        # v ← β·v − lr·∇ (v is θ_{t+1} − θ_t for the heavy ball: the recurrence above)
        self.vw.mul_(self.beta).sub_(self.lr * gw)
        if self.fit_intercept:
            self.vb.mul_(self.beta).sub_(self.lr * gb)
        else:
            gb = gb * 0
        self.move(gw, gb)

    def move(self, gw: Any, gb: Any) -> None:
        """θ ← θ + v."""
        self.w += self.vw
        self.b += self.vb

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w, self.b


METHOD = Method(
    name="momentum_gd",
    kind="iterative",
    description="heavy-ball momentum with hand-derived gradients (momentum β; lr: optimal gives the theory-optimal step and β)",
    colour="#9467bd",
    options={"momentum": MOMENTUM},
    needs_torch=True,
    devices=("cpu", "cuda"),
    engine=MomentumEngine,
    optimal_step=heavy_ball_optimal_step,
    predict=predict_heavy_ball,
    monotone=False,
)
