"""Exact least squares in rational arithmetic: the reference against which digits are counted.

Every float is a rational number, so the least-squares solution of ``[X, 1]`` (n, k+1) and ``y``
(n,) *as stored* is the exact solution of the normal equations ``AᵀA·θ = Aᵀy`` over
:class:`fractions.Fraction` (Gauss–Jordan elimination with exact pivots). Cost grows with n·k² big
rational products: meant for tests and the NIST table (n up to a few hundred, k ≤ 11).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np


def exact_least_squares(X: np.ndarray, y: np.ndarray, intercept: bool = True) -> list[Fraction]:
    """θ* ((k+1,) Fractions, weights then bias; (k,) without ``intercept``) of ``X`` (n, k) and
    ``y`` (n,), exactly. Raises ``ValueError`` on a rank-deficient design."""
    rows = [[Fraction(float(v)) for v in row] + ([Fraction(1)] if intercept else []) for row in np.asarray(X)]
    target = [Fraction(float(v)) for v in np.asarray(y)]
    p = len(rows[0]) if rows else 0
    gram = [[sum((r[i] * r[j] for r in rows), Fraction(0)) for j in range(p)] for i in range(p)]
    rhs = [sum((r[i] * t for r, t in zip(rows, target)), Fraction(0)) for i in range(p)]
    return solve_exact(gram, rhs)


def solve_exact(matrix: Sequence[Sequence[Fraction]], rhs: Sequence[Fraction]) -> list[Fraction]:
    """The solution of the square rational system ``matrix·x = rhs`` (Gauss–Jordan, exact)."""
    p = len(rhs)
    aug = [list(matrix[i]) + [rhs[i]] for i in range(p)]
    for col in range(p):
        pivot = next((r for r in range(col, p) if aug[r][col] != 0), None)
        if pivot is None:
            raise ValueError("rank-deficient design: the least-squares solution is not unique")
        aug[col], aug[pivot] = aug[pivot], aug[col]
        inv = 1 / aug[col][col]
        aug[col] = [v * inv for v in aug[col]]
        for r in range(p):
            if r != col and aug[r][col] != 0:
                factor = aug[r][col]
                aug[r] = [a - factor * b for a, b in zip(aug[r], aug[col])]
    return [aug[i][p] for i in range(p)]


def log_relative_error(estimate: float, exact: Fraction | float) -> float:
    """NIST's LRE, ``−log10(|x − c|/|c|)`` (``−log10|x − c|`` when ``c`` is 0), computed exactly
    from the float ``estimate``; capped at 17 (an exact match) and floored at 0."""
    exact = Fraction(exact)
    if not math.isfinite(estimate):
        return 0.0
    error = abs(Fraction(float(estimate)) - exact)
    if error == 0:
        return 17.0
    relative = error / abs(exact) if exact != 0 else error
    # log10 of a Fraction without overflow: via numerator and denominator bit lengths.
    value = math.log10(relative.numerator) - math.log10(relative.denominator)
    return float(min(17.0, max(0.0, -value)))


def digits(theta: Sequence[float] | np.ndarray, exact: Sequence[Fraction]) -> float:
    """The smallest LRE over the components of ``theta`` against ``exact``."""
    return min(log_relative_error(float(t), c) for t, c in zip(theta, exact))
