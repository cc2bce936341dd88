"""``nn_linear``: ``torch.nn.Linear`` + ``torch.nn.MSELoss`` + ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descent.fitting.method import Method
from descent.fitting.theory import gd_optimal_step, predict_gd


class NNLinearEngine:
    """An ``nn.Linear(k, 1)`` (``bias=False`` without an intercept) started at ``(w0, b0)``, stepped by ``torch.optim.SGD``: the
    gradient from ``MSELoss`` and ``backward()``, the update by the optimizer from the gradients
    it is given (set as the parameters' ``.grad``)."""

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

        k = w0.shape[0]
        # Without an intercept: nn.Linear(k, 1, bias=False), y ≈ X·w; b0 is 0 and stays 0.
        self.model = torch.nn.Linear(k, 1, bias=fit_intercept, dtype=w0.dtype, device=w0.device)
        self.zero_bias = b0.new_zeros(())
        with torch.no_grad():
            self.model.weight.copy_(w0.reshape(1, k))
            if self.model.bias is not None:
                self.model.bias.copy_(b0.reshape(1))
        self.loss_fn = torch.nn.MSELoss(reduction=reduction)
        self.optimizer: torch.optim.Optimizer = self.make_optimizer(lr)

    def make_optimizer(self, lr: float) -> Any:
        """The optimizer stepping the model's parameters (subclasses change only this)."""
        import torch

        return torch.optim.SGD(self.model.parameters(), lr=lr)

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]:
        self.optimizer.zero_grad()
        # (m, 1) against (m, 1): a (m,) target would broadcast to (m, m) silently.
        loss = self.loss_fn(self.model(X), y.reshape(-1, 1))
        loss.backward()
        gw = self.model.weight.grad
        assert gw is not None  # set by backward()
        if self.model.bias is None:
            return loss.detach(), gw.reshape(-1).clone(), self.zero_bias.clone()
        gb = self.model.bias.grad
        assert gb is not None  # set by backward()
        return loss.detach(), gw.reshape(-1).clone(), gb.reshape(()).clone()

    def update(self, gw: Any, gb: Any) -> None:
        self.model.weight.grad = gw.reshape(self.model.weight.shape).clone()
        if self.model.bias is not None:
            self.model.bias.grad = gb.reshape(self.model.bias.shape).clone()
        self.optimizer.step()

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def parameters(self) -> tuple[Any, Any]:
        bias = self.zero_bias if self.model.bias is None else self.model.bias.detach().reshape(())
        return self.model.weight.detach().reshape(-1), bias


METHOD = Method(
    name="nn_linear",
    kind="iterative",
    description="torch.nn.Linear + torch.nn.MSELoss + torch.optim.SGD",
    colour="#2ca02c",
    needs_torch=True,
    devices=("cpu", "cuda"),
    engine=NNLinearEngine,
    optimal_step=gd_optimal_step,
    predict=predict_gd,
)
