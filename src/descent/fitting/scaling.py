"""Standardization: statistics, the transform, and mapping parameters back to original units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from descent.fitting.common import FitError, FitOutcome


@dataclass(frozen=True)
class Standardization:
    """Per-feature means/standard deviations (sample std, ddof=1, as ``torch.std``) and the target's.

    ``x_mean``, ``x_std`` are ``(k,)`` float64; ``y_mean``, ``y_std`` floats. Without an intercept
    (``centered`` False: :func:`scaling_stats`) the means are 0 and the scales are root mean
    squares: ``x/σ_x``, ``y/σ_y``, no centring.
    """

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    centered: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON form (floats written with ``repr``: they read back bit for bit), for another
        process (a data-parallel rank) or job (a shard's partial statistics)."""
        return {
            "x_mean": self.x_mean.tolist(),
            "x_std": self.x_std.tolist(),
            "y_mean": self.y_mean,
            "y_std": self.y_std,
            "centered": self.centered,
        }

    @staticmethod
    def from_dict(data: dict[str, Any] | None) -> Standardization | None:
        """The inverse of :meth:`as_dict` (None for None: a raw fit)."""
        if data is None:
            return None
        return Standardization(
            np.asarray(data["x_mean"], dtype=np.float64),
            np.asarray(data["x_std"], dtype=np.float64),
            float(data["y_mean"]),
            float(data["y_std"]),
            bool(data.get("centered", True)),
        )


def standardization_stats(
    X: np.ndarray, y: np.ndarray, features: list[str] | None = None, center: bool = True
) -> Standardization:
    """Statistics for standardizing ``X`` (n, k) and ``y`` (n,), computed in float64; with
    ``center`` False (a fit without an intercept) :func:`scaling_stats` instead.

    Raises :class:`FitError` naming a constant feature (or target) instead of dividing by zero.
    """
    if not center:
        return scaling_stats(X, y, features)
    X64, y64 = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x_std = X64.std(axis=0, ddof=1)
    names = features or [f"x{j}" for j in range(X64.shape[1])]
    constant = [names[j] for j in range(X64.shape[1]) if not x_std[j] > 0]
    if constant:
        raise FitError(f"constant feature(s) {', '.join(constant)}: cannot standardize (standard deviation 0)")
    y_std = float(y64.std(ddof=1))
    if not y_std > 0:
        raise FitError("constant target: cannot standardize (standard deviation 0)")
    return Standardization(X64.mean(axis=0), x_std, float(y64.mean()), y_std)


def root_mean_squares(X: np.ndarray, y: np.ndarray, features: list[str] | None = None) -> tuple[np.ndarray, float]:
    """``√(Σx²/n)`` per column of ``X`` (n, k) ((k,)) and of ``y`` (n,), in float64; refuses an
    all-zero column by name."""
    X64, y64 = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = max(len(X64), 1)
    # Scaled by the largest magnitude first: the squares of values near 1e±200 neither overflow nor vanish.
    x_top = np.abs(X64).max(axis=0) if len(X64) else np.zeros(X64.shape[1])
    x_top = np.where(x_top > 0, x_top, 1.0)
    x_rms = x_top * np.sqrt(((X64 / x_top) ** 2).sum(axis=0) / n)
    y_top = float(np.abs(y64).max()) if len(y64) else 0.0
    y_rms = y_top * float(np.sqrt(((y64 / y_top) ** 2).sum() / n)) if y_top > 0 else 0.0
    names = features or [f"x{j}" for j in range(X64.shape[1])]
    zero = [names[j] for j in range(X64.shape[1]) if not x_rms[j] > 0]
    if zero:
        raise FitError(f"feature(s) {', '.join(zero)} all zero: cannot scale (root mean square 0)")
    if not y_rms > 0:
        raise FitError("target all zero: cannot scale (root mean square 0)")
    return x_rms, y_rms


def scaling_stats(X: np.ndarray, y: np.ndarray, features: list[str] | None = None) -> Standardization:
    """The standardized scaling of a fit without an intercept: no centring (centring is equivalent
    to the raw fit only when an intercept absorbs the means), each feature and the target divided
    by its root mean square (:func:`root_mean_squares`), so every column of the scaled design has
    unit mean square and ``XᵀX/n`` unit diagonal. scikit-learn's ``StandardScaler(with_mean=False)``
    divides by the standard deviation about the mean instead, which leaves an offset column
    (x = 60…70: σ ≈ 3.3, values ≈ 20σ) as badly scaled as before; the root mean square is the
    column norm over √n, the equilibration the closed forms apply anyway."""
    x_rms, y_rms = root_mean_squares(X, y, features)
    return Standardization(np.zeros(len(x_rms)), x_rms, 0.0, y_rms, centered=False)


def standardize(X: np.ndarray, y: np.ndarray, stats: Standardization) -> tuple[np.ndarray, np.ndarray]:
    """``(X - μ_x)/σ_x`` (n, k) and ``(y - μ_y)/σ_y`` (n,), kept in the input dtype."""
    dtype = X.dtype
    Xs = ((X - stats.x_mean.astype(dtype)) / stats.x_std.astype(dtype)).astype(dtype, copy=False)
    ys = ((y - dtype.type(stats.y_mean)) / dtype.type(stats.y_std)).astype(dtype, copy=False)
    return Xs, ys


def to_original_units(w_s: np.ndarray, b_s: float, stats: Standardization) -> tuple[np.ndarray, float]:
    """Map standardized parameters back: ``w = w_s·σ_y/σ_x`` (k,), ``b = b_s·σ_y + μ_y − w·μ_x``
    (without centring, μ = 0: ``b = b_s·σ_y``, 0 for a fit without an intercept)."""
    w = np.asarray(w_s, dtype=np.float64) * stats.y_std / stats.x_std
    b = float(b_s) * stats.y_std + stats.y_mean - float(w @ stats.x_mean)
    return w, b


def outcome_in_original_units(outcome: FitOutcome, stats: Standardization | None) -> tuple[np.ndarray, float]:
    """A fit's weights (k,) and bias in original units: the refined closed forms' own (computed
    there at full precision: mapping back would cancel digits of the bias on offset data), else
    its fitted-space parameters mapped back through ``stats`` (as they are when raw)."""
    if outcome.original is not None:
        return outcome.original[:-1].copy(), float(outcome.original[-1])
    if stats is None:
        return outcome.weights, outcome.bias
    return to_original_units(outcome.weights, outcome.bias, stats)
