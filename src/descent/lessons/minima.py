"""Gradient descent from many random starts on a function with several minima.

The function is the polynomial whose derivative has given simple roots
``c_0 < c_1 < … < c_{2m}``::

    f'(x) = (x − c_0)(x − c_1)···(x − c_{2m}),     f(x) = ∫_0^x f'(t) dt,

so ``f`` has even degree, a positive leading coefficient, local minima exactly at
``c_0, c_2, …, c_{2m}`` and local maxima exactly at ``c_1, c_3, …`` — all in closed form. Its
coefficients are rational in the (binary-exact) roots, so the value at each minimum is computed
exactly with :class:`fractions.Fraction` and the global minimum is known exactly. The default,
critical points (−2, −1, 0, 1, 2.5), is ``f(x) = x⁶/6 − x⁵/10 − 3x⁴/2 + x³/6 + 5x²/2`` with
local minima ``f(−2) = −22/15``, ``f(0) = 0`` and the global minimum ``f(2.5) = −3625/384``
(≈ −9.44), and local maxima ``f(−1) = 11/10`` and ``f(1) = 37/30``.

Each start runs :func:`descent.lessons.descent1d.gradient_descent_1d`. A start very close to a
maximum may stop at once: the gradient there is so small that the first update is below the
tolerance. Such runs are reported as converged but matched to no minimum (``minimum`` is null,
``nearest_kind`` is ``'maximum'``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from descent.config.sections import MinimaConfig
from descent.lessons.descent1d import gradient_descent_1d


@dataclass(frozen=True)
class CriticalPointPolynomial:
    """``f`` with ``f'(x) = Π (x − c_i)`` and ``f(0) = 0``, for strictly increasing ``c`` of odd length.

    Attributes
    ----------
    critical_points:
        ``c_0 < c_1 < …``, shape ``(2m + 1,)``.
    coefficients:
        Exact coefficients of ``f`` in increasing powers, length ``2m + 3``.
    """

    critical_points: tuple[float, ...]
    coefficients: tuple[Fraction, ...] = field(repr=False)

    @classmethod
    def from_critical_points(cls, points: Sequence[float]) -> CriticalPointPolynomial:
        """Build ``f`` exactly (rational arithmetic) from its derivative's roots."""
        points = tuple(float(c) for c in points)
        if len(points) % 2 == 0 or any(a >= b for a, b in zip(points, points[1:])):
            raise ValueError(f"critical points {points} must be strictly increasing and odd in number")
        derivative = [Fraction(1)]  # increasing powers
        for c in points:
            root = Fraction(c)
            shifted = [Fraction(0), *derivative]  # x · p(x)
            derivative = [s - root * (derivative[i] if i < len(derivative) else 0) for i, s in enumerate(shifted)]
        coefficients = (Fraction(0), *(a / (i + 1) for i, a in enumerate(derivative)))
        return cls(points, coefficients)

    def exact_value(self, x: float | Fraction) -> Fraction:
        """``f(x)`` in exact rational arithmetic."""
        x = Fraction(x)
        return sum((a * x**i for i, a in enumerate(self.coefficients)), Fraction(0))

    def value(self, x: float) -> float:
        """``f(x)`` in float64 (Horner)."""
        result = 0.0
        for a in reversed(self.coefficients):
            result = result * x + float(a)
        return result

    def gradient(self, x: float) -> float:
        """``f'(x) = Π (x − c_i)`` in float64; exactly 0 at every critical point."""
        result = 1.0
        for c in self.critical_points:
            result *= x - c
        return result

    @property
    def minima(self) -> tuple[float, ...]:
        """Local minima ``c_0, c_2, …`` (f' changes sign from − to + there)."""
        return self.critical_points[0::2]

    @property
    def maxima(self) -> tuple[float, ...]:
        """Local maxima ``c_1, c_3, …``."""
        return self.critical_points[1::2]

    @property
    def global_minima(self) -> tuple[float, ...]:
        """The minima with the smallest exact value (several when tied)."""
        values = [self.exact_value(c) for c in self.minima]
        best = min(values)
        return tuple(c for c, v in zip(self.minima, values) if v == best)

    def formula(self) -> str:
        """``f`` as text, e.g. ``'x^6/6 - x^5/10 - 3x^4/2 + x^3/6 + 5x^2/2'``."""
        terms = []
        for power in range(len(self.coefficients) - 1, -1, -1):
            a = self.coefficients[power]
            if a == 0:
                continue
            sign = "-" if a < 0 else "+"
            num, den = abs(a.numerator), a.denominator
            mono = "" if power == 0 else ("x" if power == 1 else f"x^{power}")
            body = (f"{num}" if num != 1 or not mono else "") + mono + (f"/{den}" if den != 1 else "")
            terms.append((sign, body))
        if not terms:
            return "0"
        text = ("-" if terms[0][0] == "-" else "") + terms[0][1]
        return text + "".join(f" {s} {b}" for s, b in terms[1:])


@dataclass(frozen=True)
class MinimaResult:
    """Descent from many random starts on a :class:`CriticalPointPolynomial`.

    Attributes
    ----------
    starts:
        One row per start: ``start``, ``x_start``, ``f_start``, ``x_end``, ``f_end``, ``status``,
        ``iterations``, ``minimum`` (the local minimum within ``match_tolerance`` of ``x_end``,
        null if none), ``distance_to_minimum`` (null if none), ``is_global``,
        ``nearest_critical_point`` and ``nearest_kind`` (``'minimum'`` or ``'maximum'``).
    summary:
        The function, its critical points and exact values, the minima found, the best end
        point, the fraction of starts reaching the global minimum and the stationary starts.
    """

    starts: pd.DataFrame
    summary: dict[str, Any]


def match_minimum(x: float, minima: Sequence[float], tolerance: float) -> float | None:
    """The minimum closest to ``x`` if it is within ``tolerance``, else ``None``."""
    nearest = min(minima, key=lambda c: abs(x - c))
    return nearest if abs(x - nearest) <= tolerance else None


def minima_experiment(spec: MinimaConfig | Mapping[str, Any]) -> MinimaResult:
    """Gradient descent on the polynomial of ``spec.critical_points`` from random starts (the
    ``lessons.minima`` section, typed or its schema-filled dict).

    Starts: ``default_rng(seed).uniform(low, high, n_starts)`` with ``start_range = [low, high]``,
    then one start at each local maximum (the stationary case: ``f' = 0`` there exactly, so the
    first update does not move and the run stops at once, converged at a maximum).
    """
    spec = MinimaConfig.coerce(spec)
    poly = CriticalPointPolynomial.from_critical_points(list(spec.critical_points))
    low, high = (float(v) for v in spec.start_range)
    starts = np.random.default_rng(int(spec.seed)).uniform(low, high, int(spec.n_starts))
    options: dict[str, Any] = dict(
        step_size=float(spec.step_size),
        tolerance=float(spec.tolerance),
        max_iterations=int(spec.max_iterations),
        divergence_bound=float(spec.divergence_bound),
    )
    match_tol = float(spec.match_tolerance)
    global_minima = poly.global_minima

    rows = []
    for i, x0 in enumerate(starts.tolist()):
        run = gradient_descent_1d(poly.gradient, x0, **options)
        minimum = match_minimum(run.x_final, poly.minima, match_tol) if run.status == "converged" else None
        nearest = min(poly.critical_points, key=lambda c: abs(run.x_final - c))
        rows.append(
            {
                "start": i,
                "x_start": x0,
                "f_start": poly.value(x0),
                "x_end": run.x_final,
                "f_end": poly.value(run.x_final),
                "status": run.status,
                "iterations": run.iterations,
                "minimum": minimum,
                "distance_to_minimum": None if minimum is None else abs(run.x_final - minimum),
                "is_global": minimum is not None and minimum in global_minima,
                "nearest_critical_point": nearest,
                "nearest_kind": "minimum" if nearest in poly.minima else "maximum",
            }
        )
    table = pd.DataFrame(rows)
    table["start"] = table["start"].astype(np.int64)
    table["iterations"] = table["iterations"].astype(np.int64)
    for column in ("minimum", "distance_to_minimum"):
        table[column] = pd.array(table[column].tolist(), dtype="Float64")
    table["is_global"] = table["is_global"].astype(bool)

    found = []
    for c in poly.minima:
        reached = int((table["minimum"] == c).fillna(False).sum())
        if reached:
            found.append(
                {
                    "x": c,
                    "f": float(poly.exact_value(c)),
                    "starts": reached,
                    "fraction": reached / len(table),
                    "is_global": c in global_minima,
                }
            )
    best_row = table.loc[table["f_end"].idxmin()] if len(table) else None
    stationary = []
    for c in poly.maxima:
        run = gradient_descent_1d(poly.gradient, c, **options)
        stationary.append(
            {
                "x0": c,
                "kind": "local maximum",
                "abs_gradient_at_start": abs(poly.gradient(c)),
                "status": run.status,
                "iterations": run.iterations,
                "x_end": run.x_final,
                "distance_moved": abs(run.x_final - c),
            }
        )
    summary = {
        "function": f"f(x) = {poly.formula()}",
        "derivative": "f'(x) = "
        + " ".join("x" if c == 0 else f"(x {'-' if c > 0 else '+'} {abs(c):g})" for c in poly.critical_points),
        "coefficients": [float(a) for a in poly.coefficients],
        "coefficients_exact": [str(a) for a in poly.coefficients],
        "critical_points": list(poly.critical_points),
        "local_minima": [
            {
                "x": c,
                "f": float(poly.exact_value(c)),
                "f_exact": str(poly.exact_value(c)),
                "is_global": c in global_minima,
            }
            for c in poly.minima
        ],
        "local_maxima": [
            {"x": c, "f": float(poly.exact_value(c)), "f_exact": str(poly.exact_value(c))} for c in poly.maxima
        ],
        "global_minimum": {
            "x": list(global_minima),
            "f": float(poly.exact_value(global_minima[0])),
            "f_exact": str(poly.exact_value(global_minima[0])),
        },
        "n_starts": len(table),
        "start_range": [low, high],
        "seed": int(spec.seed),
        **options,
        "match_tolerance": match_tol,
        "status_counts": {s: int(n) for s, n in table["status"].value_counts().sort_index().items()},
        "minima_found": found,
        "unmatched_starts": int(table["minimum"].isna().sum()),
        "unmatched_near_maximum": int((table["minimum"].isna() & (table["nearest_kind"] == "maximum")).sum()),
        "fraction_global": float(table["is_global"].mean()) if len(table) else None,
        "best": None
        if best_row is None
        else {
            "start": int(best_row["start"]),
            "x_start": float(best_row["x_start"]),
            "x_end": float(best_row["x_end"]),
            "f_end": float(best_row["f_end"]),
            "is_global": bool(best_row["is_global"]),
            "distance_to_global": min(abs(float(best_row["x_end"]) - c) for c in global_minima),
        },
        "best_is_global": None if best_row is None else bool(best_row["is_global"]),
        "stationary_starts": stationary,
    }
    return MinimaResult(starts=table, summary=summary)
