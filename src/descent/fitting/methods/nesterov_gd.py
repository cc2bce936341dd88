"""``nesterov_gd``: Nesterov's accelerated gradient with hand-derived gradients, in the form that
tracks the look-ahead point ``φ`` (one gradient per step, taken where the parameters are):
``v_{t+1} = β·v_t − lr·∇L(φ_t)``, ``φ_{t+1} = φ_t + β·v_{t+1} − lr·∇L(φ_t)``."""

from __future__ import annotations

from typing import Any

from descent.fitting.method import Method
from descent.fitting.methods.momentum_gd import MOMENTUM, MomentumEngine
from descent.fitting.theory import nesterov_optimal_step, predict_nesterov


class NesterovEngine(MomentumEngine):
    """Nesterov momentum (Sutskever et al.'s formulation, parameters at the look-ahead point):
    the heavy ball's velocity, then ``φ ← φ + β·v − lr·∇``."""

    def move(self, gw: Any, gb: Any) -> None:
        self.w += self.beta * self.vw - self.lr * gw
        self.b += self.beta * self.vb - self.lr * gb


METHOD = Method(
    name="nesterov_gd",
    kind="iterative",
    description="Nesterov's accelerated gradient with hand-derived gradients (momentum β; lr: optimal gives 1/L and (√κ−1)/(√κ+1))",
    colour="#8c564b",
    options={"momentum": MOMENTUM},
    needs_torch=True,
    devices=("cpu", "cuda"),
    engine=NesterovEngine,
    optimal_step=nesterov_optimal_step,
    predict=predict_nesterov,
    monotone=False,
)
