"""Theory beside practice: the Hessian of the fitted objective and the exact prediction of
full-batch gradient descent on it.

The squared-error loss is a quadratic in ``θ = (w, b)`` ((k+1,)): with ``A = [X, 1]`` (n, k+1),
its Hessian is ``H = 2/n·AᵀA`` for the mean loss (``2·AᵀA`` for the summed loss, i.e. ``n`` times
larger) and ``L(θ) − L* = ½·(θ − θ*)ᵀH(θ − θ*)``. Gradient descent with step ``α`` maps the
error ``e = θ − θ*`` to ``(I − αH)·e``, so along each eigenvector ``v_i`` of ``H`` the error
contracts (or grows) by ``1 − αλ_i`` per step and the gap after ``t`` steps is exactly

    gap_t = Σ_i ½·λ_i·c_i²·(1 − αλ_i)^(2t),   c = Vᵀe_0.

Everything here is float64 and needs only the (k+2, k+2) Gram matrix of ``[X, 1, y]``
(:func:`descent.fitting.closed_form.design_gram`): no copy of X.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from descent.fitting import closed_form as cf

#: A component of the start error is "present" when its share of the initial gap is above this
#: (components below it are rounding and cannot drive the observed curve).
PRESENT = 1e-14


@dataclass(frozen=True)
class Conditioning:
    """The Hessian of the mean loss of one dataset × scaling: ``eigenvalues`` ((k+1,), ascending),
    ``eigenvectors`` ((k+1, k+1), columns), the least-squares ``theta_star`` ((k+1,)) and
    ``loss_star`` (the minimum mean loss), all float64."""

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    theta_star: np.ndarray
    loss_star: float
    n: int

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def kappa(self) -> float:
        return self.lambda_max / self.lambda_min if self.lambda_min > 0 else math.inf

    def row(self) -> dict[str, Any]:
        """One row of ``results/fits/conditioning.parquet`` (mean-loss Hessian; for the summed
        loss multiply eigenvalues by ``n`` and divide ``max_stable_lr`` by ``n``)."""
        return {
            "eigenvalues": self.eigenvalues.tolist(),
            "lambda_max": self.lambda_max,
            "lambda_min": self.lambda_min,
            "kappa": self.kappa,
            "max_stable_lr": 2.0 / self.lambda_max,
            "loss_star": self.loss_star,
            "n": self.n,
        }


def conditioning(gram: np.ndarray, n: int) -> Conditioning:
    """The mean-loss Hessian ``2/n·AᵀA`` from the float64 Gram of ``[X, 1, y]`` ((k+2, k+2)),
    its eigen-decomposition, the least-squares point (certified solver path of
    :mod:`.closed_form`: equilibrated normal equations) and the minimum loss."""
    hessian = 2.0 / n * gram[:-1, :-1]
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    theta = cf.solve_normal_equations(gram)
    if not np.isfinite(theta).all():  # singular: the minimum-norm point (any minimizer has the same loss)
        theta = np.linalg.lstsq(gram[:-1, :-1], gram[:-1, -1], rcond=None)[0]
    c, yy = gram[:-1, -1], float(gram[-1, -1])
    residual_sq = yy - 2.0 * float(theta @ c) + float(theta @ gram[:-1, :-1] @ theta)
    return Conditioning(np.clip(eigenvalues, 0.0, None), eigenvectors, theta, max(residual_sq, 0.0) / n, n)


@dataclass(frozen=True)
class Prediction:
    """Predicted full-batch descent with step ``alpha`` (on the mean loss) from ``theta0``:
    per-component factors ``1 − αλ_i`` ((k+1,)), the initial gap split by component (``weights``,
    ``½·λ_i·c_i²``), and what follows from them."""

    alpha: float
    factors: np.ndarray
    weights: np.ndarray

    @property
    def present(self) -> np.ndarray:
        total = float(self.weights.sum())
        return self.weights > PRESENT * total if total > 0 else np.zeros(len(self.weights), dtype=bool)

    @property
    def rate(self) -> float:
        """``max |1 − αλ_i|`` over the components present in the start error."""
        present = self.present
        return float(np.abs(self.factors[present]).max()) if present.any() else 0.0

    @property
    def diverges(self) -> bool:
        """Whether some present component grows (``α > 2/λ_i`` on it)."""
        return self.rate > 1.0

    def gap(self, t: np.ndarray | int) -> np.ndarray:
        """Predicted gap ``L(θ_t) − L*`` after ``t`` steps (array in, array out)."""
        t = np.asarray(t, dtype=np.float64)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            terms = self.weights[None, :] * np.abs(self.factors[None, :]) ** (2.0 * t.reshape(-1, 1))
        return terms.sum(axis=1).reshape(t.shape)

    def iterations_to(self, epsilon: float) -> int | None:
        """The first ``t`` with predicted gap ≤ ``epsilon`` × the initial gap (None if never)."""
        total = float(self.weights.sum())
        if total == 0:
            return 0
        if self.rate >= 1.0:
            return None if self.gap(0)[()] > epsilon * total or self.rate > 1.0 else 0
        lo, hi = 0, 1
        while self.gap(hi)[()] > epsilon * total:  # the gap is non-increasing when rate < 1
            lo, hi = hi, hi * 2
            if hi > 1 << 62:
                return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self.gap(mid)[()] > epsilon * total else (lo, mid)
        return hi if self.gap(lo)[()] > epsilon * total else lo

    def summary(self, epsilons: list[float], reference_only: bool) -> dict[str, Any]:
        """The ``predicted`` field of a fit JSON."""
        return {
            "rate": self.rate,
            "diverges": self.diverges,
            "alpha_mean_loss": self.alpha,
            "iterations_to": {f"{e:g}": self.iterations_to(e) for e in epsilons},
            "reference_only": reference_only,
        }


def predict(cond: Conditioning, theta0: np.ndarray, alpha: float) -> Prediction:
    """The exact prediction of full-batch descent with step ``alpha`` on the *mean* loss (for a
    summed loss pass ``n·lr``) from ``theta0`` ((k+1,), fitted space)."""
    c = cond.eigenvectors.T @ (np.asarray(theta0, dtype=np.float64) - cond.theta_star)
    weights = 0.5 * cond.eigenvalues * c * c
    return Prediction(float(alpha), 1.0 - alpha * cond.eigenvalues, weights)
