"""``manual_gd``: gradient descent with the hand-derived gradients ``∂w = -2/n·Xᵀr``, ``∂b = -2/n·Σr``
(``∂b`` taken as 0, the bias never moved, with ``fit_intercept: false``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descent.fitting.method import Method
from descent.fitting.objective import hand_gradients
from descent.fitting.theory import gd_optimal_step, predict_gd


class ManualEngine:
    """Plain descent on torch tensors without autograd: ``θ ← θ − lr·∇L(θ)``."""

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
        self.fit_intercept = fit_intercept  # without: the bias stays at b0 (0), its gradient is 0

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]:
        loss, gw, gb = hand_gradients(X, y, self.w, self.b, self.reduction)
        return loss, gw, gb if self.fit_intercept else gb * 0

    def update(self, gw: Any, gb: Any) -> None:
        self.w -= self.lr * gw
        if self.fit_intercept:
            self.b -= self.lr * gb

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w, self.b


METHOD = Method(
    name="manual_gd",
    kind="iterative",
    description="gradient descent with hand-derived gradients (torch tensors, no autograd)",
    colour="#1f77b4",
    needs_torch=True,
    devices=("cpu", "cuda"),
    engine=ManualEngine,
    streamed_descent=True,
    optimal_step=gd_optimal_step,
    predict=predict_gd,
)
