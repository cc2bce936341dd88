"""``nn_linear``: ``torch.nn.Linear`` + ``torch.nn.MSELoss`` + ``torch.optim.SGD``."""

from __future__ import annotations

import math
from typing import Any

from descent.fitting.method import FitMethod


class NNLinearEngine:
    """An ``nn.Linear(k, 1)`` started at ``(w0, b0)``, stepped by ``torch.optim.SGD``."""

    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str, **options: Any) -> None:
        import torch

        k = w0.shape[0]
        self.model = torch.nn.Linear(k, 1, dtype=w0.dtype, device=w0.device)
        with torch.no_grad():
            self.model.weight.copy_(w0.reshape(1, k))
            self.model.bias.copy_(b0.reshape(1))
        self.loss_fn = torch.nn.MSELoss(reduction=reduction)
        self.optimizer: torch.optim.Optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        self.optimizer.zero_grad()
        # (m, 1) against (m, 1): a (m,) target would broadcast to (m, m) silently.
        loss = self.loss_fn(self.model(X), y.reshape(-1, 1))
        loss.backward()
        gw, gb = self.model.weight.grad, self.model.bias.grad
        assert gw is not None and gb is not None  # set by backward()
        grad_norm = math.sqrt(float((gw * gw).sum()) + float((gb * gb).sum()))
        self.optimizer.step()
        return float(loss.detach()), grad_norm

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.model.weight.detach().reshape(-1), self.model.bias.detach().reshape(())


METHOD = FitMethod(
    name="nn_linear",
    kind="iterative",
    description="torch.nn.Linear + torch.nn.MSELoss + torch.optim.SGD",
    colour="#2ca02c",
    needs_torch=True,
    devices=("cpu", "cuda"),
    prediction="gd",
    engine=NNLinearEngine,
)
