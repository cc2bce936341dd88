"""Gradient descent on ``y = x²`` with a converging and a diverging step size.

The update is ``x_new = x − step·2x = (1 − 2·step)·x``: from −1, step 0.25 halves ``x`` each
time (−1 → −0.5 → −0.25 → −0.125 …, converged after 20 updates at ``−2⁻²⁰``), step 10
multiplies it by −19 (−1 → 19 → −361 …, diverged). It converges exactly when ``0 < step < 1``.
Stopping rules: :func:`descent.lessons.descent1d.gradient_descent_1d`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from descent.config.sections import DescentX2Config
from descent.lessons.descent1d import gradient_descent_1d


def square(x: float) -> float:
    """``y = x²``."""
    return x * x


def square_gradient(x: float) -> float:
    """``dy/dx = 2x``."""
    return 2.0 * x


@dataclass(frozen=True)
class ParabolaResult:
    """Descent on ``y = x²`` for several step sizes.

    Attributes
    ----------
    paths:
        Long table, one row per iterate: ``step_size``, ``step`` (0 = start), ``x``, ``y = x²``,
        ``gradient = 2x`` (all finite).
    summary:
        One entry per step size under ``runs`` (see :func:`descent_x2_experiment`).
    """

    paths: pd.DataFrame
    summary: dict[str, Any]


def observed_ratio(path: list[float]) -> float | None:
    """Median of ``|x_(i+1) / x_i|`` along a 1-D descent path (None before two nonzero iterates)."""
    ratios = [abs(b / a) for a, b in zip(path, path[1:]) if a != 0 and np.isfinite(a) and np.isfinite(b)]
    return float(np.median(ratios)) if ratios else None


def descent_x2_experiment(spec: DescentX2Config | Mapping[str, Any]) -> ParabolaResult:
    """Gradient descent on ``y = x²`` from ``spec.x0`` for every ``spec.step_sizes`` (the
    ``lessons.descent_x2`` section, typed or its schema-filled dict).

    Each run's summary holds ``step_size``, ``x0``, ``status``, ``reason``, ``iterations``,
    ``x_final``, ``y_final``, ``first_iterates`` (up to 5), the factor ``1 − 2·step`` each update
    multiplies ``x`` by, ``theory_converges`` (``|1 − 2·step| < 1``), ``predicted_rate``
    (``|1 − 2·step|``) and ``observed_rate`` (median ``|x_(i+1)/x_i|`` along the path).
    """
    spec = DescentX2Config.coerce(spec)
    rows: list[tuple[float, int, float, float, float]] = []
    runs: list[dict[str, Any]] = []
    for step_size in spec.step_sizes:
        step_size = float(step_size)
        run = gradient_descent_1d(
            square_gradient,
            float(spec.x0),
            step_size,
            float(spec.tolerance),
            int(spec.max_iterations),
            float(spec.divergence_bound),
        )
        rows.extend((step_size, i, x, square(x), square_gradient(x)) for i, x in enumerate(run.path))
        factor = 1.0 - 2.0 * step_size
        runs.append(
            {
                "step_size": step_size,
                "x0": float(spec.x0),
                "status": run.status,
                "reason": run.reason,
                "iterations": run.iterations,
                "recorded_steps": len(run.path) - 1,
                "x_final": run.x_final,
                "y_final": square(run.x_final),
                "first_iterates": run.path[:5],
                "factor_per_step": factor,
                "theory_converges": abs(factor) < 1.0,
                # The same theory as descent.fitting.theory for f = x² (Hessian 2): the error
                # contracts by |1 − 2·step| per update; observed: |x_(i+1)/x_i| on the path.
                "predicted_rate": abs(factor),
                "observed_rate": observed_ratio(run.path),
            }
        )
    paths = pd.DataFrame(rows, columns=["step_size", "step", "x", "y", "gradient"])
    paths["step"] = paths["step"].astype(np.int64)
    summary = {
        "function": "y = x^2",
        "gradient": "dy/dx = 2x",
        "x0": float(spec.x0),
        "tolerance": float(spec.tolerance),
        "max_iterations": int(spec.max_iterations),
        "divergence_bound": float(spec.divergence_bound),
        "runs": runs,
    }
    return ParabolaResult(paths=paths, summary=summary)
