"""``momentum_gd``: heavy-ball momentum with the hand-derived gradients,
``θ_{t+1} = θ_t − lr·∇L(θ_t) + β·(θ_t − θ_{t−1})`` (from rest: ``θ_{−1} = θ_0``)."""

from __future__ import annotations

import math
from typing import Any

from descent.fitting.method import FitMethod
from descent.fitting.objective import hand_gradients


class MomentumEngine:
    """Heavy ball (Polyak): one gradient per step, at the current parameters. Subclasses change
    only :meth:`move` (Nesterov: the same velocity, the parameters moved to the look-ahead point)."""

    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str, **options: Any) -> None:
        self.w, self.b, self.lr, self.reduction = w0.clone(), b0.clone(), lr, reduction
        self.beta = float(options["momentum"])
        self.vw, self.vb = w0.new_zeros(w0.shape), b0.new_zeros(b0.shape)

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        loss, gw, gb = hand_gradients(X, y, self.w, self.b, self.reduction)
        grad_norm = math.sqrt(float(gw @ gw) + float(gb * gb))
        # v ← β·v − lr·∇ (v is θ_{t+1} − θ_t for the heavy ball: the recurrence above)
        self.vw.mul_(self.beta).sub_(self.lr * gw)
        self.vb.mul_(self.beta).sub_(self.lr * gb)
        self.move(gw, gb)
        return float(loss), grad_norm

    def move(self, gw: Any, gb: Any) -> None:
        """θ ← θ + v."""
        self.w += self.vw
        self.b += self.vb

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w, self.b


METHOD = FitMethod(
    name="momentum_gd",
    kind="iterative",
    description="heavy-ball momentum with hand-derived gradients (momentum β; lr: optimal gives the theory-optimal step and β)",
    colour="#9467bd",
    needs_torch=True,
    devices=("cpu", "cuda"),
    prediction="heavy_ball",
    engine=MomentumEngine,
)
