"""Theory beside practice, per fit: an iterative fit's history annotated with its gap to the
least-squares loss, the method's exact prediction of that gap (when it has one) and the observed
rate of contraction.

Shapes: ``X`` (n, k), ``y`` (n,); the Gram of ``[X, 1, y]`` is (k+2, k+2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from descent.fitting.closed_form import array_chunks, design_gram, design_theta
from descent.fitting.common import FitOutcome, resolve_dtype
from descent.fitting.refine import reference_solution
from descent.fitting.registry import get_method
from descent.fitting.settings import FitSettings
from descent.fitting.theory import conditioning

#: Rows of X widened to float64 at a time by :func:`check_convergence` (at most this many rows:
#: one chunk, the whole of X, as before; more: chunk by chunk, no float64 copy of a large X).
GAP_ROWS = 1 << 20


def annotate_convergence(
    outcome: FitOutcome,
    X: np.ndarray,
    y: np.ndarray,
    settings: FitSettings,
    init: tuple[list[float], float],
    accuracy_targets: Sequence[float],
) -> None:
    """Add to an iterative outcome's history ``gap`` (loss − L*, fitted space, L* from the float64
    least-squares solution of the very data fitted: ``X`` (n, k), ``y`` (n,)) and
    ``relative_gap`` (gap / initial gap); for gradient-descent methods also ``predicted_gap``,
    and to its extras ``loss_star``, ``predicted`` (rate, divergence, iterations to each target;
    ``reference_only`` for mini-batch runs, which follow the full-batch prediction only on
    average) and ``observed_rate`` (the gap's per-iteration contraction over the run's second
    half, square-rooted to compare with the rate). Heavy-ball and Nesterov methods get their own
    exact linear prediction (:func:`~descent.fitting.theory.predict_momentum`)."""
    eps = float(np.finfo(resolve_dtype(settings.dtype, X.dtype)).eps)
    gram = design_gram(X, y, intercept=settings.fit_intercept)
    annotate_from_gram(outcome, gram, X.shape[0], eps, settings, init, accuracy_targets)


def annotate_from_gram(
    outcome: FitOutcome,
    gram: np.ndarray,
    n: int,
    eps: float,
    settings: FitSettings,
    init: tuple[list[float], float],
    accuracy_targets: Sequence[float],
) -> None:
    """:func:`annotate_convergence` from the float64 Gram of ``[X, 1, y]`` ((k+2, k+2); of
    ``[X, y]`` ((k+1, k+1)) with ``fit_intercept: false``, whose Hessian has no bias row or
    column) of the ``n`` rows fitted (in memory, or streamed from disk), ``eps`` the machine
    epsilon of the fit's arithmetic (the floor of the observed rate)."""
    history = outcome.history
    assert history is not None  # an iterative outcome
    cond = conditioning(gram, n)
    gap = history["loss"].to_numpy() - cond.loss_star
    history["gap"] = gap
    history["relative_gap"] = gap / gap[0] if gap[0] > 0 else np.nan
    outcome.extra["loss_star"] = cond.loss_star
    predictor = get_method(settings.method).predict
    if predictor is not None:
        lr = float(outcome.extra["lr"])
        alpha = lr * n if settings.loss_reduction == "sum" else lr  # the step on the mean loss
        theta0 = design_theta(init[0], init[1], settings.fit_intercept)
        prediction = predictor(cond, theta0, alpha, outcome.extra.get("options", settings.options))
        history["predicted_gap"] = prediction.gap(history["iteration"].to_numpy())
        # The prediction is exact for constant full-batch steps of the iterate itself.
        exact = (settings.batch_size is None or settings.batch_size >= n) and settings.schedule == "constant"
        outcome.extra["predicted"] = prediction.summary(
            list(accuracy_targets), reference_only=not exact or settings.averaging
        )
    outcome.extra["observed_rate"] = observed_rate(history, floor=1e3 * eps * float(history["loss"].iloc[0]))


def observed_rate(history: Any, floor: float) -> float | None:
    """``(gap_b/gap_a)^(1/(2·(b − a)))`` over the second half of the rows whose gap is above
    ``floor`` (the loss's rounding level): the observed per-iteration contraction of the error,
    comparable with the predicted rate."""
    rows = history[history["gap"] > floor]
    if len(rows) < 3:
        return None
    half = rows.iloc[len(rows) // 2 :]
    first, last = half.iloc[0], half.iloc[-1]
    steps = float(last["iteration"] - first["iteration"])
    return float((last["gap"] / first["gap"]) ** (1.0 / (2.0 * steps))) if steps > 0 else None


#: How far above what its stopping test proves a converged fit's error may lie before the test is
#: judged met off the answer (status ``false_convergence``).
OFF_FACTOR = 10.0


def allowed_error(settings: FitSettings, hessian_condition: float, design_condition: float, eps: float) -> float:
    """The relative error (equilibrated, against the certified least squares) a converged fit may
    have: ``OFF_FACTOR`` × the larger of its dtype's resolution (κ(A)·eps) and what its stopping
    test proves — ``‖g‖ ≤ τ‖g₀‖`` bounds the error by κ(H)·τ, accepted up to √τ (half the digits τ
    asks for); a loss-change test proves nothing, so √τ."""
    tau = float(settings.tolerance)
    proven = min(hessian_condition * tau, math.sqrt(tau)) if settings.stop_criterion == "grad_norm" else math.sqrt(tau)
    return OFF_FACTOR * max(design_condition * eps, proven)


def check_convergence(
    outcome: FitOutcome, X: np.ndarray, y: np.ndarray, settings: FitSettings, init: tuple[list[float], float]
) -> None:
    """Hold a converged fit against the certified least-squares solution θ* of the very data it
    fitted (``X`` (n, k), ``y`` (n,), fitted space; :func:`descent.fitting.refine.reference_solution`):
    when its relative error ``‖D(θ − θ*)‖/‖Dθ*‖`` (D the column norms of ``[X, 1]``) is above
    :func:`allowed_error`, its stopping test was met off the answer and it is recorded as
    ``false_convergence``, with the measured digits and the reason in words. Adds
    ``convergence_check`` to the extras (error, digits, relative loss gap, allowance)."""
    if outcome.status != "converged":
        return
    n, k = X.shape
    intercept = settings.fit_intercept  # without: θ, θ* and D have no bias component
    theta_star, certificate = reference_solution(lambda: array_chunks(X, y), k, X.dtype, intercept=intercept)
    if not certificate.ok:
        outcome.extra["convergence_check"] = {
            "checked": False,
            "reason": f"no certified reference: {certificate.reason}",
        }
        return
    theta = design_theta(outcome.weights, outcome.bias, intercept)
    theta0 = design_theta(init[0], init[1], intercept)
    # float64 row chunks of X: one chunk (the whole of X) up to GAP_ROWS rows, so no float64 copy
    # of a large X is ever held whole (a float32 one would double the fit's memory)
    parts = [np.asarray(X, dtype=np.float64)] if n <= GAP_ROWS else []

    def chunks64() -> Any:
        if n <= GAP_ROWS:
            yield parts[0]
            return
        for start in range(0, n, GAP_ROWS):
            yield np.asarray(X[start : start + GAP_ROWS], dtype=np.float64)

    def gap(point: np.ndarray) -> float:  # L(θ) − L* = ‖A(θ − θ*)‖²/n exactly, the loss being quadratic
        e = point - theta_star
        return sum(float(np.sum((X64 @ e[:k] + (e[k] if intercept else 0.0)) ** 2)) for X64 in chunks64()) / n

    gap0 = gap(theta0)
    norms = (
        np.linalg.norm(parts[0], axis=0)
        if n <= GAP_ROWS
        else np.sqrt(sum(np.einsum("ij,ij->j", X64, X64) for X64 in chunks64()))
    )
    d = design_theta(norms, math.sqrt(n), intercept)
    error = float(np.linalg.norm(d * (theta - theta_star)) / max(np.linalg.norm(d * theta_star), np.finfo(float).tiny))
    digits = max(0.0, -math.log10(max(error, 1e-17)))
    kappa = conditioning(design_gram(X, y, intercept=intercept), n).kappa
    eps = float(np.finfo(resolve_dtype(settings.dtype, X.dtype)).eps)
    allowed = allowed_error(settings, kappa, certificate.condition_number, eps)
    outcome.extra["convergence_check"] = {
        "checked": True,
        "relative_error": error,
        "correct_digits": digits,
        "allowed_relative_error": allowed,
        "relative_gap": gap(theta) / gap0 if gap0 > 0 else 0.0,
        "hessian_condition": kappa,
        "reference_certified_digits": certificate.certified_digits,
    }
    if error <= allowed:
        return
    tau = float(settings.tolerance)
    why = (
        f"the Hessian's condition number {kappa:.1e} lets a gradient {tau:g} of the initial one sit "
        f"{kappa * tau:.1e} (relative) from the answer"
        if settings.stop_criterion == "grad_norm"
        else "a small change of the loss says nothing of the distance to the answer when progress is slow"
    )
    outcome.status = "false_convergence"
    outcome.converged = False
    outcome.extra["status_reason"] = (
        f"its stopping test ({settings.stop_criterion}, tolerance {tau:g}) was met {error:.1e} (relative) from the "
        f"certified least squares, {digits:.1f} correct digits: {why}"
    )
