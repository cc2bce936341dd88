"""Random least-squares problems for property tests and the benchmark's accuracy sweep."""

from __future__ import annotations

import numpy as np


def random_regression(
    seed: int, n: int, k: int, log_scales: tuple[float, float], offset: float, noise: float, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, k) and ``y`` (n,) stored in ``dtype``: column scales log-uniform in
    ``10**log_scales``, column means up to ``offset`` × the scale, weights comparable per column
    (uniform in [-2, 2] over the scale), a bias in [-5, 5] and ``noise``·N(0, 1) on the target."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(*log_scales, size=k)
    X = (offset * scales * rng.uniform(-1, 1, size=k)) + scales * rng.standard_normal((n, k))
    w = rng.uniform(-2, 2, size=k) / scales
    y = X @ w + rng.uniform(-5, 5) + noise * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


def equilibrated_error(theta: np.ndarray, reference: np.ndarray, X: np.ndarray) -> float:
    """``‖D(θ − θ*)‖/‖Dθ*‖`` ((k+1,) vectors, weights then bias) with ``D`` the column norms of
    ``[X, 1]``: the norm in which the closed-form certificate bounds the error."""
    d = np.append(np.linalg.norm(np.asarray(X, dtype=np.float64), axis=0), np.sqrt(len(X)))
    return float(np.linalg.norm(d * (theta - reference)) / np.linalg.norm(d * reference))
