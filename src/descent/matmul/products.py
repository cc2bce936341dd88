"""Operands and correctness: seeded ``(n, n)`` operands, the float64 reference, the error bound.

Every timed product is compared with :func:`reference_product`; an error above :func:`tolerance`
raises :class:`MatmulMismatchError` and fails the job.
"""

from __future__ import annotations

import math

import numpy as np


class MatmulMismatchError(RuntimeError):
    """A backend's product differs from the float64 reference by more than the tolerance."""


def random_operands(n: int, dtype: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded operands ``A, B``, each ``(n, n)`` of ``dtype``, uniform in [-1, 1).

    Drawn in float64 from ``default_rng([seed, n])`` then cast, so every backend and both dtypes
    of one size see the same numbers (up to the cast).
    """
    rng = np.random.default_rng([int(seed), int(n)])
    A = rng.uniform(-1.0, 1.0, size=(n, n))
    B = rng.uniform(-1.0, 1.0, size=(n, n))
    return A.astype(dtype), B.astype(dtype)


def reference_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` computed by NumPy in float64 from the (possibly float32) operands; ``(n, m)``."""
    return np.matmul(A.astype(np.float64), B.astype(np.float64))


def tolerance(A: np.ndarray, B: np.ndarray, factor: float = 1.0) -> float:
    """Largest error allowed in ``A @ B`` at ``A``'s dtype.

    The classical bound ``|C - C_ref| <= n u |A||B|`` (``u = eps/2``, for both the tested
    product and the reference), with ``(|A||B|)_ij <= ||a_i|| ||b_j||`` by Cauchy–Schwarz:
    ``factor * n * eps * max_i ||A[i, :]|| * max_j ||B[:, j]||``. ``A`` is ``(n, p)``, ``B`` ``(p, m)``.
    """
    eps = float(np.finfo(A.dtype).eps)
    p = A.shape[1]
    row = float(np.sqrt((A.astype(np.float64) ** 2).sum(axis=1)).max())
    col = float(np.sqrt((B.astype(np.float64) ** 2).sum(axis=0)).max())
    return factor * p * eps * row * col


def max_abs_error(C: np.ndarray, reference: np.ndarray) -> float:
    """``max |C - reference|`` in float64; ``inf`` for a shape mismatch or any non-finite entry."""
    C = np.asarray(C)
    if C.shape != reference.shape:
        return math.inf
    diff = np.abs(C.astype(np.float64) - reference)
    return float(diff.max()) if np.isfinite(diff).all() else math.inf


def check_product(C: np.ndarray, reference: np.ndarray, tol: float, label: str = "product") -> float:
    """Return ``max_abs_error(C, reference)``; raise :class:`MatmulMismatchError` if it exceeds ``tol``."""
    error = max_abs_error(C, reference)
    if not error <= tol:
        raise MatmulMismatchError(
            f"{label}: max_abs_error {error:.3g} exceeds the tolerance {tol:.3g} "
            f"against the float64 NumPy reference (shape {np.shape(C)} vs {reference.shape})"
        )
    return error
