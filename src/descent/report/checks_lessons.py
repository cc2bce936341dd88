"""Claim checks on Lesson 0's experiments (``results/lessons/``) and on the lesson's slips.

A slip is a statement of the lesson that a learner would trip over (the cross product named
where the dot product is meant, a gradient written with the weights where the data matrix
belongs, …). Its check computes what the statement says on the run's own numbers and shows that it
does not hold. See :mod:`descent.report.checkbase`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.report import analysis
from descent.report.checkbase import Outcome, check, holds, unchecked


def _lesson(results: Any, key: str) -> dict[str, Any] | None:
    return results.lessons.get(key)


@check("binomial_mode")
def binomial_mode(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The most common fraction right among the random tests is ``fraction`` (from the histogram,
    ``results/lessons/binomial.parquet``). ``expected``: ``fraction``."""
    table = results.lesson_tables.get("binomial")
    if table is None:
        return unchecked("the binomial histogram is not in this run")
    top = table.loc[table["observed_count"].idxmax()]
    exact = table.loc[table["exact_probability"].idxmax()]
    total = int(table["observed_count"].sum())
    values = {
        "mode_fraction": float(top["fraction_correct"]),
        "mode_count": int(top["observed_count"]),
        "n_tests": total,
        "observed_frequency": float(top["observed_frequency"]),
        "exact_probability": float(exact["exact_probability"]),
        "exact_mode_fraction": float(exact["fraction_correct"]),
        "mode_score": int(top["n_correct"]),
        "n_questions": int(table["n_correct"].max()),
    }
    return Outcome(holds(values["mode_fraction"] == float(exp["fraction"])), "", values)


@check("binomial_moments")
def binomial_moments(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Mean and variance of the number right are n·p and n·p·(1 − p), within the run's recorded
    tolerance (z standard errors). Recomputed from the histogram. ``expected``: nothing."""
    table, summary = results.lesson_tables.get("binomial"), _lesson(results, "binomial")
    if table is None or summary is None:
        return unchecked("the binomial results are not in this run")
    k = table["n_correct"].to_numpy(dtype=np.float64)
    count = table["observed_count"].to_numpy(dtype=np.float64)
    total = count.sum()
    mean = float((k * count).sum() / total)
    variance = float(((k - mean) ** 2 * count).sum() / (total - 1))
    n, p = int(summary["n_questions"]), float(summary["p"])
    tol = summary["tolerance"]
    values = {
        "mean": mean,
        "expected_mean": n * p,
        "variance": variance,
        "expected_variance": n * p * (1 - p),
        "mean_tolerance": float(tol["mean_correct"]),
        "variance_tolerance": float(tol["variance_correct"]),
        "n_tests": int(total),
    }
    ok = (abs(mean - n * p) <= values["mean_tolerance"]) and (
        abs(variance - n * p * (1 - p)) <= values["variance_tolerance"]
    )
    return Outcome(holds(ok), "", values)


@check("long_test_size")
def long_test_size(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The single long test has ``questions`` questions (what the lesson's printout calls it).
    ``expected``: ``questions``."""
    summary = _lesson(results, "binomial")
    long_test = (summary or {}).get("long_test")
    if not long_test:
        return unchecked("the long test is not in this run")
    size = int(long_test["n_questions"])
    assert summary is not None  # it holds the long test
    values = {
        "n_questions": size,
        "fraction_correct": float(long_test["fraction_correct"]),
        "test_questions": int(summary["n_questions"]),
    }
    return Outcome(holds(size == int(exp["questions"])), "", values)


def _vectors(results: Any) -> dict[str, Any] | None:
    return _lesson(results, "vectors")


@check("unit_vectors_coincide")
def unit_vectors_coincide(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The example vectors have the same unit vector (recomputed from their components)."""
    v = _vectors(results)
    if not v:
        return unchecked("the vectors example is not in this run")
    vectors = [np.asarray(x, dtype=np.float64) for x in v["unit_vectors"]["vectors"]]
    units = [x / np.linalg.norm(x) for x in vectors]
    diff = max(float(np.max(np.abs(u - units[0]))) for u in units)
    values = {
        "vectors": [
            {"vector": x.tolist(), "norm": float(np.linalg.norm(x)), "unit": u.tolist()} for x, u in zip(vectors, units)
        ],
        "max_abs_difference": diff,
    }
    return Outcome(holds(diff <= float(exp.get("atol", 1e-12))), "", values)


@check("dot_product_value")
def dot_product_value(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The example's dot product equals ``value`` (recomputed with NumPy). ``expected``: ``value``."""
    v = _vectors(results)
    if not v:
        return unchecked("the vectors example is not in this run")
    u, w = np.asarray(v["dot_product"]["u"]), np.asarray(v["dot_product"]["v"])
    dot = float(np.dot(u, w))
    values = {"u": u.tolist(), "v": w.tolist(), "dot": dot, "dot_by_hand": v["dot_product"]["dot_by_hand"]}
    return Outcome(holds(dot == float(exp["value"])), "", values)


@check("cross_gives_scalar")
def cross_gives_scalar(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: the cross product of the example vectors is a scalar equal to their dot
    product (it is not: ``np.cross`` returns a vector)."""
    v = _vectors(results)
    if not v:
        return unchecked("the vectors example is not in this run")
    u, w = np.asarray(v["dot_product"]["u"]), np.asarray(v["dot_product"]["v"])
    cross, dot = np.cross(u, w), float(np.dot(u, w))
    values = {"u": u.tolist(), "v": w.tolist(), "cross": cross.tolist(), "cross_shape": list(cross.shape), "dot": dot}
    return Outcome(holds(cross.ndim == 0 and float(cross) == dot), "", values)


@check("bias_folding")
def bias_folding(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """``w·x + b`` equals ``(w, b)·(x, 1)`` and the lesson's arrangement ``(w, 1)·(x, b)``
    (recomputed from the example's weights, inputs and bias)."""
    v = _vectors(results)
    if not v:
        return unchecked("the vectors example is not in this run")
    m = v["linear_model"]
    w, x, b = np.asarray(m["weights"]), np.asarray(m["inputs"]), float(m["bias"])
    plain = float(w @ x + b)
    folded = float(np.append(w, b) @ np.append(x, 1.0))
    lesson = float(np.append(w, 1.0) @ np.append(x, b))
    worst = max(abs(plain - folded), abs(plain - lesson))
    return Outcome(
        holds(worst <= 1e-12 * max(1.0, abs(plain))),
        "",
        {"plain": plain, "folded": folded, "lesson_arrangement": lesson},
    )


@check("derivative_with_respect_to_input")
def derivative_with_respect_to_input(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: differentiating z = w·x + b with respect to the input x₁ gives x₁ (it gives
    w₁; x₁ is the derivative with respect to the weight w₁). Central differences on the vectors
    example's model."""
    v = _vectors(results)
    if not v:
        return unchecked("the vectors example is not in this run")
    m = v["linear_model"]
    w, x, b = np.asarray(m["weights"], dtype=np.float64), np.asarray(m["inputs"], dtype=np.float64), float(m["bias"])
    h = 1e-6
    e = np.zeros_like(x)
    e[0] = h
    dz_dx1 = float(((w @ (x + e) + b) - (w @ (x - e) + b)) / (2 * h))
    dz_dw1 = float((((w + e) @ x + b) - ((w - e) @ x + b)) / (2 * h))
    return Outcome(
        holds(abs(dz_dx1 - x[0]) <= 1e-6),
        "",
        {"dz_dx1": dz_dx1, "dz_dw1": dz_dw1, "w1": float(w[0]), "x1": float(x[0])},
    )


def _x2_run(summary: Mapping[str, Any], step: float) -> dict[str, Any] | None:
    return next((r for r in summary.get("runs", []) if float(r["step_size"]) == float(step)), None)


@check("x2_descent")
def x2_descent(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Descent on x² with step ``step`` from the configured x0 goes through ``iterates`` and
    ends ``status`` (recomputed: x ← x − step·2x). ``expected``: ``step``, ``iterates``, ``status``."""
    summary = _lesson(results, "descent_x2")
    run = _x2_run(summary or {}, exp["step"])
    if run is None:
        return unchecked(f"no descent on x² with step {exp['step']} in this run")
    x, recomputed = float(run["x0"]), []
    for _ in range(len(exp["iterates"])):
        x = x - float(exp["step"]) * 2 * x
        recomputed.append(x)
    recorded = [float(v) for v in run["first_iterates"][1 : 1 + len(recomputed)]]
    ok = recomputed == [float(v) for v in exp["iterates"]] == recorded and run["status"] == exp["status"]
    values = {
        "x0": float(run["x0"]),
        "iterates": recorded,
        "status": run["status"],
        "iterations": int(run["iterations"]),
        "reason": run["reason"],
    }
    return Outcome(holds(ok), "", values)


@check("signed_stop_test")
def signed_stop_test(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: the stopping test ``x_new − x_old < tolerance`` (no absolute value) stops only
    once the steps are tiny. Run from the mirror image of the configured start (descending from
    the right, every step is negative), with step ``step``."""
    summary = _lesson(results, "descent_x2")
    if not summary:
        return unchecked("the descent on x² is not in this run")
    tol, step, x = float(summary["tolerance"]), float(exp["step"]), -float(summary["x0"])
    start, steps = x, 0
    while True:
        new = x - step * 2 * x
        steps += 1
        if new - x < tol or steps >= 10_000:
            break
        x = new
    x_end = new
    values = {
        "start": start,
        "step": step,
        "steps": steps,
        "x_end": x_end,
        "y_end": x_end**2,
        "last_change": x_end - x,
        "tolerance": tol,
    }
    return Outcome(holds(abs(x_end) <= 10 * tol), "", values)


@check("maxima_stop_at_once")
def maxima_stop_at_once(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Descent started exactly at a local maximum stops at once without moving (gradient 0)."""
    summary = _lesson(results, "minima")
    starts = [s for s in (summary or {}).get("stationary_starts", []) if s.get("kind") == "local maximum"]
    if not starts:
        return unchecked("no start at a local maximum in this run")
    moved = [float(s["distance_moved"]) for s in starts]
    values = {
        "distance_moved": moved,
        "starts": [
            {"x0": s["x0"], "moved": float(s["distance_moved"]), "iterations": s["iterations"], "status": s["status"]}
            for s in starts
        ],
    }
    return Outcome(holds(max(moved) == 0.0), "", values)


@check("two_iterations_catch_maximum")
def two_iterations_catch_maximum(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The lesson's remedy for a start on a maximum — insist on ``iterations`` (2) or more before
    reporting a minimum — would move it off: it does not, since the gradient there is exactly 0
    and every update leaves x where it is. Runs ``iterations`` updates of the recorded step from
    each local maximum of the minima experiment on its own polynomial (coefficients as recorded).
    ``expected``: ``iterations``."""
    summary = _lesson(results, "minima")
    if not summary or not summary.get("local_maxima") or not summary.get("coefficients"):
        return unchecked("the minima experiment is not in this run")
    poly = np.polynomial.Polynomial(np.asarray(summary["coefficients"], dtype=np.float64))
    slope, step, n = poly.deriv(), float(summary["step_size"]), int(exp["iterations"])
    starts = []
    for maximum in summary["local_maxima"]:
        x = x0 = float(maximum["x"])
        for _ in range(n):
            x = x - step * float(slope(x))
        starts.append({"x0": x0, "x_end": x, "moved": abs(x - x0), "gradient": float(slope(x0))})
    values = {"iterations": n, "starts": starts}
    return Outcome(holds(all(s["moved"] > 0 for s in starts)), "", values)


@check("zero_gradient_is_extremum")
def zero_gradient_is_extremum(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Where every partial derivative is 0 the function has an extremum (a minimum or a maximum):
    checked on z = x² − y² (``expected``: ``coefficients`` (a, c) of z = a·x² + c·y²) at the
    origin, whose gradient is 0 there; the Hessian's eigenvalues say which kind of point it is
    (both positive: minimum, both negative: maximum, mixed signs: a saddle, no extremum)."""
    a, c = (float(v) for v in exp["coefficients"])
    hessian = np.array([[2 * a, 0.0], [0.0, 2 * c]])
    eigenvalues = np.linalg.eigvalsh(hessian)
    gradient = [2 * a * 0.0 + 0.0, 2 * c * 0.0 + 0.0]  # + 0.0: no "-0"
    extremum = bool(np.all(eigenvalues > 0) or np.all(eigenvalues < 0))
    values = {
        "a": a,
        "c": c,
        "gradient": gradient,
        "eigenvalues": eigenvalues.tolist(),
        "kind": "minimum" if np.all(eigenvalues > 0) else "maximum" if np.all(eigenvalues < 0) else "saddle",
    }
    return Outcome(holds(extremum), "", values)


@check("histogram_shows_long_test_mean")
def histogram_shows_long_test_mean(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The histogram of the random tests shows the mean of ``questions`` (10,000) trials, n·p
    correct: it would if its tests had that many questions. Compares the histogram's questions per
    test and mean number right with ``questions`` and ``questions``·p. ``expected``: ``questions``."""
    table, summary = results.lesson_tables.get("binomial"), _lesson(results, "binomial")
    if table is None or summary is None:
        return unchecked("the binomial results are not in this run")
    n, p = int(summary["n_questions"]), float(summary["p"])
    questions = int(exp["questions"])
    values = {
        "test_questions": n,
        "mean_correct": float(summary["mean_correct"]),
        "mean_fraction": float(summary["mean_correct"]) / n,
        "claimed_questions": questions,
        "claimed_mean": questions * p,
        "p": p,
    }
    return Outcome(holds(n == questions), "", values)


@check("restarts_find_global")
def restarts_find_global(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Single starts can end in a local minimum, and the best of many random restarts is the
    global minimum."""
    summary = _lesson(results, "minima")
    if not summary or "fraction_global" not in summary:
        return unchecked("the minima experiment is not in this run")
    fraction, best = float(summary["fraction_global"]), bool(summary["best_is_global"])
    values = {
        "fraction_global": fraction,
        "best_is_global": best,
        "n_starts": summary.get("n_starts"),
        "global_x": list(summary.get("global_minimum", {}).get("x", [])),
    }
    return Outcome(holds(best and fraction < 1.0), "", values)


@check("gradient_with_weights")
def gradient_with_weights(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: the weights' gradient is −2/n·Wᵀ·R. With the dataset's own arrays: W (k, 1),
    R (n, 1) — the product does not even have compatible shapes unless k = n; −2/n·Xᵀ·R does, and
    equals the gradient the workflow's gradient check recorded. ``expected``: ``dataset``,
    ``method`` (whose start point is used)."""
    data = results.data(exp["dataset"])
    fit = results.fit(exp["dataset"], "raw", exp["method"])
    if data is None or fit is None or not fit.get("init"):
        return unchecked(f"{exp['method']} (raw) on {exp['dataset']} or its data not in this run")
    X, y = data
    W = np.asarray(fit["init"]["weights"], dtype=np.float64).reshape(-1, 1)
    b = float(fit["init"]["bias"])
    R = (y - (X @ W[:, 0] + b)).reshape(-1, 1)
    wrong_shape, wrong_error = None, None
    try:
        wrong = -2 / len(X) * np.dot(W.T, R)
        wrong_shape = list(wrong.shape)
        wrong_ok = wrong.shape == (X.shape[1], 1) and np.allclose(
            wrong[:, 0], analysis.gradient(X, y, list(W[:, 0]), b)[0]
        )
    except ValueError as error:
        wrong_error, wrong_ok = str(error), False
    right = -2 / len(X) * (X.T @ R)
    recorded = results.checks.get(exp["dataset"], {}).get("float64", {}).get("hand", {}).get("weights")
    values = {
        "X_shape": list(X.shape),
        "W_shape": list(W.shape),
        "R_shape": list(R.shape),
        "wrong_shape": wrong_shape,
        "wrong_error": wrong_error,
        "right_shape": list(right.shape),
        "right_gradient": right[:, 0].tolist(),
        "recorded_gradient": list(recorded) if recorded else None,
    }
    return Outcome(holds(wrong_ok), "", values)


@check("shape_is_callable")
def shape_is_callable(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: ``X.shape()`` returns the shape (``shape`` is an attribute, a tuple; calling it
    raises). Tried on the dataset's own feature matrix. ``expected``: ``dataset``."""
    data = results.data(exp["dataset"])
    if data is None:
        return unchecked(f"the data of {exp['dataset']} are not in this run")
    X = data[0]
    error = None
    try:
        X.shape()
        ok = True
    except TypeError as raised:
        error, ok = str(raised), False
    return Outcome(holds(ok), "", {"shape": list(X.shape), "error": error})


@check("transpose_makes_column")
def transpose_makes_column(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: ``np.array([1, 2, 3]).T`` is a column vector. ``expected``: ``values``."""
    a = np.array(exp["values"])
    transposed = a.T
    column = a.reshape(-1, 1)
    return Outcome(
        holds(transposed.shape == (a.size, 1)),
        "",
        {"values": list(exp["values"]), "shape_T": list(transposed.shape), "shape_column": list(column.shape)},
    )
