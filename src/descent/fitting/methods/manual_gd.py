"""``manual_gd``: gradient descent with the hand-derived gradients ``∂w = -2/n·Xᵀr``, ``∂b = -2/n·Σr``."""

from __future__ import annotations

import math
from typing import Any

from descent.fitting.method import FitMethod
from descent.fitting.objective import hand_gradients


class ManualEngine:
    """Plain descent on torch tensors without autograd: ``θ ← θ − lr·∇L(θ)``."""

    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str, **options: Any) -> None:
        self.w, self.b, self.lr, self.reduction = w0.clone(), b0.clone(), lr, reduction

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        loss, gw, gb = hand_gradients(X, y, self.w, self.b, self.reduction)
        grad_norm = math.sqrt(float(gw @ gw) + float(gb * gb))
        self.w -= self.lr * gw
        self.b -= self.lr * gb
        return float(loss), grad_norm

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w, self.b


METHOD = FitMethod(
    name="manual_gd",
    kind="iterative",
    description="gradient descent with hand-derived gradients (torch tensors, no autograd)",
    colour="#1f77b4",
    needs_torch=True,
    devices=("cpu", "cuda"),
    prediction="gd",
    engine=ManualEngine,
)
