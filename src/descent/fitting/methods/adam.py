"""``adam``: ``torch.optim.Adam`` (its defaults, lr configurable) on an ``nn.Linear`` with ``MSELoss``."""

from __future__ import annotations

from typing import Any

from descent.fitting.method import Method
from descent.fitting.methods.nn_linear import NNLinearEngine


class AdamEngine(NNLinearEngine):
    """An ``nn.Linear(k, 1)`` started at ``(w0, b0)``, stepped by ``torch.optim.Adam(lr=lr)``
    (the nn.Linear engine with another optimizer)."""

    def make_optimizer(self, lr: float) -> Any:
        import torch

        return torch.optim.Adam(self.model.parameters(), lr=lr)


METHOD = Method(
    name="adam",
    kind="iterative",
    description="torch.optim.Adam (default betas and eps) on nn.Linear + MSELoss",
    colour="#e377c2",
    needs_torch=True,
    devices=("cpu", "cuda"),
    engine=AdamEngine,
)
