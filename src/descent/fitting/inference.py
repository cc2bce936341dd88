"""Classical OLS inference for a least-squares fit of ``y ≈ X·w + b``: standard errors, t
statistics, confidence intervals, R² and adjusted R², in float64 and in original units
(weights first, bias last), as ``statsmodels`` reports them.

Everything comes from two streamed summaries of the data, never from a copy of ``X``:

* the float64 Gram matrix of ``[X, 1, y]`` (:func:`descent.fitting.closed_form.design_gram`,
  one chunked pass), equilibrated (``G_eq = D⁻¹GD⁻¹``, ``D`` the column norms) before it is
  inverted by Cholesky, so ``(AᵀA)⁻¹ = D⁻¹G_eq⁻¹D⁻¹`` loses digits to the equilibrated
  condition number only, not to the columns' scales;
* the residual and total sums of squares, accumulated over row chunks from the fitted θ
  (:func:`residual_sums`): ``‖y − Aθ‖²`` summed directly, not ``yᵀy − θᵀAᵀy`` from the Gram,
  which cancels catastrophically when the fit is good.

With ``p = k + 1`` parameters and ``dof = n − p``: ``σ² = RSS/dof``, ``SE_j = σ·√[(AᵀA)⁻¹]_jj``,
``t_j = θ_j/SE_j``, the interval ``θ_j ± t_{dof, 1−α/2}·SE_j`` (Student's t quantile, scipy),
``R² = 1 − RSS/TSS`` and ``adjusted R² = 1 − (1 − R²)(n − 1)/dof``. Undefined values are None
(never NaN or inf in a JSON): standard errors, t values and intervals when ``dof ≤ 0`` or the
design is singular; R² when the target is constant; adjusted R² when ``dof ≤ 0``.

Without an intercept (``fit_intercept: false``, the model ``y ≈ X·w``): ``p = k``, the Gram of
``[X, y]``, ``R² = 1 − RSS/Σy²`` (uncentred) and ``adjusted R² = 1 − (1 − R²)·n/dof``, as
statsmodels reports a model without a constant; the bias has no standard error (None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from descent.fitting.closed_form import (
    CHUNK_ROWS,
    Chunks,
    array_chunks,
    column_norms,
    gram_of_chunks,
    without_intercept,
)

#: The confidence level of the intervals.
LEVEL = 0.95


@dataclass(frozen=True)
class Inference:
    """OLS inference for θ = (w₀ … w_{k−1}, b), each list of length ``k + 1`` (weights first, bias
    last, original units); None where undefined.

    ``covers_truth``: whether each interval contains the true parameter (None when the truth is
    unknown or the intervals undefined).
    """

    standard_errors: list[float | None]
    t_values: list[float | None]
    ci_low: list[float | None]
    ci_high: list[float | None]
    r2: float | None
    adj_r2: float | None
    dof: int
    n: int
    rss: float
    sigma: float | None
    level: float = LEVEL
    covers_truth: list[bool] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``inference`` field of a closed-form fit's JSON."""
        return {
            "standard_errors": self.standard_errors,
            "t_values": self.t_values,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "level": self.level,
            "r2": self.r2,
            "adj_r2": self.adj_r2,
            "dof": self.dof,
            "n": self.n,
            "rss": self.rss,
            "sigma": self.sigma,
            "covers_truth": self.covers_truth,
        }


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def residual_sums(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, y_mean: float, chunk_rows: int = CHUNK_ROWS
) -> tuple[float, float]:
    """``(RSS, TSS)`` in float64 over row chunks: ``Σ(y − X·w − b)²`` and ``Σ(y − y_mean)²`` for
    ``X`` (n, k), ``y`` (n,) of any float dtype (widened chunk by chunk)."""
    return residual_sums_of_chunks(array_chunks(X, y, chunk_rows), w, b, y_mean)


def residual_sums_of_chunks(chunks: Chunks, w: np.ndarray, b: float, y_mean: float) -> tuple[float, float]:
    """:func:`residual_sums` over ``(X (m, k), y (m,))`` row chunks (in memory or from disk)."""
    w64 = np.asarray(w, dtype=np.float64)
    rss = tss = 0.0
    for X, y in chunks:
        yc = np.asarray(y, dtype=np.float64)
        r = yc - (np.asarray(X, dtype=np.float64) @ w64 + b)
        rss += float(r @ r)
        d = yc - y_mean
        tss += float(d @ d)
    return rss, tss


def inverse_diagonal(gram: np.ndarray) -> np.ndarray | None:
    """Diagonal of ``(AᵀA)⁻¹`` ((k+1,)) from the Gram of ``[X, 1, y]`` ((k+2, k+2)), through the
    equilibrated Cholesky factor (``G_eq = LLᵀ``, ``diag(G_eq⁻¹)_j = Σ_i (L⁻¹)_ij²``); None when
    the equilibrated Gram is numerically singular."""
    d = column_norms(gram)
    scaled = gram[:-1, :-1] / np.outer(d, d)
    try:
        chol = np.linalg.cholesky(scaled)
    except np.linalg.LinAlgError:
        return None
    inv_l = np.linalg.solve(chol, np.eye(len(d)))
    diag = (inv_l**2).sum(axis=0) / d**2
    return diag if np.isfinite(diag).all() else None


def ols_inference(
    gram: np.ndarray,
    theta: np.ndarray,
    rss: float,
    tss: float,
    true_theta: Sequence[float] | np.ndarray | None = None,
    level: float = LEVEL,
    n: int | None = None,
) -> Inference:
    """OLS inference for ``theta`` ((k+1,), weights then bias, the least-squares solution) from
    the float64 Gram of ``[X, 1, y]`` ((k+2, k+2), original units: ``gram[k, k]`` is ``n``), the
    residual sum of squares ``rss`` of ``theta`` and the total sum of squares ``tss`` about the
    target's mean. ``true_theta`` ((k+1,)): the true parameters, for ``covers_truth``.

    A model without an intercept gives ``n`` (its Gram, of ``[X, y]`` ((k+1, k+1)), has no
    column of ones to count the rows), ``theta`` the weights alone ((k,)) and ``tss`` = Σy²
    (uncentred): ``dof = n − k`` and, as statsmodels reports a model without a constant, the
    uncentred R² and ``adjusted R² = 1 − (1 − R²)·n/dof``."""
    # scipy.special, not scipy.stats (what t.ppf calls): a fit job imports it in 0.25 s, not 0.8 s
    from scipy.special import stdtrit

    theta = np.asarray(theta, dtype=np.float64)
    p = len(theta)
    centred = n is None  # with an intercept: R² about the mean, one degree of freedom for it
    if n is None:
        n = int(round(float(gram[p - 1, p - 1])))  # the column of ones: Σ1² = n
    dof = n - p
    r2 = 1.0 - rss / tss if tss > 0 else None
    adj_r2 = 1.0 - (1.0 - r2) * (n - int(centred)) / dof if r2 is not None and dof > 0 else None
    diag = inverse_diagonal(gram) if dof > 0 else None
    none: list[float | None] = [None] * p
    if diag is None:
        return Inference(none, none, none, none, r2, adj_r2, dof, n, float(rss), None, level)
    sigma = math.sqrt(rss / dof)
    se = sigma * np.sqrt(diag)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_values = theta / se
    half = float(stdtrit(dof, 0.5 + level / 2.0)) * se
    low, high = theta - half, theta + half
    covers = None
    if true_theta is not None:
        truth = np.asarray(true_theta, dtype=np.float64)
        covers = [bool(lo <= v <= hi) for lo, v, hi in zip(low, truth, high)]
    return Inference(
        _finite_or_none(se),
        _finite_or_none(t_values),
        _finite_or_none(low),
        _finite_or_none(high),
        r2,
        adj_r2,
        dof,
        n,
        float(rss),
        sigma,
        level,
        covers,
    )


def inference_from_data(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float,
    true_weights: Sequence[float] | None = None,
    true_bias: float | None = None,
    level: float = LEVEL,
    intercept: bool = True,
) -> Inference:
    """:func:`ols_inference` for the fit ``(w (k,), b)`` (original units) of ``X`` (n, k), ``y``
    (n,): the Gram in one chunked pass, the sums of squares in another (float64 throughout, no
    copy of ``X``). The truth, when both ``true_weights`` and ``true_bias`` are given, yields
    ``covers_truth``. Without ``intercept`` (``b`` is 0), see :func:`inference_from_chunks`."""
    return inference_from_chunks(
        lambda: array_chunks(X, y), X.shape[1], w, b, true_weights, true_bias, level, intercept
    )


def inference_from_chunks(
    chunks: Any,
    k: int,
    w: np.ndarray,
    b: float,
    true_weights: Sequence[float] | None = None,
    true_bias: float | None = None,
    level: float = LEVEL,
    intercept: bool = True,
) -> Inference:
    """:func:`inference_from_data` from row chunks of ``k`` features (``chunks()`` starts a fresh
    pass: one for the Gram, one for the sums of squares), so a fit streamed from disk gets the
    same inference as in memory.

    Without ``intercept`` the model is ``y ≈ X·w`` (``b`` must be 0): the covariance has no
    bias row or column, so the bias entry of every list is None (undefined, as for a parameter
    not estimated), ``dof = n − k`` and R² is uncentred (``TSS = Σy²``)."""
    gram = gram_of_chunks(chunks(), k)
    n = int(round(float(gram[k, k])))
    y_mean = float(gram[k, k + 1] / gram[k, k]) if intercept else 0.0
    rss, tss = residual_sums_of_chunks(chunks(), w, b, y_mean)
    theta = np.append(np.asarray(w, dtype=np.float64), float(b))
    truth = None
    if true_weights is not None and true_bias is not None:
        truth = np.append(np.asarray(true_weights, dtype=np.float64), float(true_bias))
    if intercept:
        return ols_inference(gram, theta, rss, tss, truth, level)
    if float(b) != 0.0:
        raise ValueError(f"a fit without an intercept has bias 0, not {b}")
    found = ols_inference(
        without_intercept(gram), theta[:-1], rss, tss, None if truth is None else truth[:-1], level, n=n
    )
    return replace(
        found,
        standard_errors=[*found.standard_errors, None],
        t_values=[*found.t_values, None],
        ci_low=[*found.ci_low, None],
        ci_high=[*found.ci_high, None],
        covers_truth=None
        if found.covers_truth is None
        else [*found.covers_truth, bool(truth is not None and truth[-1] == 0)],
    )
