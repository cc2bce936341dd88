"""Standardization: statistics, the transform, and mapping parameters back to original units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from descent.fitting.common import FitError, FitOutcome


@dataclass(frozen=True)
class Standardization:
    """Per-feature means/standard deviations (sample std, ddof=1, as ``torch.std``) and the target's.

    ``x_mean``, ``x_std`` are ``(k,)`` float64; ``y_mean``, ``y_std`` floats.
    """

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float


def standardization_stats(X: np.ndarray, y: np.ndarray, features: list[str] | None = None) -> Standardization:
    """Statistics for standardizing ``X`` (n, k) and ``y`` (n,), computed in float64.

    Raises :class:`FitError` naming a constant feature (or target) instead of dividing by zero.
    """
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


def standardize(X: np.ndarray, y: np.ndarray, stats: Standardization) -> tuple[np.ndarray, np.ndarray]:
    """``(X - μ_x)/σ_x`` (n, k) and ``(y - μ_y)/σ_y`` (n,), kept in the input dtype."""
    dtype = X.dtype
    Xs = ((X - stats.x_mean.astype(dtype)) / stats.x_std.astype(dtype)).astype(dtype, copy=False)
    ys = ((y - dtype.type(stats.y_mean)) / dtype.type(stats.y_std)).astype(dtype, copy=False)
    return Xs, ys


def to_original_units(w_s: np.ndarray, b_s: float, stats: Standardization) -> tuple[np.ndarray, float]:
    """Map standardized parameters back: ``w = w_s·σ_y/σ_x`` (k,), ``b = b_s·σ_y + μ_y − w·μ_x``."""
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
