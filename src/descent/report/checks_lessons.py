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
from descent.report.formatting import format_number as fmt
from descent.report.formatting import format_vector


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
    }
    text = (
        f"most common score {int(top['n_correct'])} of {int(table['n_correct'].max())} "
        f"({fmt(100 * float(top['fraction_correct']), 3)} %), in {fmt(100 * values['observed_frequency'], 4)} % "
        f"of {total:,} tests (exact binomial probability {fmt(100 * values['exact_probability'], 4)} %)"
    )
    return Outcome(holds(values["mode_fraction"] == float(exp["fraction"])), text, values)


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
    }
    ok = (abs(mean - n * p) <= values["mean_tolerance"]) and (
        abs(variance - n * p * (1 - p)) <= values["variance_tolerance"]
    )
    text = (
        f"mean {fmt(mean, 6)} (n·p = {fmt(n * p)}, tolerance ±{fmt(values['mean_tolerance'], 2)}), variance "
        f"{fmt(variance, 6)} (n·p·(1−p) = {fmt(n * p * (1 - p))}, tolerance ±{fmt(values['variance_tolerance'], 2)}) "
        f"over {int(total):,} tests"
    )
    return Outcome(holds(ok), text, values)


@check("long_test_size")
def long_test_size(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The single long test has ``questions`` questions (what the lesson's printout calls it).
    ``expected``: ``questions``."""
    summary = _lesson(results, "binomial")
    long_test = (summary or {}).get("long_test")
    if not long_test:
        return unchecked("the long test is not in this run")
    size = int(long_test["n_questions"])
    values = {"n_questions": size, "fraction_correct": float(long_test["fraction_correct"])}
    assert summary is not None  # it holds the long test
    text = (
        f"the long test has {size:,} questions and scored {fmt(values['fraction_correct'], 4)}; "
        f"the histogram's tests have {int(summary['n_questions'])}"
    )
    return Outcome(holds(size == int(exp["questions"])), text, values)


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
    text = (
        "; ".join(
            f"{format_vector(x.tolist())} / {fmt(float(np.linalg.norm(x)), 6)} = {format_vector(u.tolist(), 6)}"
            for x, u in zip(vectors, units)
        )
        + f"; largest difference {fmt(diff, 2)}"
    )
    return Outcome(holds(diff <= float(exp.get("atol", 1e-12))), text, {"max_abs_difference": diff})


@check("dot_product_value")
def dot_product_value(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The example's dot product equals ``value`` (recomputed with NumPy). ``expected``: ``value``."""
    v = _vectors(results)
    if not v:
        return unchecked("the vectors example is not in this run")
    u, w = np.asarray(v["dot_product"]["u"]), np.asarray(v["dot_product"]["v"])
    dot = float(np.dot(u, w))
    terms = " + ".join(f"{fmt(a)}·{fmt(b)}" for a, b in zip(u, w))
    return Outcome(
        holds(dot == float(exp["value"])),
        f"{terms} = {fmt(dot)} (NumPy), by hand {fmt(v['dot_product']['dot_by_hand'])}",
        {"dot": dot},
    )


@check("cross_gives_scalar")
def cross_gives_scalar(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: the cross product of the example vectors is a scalar equal to their dot
    product (it is not: ``np.cross`` returns a vector)."""
    v = _vectors(results)
    if not v:
        return unchecked("the vectors example is not in this run")
    u, w = np.asarray(v["dot_product"]["u"]), np.asarray(v["dot_product"]["v"])
    cross, dot = np.cross(u, w), float(np.dot(u, w))
    text = (
        f"np.cross({format_vector(u.tolist())}, {format_vector(w.tolist())}) = {format_vector(cross.tolist())}, "
        f"a vector of shape {cross.shape}; np.dot = {fmt(dot)}, a scalar"
    )
    return Outcome(holds(cross.ndim == 0 and float(cross) == dot), text, {"cross": cross.tolist(), "dot": dot})


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
    text = f"w·x + b = {fmt(plain, 10)}; (w, b)·(x, 1) = {fmt(folded, 10)}; (w, 1)·(x, b) = {fmt(lesson, 10)}"
    return Outcome(
        holds(worst <= 1e-12 * max(1.0, abs(plain))),
        text,
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
    text = f"∂z/∂x₁ = {fmt(dz_dx1, 6)} (= w₁ = {fmt(w[0], 6)}), ∂z/∂w₁ = {fmt(dz_dw1, 6)} (= x₁ = {fmt(x[0], 6)})"
    return Outcome(
        holds(abs(dz_dx1 - x[0]) <= 1e-6),
        text,
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
    text = (
        f"from x = {fmt(run['x0'])}: {', '.join(fmt(v) for v in recorded)}, …; {run['status']} after "
        f"{run['iterations']} iterations ({run['reason']})"
    )
    return Outcome(
        holds(ok), text, {"iterates": recorded, "status": run["status"], "iterations": int(run["iterations"])}
    )


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
    values = {"start": start, "steps": steps, "x_end": x_end, "tolerance": tol}
    text = (
        f"from x = {fmt(start)} with step {fmt(step)} the signed test stops after {steps} step(s) at "
        f"x = {fmt(x_end)} (y = {fmt(x_end**2)}), since x_new − x_old = {fmt(x_end - x)} < {fmt(tol)}"
    )
    return Outcome(holds(abs(x_end) <= 10 * tol), text, values)


@check("maxima_stop_at_once")
def maxima_stop_at_once(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Descent started exactly at a local maximum stops at once without moving (gradient 0)."""
    summary = _lesson(results, "minima")
    starts = [s for s in (summary or {}).get("stationary_starts", []) if s.get("kind") == "local maximum"]
    if not starts:
        return unchecked("no start at a local maximum in this run")
    moved = [float(s["distance_moved"]) for s in starts]
    text = "; ".join(
        f"from x = {fmt(s['x0'])}: moved {fmt(float(s['distance_moved']))} in {s['iterations']} "
        f"iteration(s), reported {s['status']}"
        for s in starts
    )
    return Outcome(holds(max(moved) == 0.0), text, {"distance_moved": moved})


@check("restarts_find_global")
def restarts_find_global(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Single starts can end in a local minimum, and the best of many random restarts is the
    global minimum."""
    summary = _lesson(results, "minima")
    if not summary or "fraction_global" not in summary:
        return unchecked("the minima experiment is not in this run")
    fraction, best = float(summary["fraction_global"]), bool(summary["best_is_global"])
    glob = summary.get("global_minimum", {})
    text = (
        f"{fmt(100 * fraction, 3)} % of {summary.get('n_starts')} random starts reached the global minimum at "
        f"x = {format_vector(glob.get('x', []))}; the best end point of all of them "
        f"{'is' if best else 'is not'} the global minimum"
    )
    return Outcome(holds(best and fraction < 1.0), text, {"fraction_global": fraction, "best_is_global": best})


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
    try:
        wrong = -2 / len(X) * np.dot(W.T, R)
        wrong_text = f"gives shape {wrong.shape}"
        wrong_ok = wrong.shape == (X.shape[1], 1) and np.allclose(
            wrong[:, 0], analysis.gradient(X, y, list(W[:, 0]), b)[0]
        )
    except ValueError as error:
        wrong_text, wrong_ok = f"fails: {error}", False
    right = -2 / len(X) * (X.T @ R)
    recorded = results.checks.get(exp["dataset"], {}).get("float64", {}).get("hand", {}).get("weights")
    text = (
        f"X is {X.shape}, W {W.shape}, R {R.shape}: Wᵀ·R {wrong_text}; −2/n·Xᵀ·R has shape {right.shape} "
        f"and equals {format_vector(right[:, 0].tolist(), 8)}"
        + (f", the hand gradient the workflow recorded ({format_vector(recorded, 8)})" if recorded else "")
    )
    return Outcome(
        holds(wrong_ok),
        text,
        {
            "X_shape": list(X.shape),
            "W_shape": list(W.shape),
            "R_shape": list(R.shape),
            "right_gradient": right[:, 0].tolist(),
        },
    )


@check("shape_is_callable")
def shape_is_callable(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: ``X.shape()`` returns the shape (``shape`` is an attribute, a tuple; calling it
    raises). Tried on the dataset's own feature matrix. ``expected``: ``dataset``."""
    data = results.data(exp["dataset"])
    if data is None:
        return unchecked(f"the data of {exp['dataset']} are not in this run")
    X = data[0]
    try:
        X.shape()
        outcome, ok = "returned", True
    except TypeError as error:
        outcome, ok = f"raises TypeError: {error}", False
    return Outcome(holds(ok), f"X.shape() {outcome}; X.shape is {X.shape}", {"shape": list(X.shape)})


@check("transpose_makes_column")
def transpose_makes_column(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Slip check: ``np.array([1, 2, 3]).T`` is a column vector. ``expected``: ``values``."""
    a = np.array(exp["values"])
    transposed = a.T
    column = a.reshape(-1, 1)
    text = (
        f"np.array({list(exp['values'])}).T has shape {transposed.shape} (a 1-D array is its own transpose); "
        f"reshape(-1, 1) gives {column.shape}"
    )
    return Outcome(
        holds(transposed.shape == (a.size, 1)),
        text,
        {"shape_T": list(transposed.shape), "shape_column": list(column.shape)},
    )
