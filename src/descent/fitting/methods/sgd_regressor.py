"""``sgd_regressor``: scikit-learn's ``SGDRegressor`` as the external peer: plain squared loss, no
penalty, its own learning-rate schedule and optional averaging. The first step is
``fit(X, y, coef_init, intercept_init)`` for one epoch (the public way to start from ``(w0, b0)``),
every later step one ``partial_fit`` epoch, which carries the schedule's update count on. It runs
its own pass over the rows (``update="epoch"``) and shuffles them with its own seed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.fitting.method import Method, Option


class SGDRegressorEngine:
    """``SGDRegressor(loss="squared_error", penalty=None, eta0=lr, learning_rate=…, power_t=…,
    average=…, random_state=seed)`` started at ``(w0, b0)``; each step is one epoch."""

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
        from sklearn.linear_model import SGDRegressor

        if reduction != "mean":
            raise ValueError("sgd_regressor minimises the mean squared error (loss_reduction: mean)")
        self.model = SGDRegressor(
            loss="squared_error",
            penalty=None,
            eta0=lr,
            learning_rate=options["sgd_learning_rate"],
            power_t=float(options["sgd_power_t"]),
            average=options["sgd_average"],
            fit_intercept=fit_intercept,
            shuffle=True,
            random_state=int(seed),
            tol=None,
            max_iter=1,
        )
        self.dtype, self.device = w0.dtype, w0.device  # parameters are reported back in the fit's dtype
        self.w = np.asarray(w0.double().cpu().numpy(), dtype=np.float64).copy()
        self.b = float(b0)
        self.fit_intercept = fit_intercept  # without: y ≈ X·w, SGDRegressor(fit_intercept=False), b stays 0
        self.started = False

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        Xn = X.double().cpu().numpy()
        yn = y.double().cpu().numpy()
        r = yn - (Xn @ self.w + self.b)
        loss = float(r @ r) / len(r)
        gw, gb = -2.0 / len(r) * (Xn.T @ r), -2.0 / len(r) * float(r.sum()) if self.fit_intercept else 0.0
        if self.started:
            try:
                self.model.partial_fit(Xn, yn)
            except ValueError as exc:  # scikit-learn refuses to go on once its weights overflow
                if "overflow" not in str(exc).lower() and "infinity" not in str(exc).lower():
                    raise
                self.w, self.b = np.full_like(self.w, np.nan), float("nan")
                return loss, math.sqrt(float(gw @ gw) + gb * gb)
        else:
            import warnings

            from sklearn.exceptions import ConvergenceWarning

            with warnings.catch_warnings():  # one epoch by design: "max_iter reached" is expected
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.model.fit(Xn, yn, coef_init=self.w.copy(), intercept_init=np.array([self.b]))
            self.started = True
        self.w = np.asarray(self.model.coef_, dtype=np.float64).copy()
        self.b = float(self.model.intercept_[0]) if self.fit_intercept else 0.0
        return loss, math.sqrt(float(gw @ gw) + gb * gb)

    def set_lr(self, lr: float) -> None:
        self.model.eta0 = lr

    def parameters(self) -> tuple[Any, Any]:
        import torch

        return (
            torch.tensor(self.w, dtype=self.dtype, device=self.device),
            torch.tensor(self.b, dtype=self.dtype, device=self.device),
        )


METHOD = Method(
    name="sgd_regressor",
    kind="iterative",
    description="sklearn.linear_model.SGDRegressor (no penalty; its own schedule and averaging), one epoch per step",
    colour="#17becf",
    options={
        "sgd_learning_rate": Option(
            "string",
            "invscaling",
            "SGDRegressor's own schedule (its learning_rate; lr is its eta0)",
            choices=("constant", "optimal", "invscaling", "adaptive"),
        ),
        "sgd_power_t": Option("number", 0.25, "SGDRegressor's power_t (invscaling: eta = eta0 / t^power_t)"),
        "sgd_average": Option(
            ("boolean", "integer"),
            False,
            "SGDRegressor's average: false, true, or the update from which to average",
            minimum=1,
        ),
    },
    random=True,
    engine=SGDRegressorEngine,
    update="epoch",
)
