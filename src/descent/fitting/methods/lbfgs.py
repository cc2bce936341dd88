"""``lbfgs``: ``torch.optim.LBFGS`` with the strong-Wolfe line search; one optimizer iteration per
step (``max_iter=1``: its curvature history persists between steps), function evaluations counted.
The line search evaluates the loss several times per step: the engine takes a closure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from descent.fitting.method import Method, Option


class LBFGSEngine:
    """L-BFGS on ``(w, b)`` tensors; ``lr`` scales the initial step (1 is the usual choice)."""

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

        self.w = w0.clone().requires_grad_(True)
        # Without an intercept the bias is a constant 0, not a parameter of the optimizer.
        self.b = b0.clone().requires_grad_(fit_intercept)
        self.reduction, self.fit_intercept = reduction, fit_intercept
        self.optimizer = torch.optim.LBFGS(
            # max_eval must be set: its default (max_iter·5/4 = 1) stops the line search before it moves.
            [self.w, self.b] if fit_intercept else [self.w],
            lr=lr,
            max_iter=1,
            max_eval=50,
            history_size=int(options["lbfgs_history"]),
            line_search_fn="strong_wolfe",
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )
        self.function_evaluations = 0

    def gradient(self, X: Any, y: Any) -> tuple[Any, Any, Any]:
        self.optimizer.zero_grad()
        r = y - (X @ self.w + self.b)
        loss = (r * r).mean() if self.reduction == "mean" else (r * r).sum()
        loss.backward()
        assert self.w.grad is not None  # set by backward()
        if not self.fit_intercept:
            return loss.detach(), self.w.grad.clone(), self.b.detach() * 0
        assert self.b.grad is not None  # set by backward()
        return loss.detach(), self.w.grad.clone(), self.b.grad.clone()

    def step(self, evaluate: Callable[[], tuple[Any, Any, Any]]) -> tuple[Any, Any, Any]:
        first: list[tuple[Any, Any, Any]] = []

        def closure() -> Any:
            loss, gw, gb = evaluate()
            self.w.grad = gw
            if self.fit_intercept:
                self.b.grad = gb
            self.function_evaluations += 1
            if not first:  # the loss and gradient at the parameters this step starts from
                first.append((loss, gw.clone(), gb.clone()))
            return loss

        self.optimizer.step(closure)
        return first[0]

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def parameters(self) -> tuple[Any, Any]:
        return self.w.detach(), self.b.detach()

    def counters(self) -> dict[str, int]:
        return {"function_evaluations": self.function_evaluations}


METHOD = Method(
    name="lbfgs",
    kind="iterative",
    description='torch.optim.LBFGS with line_search_fn="strong_wolfe" (function evaluations counted)',
    colour="#bcbd22",
    options={
        "lbfgs_history": Option("integer", 10, "curvature pairs torch.optim.LBFGS keeps (its history_size)", minimum=1)
    },
    needs_torch=True,
    devices=("cpu", "cuda"),
    engine=LBFGSEngine,
    update="closure",
)
