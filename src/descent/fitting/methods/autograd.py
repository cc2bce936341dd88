"""``autograd``: the same descent with ``requires_grad`` tensors and ``loss.backward()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descent.fitting.method import Method
from descent.fitting.theory import gd_optimal_step, predict_gd


class AutogradEngine:
    """Descent whose gradients come from ``loss.backward()``; they are zeroed after each
    evaluation (torch accumulates them)."""

    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str, options: Mapping[str, Any], seed: int = 0) -> None:
        import torch

        self.torch = torch
        self.w = w0.clone().requires_grad_(True)
        self.b = b0.clone().requires_grad_(True)
        self.lr, self.reduction = lr, reduction

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]:
        r = y - (X @ self.w + self.b)
        loss = (r**2).mean() if self.reduction == "mean" else (r**2).sum()
        loss.backward()
        gw, gb = self.w.grad.clone(), self.b.grad.clone()
        self.w.grad.zero_()
        self.b.grad.zero_()
        return loss.detach(), gw, gb

    def update(self, gw: Any, gb: Any) -> None:
        with self.torch.no_grad():
            self.w -= self.lr * gw
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
