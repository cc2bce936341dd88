"""``autograd``: the same descent with ``requires_grad`` tensors and ``loss.backward()``."""

from __future__ import annotations

import math
from typing import Any

from descent.fitting.method import FitMethod


class AutogradEngine:
    """Descent whose gradients come from ``loss.backward()``; they are zeroed after each step
    (torch accumulates them)."""

    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str, **options: Any) -> None:
        import torch

        self.torch = torch
        self.w = w0.clone().requires_grad_(True)
        self.b = b0.clone().requires_grad_(True)
        self.lr, self.reduction = lr, reduction

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        r = y - (X @ self.w + self.b)
        loss = (r**2).mean() if self.reduction == "mean" else (r**2).sum()
        loss.backward()
        with self.torch.no_grad():
            gw, gb = self.w.grad, self.b.grad
            grad_norm = math.sqrt(float(gw @ gw) + float(gb * gb))
            self.w -= self.lr * gw
            self.b -= self.lr * gb
        self.w.grad.zero_()
        self.b.grad.zero_()
        return float(loss.detach()), grad_norm

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w.detach(), self.b.detach()


METHOD = FitMethod(
    name="autograd",
    kind="iterative",
    description="the same loop with requires_grad tensors and loss.backward(), gradients zeroed each step",
    colour="#ff7f0e",
    needs_torch=True,
    devices=("cpu", "cuda"),
    prediction="gd",
    engine=AutogradEngine,
)
