"""Small computations on the results that the lesson sections and the claim checks share.

All in float64 NumPy, on ``X`` (n, k) and ``y`` (n,) of a dataset, or on fit rows (dicts with
``weights`` (k,) and ``bias``). Kept separate from the checks so that the page's sections and the
claims state the same numbers computed the same way. The Hessian's facts and the standard errors
are those of the fits themselves: :func:`descent.fitting.theory.conditioning` (what
``results/fits/conditioning.parquet`` holds) and :mod:`descent.fitting.inference` (each closed
form's ``inference``), called here on the data the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from descent.fitting.closed_form import design_gram
from descent.fitting.inference import inference_from_data
from descent.fitting.theory import conditioning


def theta(fit: Mapping[str, Any]) -> np.ndarray:
    """``(w_1, …, w_k, b)`` of a fit row or record, float64, shape (k+1,)."""
    return np.append(np.asarray(list(fit["weights"]), dtype=np.float64), float(fit["bias"]))


def rel_diff(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """``‖a − b‖ / ‖b‖`` (``b`` the reference; absolute when ``b`` is 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / (scale if scale > 0 else 1.0)


def design(X: np.ndarray) -> np.ndarray:
    """``A = [X, 1]`` (n, k+1) in float64."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    return np.column_stack([X, np.ones(len(X))])


def hessian(X: np.ndarray) -> np.ndarray:
    """Hessian of the mean squared error in ``(w, b)``: ``2/n·AᵀA`` (k+1, k+1)."""
    A = design(X)
    return 2.0 / len(A) * (A.T @ A)


def hessian_facts(X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The Hessian of the mean squared error ``2/n·AᵀA`` as the fits compute it
    (:func:`descent.fitting.theory.conditioning` on the float64 Gram of ``[X, 1, y]``, the row of
    ``results/fits/conditioning.parquet``): its extreme eigenvalues (``L`` largest, ``mu``
    smallest), the condition number ``L/mu`` (``kappa``) and the largest stable step ``2/L`` of
    gradient descent."""

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    cond = conditioning(design_gram(X, np.asarray(y, dtype=np.float64)), len(X))
    row = cond.row()
    return {
        "L": row["lambda_max"],
        "mu": row["lambda_min"],
        "condition_number": row["kappa"],
        "max_stable_step": row["max_stable_lr"],
    }


def standardize(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(X − μ_x)/σ_x`` and ``(y − μ_y)/σ_y`` with the sample standard deviation (ddof 1, as
    ``torch.std``), and the statistics."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y, dtype=np.float64)
    stats = {
        "x_mean": X.mean(axis=0),
        "x_std": X.std(axis=0, ddof=1),
        "y_mean": float(y.mean()),
        "y_std": float(y.std(ddof=1)),
    }
    return (X - stats["x_mean"]) / stats["x_std"], (y - stats["y_mean"]) / stats["y_std"], stats


def least_squares(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares ``(w, b)`` (k+1,) in float64 (columns equilibrated, NumPy's SVD solver)."""
    A = design(X)
    norms = np.linalg.norm(A, axis=0)
    norms[norms == 0] = 1.0
    solution, *_ = np.linalg.lstsq(A / norms, np.asarray(y, dtype=np.float64), rcond=None)
    return solution / norms


def standard_errors(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Classical standard errors of the least-squares ``(w, b)``, ``σ̂·sqrt(diag((AᵀA)⁻¹))`` with
    ``σ̂² = RSS/(n − k − 1)`` — how far noise alone moves the estimate from the true parameters —
    as the closed-form fits record them (:func:`descent.fitting.inference.inference_from_data`);
    NaN where undefined (no degree of freedom left, a singular design)."""

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    sol = least_squares(X, y)
    found = inference_from_data(X, np.asarray(y, dtype=np.float64), sol[:-1], float(sol[-1]))
    return np.array([np.nan if v is None else v for v in found.standard_errors], dtype=np.float64)


def gradient(X: np.ndarray, y: np.ndarray, w: Sequence[float], b: float) -> tuple[np.ndarray, float]:
    """The hand-derived gradient of the mean squared error at ``(w, b)``:
    ``∂w = −2/n·Xᵀ(y − ŷ)`` (k,) and ``∂b = −2/n·Σ(y − ŷ)``."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    residual = np.asarray(y, dtype=np.float64) - (X @ np.asarray(w, dtype=np.float64) + float(b))
    n = len(X)
    return -2.0 / n * (X.T @ residual), -2.0 / n * float(residual.sum())


def slow_direction_progress(facts: Mapping[str, float], lr: float, iterations: int) -> float:
    """Fraction of the way to the minimum that ``iterations`` steps of size ``lr`` cover along the
    Hessian's flattest direction: ``1 − (1 − lr·μ)^iterations`` (descent on a quadratic)."""
    return 1.0 - (1.0 - lr * float(facts["mu"])) ** int(iterations)


def fitted_log_slope(n: Sequence[float], seconds: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope and intercept of ``log(seconds)`` against ``log(n)``: time ∝ n^slope."""
    slope, intercept = np.polyfit(
        np.log(np.asarray(n, dtype=np.float64)), np.log(np.asarray(seconds, dtype=np.float64)), 1
    )
    return float(slope), float(intercept)


def mse_grid(x: np.ndarray, y: np.ndarray, ws: np.ndarray, bs: np.ndarray) -> np.ndarray:
    """MSE of ``w·x + b`` for every ``(w, b)`` of a grid (one feature), shape ``(len(bs), len(ws))``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ws, bs = np.asarray(ws, dtype=np.float64), np.asarray(bs, dtype=np.float64)
    residual = y[None, None, :] - (ws[None, :, None] * x[None, None, :] + bs[:, None, None])
    return (residual**2).mean(axis=2)


def mse_at(X: np.ndarray, y: np.ndarray, w: Sequence[float], b: float) -> float:
    """MSE of ``X·w + b`` against ``y`` (float64)."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    r = np.asarray(y, dtype=np.float64) - (X @ np.asarray(w, dtype=np.float64) + float(b))
    return float(r @ r) / len(r)


def descent_by_direction(
    X: np.ndarray, y: np.ndarray, w0: Sequence[float], b0: float, lr: float, iterations: int
) -> dict[str, Any]:
    """Full-batch gradient descent on the mean squared error, solved exactly along the Hessian's
    eigenvectors: ``θ_t − θ* = (I − lr·H)^t (θ_0 − θ*)``. Returns the eigenvalues (ascending),
    eigenvectors (columns, over ``(w…, b)``), the fraction of the way covered along each
    ``1 − (1 − lr·λ)^t``, the predicted ``theta`` after ``iterations`` steps, and how much of the
    intercept's move each direction contributes (``b_moves``)."""
    H = hessian(X)
    eig, vec = np.linalg.eigh(H)
    star = least_squares(X, y)
    start = np.append(np.asarray(w0, dtype=np.float64), float(b0))
    coords = vec.T @ (start - star)
    shrink = (1.0 - lr * eig) ** int(iterations)
    theta_t = star + vec @ (shrink * coords)
    b_moves = vec[-1, :] * (shrink - 1.0) * coords
    return {
        "eigenvalues": eig,
        "eigenvectors": vec,
        "covered": 1.0 - shrink,
        "theta": theta_t,
        "b_moves": b_moves,
        "lstsq": star,
    }
