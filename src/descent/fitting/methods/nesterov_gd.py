"""``nesterov_gd``: Nesterov's accelerated gradient with hand-derived gradients, in the form that
tracks the look-ahead point ``φ`` (one gradient per step, taken where the parameters are):
``v_{t+1} = β·v_t − lr·∇L(φ_t)``, ``φ_{t+1} = φ_t + β·v_{t+1} − lr·∇L(φ_t)``."""

from __future__ import annotations

import math
from typing import Any

from descent.fitting.method import FitMethod
from descent.fitting.objective import hand_gradients


class NesterovEngine:
    """Nesterov momentum (Sutskever et al.'s formulation, parameters at the look-ahead point)."""

    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str, **options: Any) -> None:
        self.w, self.b, self.lr, self.reduction = w0.clone(), b0.clone(), lr, reduction
        self.beta = float(options["momentum"])
        self.vw, self.vb = w0.new_zeros(w0.shape), b0.new_zeros(b0.shape)

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        loss, gw, gb = hand_gradients(X, y, self.w, self.b, self.reduction)
        grad_norm = math.sqrt(float(gw @ gw) + float(gb * gb))
        self.vw.mul_(self.beta).sub_(self.lr * gw)
        self.vb.mul_(self.beta).sub_(self.lr * gb)
        self.w += self.beta * self.vw - self.lr * gw
        self.b += self.beta * self.vb - self.lr * gb
        return float(loss), grad_norm

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w, self.b


METHOD = FitMethod(
    name="nesterov_gd",
    kind="iterative",
    description="Nesterov's accelerated gradient with hand-derived gradients (momentum β; lr: optimal gives 1/L and (√κ−1)/(√κ+1))",
    colour="#8c564b",
    needs_torch=True,
    devices=("cpu", "cuda"),
    prediction="nesterov",
    engine=NesterovEngine,
)
