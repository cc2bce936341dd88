"""Gradient descent in one dimension: the loop shared by :mod:`descent.lessons.descent_x2` and
:mod:`descent.lessons.minima`.

One update is ``x_new = x − step_size · f'(x)``. A run stops as

``converged``
    when ``|x_new − x_old| < tolerance`` (``x_new`` is recorded);
``diverged``
    when ``x_new`` is not finite (not recorded: paths never hold inf/NaN, ``reason`` says so)
    or ``|x_new| > divergence_bound`` (recorded, it is finite);
``max_iterations``
    when ``max_iterations`` updates were made without either.

Everything is scalar Python floats, so the iterates are exactly those of the lesson's loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DescentRun:
    """One gradient-descent run from ``x0``.

    Attributes
    ----------
    path:
        The iterates ``x_0 = x0, x_1, …``; every one finite; length ``iterations + 1`` except
        when the run diverged to a non-finite value (that value is not recorded).
    status:
        ``'converged'``, ``'diverged'`` or ``'max_iterations'``.
    reason:
        What stopped the run, in words.
    iterations:
        Updates computed (including a final non-finite one, which is not in ``path``).
    """

    path: list[float]
    status: str
    reason: str
    iterations: int

    @property
    def x_final(self) -> float:
        """The last finite iterate."""
        return self.path[-1]


def gradient_descent_1d(
    gradient: Callable[[float], float],
    x0: float,
    step_size: float,
    tolerance: float,
    max_iterations: int,
    divergence_bound: float,
) -> DescentRun:
    """Run ``x ← x − step_size·gradient(x)`` from ``x0`` until one of the stops in the module doc.

    Scalar Python floats throughout, so the iterates are exactly those of the lesson's loop.
    """
    x = float(x0)
    path = [x]
    for iteration in range(1, max_iterations + 1):
        x_new = x - step_size * gradient(x)
        if not math.isfinite(x_new):
            return DescentRun(path, "diverged", f"update {iteration} is not finite ({x_new})", iteration)
        path.append(x_new)
        if abs(x_new - x) < tolerance:
            return DescentRun(path, "converged", f"|x_new - x_old| = {abs(x_new - x):.3g} < {tolerance:g}", iteration)
        if abs(x_new) > divergence_bound:
            return DescentRun(
                path, "diverged", f"|x| = {abs(x_new):.6g} > divergence bound {divergence_bound:g}", iteration
            )
        x = x_new
    return DescentRun(path, "max_iterations", f"no convergence within {max_iterations} updates", max_iterations)
