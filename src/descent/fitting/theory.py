"""Theory beside practice: the Hessian of the fitted objective and the exact prediction of
full-batch gradient descent on it.

The squared-error loss is a quadratic in ``θ = (w, b)`` ((k+1,)): with ``A = [X, 1]`` (n, k+1),
its Hessian is ``H = 2/n·AᵀA`` for the mean loss (``2·AᵀA`` for the summed loss, i.e. ``n`` times
larger) and ``L(θ) − L* = ½·(θ − θ*)ᵀH(θ − θ*)``. Gradient descent with step ``α`` maps the
error ``e = θ − θ*`` to ``(I − αH)·e``, so along each eigenvector ``v_i`` of ``H`` the error
contracts (or grows) by ``1 − αλ_i`` per step and the gap after ``t`` steps is exactly

    gap_t = Σ_i ½·λ_i·c_i²·(1 − αλ_i)^(2t),   c = Vᵀe_0.

Everything here is float64 and needs only the (k+2, k+2) Gram matrix of ``[X, 1, y]``
(:func:`descent.fitting.closed_form.design_gram`): no copy of X. A model without an intercept
(``fit_intercept: false``) passes the (k+1, k+1) Gram of ``[X, y]`` instead: θ is then ``w``
((k,)), the Hessian ``2/n·XᵀX`` has no bias row or column, and everything below holds as written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def gd_optimal_step(cond: Conditioning) -> dict[str, float]:
    """Gradient descent's theory-optimal step on the mean loss, ``2/(μ + L)`` with ``μ = λ_min``,
    ``L = λ_max`` (rate (κ−1)/(κ+1))."""
    mu, big = max(cond.lambda_min, 0.0), cond.lambda_max
    return {"lr": 2.0 / (mu + big)}


def heavy_ball_optimal_step(cond: Conditioning) -> dict[str, float]:
    """Heavy-ball momentum's optimal step ``4/(√L + √μ)²`` and ``momentum`` β = ``((√κ − 1)/(√κ + 1))²``
    (rate (√κ−1)/(√κ+1))."""
    mu, big = max(cond.lambda_min, 0.0), cond.lambda_max
    root = (math.sqrt(big) - math.sqrt(mu)) / (math.sqrt(big) + math.sqrt(mu))
    return {"lr": 4.0 / (math.sqrt(big) + math.sqrt(mu)) ** 2, "momentum": root * root}


def nesterov_optimal_step(cond: Conditioning) -> dict[str, float]:
    """Nesterov's step ``1/L`` and ``momentum`` β = ``(√κ − 1)/(√κ + 1)`` (rate ≈ 1 − 1/√κ)."""
    mu, big = max(cond.lambda_min, 0.0), cond.lambda_max
    return {"lr": 1.0 / big, "momentum": (math.sqrt(big) - math.sqrt(mu)) / (math.sqrt(big) + math.sqrt(mu))}


def predict_gd(cond: Conditioning, theta0: np.ndarray, alpha: float, options: Mapping[str, Any]) -> Prediction:
    """:func:`predict` as a method's predictor (plain descent has no options)."""
    return predict(cond, theta0, alpha)


def predict_heavy_ball(
    cond: Conditioning, theta0: np.ndarray, alpha: float, options: Mapping[str, Any]
) -> MomentumPrediction:
    """:func:`predict_momentum` of the heavy ball, β from the ``momentum`` option."""
    return predict_momentum(cond, theta0, alpha, float(options["momentum"]), nesterov=False)


def predict_nesterov(
    cond: Conditioning, theta0: np.ndarray, alpha: float, options: Mapping[str, Any]
) -> MomentumPrediction:
    """:func:`predict_momentum` of Nesterov's method, β from the ``momentum`` option."""
    return predict_momentum(cond, theta0, alpha, float(options["momentum"]), nesterov=True)


def momentum_matrices(eigenvalues: np.ndarray, alpha: float, beta: float, nesterov: bool) -> np.ndarray:
    """Per eigen-component ``(k+1, 2, 2)`` maps of ``(e_t, e_{t−1}) → (e_{t+1}, e_t)``.

    Heavy ball: ``e_{t+1} = (1 + β − αλ)·e_t − β·e_{t−1}``; Nesterov (parameters tracked at the
    look-ahead point ``y_t = θ_t + β(θ_t − θ_{t−1})``, where the gradient is taken):
    ``e_{t+1} = (1 + β)(1 − αλ)·e_t − β(1 − αλ)·e_{t−1}``.
    """
    q = 1.0 - alpha * eigenvalues
    first = (1.0 + beta) * q if nesterov else 1.0 + beta - alpha * eigenvalues
    second = -beta * q if nesterov else np.full_like(eigenvalues, -beta)
    maps = np.zeros((len(eigenvalues), 2, 2))
    maps[:, 0, 0], maps[:, 0, 1], maps[:, 1, 0] = first, second, 1.0
    return maps


@dataclass(frozen=True)
class MomentumPrediction:
    """Predicted momentum descent (heavy ball or Nesterov) from rest: per-component linear maps
    (:func:`momentum_matrices`), the start error ``c`` in the eigenbasis and the eigenvalues."""

    alpha: float
    beta: float
    maps: np.ndarray
    c: np.ndarray
    eigenvalues: np.ndarray
    first: np.ndarray  # per component, e_1 / e_0

    @property
    def weights(self) -> np.ndarray:
        return 0.5 * self.eigenvalues * self.c * self.c

    @property
    def present(self) -> np.ndarray:
        total = float(self.weights.sum())
        return self.weights > PRESENT * total if total > 0 else np.zeros(len(self.c), dtype=bool)

    @property
    def rate(self) -> float:
        """Spectral radius of the slowest present component's map: the asymptotic contraction of
        the error per step."""
        present = self.present
        if not present.any():
            return 0.0
        return float(np.abs(np.linalg.eigvals(self.maps[present])).max())

    @property
    def diverges(self) -> bool:
        return self.rate > 1.0

    def gap(self, t: np.ndarray | int) -> np.ndarray:
        """Predicted gap after ``t`` steps (array in, array out), by running the recurrence."""
        t = np.asarray(t, dtype=np.int64)
        top = int(t.max()) if t.size else 0
        # From rest the first step is plain descent for the heavy ball (e_1 = (1 − αλ)e_0) and,
        # for Nesterov's look-ahead sequence, y_1 = (1 − (1 + β)αλ)·e_0; the recurrence holds after.
        state = np.stack([self.first * self.c, self.c], axis=1)
        gaps = np.empty(top + 1)
        gaps[0] = float(self.weights.sum())
        with np.errstate(over="ignore", invalid="ignore"):
            for step in range(1, top + 1):
                gaps[step] = float((0.5 * self.eigenvalues * state[:, 0] ** 2).sum())
                state = np.einsum("kij,kj->ki", self.maps, state)
        return gaps[t]

    def iterations_to(self, epsilons: list[float], cap: int = 20_000) -> dict[str, int | None]:
        """The first step whose predicted gap is ≤ ε × the initial one, per ε (None when not
        within ``cap`` steps: momentum curves oscillate, so the recurrence is scanned, not bisected)."""
        total = float(self.weights.sum())
        if total == 0 or self.diverges:
            return {f"{e:g}": (0 if total == 0 else None) for e in epsilons}
        gaps = self.gap(np.arange(cap + 1))
        found = {}
        for e in epsilons:
            hit = np.flatnonzero(gaps <= e * total)
            found[f"{e:g}"] = int(hit[0]) if hit.size else None
        return found

    def summary(self, epsilons: list[float], reference_only: bool) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "diverges": self.diverges,
            "alpha_mean_loss": self.alpha,
            "momentum": self.beta,
            "iterations_to": self.iterations_to(epsilons),
            "reference_only": reference_only,
        }


def predict_momentum(
    cond: Conditioning, theta0: np.ndarray, alpha: float, beta: float, nesterov: bool
) -> MomentumPrediction:
    """The exact prediction of heavy-ball (or Nesterov) descent from rest at ``theta0`` ((k+1,))."""
    c = cond.eigenvectors.T @ (np.asarray(theta0, dtype=np.float64) - cond.theta_star)
    first = 1.0 - (1.0 + beta if nesterov else 1.0) * alpha * cond.eigenvalues
    return MomentumPrediction(
        alpha, beta, momentum_matrices(cond.eigenvalues, alpha, beta, nesterov), c, cond.eigenvalues, first
    )
