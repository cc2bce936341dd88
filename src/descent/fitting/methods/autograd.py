"""``autograd``: the same descent with ``requires_grad`` tensors and ``loss.backward()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descent.fitting.method import Method
from descent.fitting.theory import gd_optimal_step, predict_gd


class AutogradEngine:
    """Descent whose gradients come from ``loss.backward()``; they are zeroed after each
    evaluation (torch accumulates them)."""

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
        import torch

        self.torch = torch
        self.w = w0.clone().requires_grad_(True)
        # Without an intercept the bias is a constant 0, not a leaf autograd differentiates.
        self.b = b0.clone().requires_grad_(fit_intercept)
        self.lr, self.reduction, self.fit_intercept = lr, reduction, fit_intercept

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]:
        r = y - (X @ self.w + self.b)
        loss = (r**2).mean() if self.reduction == "mean" else (r**2).sum()
        loss.backward()
        gw = self.w.grad.clone()
        gb = self.b.grad.clone() if self.fit_intercept else self.torch.zeros_like(self.b)
        self.w.grad.zero_()
        if self.fit_intercept:
            self.b.grad.zero_()
        return loss.detach(), gw, gb

    def update(self, gw: Any, gb: Any) -> None:
        with self.torch.no_grad():
            self.w -= self.lr * gw
            if self.fit_intercept:
                self.b -= self.lr * gb

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w.detach(), self.b.detach()


METHOD = Method(
    name="autograd",
    kind="iterative",
    description="the same loop with requires_grad tensors and loss.backward(), gradients zeroed each step",
    colour="#ff7f0e",
    needs_torch=True,
    devices=("cpu", "cuda"),
    engine=AutogradEngine,
    optimal_step=gd_optimal_step,
    predict=predict_gd,
)
